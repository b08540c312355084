"""Shared helpers for loading transformers models from a hub id or a local folder."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graphalign.encoders.base import fingerprint_files
from graphalign.errors import EncoderError

logger = logging.getLogger(__name__)

__all__ = ["model_identity", "load_pretrained"]

_MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".bin")


def model_identity(model: str, revision: str | None, extra: dict[str, Any]) -> str:
    """Identity of a transformers model without loading it.

    A local folder is fingerprinted by its files' contents; a hub id is named by
    id and revision.
    """
    folder = Path(model)
    if folder.is_dir():
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix in _MODEL_FILE_SUFFIXES]
        return f"{folder.name}#{fingerprint_files(files, extra)}"
    return f"{model}@{revision or 'main'}#{fingerprint_files([], extra)}"


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """Turns transformers' own progress bars ("Loading weights") off inside the block when not ``enabled``."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled and not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            hf_logging.enable_progress_bar()


def load_pretrained(
    factory: Any, model: str, *, revision: str | None, trust_remote_code: bool, progress: bool = True, **kwargs: Any
) -> Any:
    """Calls ``factory.from_pretrained`` with graphalign's safe defaults.

    ``trust_remote_code`` is passed through as given (off unless the user asks);
    weights load from safetensors when the folder has them; with
    ``progress=False`` transformers shows no progress bar.

    Raises:
        EncoderError: If the model cannot be found or loaded (e.g. a hub id with
            no network), naming the model.
    """
    try:
        with _progress_bars(progress):
            return factory.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code, **kwargs)
    except Exception as error:  # transformers raises many types (OSError, ValueError, HTTP errors)
        raise EncoderError(
            f"cannot load {factory.__name__} from {model!r}: {error}. "
            "Give a local model folder or a hub id available offline."
        ) from error
