"""The encoder interface and the registry that picks encoders by name."""

from __future__ import annotations

import abc
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from graphalign.device import resolve_device
from graphalign.registry import Registry

logger = logging.getLogger(__name__)

__all__ = ["Encoder", "ENCODERS", "build_encoder", "resolve_device", "fingerprint_files"]


class Encoder(abc.ABC):
    """Turns raw items of one modality into fixed-size feature vectors.

    Subclasses load their model lazily (on the first :meth:`encode` call), so that an
    encoder can be constructed, and its :attr:`identity` used as a cache key, without
    loading any weights. That is what lets a warm cache skip model loading entirely.

    Attributes:
        modality: ``"text"`` or ``"image"``: what :meth:`encode` accepts.
    """

    modality: ClassVar[str]

    def __init__(self, batch_size: int = 32, device: str | torch.device | None = None, progress: bool = True) -> None:
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self.progress = progress

    @property
    @abc.abstractmethod
    def identity(self) -> str:
        """A string that changes whenever the encoder would give other vectors.

        It names the model and its weights (by content fingerprint, not by loading
        them) and the preprocessing. Used as the feature-cache key.
        """

    @property
    def feature_space(self) -> str:
        """Name of the vector space the outputs live in (default: :attr:`identity`).

        Two encoders with the same feature space give comparable vectors (e.g. a
        ConSE image encoder maps images into its text encoder's space); node types
        in one space share their input projection in the model.
        """
        return self.identity

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Size of the vectors :meth:`encode` returns (may load the config only)."""

    @abc.abstractmethod
    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        """Encodes ``items`` in batches under ``torch.no_grad``.

        Args:
            items: Texts (``str``) for text encoders; file paths or PIL images for
                image encoders.

        Returns:
            A float32 CPU tensor of shape ``(len(items), dim)``.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(identity={self.identity!r})"


ENCODERS: Registry[Encoder] = Registry("encoder")
"""Registry of encoders. ``graphalign ls encoders`` lists the names."""


def build_encoder(spec: str | Encoder | type[Encoder], kwargs: dict[str, Any] | None = None) -> Encoder:
    """Builds an encoder from a registered name (or class) and keyword arguments."""
    return ENCODERS.build(spec, kwargs)


def fingerprint_files(paths: Sequence[Path], extra: dict[str, Any] | None = None, edge_bytes: int = 1 << 20) -> str:
    """A cheap content fingerprint of model files (no full read of large weights).

    Hashes each file's name, size, first and last ``edge_bytes`` bytes, plus
    ``extra`` (e.g. preprocessing settings). Config and tokenizer files are small,
    so they are hashed whole.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(extra or {}, sort_keys=True).encode())
    for path in sorted(Path(p) for p in paths):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(edge_bytes))
            if size > edge_bytes:
                handle.seek(max(size - edge_bytes, edge_bytes))
                digest.update(handle.read(edge_bytes))
    return digest.hexdigest()[:16]
