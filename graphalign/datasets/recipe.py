"""What the dataset recipes share: source files, images, the output folder and the build command line.

A recipe (:mod:`graphalign.datasets.tuxpaint_wordnet`,
:mod:`graphalign.datasets.openclipart_wordnet`) reads source files installed
on this machine, renders them as PNG images in worker processes and writes a
graphalign dataset folder: ``nodes.jsonl``, ``edges.tsv``, ``stats.json``,
licence files and a ``README.md``. This module holds those steps, which know
nothing of a recipe's sources: the source file of an image
(:class:`SourceFile`), the small subset (:func:`select_small`), PNG encoding,
the worker pool (:func:`run_jobs`), the folder writer (:func:`write_folder`),
the base of the recipes' named datasets (:class:`RecipeDataset`) and the
command line of a recipe's ``build.py`` (:func:`run_build_command`).

Example:
    >>> item = SourceFile("animals/marsupials/kangaroo", Path("kangaroo.png"))
    >>> item.category, item.top_category, item.name
    ('animals/marsupials', 'animals', 'kangaroo')
"""

from __future__ import annotations

import argparse
import collections
import inspect
import io
import json
import logging
import math
import os
import re
import shutil
import sys
import time
import typing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from graphalign.datasets.base import NamedDataset
from graphalign.errors import DatasetError, GraphAlignError

logger = logging.getLogger(__name__)

__all__ = [
    "Dataset",
    "SourceFile",
    "select_small",
    "png_bytes",
    "expand_internal_entities",
    "check_cairosvg",
    "clear_images",
    "run_jobs",
    "image_node",
    "licence_text",
    "readme_intro",
    "write_folder",
    "PathOption",
    "RecipeDataset",
    "run_build_command",
]

Job = TypeVar("Job")
Result = TypeVar("Result")
Item = TypeVar("Item", bound="SourceFile")


@dataclass
class Dataset:
    """The records of a built dataset, in output order."""

    nodes: list[dict[str, object]] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)


