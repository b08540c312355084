"""Atomic file writes: a temp file in the same folder, fsync, then rename.

A process killed at any moment (``kill -9``, power loss after the fsync) leaves
either the old file or the new one at the target path, never a mix. What it can
leave is a hidden temporary file ``.<name>.<random>.tmp`` next to the target;
:func:`remove_temp_files` deletes those, and every reader ignores them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

__all__ = [
    "atomic_open",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_safetensors",
    "read_safetensors",
    "tensors_digest",
    "CHECKSUM_KEY",
    "read_versioned_json",
    "temp_files",
    "remove_temp_files",
]

TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Opens a temporary file next to ``path``; renames it onto ``path`` on success.

    A crash (or exception) inside the block leaves ``path`` untouched and removes
    the temporary file, so readers never see a half-written file. The file gets
    the permissions of any new file (``0o666`` less the umask), not the private
    ``0o600`` of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Makes a rename in ``folder`` durable (best effort; not possible on every OS)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files that :func:`atomic_open` may have left next to ``path``.

    They are left only by a process killed in the middle of a write.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{_glob_escape(path.name)}.*{TEMP_SUFFIX}"))


def _glob_escape(name: str) -> str:
    """Escapes the glob special characters ``*?[`` in a file name."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_temp_files(path: str | os.PathLike[str], older_than: float = 0.0) -> int:
    """Deletes temporary files left next to ``path`` by interrupted atomic writes.

    Args:
        path: The target file whose leftovers to delete.
        older_than: Only delete files not modified for this many seconds (use a
            margin where another process may be writing ``path`` right now).

    Returns:
        How many files were deleted.
    """
    now = time.time()
    removed = 0
    for leftover in temp_files(path):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime >= older_than:
                leftover.unlink()
                removed += 1
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted write of %s", removed, path)
    return removed


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


CHECKSUM_KEY = "graphalign.sha256"
"""Metadata key of the checksum that :func:`atomic_save_safetensors` writes and :func:`read_safetensors` checks."""


def tensors_digest(tensors: dict[str, Any]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def atomic_save_safetensors(
    path: str | os.PathLike[str], tensors: dict[str, Any], metadata: dict[str, str] | None = None, checksum: bool = True
) -> None:
    """Saves a dict of tensors as safetensors to ``path`` atomically.

    With ``checksum``, the metadata also holds :func:`tensors_digest` of the
    tensors (key :data:`CHECKSUM_KEY`), which :func:`read_safetensors` checks:
    safetensors validates its header, not the bytes of the tensors, so a flipped
    bit would otherwise load as a silently wrong weight.
    """
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    metadata = dict(metadata or {})
    if checksum:
        metadata[CHECKSUM_KEY] = tensors_digest(tensors)
    payload = save(tensors, metadata=metadata or None)
    with atomic_open(path, "wb") as handle:
        handle.write(payload)


def read_safetensors(
    path: str | os.PathLike[str], what: str = "safetensors file"
) -> tuple[dict[str, Any], dict[str, str]]:
    """Reads tensors and metadata from a safetensors file, checking its checksum when it has one.

    Files written without a checksum (by older versions) load as they are. Only
    the safetensors format is read: nothing in the file can make Python run code.

    Args:
        path: The file.
        what: What the file holds, for error messages (e.g. ``"checkpoint"``).

    Raises:
        CheckpointError: If the file is missing, is not a safetensors file, or its
            tensors do not match their checksum.
    """
    from safetensors import safe_open

    from graphalign.errors import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            metadata = dict(handle.metadata() or {})
    except Exception as error:  # safetensors raises several types; a pickle or any other file fails here
        raise CheckpointError(
            f"{path}: cannot read the {what} as safetensors ({type(error).__name__}: {error}); "
            "graphalign only loads safetensors and JSON, never pickles"
        ) from error
    expected = metadata.pop(CHECKSUM_KEY, None)
    if expected is not None and tensors_digest(tensors) != expected:
        raise CheckpointError(f"{path}: corrupt {what}: the tensors do not match the checksum written with them")
    return tensors, metadata


def read_versioned_json(path: str | os.PathLike[str], kind: str, version: int, missing_hint: str) -> dict[str, Any]:
    """Reads a ``{"format": kind, "version": version, ...}`` JSON file written by graphalign.

    Only JSON is parsed: nothing in the file can make Python run code.

    Raises:
        CheckpointError: If the file is missing (with ``missing_hint``), is not
            valid JSON, or has another format or version.
    """
    from graphalign.errors import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: {missing_hint}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error})") from error
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, huge integers, deep nesting
        raise CheckpointError(f"{path}: invalid JSON ({type(error).__name__}: {str(error)[:200]})") from error
    if not isinstance(data, dict) or data.get("format") != kind or data.get("version") != version:
        found = (data.get("format"), data.get("version")) if isinstance(data, dict) else (type(data).__name__, None)
        raise CheckpointError(f"{path}: unsupported format {found[0]!r} v{found[1]} (expected {kind!r} v{version})")
    return data
