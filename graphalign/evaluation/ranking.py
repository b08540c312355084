r"""Filtered ranking metrics (MRR, Hits@k, mean rank) for link retrieval.

For a query with a known target, every candidate is scored; the *filtered* rank
of the target ignores the other candidates already known to be correct for that
query (as in knowledge-graph completion), and ties are counted half
("realistic" rank, as in PyKEEN):

.. math::
    \mathrm{rank} = 1 + \#\{c : s_c > s_t\} + \tfrac12\,\#\{c \ne t : s_c = s_t\}

where :math:`c` runs over the unfiltered candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from graphalign.errors import ConfigError

__all__ = ["PRIMARY_METRIC", "filtered_ranks", "ranking_metrics", "evaluate_ranking"]

PRIMARY_METRIC = "mrr"
"""Key of the metric to select models by."""

_SIMILARITIES = ("cosine", "dot")


def filtered_ranks(scores: Tensor, targets: Tensor, filter_mask: Tensor | None = None) -> Tensor:
    """Realistic filtered rank of each row's target.

    Args:
        scores: Score of every candidate for every query (higher is better).
        targets: Column of each row's target.
        filter_mask: ``True`` for other known positives to leave out of the row's
            ranking; the target itself is never left out.

    Returns:
        Float ranks, 1 being best.

    Example:
        >>> filtered_ranks(torch.tensor([[0.9, 0.5, 0.5, 0.1]]), torch.tensor([1]))
        tensor([2.5000])

    Shapes:
        - scores: ``(Q, C)``; targets: ``(Q,)``; filter_mask: ``(Q, C)``
        - output: ``(Q,)``
    """
    if scores.dim() != 2 or targets.shape != (scores.size(0),):
        raise ConfigError(f"scores must be (Q, C) and targets (Q,); got {tuple(scores.shape)}, {tuple(targets.shape)}")
    rows = torch.arange(scores.size(0), device=scores.device)
    targets = targets.to(scores.device)
    target_scores = scores[rows, targets][:, None]  # (Q, 1)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if filter_mask is not None:
        if filter_mask.shape != scores.shape:
            raise ConfigError(f"filter_mask must have shape {tuple(scores.shape)}, got {tuple(filter_mask.shape)}")
        keep = ~filter_mask.to(device=scores.device, dtype=torch.bool)
    keep[rows, targets] = False  # the target is neither higher nor a tie with itself
    higher = ((scores > target_scores) & keep).sum(dim=1)  # (Q,)
    ties = ((scores == target_scores) & keep).sum(dim=1)  # (Q,)
    return 1.0 + higher.float() + 0.5 * ties.float()


def ranking_metrics(ranks: Tensor, ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
    """MRR, Hits@k, mean rank and count from ranks.

    Example:
        >>> ranking_metrics(torch.tensor([1.0, 2.0]), ks=(1, 3))
        {'mrr': 0.75, 'hits@1': 0.5, 'hits@3': 1.0, 'mean_rank': 1.5, 'count': 2.0}

    Returns:
        Keys ``mrr``, ``hits@{k}`` for each ``k``, ``mean_rank``, ``count``; the
        metrics are NaN when ``ranks`` is empty.
    """
    ranks = ranks.detach().float().flatten()
    out: dict[str, float] = {}
    if ranks.numel() == 0:
        out["mrr"] = float("nan")
        out.update({f"hits@{k}": float("nan") for k in ks})
        out["mean_rank"] = float("nan")
    else:
        out["mrr"] = float((1.0 / ranks).mean())
        out.update({f"hits@{k}": float((ranks <= k).float().mean()) for k in ks})
        out["mean_rank"] = float(ranks.mean())
    out["count"] = float(ranks.numel())
    return out


def _known_csr(known_pairs: Tensor | None, num_queries: int, num_candidates: int) -> tuple[Tensor, Tensor]:
    """Known pairs grouped by query: ``(ptr (Q+1,), candidates (K,))``."""
    if known_pairs is None or known_pairs.numel() == 0:
        return torch.zeros(num_queries + 1, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    known_pairs = known_pairs.long().cpu()
    if known_pairs.dim() != 2 or known_pairs.size(1) != 2:
        raise ConfigError(f"known_pairs must be (K, 2), got {tuple(known_pairs.shape)}")
    _check_range(known_pairs[:, 0], num_queries, "known_pairs[:, 0]")
    _check_range(known_pairs[:, 1], num_candidates, "known_pairs[:, 1]")
    order = torch.argsort(known_pairs[:, 0], stable=True)
    known_pairs = known_pairs[order]
    counts = torch.bincount(known_pairs[:, 0], minlength=num_queries)  # (Q,)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])  # (Q + 1,)
    return ptr, known_pairs[:, 1]


def _check_range(index: Tensor, size: int, name: str) -> None:
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
        raise ConfigError(f"{name} must lie in [0, {size}), got values in [{int(index.min())}, {int(index.max())}]")


@torch.no_grad()
def evaluate_ranking(
    query_emb: Tensor,
    cand_emb: Tensor,
    query_index: Tensor,
    target_index: Tensor,
    known_pairs: Tensor | None = None,
    ks: Sequence[int] = (1, 3, 10),
    batch_size: int = 1024,
    similarity: str = "cosine",
) -> dict[str, float]:
    """Filtered ranking of each ``(query, target)`` pair against all candidates.

    Scores are computed ``batch_size`` pairs at a time, so memory stays at
    ``batch_size x C`` scores. For each pair, every other known positive of its
    query (a ``(query, candidate)`` row of ``known_pairs``) is filtered out.

    Args:
        query_emb: Query embeddings (e.g. images).
        cand_emb: Candidate embeddings (e.g. all concepts).
        query_index: Row of ``query_emb`` of each evaluated pair.
        target_index: Row of ``cand_emb`` of each evaluated pair's target.
        known_pairs: All known ``(query row, candidate row)`` positives to filter
            (typically train + validation + test links); may include the
            evaluated pairs themselves.
        ks: Cut-offs of Hits@k.
        batch_size: Pairs scored at once.
        similarity: ``"cosine"`` or ``"dot"``.

    Returns:
        :func:`ranking_metrics` of the filtered ranks.

    Example:
        >>> q, c = torch.eye(2), torch.eye(2)
        >>> evaluate_ranking(q, c, torch.tensor([0, 1]), torch.tensor([0, 1]))["mrr"]
        1.0

    Shapes:
        - query_emb: ``(Q, d)``; cand_emb: ``(C, d)``
        - query_index, target_index: ``(P,)``; known_pairs: ``(K, 2)``
    """
    if similarity not in _SIMILARITIES:
        raise ConfigError(f"unknown similarity {similarity!r}; choose one of: {', '.join(_SIMILARITIES)}")
    if batch_size <= 0:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    if query_index.shape != target_index.shape or query_index.dim() != 1:
        raise ConfigError(
            f"query_index and target_index must both be (P,), got "
            f"{tuple(query_index.shape)}, {tuple(target_index.shape)}"
        )
    num_queries, num_candidates = query_emb.size(0), cand_emb.size(0)
    query_index, target_index = query_index.long().cpu(), target_index.long().cpu()
    _check_range(query_index, num_queries, "query_index")
    _check_range(target_index, num_candidates, "target_index")
    if similarity == "cosine":
        query_emb, cand_emb = F.normalize(query_emb, dim=-1), F.normalize(cand_emb, dim=-1)
    ptr, known_cands = _known_csr(known_pairs, num_queries, num_candidates)
    device = query_emb.device

    ranks = []
    for start in range(0, query_index.numel(), batch_size):
        queries = query_index[start : start + batch_size]  # (B,)
        targets = target_index[start : start + batch_size]  # (B,)
        scores = query_emb[queries.to(device)] @ cand_emb.T  # (B, C)
        counts = ptr[queries + 1] - ptr[queries]  # (B,)
        rows = torch.repeat_interleave(torch.arange(queries.numel()), counts)  # (K_b,)
        offsets = torch.arange(rows.numel()) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)  # (K_b,)
        cols = known_cands[torch.repeat_interleave(ptr[queries], counts) + offsets]  # (K_b,)
        filter_mask = torch.zeros(scores.shape, dtype=torch.bool)  # (B, C)
        filter_mask[rows, cols] = True
        ranks.append(filtered_ranks(scores, targets.to(device), filter_mask.to(device)).cpu())
    all_ranks = torch.cat(ranks) if ranks else torch.zeros(0)
    return ranking_metrics(all_ranks, ks)
