"""Shared machinery of image encoders: batching PIL images through a torch model."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from graphalign.encoders.base import Encoder
from graphalign.image_io import open_image_rgb

__all__ = ["BatchedImageEncoder"]


class BatchedImageEncoder(Encoder):
    """An image encoder that turns batches of RGB images into vectors.

    Subclasses provide :meth:`_load` (model + ``self._preprocess``, a callable from
    a list of PIL images to a ``(B, 3, H, W)`` tensor) and :meth:`_embed`.
    """

    modality = "image"

    def __init__(self, batch_size: int = 32, device: str | torch.device | None = None, progress: bool = True) -> None:
        super().__init__(batch_size=batch_size, device=device, progress=progress)
        self._model: Any = None
        self._preprocess: Callable[[list[Any]], torch.Tensor] | None = None

    @abc.abstractmethod
    def _load(self) -> None:
        """Loads the model and sets ``self._model`` and ``self._preprocess``."""

    @abc.abstractmethod
    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Maps preprocessed pixels ``(B, 3, H, W)`` to vectors ``(B, dim)``."""

    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        """Encodes images given as file paths or PIL images.

        Raises:
            EncoderError: On a missing, unreadable or degenerate image, naming it.
        """
        if self._model is None:
            self._load()
        chunks = []
        starts = range(0, len(items), self.batch_size)
        with torch.no_grad():
            for start in tqdm(starts, desc="images", unit="batch", disable=not self.progress, leave=False):
                images = [open_image_rgb(item) for item in items[start : start + self.batch_size]]
                pixels = self._preprocess(images).to(self.device)  # type: ignore[misc]
                chunks.append(self._embed(pixels).float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.dim)
