r"""Contrastive losses that pull linked nodes together in the shared space.

All losses share one call signature::

    loss(anchor, positive, negatives=None, *, anchor_ids=None, positive_ids=None, negative_ids=None)

``anchor[i]`` and ``positive[i]`` are the two ends of the ``i``-th linked pair
(e.g. an image and the concept it depicts), L2-normalised. ``anchor_ids`` /
``positive_ids`` are node ids (any integers identifying the node) used to mask
*false negatives*: in-batch candidates that are in fact the same node as a row's
positive (e.g. two images of the same concept in one batch). Choose a loss by
name through :data:`LOSSES` or :func:`build_loss`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphalign.errors import ConfigError
from graphalign.registry import Registry

__all__ = ["LOSSES", "InfoNCELoss", "TripletMarginLoss", "build_loss"]

LOSSES: Registry[nn.Module] = Registry("loss")
"""Registry of contrastive losses: ``infonce`` (alias ``clip``) and ``triplet``."""


def _check_pairs(anchor: Tensor, positive: Tensor, anchor_ids: Tensor | None, positive_ids: Tensor | None) -> None:
    if anchor.dim() != 2 or anchor.shape != positive.shape:
        raise ConfigError(
            f"anchor and positive must both be (N, d); got {tuple(anchor.shape)}, {tuple(positive.shape)}"
        )
    for name, ids in (("anchor_ids", anchor_ids), ("positive_ids", positive_ids)):
        if ids is not None and ids.shape != (anchor.size(0),):
            raise ConfigError(f"{name} must have shape ({anchor.size(0)},), got {tuple(ids.shape)}")


def _in_batch_false_negatives(
    n: int, anchor_ids: Tensor | None, positive_ids: Tensor | None, device: torch.device
) -> Tensor:
    """``(N, N)`` bool: off-diagonal pairs ``(i, j)`` that are the same link as ``i``'s.

    ``j`` is a false negative for row ``i`` if ``positive_ids[j] == positive_ids[i]``
    (same positive node) or ``anchor_ids[j] == anchor_ids[i]`` (same anchor node,
    so ``positive[j]`` is another true positive of ``anchor[i]``). The relation is
    symmetric, so the same mask serves both directions.
    """
    mask = torch.zeros(n, n, dtype=torch.bool, device=device)
    for ids in (anchor_ids, positive_ids):
        if ids is not None:
            ids = ids.to(device)
            mask |= ids[:, None] == ids[None, :]
    return mask & ~torch.eye(n, dtype=torch.bool, device=device)


def _extra_negative_mask(
    negative_ids: Tensor | None, positive_ids: Tensor | None, shape: torch.Size, device: torch.device
) -> Tensor:
    """``(N, M)`` or ``(N, K)`` bool: explicit negatives that are the row's own positive."""
    if negative_ids is None:
        return torch.zeros(shape, dtype=torch.bool, device=device)
    if positive_ids is None:
        raise ConfigError("negative_ids needs positive_ids to know which negatives to mask")
    negative_ids, positive_ids = negative_ids.to(device), positive_ids.to(device)
    if negative_ids.dim() == 1:  # shared candidates (M,)
        return positive_ids[:, None] == negative_ids[None, :]
    return positive_ids[:, None] == negative_ids  # per-anchor candidates (N, K)


def _zero(anchor: Tensor) -> Tensor:
    """A zero loss that keeps the graph connected (for empty batches)."""
    return anchor.sum() * 0.0


