"""Output paths: graphalign never deletes or overwrites what it did not write.

Every folder graphalign writes (a built graph, a training run) carries a marker
file :data:`MARKER` (``{"kind": "graph", "format": 1}``) and holds nothing but
the files graphalign writes for that kind. Before writing, an output folder must
be one of

* new (absent) or empty: it is written;
* graphalign's own folder of the same kind, holding only graphalign's files: it
  is replaced with ``overwrite`` (``--overwrite`` on the command line) and
  refused without it.

Anything else is refused with an :class:`~graphalign.errors.OutputError` that
says how to proceed, before any expensive work: a folder holding a file
graphalign did not write (even with ``overwrite``: the user's file is never
deleted), a folder of another kind, an existing file, a symbolic link (the
folder itself or anything planted in it), and the current folder or one of its
parents. Folders written before markers existed count as graphalign's when their
metadata file (``graph.json``, ``run.json``) has graphalign's format.

Single-file outputs go through :func:`check_output_file`.

Example:
    >>> layout = OutputLayout("notes", files=("notes.json",))
    >>> check_output_dir("/tmp/new-folder-that-does-not-exist", layout)  # doctest: +SKIP
    'new'
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from graphalign.atomic import TEMP_SUFFIX, atomic_write_json
from graphalign.errors import OutputError

logger = logging.getLogger(__name__)

__all__ = [
    "MARKER",
    "MARKER_FORMAT",
    "OutputLayout",
    "check_output_dir",
    "check_output_file",
    "check_own_file",
    "write_marker",
    "foreign_entries",
    "remove_own_folder",
]

MARKER = ".graphalign.json"
"""The marker file of every folder graphalign writes."""
MARKER_FORMAT = 1
MAX_NAMED = 3
"""How many foreign entries an error message names."""

FolderState = Literal["new", "empty", "own"]


@dataclass(frozen=True)
class OutputLayout:
    """What graphalign writes into one kind of output folder.

    Example:
        >>> images = OutputLayout("images", patterns=("*.png",), marked=False)
        >>> graph = OutputLayout("graph", files=("graph.json",), folders=(("images", images),))
        >>> graph.allows_file("graph.json"), graph.allows_file("notes.txt")
        (True, False)

    Args:
        kind: The kind written into the marker (``"graph"``, ``"run"``).
        files: File names graphalign writes (the marker is always allowed).
        patterns: ``fnmatch`` patterns of further file names (e.g. ``"*.png"``).
        folders: ``(name pattern, layout)`` of sub-folders graphalign writes.
        marked: Whether the folder carries its own marker (nested plain folders
            such as ``images/`` do not).
        metadata: The JSON file whose ``"format"`` field identifies a folder of
            this kind written before markers existed.
        metadata_format: That field's value (e.g. ``"graphalign-graph"``).
    """

    kind: str
    files: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    folders: tuple[tuple[str, OutputLayout], ...] = ()
    marked: bool = True
    metadata: str | None = None
    metadata_format: str | None = None

    def allows_file(self, name: str) -> bool:
        """Whether graphalign writes a file called ``name`` here (temporary files of atomic writes included)."""
        known = (MARKER, *self.files) if self.marked else self.files
        if name in known or any(fnmatch.fnmatchcase(name, p) for p in self.patterns):
            return True
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):  # ``.<file>.<random>.tmp`` of an interrupted write
            target = name[1:].rsplit(".", 2)[0]
            return target in known or any(fnmatch.fnmatchcase(target, p) for p in self.patterns)
        return False

    def folder_layout(self, name: str) -> OutputLayout | None:
        """The layout of a sub-folder called ``name``, or ``None`` if graphalign writes none."""
        for pattern, layout in self.folders:
            if fnmatch.fnmatchcase(name, pattern):
                return layout
        return None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _folder_kind(folder: Path, layout: OutputLayout) -> str | None:
    """The kind graphalign marked ``folder`` with (``None``: not graphalign's)."""
    marker = folder / MARKER
    if marker.is_file() and not marker.is_symlink():
        return _marked_kind(folder)
    if layout.metadata is not None:  # written before markers existed
        meta = folder / layout.metadata
        if meta.is_file() and not meta.is_symlink():
            data = _read_json(meta)
            if isinstance(data, dict) and data.get("format") == layout.metadata_format:
                return layout.kind
    return None


def _marked_kind(path: Path) -> str | None:
    """The kind in the marker of the real folder ``path`` (``None``: no folder, or no valid marker)."""
    marker = path / MARKER
    if path.is_symlink() or not path.is_dir() or marker.is_symlink() or not marker.is_file():
        return None
    data = _read_json(marker)
    valid = isinstance(data, dict) and isinstance(data.get("kind"), str) and data.get("format") == MARKER_FORMAT
    return data["kind"] if valid else None


def foreign_entries(folder: str | os.PathLike[str], layout: OutputLayout) -> list[Path]:
    """Everything in ``folder`` that graphalign does not write for ``layout``, recursively.

    A symbolic link, a sub-folder graphalign does not write, a nested marked
    folder of another kind, and any file whose name the layout does not list
    are foreign.

    Returns:
        The foreign paths, sorted (empty if the folder is graphalign's alone).
    """
    folder = Path(folder)
    foreign: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_symlink():
                foreign.append(path)
            elif entry.is_dir(follow_symlinks=False):
                sub = layout.folder_layout(entry.name)
                if sub is None or (sub.marked and any(path.iterdir()) and _folder_kind(path, sub) != sub.kind):
                    foreign.append(path)
                else:
                    foreign.extend(foreign_entries(path, sub))
            elif not (entry.is_file(follow_symlinks=False) and layout.allows_file(entry.name)):
                foreign.append(path)
    return foreign


def _named(paths: list[Path], folder: Path) -> str:
    names = [str(p.relative_to(folder)) for p in paths[:MAX_NAMED]]
    return ", ".join(names) + (f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else "")


def _holds_cwd(folder: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    target = folder.resolve()
    return cwd == target or target in cwd.parents


def check_output_dir(path: str | os.PathLike[str], layout: OutputLayout, overwrite: bool = False) -> FolderState:
    """Checks that graphalign may write the output folder ``path``; changes nothing.

    Call it before any expensive work, and again right before writing.

    Args:
        path: The output folder.
        layout: What graphalign writes there (its kind and files).
        overwrite: Replace graphalign's own folder of this kind. A folder
            holding anything graphalign did not write is refused even then.

    Returns:
        ``"new"`` (absent), ``"empty"``, or ``"own"`` (graphalign's folder of
        this kind, to be replaced: only with ``overwrite``).

    Raises:
        OutputError: If the path is a symbolic link, a file, the current folder
            (or one of its parents), a folder of another kind, a folder holding
            anything graphalign did not write, or graphalign's own non-empty
            folder without ``overwrite``. The message says how to proceed.
    """
    folder = Path(path)
    if folder.is_symlink():
        raise OutputError(
            f"{folder}: is a symbolic link (to {os.readlink(folder)}); graphalign does not write through "
            "links: give the real folder or a new path"
        )
    if not folder.exists():
        if folder.parent.exists() and not folder.parent.is_dir():
            raise OutputError(f"{folder}: {folder.parent} is a file, not a folder; choose another output path")
        return "new"
    if not folder.is_dir():
        raise OutputError(
            f"{folder}: is a file, not a folder; choose a new or empty folder for the {layout.kind} output"
        )
    if _holds_cwd(folder):
        raise OutputError(
            f"{folder}: is the current folder (or holds it); graphalign writes its {layout.kind} into a "
            f"folder of its own: name a new sub-folder, e.g. -o {Path(path) / layout.kind}"
        )
    if not any(folder.iterdir()):
        return "empty"
    kind = _folder_kind(folder, layout)
    if kind is not None and kind != layout.kind:
        raise OutputError(f"{folder}: is a graphalign {kind} folder, not a {layout.kind} folder; choose another folder")
    foreign = foreign_entries(folder, layout)
    if foreign:
        kinds = {p: _marked_kind(p) for p in foreign}  # graphalign's folders of other kinds have one
        users = [p for p in foreign if kinds[p] is None]
        others = [p for p in foreign if kinds[p] is not None]
        held = [f"files graphalign did not write ({_named(users, folder)})"] if users else []
        if others:
            named = " and ".join(sorted({str(kinds[p]) for p in others}))
            held.append(f"graphalign {named} folders ({_named(others, folder)})")
        raise OutputError(
            f"{folder}: holds {' and '.join(held)}; a {layout.kind} folder holds nothing else, and graphalign never "
            "deletes or overwrites them: move them out, or choose a new or empty folder"
        )
    if kind is None:
        raise OutputError(
            f"{folder}: is not a graphalign {layout.kind} folder (no {MARKER}); graphalign never deletes "
            "or overwrites files it did not write: choose a new or empty folder"
        )
    if not overwrite:
        raise OutputError(
            f"{folder}: holds a graphalign {layout.kind} already; pass --overwrite (Python: overwrite=True) "
            "to replace it, or choose another folder"
        )
    return "own"


def check_output_file(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Checks that graphalign may write the single output file ``path``; changes nothing.

    For commands that write one file (or a few named files), e.g. an export to
    ``.npz`` or ``.tsv``: call it for every file before any expensive work, then
    write with :func:`graphalign.atomic.atomic_open`.

    Example:
        >>> check_output_file("/tmp/new-embeddings.npz")  # doctest: +SKIP
        PosixPath('/tmp/new-embeddings.npz')

    Args:
        path: The file to write.
        overwrite: Replace an existing regular file (``--overwrite``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: If ``path`` is a symbolic link (even with ``overwrite``), a
            folder, something other than a regular file, an existing file
            without ``overwrite``, or inside a "folder" that is a file.
    """
    file = Path(path)
    if file.is_symlink():
        raise OutputError(
            f"{file}: is a symbolic link (to {os.readlink(file)}); graphalign does not write through "
            "links: give the real file or a new path"
        )
    if file.is_dir():
        raise OutputError(f"{file}: is a folder; give a file name for the output, e.g. {file / 'out'}")
    if file.exists():
        if not file.is_file():
            raise OutputError(f"{file}: exists and is not a regular file; choose another output path")
        if not overwrite:
            raise OutputError(
                f"{file}: exists; pass --overwrite (Python: overwrite=True) to replace it, or choose another file name"
            )
    elif file.parent.exists() and not file.parent.is_dir():
        raise OutputError(f"{file}: {file.parent} is a file, not a folder; choose another output path")
    return file


def check_own_file(path: str | os.PathLike[str], written_here: Callable[[Path], bool], writer: str) -> Path:
    """Checks that graphalign may write ``path``, a file it replaces when it wrote it before; changes nothing.

    For commands whose outputs keep a fixed name in a shared folder (``graphalign
    bench`` writes ``quality-NAME.md`` into ``docs/results``): a run again
    replaces its own earlier file, recognised by ``written_here``, and refuses
    any other file there, so a file the user wrote is never replaced.

    Args:
        path: The file to write.
        written_here: Whether an existing regular file is one that ``writer`` wrote (reads its head).
        writer: The command that writes it, for the message (e.g. ``"graphalign bench"``).

    Raises:
        OutputError: If ``path`` is a symbolic link, a folder, something other than a regular file, an
            existing file that ``writer`` did not write, or inside a "folder" that is a file.
    """
    file = check_output_file(path, overwrite=True)
    if file.exists() and not written_here(file):
        raise OutputError(
            f"{file}: exists and was not written by {writer}; move it away or choose another output folder"
        )
    return file


def write_marker(folder: str | os.PathLike[str], layout: OutputLayout) -> None:
    """Writes the marker that makes ``folder`` graphalign's own folder of ``layout.kind`` (atomically)."""
    atomic_write_json(Path(folder) / MARKER, {"kind": layout.kind, "format": MARKER_FORMAT})


def remove_own_folder(folder: str | os.PathLike[str], layout: OutputLayout) -> bool:
    """Deletes graphalign's files of ``layout`` in ``folder``, then the folder if it is empty.

    Anything else (a user's file, a symbolic link) is left where it is, and so
    is the folder holding it. Used for graphalign's own staging and replaced
    folders; never follows links.

    Returns:
        Whether the folder is gone.
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        for entry in list(entries):
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    sub = layout.folder_layout(entry.name)
                    if sub is not None:
                        remove_own_folder(path, sub)
                elif entry.is_file(follow_symlinks=False) and layout.allows_file(entry.name):
                    path.unlink()
            except OSError:
                continue
    try:
        folder.rmdir()
    except OSError:
        logger.warning("%s: left in place: it holds files graphalign did not write", folder)
        return False
    return True
