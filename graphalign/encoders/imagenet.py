"""ImageNet-1k class names, in the index order of the standard 1000-way classifiers."""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch

logger = logging.getLogger(__name__)

__all__ = ["IMAGENET_CLASSES", "imagenet_classes", "top_classes"]  # noqa: F822 - IMAGENET_CLASSES is lazy (__getattr__)


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names; index ``i`` is logit ``i`` (torchvision's list).

    Read offline from torchvision's weight metadata (no download), on first use
    (importing torchvision takes about a second). Google's TF EfficientNet
    checkpoints use the same order (1000 classes, no background class). Two names
    occur twice, as in torchvision: ``"crane"`` (the bird, 134, and the machine,
    517) and ``"maillot"`` (638, 639).
    """
    from torchvision.models import ResNet18_Weights

    classes = list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    if len(classes) != 1000:  # pragma: no cover - guards a torchvision change
        raise RuntimeError(f"expected 1000 ImageNet classes from torchvision, got {len(classes)}")
    return classes


def __getattr__(name: str) -> Any:
    """``IMAGENET_CLASSES`` is computed on first access (see :func:`imagenet_classes`)."""
    if name == "IMAGENET_CLASSES":
        return imagenet_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def top_classes(probs: torch.Tensor, k: int = 5) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
    """The ``k`` most probable ImageNet classes with their probabilities.

    Example:
        >>> probs = torch.zeros(1000)
        >>> probs[285], probs[281] = 0.75, 0.25
        >>> top_classes(probs, k=2)
        [('Egyptian cat', 0.75), ('tabby', 0.25)]

    Args:
        probs: Class probabilities (or any scores) of shape ``(1000,)`` or ``(N, 1000)``.
        k: How many classes to return per row (at most 1000).

    Returns:
        For a 1-D ``probs``, a list of ``(class name, probability)`` pairs, most
        probable first; for a 2-D ``probs``, one such list per row.

    Raises:
        ValueError: If the last dimension is not 1000 or ``k`` is out of range.
    """
    if probs.dim() not in (1, 2) or probs.shape[-1] != len(imagenet_classes()):
        raise ValueError(f"expected probabilities of shape (1000,) or (N, 1000), got {tuple(probs.shape)}")
    if not 1 <= k <= len(imagenet_classes()):
        raise ValueError(f"k must be in [1, {len(imagenet_classes())}], got {k}")
    values, indices = probs.detach().float().cpu().topk(k, dim=-1)
    if probs.dim() == 1:
        return [(imagenet_classes()[i], float(p)) for p, i in zip(values.tolist(), indices.tolist())]
    return [
        [(imagenet_classes()[i], float(p)) for p, i in zip(row_values, row_indices)]
        for row_values, row_indices in zip(values.tolist(), indices.tolist())
    ]
