"""ConSE: images placed in a text encoder's space through ImageNet class names.

Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic
Embeddings" (ICLR 2014): the vector of an image is the probability-weighted mean
of the text embeddings of its top-k ImageNet class names. Texts and concepts
encoded by the same text encoder can then be compared with images directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.digest import content_digest
from graphalign.encoders.base import ENCODERS, Encoder, build_encoder
from graphalign.encoders.cache import FeatureCache, default_cache_dir
from graphalign.encoders.cached import encode_with_cache
from graphalign.encoders.efficientnet_lite import EfficientNetLite0Encoder
from graphalign.encoders.imagenet import imagenet_classes
from graphalign.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["ConSEImageEncoder", "conse_vectors"]


def conse_vectors(probabilities: torch.Tensor, class_embeddings: torch.Tensor, top_k: int = 10) -> torch.Tensor:
    """Probability-weighted mean of the top-k class embeddings, L2-normalised.

    Shapes:
        - probabilities: ``(N, num_classes)``
        - class_embeddings: ``(num_classes, d)``
        - output: ``(N, d)``
    """
    top = torch.topk(probabilities, top_k, dim=1)  # (N, k)
    weights = top.values / top.values.sum(dim=1, keepdim=True).clamp(min=1e-12)  # (N, k)
    return F.normalize(torch.einsum("nk,nkd->nd", weights, class_embeddings[top.indices]), dim=-1)


@ENCODERS.register("conse")
class ConSEImageEncoder(Encoder):
    """EfficientNet-Lite0 features followed by the image's ConSE vector in a text encoder's space.

    Example:
        >>> encoder = ConSEImageEncoder()  # doctest: +SKIP
        >>> encoder.dim  # 1280 visual + 384 in MiniLM's space  # doctest: +SKIP
        1664

    Args:
        text_encoder: Registered text encoder for the class names (default ``minilm``,
            the same as the default for concepts and texts).
        text_encoder_kwargs: Its arguments.
        top_k: Class names averaged per image.
        mode: ``"concat"`` (default): the 1280-d visual features followed by
            the text-space vector (the default image features of
            :class:`~graphalign.features.featurize.GraphConfig`); ``"conse"``:
            only the text-space vector (the node type then shares its feature
            space with texts and concepts).
        weights: EfficientNet-Lite0 weights file (default: the packaged one).
        cache_dir: Feature cache for the class-name embeddings (default:
            :func:`~graphalign.encoders.cache.default_cache_dir`).
        use_cache: Read and write that cache.
    """

    modality = "image"

    def __init__(
        self,
        text_encoder: str = "minilm",
        text_encoder_kwargs: dict[str, Any] | None = None,
        top_k: int = 10,
        mode: str = "concat",
        weights: str | None = None,
        cache_dir: str | None = None,
        use_cache: bool = True,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, device=device, progress=progress)
        if mode not in ("conse", "concat"):
            raise ConfigError(f"ConSE mode must be 'conse' or 'concat', got {mode!r}")
        self.mode, self.top_k = mode, int(top_k)
        self.cache_dir, self.use_cache = cache_dir, use_cache
        self.image_encoder = EfficientNetLite0Encoder(
            weights=weights, batch_size=batch_size, device=device, progress=progress
        )
        kwargs = {"device": device, "progress": False, **(text_encoder_kwargs or {})}
        self.text_encoder = build_encoder(text_encoder, kwargs)
        self._class_embeddings: torch.Tensor | None = None

    @cached_property
    def identity(self) -> str:
        return f"conse:{self.mode}:k={self.top_k}:{self.image_encoder.identity}:{self.text_encoder.identity}"

    @property
    def feature_space(self) -> str:
        return self.text_encoder.feature_space if self.mode == "conse" else self.identity

    @property
    def dim(self) -> int:
        return self.text_encoder.dim + (self.image_encoder.dim if self.mode == "concat" else 0)

    def class_embeddings(self) -> torch.Tensor:
        """Text embeddings of the 1000 ImageNet class names, through the feature cache
        of the text encoder (so later runs load no text model). Shapes: ``(1000, d)``."""
        if self._class_embeddings is None:
            names = imagenet_classes()
            cache = (
                FeatureCache(self.cache_dir or default_cache_dir(), self.text_encoder.identity)
                if self.use_cache
                else None
            )
            self._class_embeddings, _ = encode_with_cache(
                self.text_encoder, names, [content_digest(n) for n in names], cache
            )
        return self._class_embeddings

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """ConSE vectors from EfficientNet-Lite0 pooled features (no image decoding).

        Shapes:
            - features: ``(N, 1280)``
            - output: ``(N, dim)``
        """
        probabilities = self.image_encoder.proba_from_features(features)
        vectors = conse_vectors(probabilities, self.class_embeddings(), self.top_k)
        return torch.cat([features, vectors], dim=1) if self.mode == "concat" else vectors

    def encode(self, items: Sequence[Any]) -> torch.Tensor:
        return self.from_features(self.image_encoder.encode(items))