@dataclass
class SourceFile:
    """A source file that becomes one image node, named by its path without suffix under the sources' folder."""

    relpath: str  # e.g. "animals/marsupials/kangaroo"
    source: Path

    @property
    def category(self) -> str:
        """The folder of the file, e.g. ``animals/marsupials``."""
        return self.relpath.rpartition("/")[0]

    @property
    def top_category(self) -> str:
        """The first folder of the file, e.g. ``animals``."""
        return self.relpath.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The file name without suffix, e.g. ``kangaroo``."""
        return self.relpath.rpartition("/")[2]


def select_small(items: Sequence[Item], target: int) -> list[Item]:
    """A deterministic subset of about ``target`` items spread over all top-level folders.

    Every top-level folder gets the same quota (smaller folders are taken
    whole); inside a folder the items are taken evenly spaced in path order.
    """
    groups: dict[str, list[Item]] = collections.defaultdict(list)
    for item in sorted(items, key=lambda s: s.relpath):
        groups[item.top_category].append(item)
    sizes = sorted(len(g) for g in groups.values())
    quota, remaining, left = 0, target, len(sizes)
    for size in sizes:  # water-filling: the largest equal cap that fits the target
        quota = remaining // left
        if size > quota:
            break
        remaining, left = remaining - size, left - 1
    else:
        quota = sizes[-1] if sizes else 0
    chosen = []
    for top in sorted(groups):
        group = groups[top]
        count = min(len(group), quota)
        chosen.extend(group[math.floor((i + 0.5) * len(group) / count)] for i in range(count))
    return sorted(chosen, key=lambda s: s.relpath)


# --------------------------------------------------------------------------- images


def png_bytes(image: Image.Image, palette: bool) -> bytes:
    """Encodes an image as PNG; with ``palette``, as an optimised 256-colour PNG (alpha kept)."""
    buffer = io.BytesIO()
    if palette:
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    image.save(buffer, format="PNG", optimize=palette)
    return buffer.getvalue()


def expand_internal_entities(svg: bytes) -> bytes:
    """Inlines the internal ``<!ENTITY name "value">`` declarations of an SVG and drops its DOCTYPE.

    cairosvg refuses entities (to guard against XXE); a few SVGs exported by
    Illustrator declare namespace URIs that way.
    """
    text = svg.decode("utf-8")
    doctype = re.search(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", text, flags=re.DOTALL)
    if doctype is None:
        return svg
    entities = dict(re.findall(r'<!ENTITY\s+([\w.-]+)\s+"([^"]*)"\s*>', doctype.group(0)))
    text = text[: doctype.start()] + text[doctype.end() :]
    for name, value in entities.items():
        text = text.replace(f"&{name};", value)
    return text.encode("utf-8")


def check_cairosvg(needs: str) -> None:
    """Checks that SVGs can be rendered (cairosvg and the cairo library are installed).

    Args:
        needs: The start of the error message, naming what needs them (``"SVG stamps need"``).

    Raises:
        DatasetError: If cairosvg or the cairo library is missing; the message says how to install them.
    """
    try:
        import cairosvg  # noqa: F401 - optional extra, imported where it is needed
    except (ImportError, OSError) as error:
        raise DatasetError(
            f"{needs} cairosvg and the cairo library ({error}); install them with: "
            f"pip install 'graphalign[svg]' and apt-get install -y libcairo2"
        ) from None


def clear_images(out: Path) -> Path:
    """Removes the ``images`` folder of the dataset folder ``out`` (if any) and returns its path."""
    images = out / "images"
    if images.is_dir():
        shutil.rmtree(images)
    return images


def run_jobs(function: Callable[[Job], Result], jobs: Sequence[Job], workers: int | None) -> list[Result]:
    """Runs ``function`` on every job, in worker processes when ``workers`` (default: CPUs, at most 8) exceeds 1.

    Returns:
        The results, in the order of ``jobs``.
    """
    workers = workers or min(8, os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(function, jobs, chunksize=8))
    return [function(job) for job in jobs]


# --------------------------------------------------------------------------- output folder


def image_node(relpath: str, attributes: dict[str, object]) -> dict[str, object]:
    """The record of the image node of a source file: id ``img:<relpath>``, PNG file ``images/<relpath>.png``."""
    return {"id": f"img:{relpath}", "type": "image", "path": f"images/{relpath}.png", "attributes": attributes}


def licence_text(path: Path, fallback: str) -> str:
    """The text of the licence file ``path``, or ``fallback`` when it is not installed."""
    return path.read_text(encoding="utf-8") if path.is_file() else fallback


def readme_intro(title: str, recipe: str, install_command: str, variant: str) -> str:
    """The start of a dataset folder's README: its title and where it comes from.

    Args:
        title: The dataset's title (the README's heading).
        recipe: The recipe's registered name.
        install_command: The command that installs the recipe's sources.
        variant: What the folder holds, e.g. ``"all stamps, all translations"``.
    """
    return f"""# {title}

