"""Atomic file writes: a temp file in the same folder, fsync, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_json", "atomic_save_safetensors", "read_versioned_json"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Opens a temporary file next to ``path``; renames it onto ``path`` on success.

    A crash (or exception) inside the block leaves ``path`` untouched and removes
    the temporary file, so readers never see a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def atomic_save_safetensors(path: str | os.PathLike[str], tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """Saves a dict of tensors as safetensors to ``path`` atomically."""
    from safetensors.torch import save

    payload = save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)
    with atomic_open(path, "wb") as handle:
        handle.write(payload)


def read_versioned_json(path: str | os.PathLike[str], kind: str, version: int, missing_hint: str) -> dict[str, Any]:
    """Reads a ``{"format": kind, "version": version, ...}`` JSON file written by graphalign.

    Raises:
        CheckpointError: If the file is missing (with ``missing_hint``), is not
            valid JSON, or has another format or version.
    """
    from graphalign.errors import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.parent}: {missing_hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(data, dict) or data.get("format") != kind or data.get("version") != version:
        found = (data.get("format"), data.get("version")) if isinstance(data, dict) else (type(data).__name__, None)
        raise CheckpointError(f"{path}: unsupported format {found[0]!r} v{found[1]} (expected {kind!r} v{version})")
    return data