@LOSSES.register("infonce", "clip")
class InfoNCELoss(nn.Module):
    r"""CLIP-style symmetric InfoNCE with a learnable temperature.

    With :math:`s = \min(e^{\theta}, s_{\max})`, :math:`\theta` initialised to
    :math:`\log(1/T)`, and logits :math:`L = s\,A P^\top` (:math:`N \times N`,
    correct pairs on the diagonal):

    .. math::
        \mathcal{L} = \tfrac12\big(\mathrm{CE}(L, I) + \mathrm{CE}(L^\top, I)\big)

    Off-diagonal entries that are false negatives (same ``positive_ids`` or same
    ``anchor_ids`` as the row's pair) are removed (logit :math:`-\infty`) in both
    directions. Extra ``negatives`` (:math:`M \times d`, shared by all rows, e.g.
    every concept embedding) are appended as extra columns to the
    anchor→positive direction only; those whose ``negative_ids`` equal the row's
    ``positive_ids`` are removed too.

    Example:
        >>> loss = InfoNCELoss(temperature=0.1)
        >>> a = F.normalize(torch.randn(4, 8), dim=-1)
        >>> loss(a, a).item() < loss(a, a.flip(0)).item()
        True
        >>> loss
        InfoNCELoss(temperature=0.1, learnable_temperature=True, max_logit_scale=100.0, symmetric=True)

    Args:
        temperature: Initial temperature :math:`T`.
        learnable_temperature: Learn :math:`\theta` (else a fixed buffer).
        max_logit_scale: Upper clamp of the scale :math:`s = 1/T`.
        symmetric: Average both directions (else anchor→positive only).
    """

    def __init__(
        self,
        temperature: float = 0.07,
        learnable_temperature: bool = True,
        max_logit_scale: float = 100.0,
        symmetric: bool = True,
    ) -> None:
        super().__init__()
        if temperature <= 0 or max_logit_scale <= 0:
            raise ConfigError(f"temperature and max_logit_scale must be positive, got {temperature}, {max_logit_scale}")
        self.initial_temperature = temperature
        self.learnable_temperature = learnable_temperature
        self.max_logit_scale = max_logit_scale
        self.symmetric = symmetric
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable_temperature:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_logit_scale", log_scale)

    @property
    def logit_scale(self) -> Tensor:
        """The clamped scale :math:`s = 1/T` (a 0-dim tensor)."""
        return self.log_logit_scale.clamp(max=math.log(self.max_logit_scale)).exp()

    @property
    def temperature(self) -> float:
        """Current temperature :math:`1/s`."""
        return float(1.0 / self.logit_scale.detach())

    def forward(
        self,
        anchor: Tensor,
        positive: Tensor,
        negatives: Tensor | None = None,
        *,
        anchor_ids: Tensor | None = None,
        positive_ids: Tensor | None = None,
        negative_ids: Tensor | None = None,
    ) -> Tensor:
        """Computes the loss.

        Args:
            anchor: Anchor embeddings, L2-normalised.
            positive: Positive embeddings, row ``i`` linked to ``anchor[i]``.
            negatives: Optional extra candidates shared by all rows.
            anchor_ids: Node ids of the anchors (masks same-anchor duplicates).
            positive_ids: Node ids of the positives (masks same-positive duplicates).
            negative_ids: Node ids of ``negatives`` (masks a row's own positive).

        Returns:
            A scalar tensor.

        Shapes:
            - anchor, positive: ``(N, d)``
            - negatives: ``(M, d)``
            - anchor_ids, positive_ids: ``(N,)``; negative_ids: ``(M,)``
            - output: ``()``
        """
        _check_pairs(anchor, positive, anchor_ids, positive_ids)
        n, device = anchor.size(0), anchor.device
        if n == 0:
            return _zero(anchor)
        scale = self.logit_scale
        logits = scale * anchor @ positive.T  # (N, N)
        logits = logits.masked_fill(_in_batch_false_negatives(n, anchor_ids, positive_ids, device), float("-inf"))
        target = torch.arange(n, device=device)

        forward_logits = logits
        if negatives is not None:
            if negatives.dim() != 2 or negatives.size(-1) != anchor.size(-1):
                raise ConfigError(f"negatives must be (M, {anchor.size(-1)}), got {tuple(negatives.shape)}")
            extra = scale * anchor @ negatives.T  # (N, M)
            extra = extra.masked_fill(
                _extra_negative_mask(negative_ids, positive_ids, extra.shape, device), float("-inf")
            )
            forward_logits = torch.cat([logits, extra], dim=1)  # (N, N + M)
        loss = F.cross_entropy(forward_logits, target)
        if self.symmetric:
            loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
        return loss

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(temperature={self.initial_temperature}, "
            f"learnable_temperature={self.learnable_temperature}, max_logit_scale={self.max_logit_scale}, "
            f"symmetric={self.symmetric})"
        )


def _cosine_distance(a: Tensor, c: Tensor) -> Tensor:
    a = F.normalize(a, dim=-1)
    c = F.normalize(c, dim=-1)
    if c.dim() == 2:
        return 1.0 - a @ c.T  # (N, C)
    return 1.0 - torch.einsum("nd,nkd->nk", a, c)  # (N, K)


def _euclidean_distance(a: Tensor, c: Tensor) -> Tensor:
    if c.dim() == 2:
        return torch.cdist(a, c)  # (N, C)
    return (a[:, None, :] - c).norm(dim=-1)  # (N, K)


_DISTANCES = {"cosine": _cosine_distance, "euclidean": _euclidean_distance}
_MININGS = ("random", "hard")


