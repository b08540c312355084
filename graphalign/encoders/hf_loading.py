"""Shared helpers for loading transformers models from a hub id or a local folder."""

from __future__ import annotations

import logging
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


def load_pretrained(factory: Any, model: str, *, revision: str | None, trust_remote_code: bool, **kwargs: Any) -> Any:
    """Calls ``factory.from_pretrained`` with graphalign's safe defaults.

    ``trust_remote_code`` is passed through as given (off unless the user asks);
    weights load from safetensors when the folder has them.

    Raises:
        EncoderError: If the model cannot be found or loaded (e.g. a hub id with
            no network), naming the model.
    """
    try:
        return factory.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code, **kwargs)
    except Exception as error:  # transformers raises many types (OSError, ValueError, HTTP errors)
        raise EncoderError(
            f"cannot load {factory.__name__} from {model!r}: {error}. "
            "Give a local model folder or a hub id available offline."
        ) from error