A multimodal knowledge graph in graphalign's dataset format, built by
graphalign's `{recipe}` recipe (`graphalign dataset build {recipe} -o DIR`)
from two Debian packages (`{install_command}`).
This folder holds {variant}.
"""


def write_folder(out: Path, dataset: Dataset, header: Sequence[str], licences: dict[str, str], readme: str) -> None:
    """Writes ``nodes.jsonl``, ``edges.tsv``, ``stats.json``, the licence files and ``README.md`` into ``out``.

    Args:
        out: The dataset folder (created if needed).
        dataset: The records to write.
        header: Comment lines of ``edges.tsv`` after the format line (without ``#``).
        licences: Text of each licence file, by file name.
        readme: Text of ``README.md``.
    """
    out.mkdir(parents=True, exist_ok=True)
    with (out / "nodes.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for node in dataset.nodes:
            handle.write(json.dumps(node, ensure_ascii=False) + "\n")
    with (out / "edges.tsv").open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("# graphalign edges: head<TAB>relation<TAB>tail\n")
        handle.writelines(f"# {line}\n" for line in header)
        handle.writelines(f"{h}\t{r}\t{t}\n" for h, r, t in dataset.edges)
    (out / "stats.json").write_text(json.dumps(dataset.stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, text in licences.items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "README.md").write_text(readme, encoding="utf-8")
    logger.info(
        "wrote %s: %s concepts, %s images, %s texts",
        out,
        dataset.stats.get("concepts"),
        dataset.stats.get("images"),
        dataset.stats.get("texts"),
    )


# --------------------------------------------------------------------------- named dataset


PathOption = str | os.PathLike | None
"""A file or folder option of a recipe's named dataset: a path, or ``None`` for the recipe's default."""


@dataclass(repr=False, kw_only=True)
class RecipeDataset(NamedDataset):
    """Base of the named datasets that a recipe builds: a dataclass whose fields are the recipe's options.

    Path fields are turned into :class:`~pathlib.Path` objects; a subclass's
    :meth:`write` passes :meth:`options` to the recipe's ``build``.

    Args:
        small: Build the recipe's small subset instead of everything.
        jobs: Image worker processes (default: CPUs, at most 8).
    """

    small: bool = False
    jobs: int | None = None

    def __post_init__(self) -> None:
        for option in fields(self):
            value = getattr(self, option.name)
            if isinstance(value, (str, os.PathLike)):
                setattr(self, option.name, Path(value))

    def options(self, **renamed: str) -> dict[str, Any]:
        """The fields by name, or by ``renamed[name]`` where the recipe's ``build`` calls the option otherwise."""
        return {renamed.get(option.name, option.name): getattr(self, option.name) for option in fields(self)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(small={self.small})"


# --------------------------------------------------------------------------- build command line


def _documented_args(function: Callable[..., Any]) -> dict[str, str]:
    """The descriptions of a function's arguments, from the ``Args:`` section of its Google-style docstring."""
    described: dict[str, str] = {}
    name = None
    inside = False
    for line in inspect.cleandoc(function.__doc__ or "").splitlines():
        if line.strip() == "Args:":
            inside = True
        elif inside and re.match(r"^    \w+:", line):
            name, _, text = line.strip().partition(":")
            described[name] = text.strip()
        elif inside and name and line.startswith("        "):
            described[name] += " " + line.strip()
        elif inside and line.strip():
            inside = False
    return described


def _add_option(parser: argparse.ArgumentParser, parameter: inspect.Parameter, text: str) -> None:
    """Adds the option of one keyword argument of a recipe's ``build``: ``overrides_path`` -> ``--overrides``."""
    flag = "--" + parameter.name.removesuffix("_path").replace("_", "-")
    text = text.replace("%", "%%")
    if parameter.annotation is bool:
        parser.add_argument(flag, dest=parameter.name, action="store_true", help=text)
        return
    kind = next(t for t in typing.get_args(parameter.annotation) or (parameter.annotation,) if t is not type(None))
    metavar = flag[2:].upper().replace("-", "_")
    parser.add_argument(flag, dest=parameter.name, type=kind, default=parameter.default, metavar=metavar, help=text)


def run_build_command(
    argv: Sequence[str] | None,
    description: str,
    build: Callable[..., dict[str, Any]],
    link_lines: Callable[..., list[str]],
    report: Callable[[Path, dict[str, Any], float], None],
) -> int:
    """Runs the command line of a recipe's ``build.py``: build the dataset folder, or print the links.

    The options are ``--out``, one per keyword argument of ``build`` (with the
    help of its docstring; ``overrides_path`` is ``--overrides``), ``--links``
    and ``--no-overrides``.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
        description: The command's description in ``--help``.
        build: The recipe's ``build(out, **options)``; returns the statistics.
        link_lines: The recipe's ``link_lines(**options)`` without ``small`` and ``jobs``.
        report: Prints the statistics of a build into a folder that took some seconds.

    Returns:
        The exit status: 0, or 2 when the recipe fails with a :class:`GraphAlignError`.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, help="output dataset folder")
    described = _documented_args(build)
    for parameter in list(inspect.signature(build, eval_str=True).parameters.values())[1:]:
        _add_option(parser, parameter, described.get(parameter.name, ""))
    parser.add_argument("--links", action="store_true", help="print every image's link and exit")
    parser.add_argument("--no-overrides", action="store_true", help="with --links: show the automatic links only")
    options = vars(parser.parse_args(argv))
    out, links, no_overrides = options.pop("out"), options.pop("links"), options.pop("no_overrides")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        if links:
            sources = {k: v for k, v in options.items() if k not in ("small", "jobs")}
            if no_overrides:
                sources["overrides_path"] = None
            print("\n".join(link_lines(**sources)))
            return 0
        if out is None:
            parser.error("--out is required (unless --links)")
        start = time.perf_counter()
        stats = build(out, **options)
    except GraphAlignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report(out, stats, time.perf_counter() - start)
    return 0
