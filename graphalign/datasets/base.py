"""Datasets known by name: bundled with the package, or written by a recipe.

A named dataset is a dataset folder (``nodes.jsonl`` + ``edges.tsv`` + images)
that graphalign can provide: a *bundled* one ships inside the package (under
``graphalign/datasets/data/``) and loads by name from any folder; a *recipe*
writes one from sources installed on this machine. This module knows paths
only, so it sits below the graph layer: :func:`graphalign.graph.io.load_dataset`
asks :func:`resolve` for the folder of a name.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import ClassVar

from graphalign.errors import DataFormatError, DatasetError
from graphalign.outputs import OutputLayout, check_output_dir
from graphalign.registry import Registry

logger = logging.getLogger(__name__)

__all__ = ["DATA_DIR", "DATASETS", "NamedDataset", "names", "path", "build", "resolve", "query_images"]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Package data: the bundled dataset folders and their example query images."""

QUERY_SUFFIXES = (".png", ".jpg", ".jpeg")
DATASET_LAYOUT = OutputLayout("dataset", marked=False)
"""A dataset folder: graphalign writes one only where there is nothing yet (see :mod:`graphalign.outputs`)."""


class NamedDataset:
    """Base of the named datasets; subclasses are registered in :data:`DATASETS`.

    A subclass either ships its folder with the package (``bundled``: a folder
    name under :data:`DATA_DIR`) or writes it from sources (it overrides
    :meth:`write`). Constructor keyword arguments configure a recipe, as
    PyKEEN's ``dataset_kwargs`` do. The first docstring line is the summary
    that ``graphalign ls datasets`` shows.

    Example:
        >>> from graphalign.datasets import DATASETS
        >>> DATASETS.get("tuxpaint_small").bundled
        'tuxpaint_small'
    """

    bundled: ClassVar[str | None] = None
    """Folder under :data:`DATA_DIR` holding the dataset, or ``None`` for a recipe."""
    queries: ClassVar[str | None] = None
    """Folder under :data:`DATA_DIR` with example query images that are not in the graph."""

    def write(self, out_dir: Path) -> None:
        """Writes the dataset folder ``out_dir``; a bundled dataset is copied.

        Raises:
            DatasetError: If the dataset cannot be written here (a recipe's sources are missing).
        """
        if self.bundled is None:
            raise NotImplementedError(f"{type(self).__name__} is neither bundled nor a recipe")
        shutil.copytree(DATA_DIR / self.bundled, out_dir, dirs_exist_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


DATASETS: Registry[NamedDataset] = Registry("dataset")
"""The named datasets (``graphalign ls datasets``)."""


def names() -> list[str]:
    """The names of every registered dataset, bundled or built by a recipe, sorted.

    Example:
        >>> from graphalign import datasets
        >>> datasets.names()
        ['openclipart_wordnet', 'tuxpaint_small', 'tuxpaint_wordnet']
    """
    return DATASETS.names()


def _not_bundled(name: str) -> str:
    return (
        f"dataset {name!r} is not bundled but built by a recipe: write it with "
        f"`graphalign dataset build {name} -o DIR` (or graphalign.datasets.build({name!r}, DIR)) and use DIR"
    )


def path(name: str) -> Path:
    """The folder of a bundled dataset, inside the installed package.

    Example:
        >>> from graphalign import datasets
        >>> (datasets.path("tuxpaint_small") / "nodes.jsonl").is_file()
        True

    Raises:
        RegistryError: If ``name`` is unknown (the message lists the names).
        DatasetError: If the dataset is built by a recipe rather than bundled.
    """
    cls = DATASETS.get(name)
    if cls.bundled is None:
        raise DatasetError(_not_bundled(name))
    return DATA_DIR / cls.bundled


def build(name: str, out_dir: str | os.PathLike[str], **kwargs: object) -> Path:
    """Writes the named dataset into ``out_dir``: runs its recipe, or copies a bundled one.

    Args:
        name: A registered name (:func:`names`).
        out_dir: The dataset folder to write.
        **kwargs: Arguments of the dataset's class, e.g. ``small=True`` for ``tuxpaint_wordnet``.

    Returns:
        ``out_dir``, ready for :func:`graphalign.load_dataset`.

    Raises:
        RegistryError: If ``name`` is unknown.
        DatasetError: If the recipe's sources are not installed (the message
            names the packages and the command that installs them).
        OutputError: If ``out_dir`` exists and is not an empty folder (nothing
            in it is changed).
    """
    dataset = DATASETS.build(name, kwargs)
    out = Path(out_dir)
    check_output_dir(out, DATASET_LAYOUT)  # new or empty only: a dataset folder is the user's to edit
    logger.info("writing dataset %r (%r) to %s", name, dataset, out)
    dataset.write(out)
    return out


def resolve(source: str | os.PathLike[str]) -> Path:
    """The dataset folder of ``source``: an existing folder, else a bundled dataset's name.

    An existing folder wins over a name, so a folder ``tuxpaint_small`` in the
    working directory shadows the bundled one.

    Example:
        >>> from graphalign import datasets
        >>> datasets.resolve("tuxpaint_small") == datasets.path("tuxpaint_small")
        True

    Raises:
        DataFormatError: If ``source`` is neither a folder nor a bundled dataset's name.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise DataFormatError(
            f"a dataset is a folder (a path) or a bundled dataset's name, got {type(source).__name__}"
        )
    folder = Path(source)
    if folder.is_dir():
        return folder
    name = os.fspath(source)
    if name in DATASETS:
        if DATASETS.get(name).bundled is None:
            raise DataFormatError(f"{folder}: dataset folder not found; {_not_bundled(name)}", path=str(folder))
        return path(name)
    bundled = [n for n in names() if DATASETS.get(n).bundled is not None]
    found = "is a file, not a dataset folder" if folder.exists() else "dataset folder not found"
    raise DataFormatError(
        f"{folder}: {found} (nor the name of a bundled dataset: {', '.join(bundled)})",
        path=str(folder),
    )


def query_images(source: str | os.PathLike[str]) -> list[Path]:
    """Example query images that come with a bundled dataset: new images, not in its graph.

    Args:
        source: A dataset name, or a folder (a folder has none, unless it is a
            bundled dataset's own folder).

    Returns:
        The image files, sorted; empty when there are none.
    """
    folder = Path(source)
    for name in names():
        cls = DATASETS.get(name)
        if cls.queries is None or cls.bundled is None:
            continue
        own = DATA_DIR / cls.bundled
        if (not folder.is_dir() and os.fspath(source).lower() == name) or (folder.is_dir() and folder.resolve() == own):
            return sorted(p for p in (DATA_DIR / cls.queries).iterdir() if p.suffix.lower() in QUERY_SUFFIXES)
    return []
