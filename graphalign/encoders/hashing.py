"""Dependency-free encoders: feature-hashed bag of words, colour histograms.

They need no model download and run in microseconds, which makes them useful as
baselines, for quick experiments on new data, and for tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graphalign.encoders.base import ENCODERS, Encoder
from graphalign.errors import EncoderError
from graphalign.image_io import open_image_rgb

__all__ = ["HashingTextEncoder", "ColorHistogramEncoder"]

_TOKEN = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


@ENCODERS.register("hashing-text")
class HashingTextEncoder(Encoder):
    """Bag of lower-cased words and character n-grams, feature-hashed, L2-normalised.

    Texts that share words or word pieces get similar vectors.

    Example:
        >>> encoder = HashingTextEncoder(dim=64)
        >>> encoder.encode(["a red kangaroo", "a kangaroo"]).shape
        torch.Size([2, 64])

    Args:
        dim: Output size.
        ngram: Character n-gram length added for each word (0 disables).
    """

    modality = "text"

    def __init__(self, dim: int = 256, ngram: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dim = int(dim)
        self.ngram = int(ngram)

    @property
    def identity(self) -> str:
        return f"hashing-text:dim={self._dim}:ngram={self.ngram}:v1"

    @property
    def dim(self) -> int:
        return self._dim

    def _features(self, text: str) -> list[str]:
        words = _TOKEN.findall(text.lower())
        grams = []
        if self.ngram > 0:
            for word in words:
                padded = f"<{word}>"
                grams.extend(padded[i : i + self.ngram] for i in range(max(1, len(padded) - self.ngram + 1)))
        return words + grams

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(items), self._dim)
        for row, text in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise EncoderError(f"text #{row} is empty or not a string: {text!r}")
            for token in self._features(text):
                column, sign = _bucket(token, self._dim)
                out[row, column] += sign
        return F.normalize(out, dim=-1)


@ENCODERS.register("color-histogram")
class ColorHistogramEncoder(Encoder):
    """Joint RGB histogram of an image (``bins**3`` values), L2-normalised.

    Example:
        >>> from PIL import Image
        >>> ColorHistogramEncoder(bins=4).encode([Image.new("RGB", (8, 8), "red")]).shape
        torch.Size([1, 64])

    Args:
        bins: Bins per colour channel.
        size: Images are downscaled to ``size x size`` first.
    """

    modality = "image"

    def __init__(self, bins: int = 4, size: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bins = int(bins)
        self.size = int(size)

    @property
    def identity(self) -> str:
        return f"color-histogram:bins={self.bins}:size={self.size}:v1"

    @property
    def dim(self) -> int:
        return self.bins**3

    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        out = torch.zeros(len(items), self.dim)
        for row, item in enumerate(items):
            image = open_image_rgb(item).resize((self.size, self.size))
            pixels = torch.from_numpy(np.asarray(image, dtype=np.int64).reshape(-1, 3))  # (size*size, 3)
            quantised = pixels * self.bins // 256
            codes = (quantised[:, 0] * self.bins + quantised[:, 1]) * self.bins + quantised[:, 2]
            out[row] = torch.bincount(codes, minlength=self.dim).float()
        return F.normalize(out, dim=-1)