@LOSSES.register("triplet")
class TripletMarginLoss(nn.Module):
    r"""Triplet margin loss with in-batch negative mining.

    .. math::
        \mathcal{L} = \frac{1}{|V|}\sum_{i \in V} \max\big(0,\ m + D(a_i, p_i) - D(a_i, n_i)\big)

    with :math:`D` a distance: ``cosine`` :math:`D = 1 - \cos`, or ``euclidean``
    :math:`D = \lVert a - b \rVert_2`. For the cosine distance this is exactly
    :math:`\max(0,\ m - S(a, p) + S(a, n))` with :math:`S` the cosine similarity.

    One negative :math:`n_i` per anchor is chosen among its *valid* candidates:

    - ``negatives=None``: the other rows' positives, minus false negatives (same
      ``positive_ids`` or same ``anchor_ids`` as row ``i``);
    - ``negatives`` of shape ``(M, d)``: shared candidates, minus those whose
      ``negative_ids`` equal row ``i``'s ``positive_ids``;
    - ``negatives`` of shape ``(N, K, d)``: row ``i``'s own candidates (masked the
      same way with ``negative_ids`` of shape ``(N, K)``).

    ``mining="hard"`` takes the valid candidate with the smallest distance;
    ``mining="random"`` a uniformly random valid one (from ``seed``'s generator if
    given, else the global RNG). Anchors :math:`V` without a valid candidate are
    left out of the mean.

    Example:
        >>> loss = TripletMarginLoss(margin=0.5, mining="hard")
        >>> a = F.normalize(torch.randn(4, 8), dim=-1)
        >>> loss(a, a).item() <= 0.5
        True
        >>> loss
        TripletMarginLoss(margin=0.5, distance='cosine', mining='hard')

    Args:
        margin: Margin :math:`m`.
        distance: ``"cosine"`` or ``"euclidean"``.
        mining: ``"random"`` or ``"hard"``.
        seed: Seed of the generator used by random mining (``None``: global RNG).
    """

    def __init__(
        self, margin: float = 0.2, distance: str = "cosine", mining: str = "random", seed: int | None = None
    ) -> None:
        super().__init__()
        if distance not in _DISTANCES:
            raise ConfigError(f"unknown distance {distance!r}; choose one of: {', '.join(_DISTANCES)}")
        if mining not in _MININGS:
            raise ConfigError(f"unknown mining {mining!r}; choose one of: {', '.join(_MININGS)}")
        self.margin = margin
        self.distance = distance
        self.mining = mining
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def forward(
        self,
        anchor: Tensor,
        positive: Tensor,
        negatives: Tensor | None = None,
        *,
        anchor_ids: Tensor | None = None,
        positive_ids: Tensor | None = None,
        negative_ids: Tensor | None = None,
    ) -> Tensor:
        """Computes the loss.

        Args:
            anchor: Anchor embeddings.
            positive: Positive embeddings, row ``i`` linked to ``anchor[i]``.
            negatives: ``None`` (in-batch mining), shared ``(M, d)`` or per-anchor ``(N, K, d)``.
            anchor_ids: Node ids of the anchors (in-batch false negatives).
            positive_ids: Node ids of the positives (false negatives).
            negative_ids: Node ids of ``negatives``: ``(M,)`` or ``(N, K)``.

        Returns:
            A scalar tensor.

        Shapes:
            - anchor, positive: ``(N, d)``
            - negatives: ``(M, d)`` or ``(N, K, d)``
            - output: ``()``
        """
        _check_pairs(anchor, positive, anchor_ids, positive_ids)
        n, device = anchor.size(0), anchor.device
        if n == 0:
            return _zero(anchor)
        distance = _DISTANCES[self.distance]
        d_pos = distance(anchor, positive[:, None, :])[:, 0]  # (N,)
        if negatives is None:
            d_cand = distance(anchor, positive)  # (N, N)
            invalid = _in_batch_false_negatives(n, anchor_ids, positive_ids, device)
            invalid |= torch.eye(n, dtype=torch.bool, device=device)
        else:
            if negatives.dim() not in (2, 3) or negatives.size(-1) != anchor.size(-1):
                raise ConfigError(f"negatives must be (M, d) or (N, K, d), got {tuple(negatives.shape)}")
            if negatives.dim() == 3 and negatives.size(0) != n:
                raise ConfigError(f"per-anchor negatives must have {n} rows, got {negatives.size(0)}")
            d_cand = distance(anchor, negatives)  # (N, M) or (N, K)
            invalid = _extra_negative_mask(negative_ids, positive_ids, d_cand.shape, device)
        valid = ~invalid  # (N, C)
        has_valid = valid.any(dim=1)  # (N,)
        if not bool(has_valid.any()):
            return _zero(anchor)
        if self.mining == "hard":
            d_neg = d_cand.masked_fill(invalid, float("inf")).min(dim=1).values  # (N,)
        else:
            noise = torch.rand(d_cand.shape, generator=self._generator).to(device)  # (N, C)
            choice = noise.masked_fill(invalid, -1.0).argmax(dim=1)  # (N,)
            d_neg = d_cand.gather(1, choice[:, None])[:, 0]  # (N,)
        losses = F.relu(self.margin + d_pos - d_neg)  # (N,)
        return losses[has_valid].mean()

    def __repr__(self) -> str:
        seed = f", seed={self.seed}" if self.seed is not None else ""
        return (
            f"{self.__class__.__name__}(margin={self.margin}, distance={self.distance!r}, mining={self.mining!r}{seed})"
        )


def build_loss(name_or_cls: str | type[nn.Module] | nn.Module, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Builds a loss from a registered name (see :data:`LOSSES`), a class, or returns an instance.

    Example:
        >>> build_loss("clip", {"temperature": 0.05})
        InfoNCELoss(temperature=0.05, learnable_temperature=True, max_logit_scale=100.0, symmetric=True)

    Raises:
        RegistryError: For an unknown name; the message lists valid names.
    """
    return LOSSES.build(name_or_cls, kwargs)
