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

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from graphalign.errors import ConfigError

__all__ = ["PRIMARY_METRIC", "PairRanker", "filtered_ranks", "ranking_metrics", "evaluate_ranking", "evaluate_scored"]

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

    Pairs are grouped by query, so a query with many targets (a concept with
    hundreds of held-out descriptions) is scored against the candidates once;
    at most ``batch_size`` queries, and about 8 million scores, are held at
    once. For each pair, every other known positive of its query (a
    ``(query, candidate)`` row of ``known_pairs``) is filtered out.

    Args:
        query_emb: Query embeddings (e.g. images).
        cand_emb: Candidate embeddings (e.g. all concepts).
        query_index: Row of ``query_emb`` of each evaluated pair.
        target_index: Row of ``cand_emb`` of each evaluated pair's target.
        known_pairs: All known ``(query row, candidate row)`` positives to filter
            (typically train + validation + test links); may include the
            evaluated pairs themselves.
        ks: Cut-offs of Hits@k.
        batch_size: Most queries scored at once.
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
    # Pairs are grouped by query: each query's scores are computed once, however many targets it has.
    order = torch.argsort(query_index, stable=True)
    queries, counts = torch.unique_consecutive(query_index[order], return_counts=True)  # (U,), (U,)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])  # (U + 1,)
    rows_per_batch = max(1, min(batch_size, _SCORES_PER_BATCH // max(num_candidates, 1)))
    ranks = torch.empty(query_index.numel())
    for first in range(0, queries.numel(), rows_per_batch):
        last = min(first + rows_per_batch, queries.numel())
        pairs = order[starts[first] : starts[last]]  # (P_b,) positions in the input
        local = torch.repeat_interleave(torch.arange(last - first), counts[first:last])  # (P_b,)
        ranks[pairs] = _group_ranks(
            query_emb[queries[first:last].to(query_emb.device)] @ cand_emb.T,
            local,
            target_index[pairs],
            _known_rows(queries[first:last], ptr, known_cands),
        )
    return ranking_metrics(ranks, ks)


class PairRanker:
    """Filtered ranks of fixed ``(query, target)`` pairs under score matrices that change.

    A search over scorings (the channel scales of
    :mod:`graphalign.training.calibration`) ranks the same pairs many times: the
    pairs' grouping by query and the known positives to filter are prepared
    once, and each call ranks one full score matrix, exactly as
    :func:`evaluate_ranking` ranks the embeddings' cosines.

    Example:
        >>> ranker = PairRanker(torch.tensor([0, 1]), torch.tensor([0, 1]), None, num_queries=2, num_candidates=2)
        >>> ranker.metrics(torch.eye(2))["mrr"]
        1.0

    Args:
        query_index: Row of the score matrix of each pair.
        target_index: Column of each pair's target.
        known_pairs: Known ``(query row, candidate)`` positives to filter, as in :func:`evaluate_ranking`.
        num_queries: Rows of the score matrices.
        num_candidates: Their columns.

    Shapes:
        - query_index, target_index: ``(P,)``; known_pairs: ``(K, 2)``
    """

    def __init__(
        self,
        query_index: Tensor,
        target_index: Tensor,
        known_pairs: Tensor | None,
        num_queries: int,
        num_candidates: int,
    ) -> None:
        query_index, target_index = query_index.long().cpu(), target_index.long().cpu()
        _check_range(query_index, num_queries, "query_index")
        _check_range(target_index, num_candidates, "target_index")
        ptr, known_cands = _known_csr(known_pairs, num_queries, num_candidates)
        self.order = torch.argsort(query_index, stable=True)
        self.queries, counts = torch.unique_consecutive(query_index[self.order], return_counts=True)
        self.local = torch.repeat_interleave(torch.arange(self.queries.numel()), counts)
        self.targets = target_index[self.order]
        self.known = _known_rows(self.queries, ptr, known_cands)
        self.pair_filter: Tensor | None = None  # (P, C): each pair's known candidates, while small
        if self.order.numel() * num_candidates <= _SCORES_PER_BATCH:
            row_filter = torch.zeros(self.queries.numel(), num_candidates, dtype=torch.bool)
            row_filter[self.known] = True
            self.pair_filter = row_filter[self.local]

    def ranks(self, scores: Tensor) -> Tensor:
        """The filtered rank of each pair, in the order given.

        Shapes:
            - scores: ``(num_queries, num_candidates)``
            - output: ``(P,)``
        """
        ranks = torch.empty(self.order.numel())
        rows = scores[self.queries]
        if self.pair_filter is not None:  # one comparison per pair and candidate: fastest while small
            ranks[self.order] = filtered_ranks(rows[self.local], self.targets, self.pair_filter).cpu()
        else:
            ranks[self.order] = _group_ranks(rows, self.local, self.targets, self.known)
        return ranks

    def metrics(self, scores: Tensor, ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
        """:func:`ranking_metrics` of :meth:`ranks`."""
        return ranking_metrics(self.ranks(scores), ks)


_SCORES_PER_BATCH = 1 << 23
"""Scores held at once by :func:`evaluate_ranking` (about 200 MB with its counts)."""


def evaluate_scored(
    score_rows: Callable[[Tensor], Tensor],
    query_index: Tensor,
    target_index: Tensor,
    num_candidates: int,
    known_pairs: Tensor | None = None,
    ks: Sequence[int] = (1, 3, 10),
    batch_size: int = 1024,
) -> dict[str, float]:
    """:func:`evaluate_ranking` for scores that are not a dot product of two embeddings.

    ``score_rows(rows)`` gives the score of query rows ``rows`` with every
    candidate; it is called on batches of the evaluated queries (at most
    ``batch_size`` rows and about 8 million scores at once), and each pair is
    ranked as :func:`evaluate_ranking` ranks it (filtered, ties counted half).

    Example:
        >>> scores = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
        >>> evaluate_scored(lambda rows: scores[rows], torch.tensor([0, 1]), torch.tensor([1, 1]), 2)["mrr"]
        0.75

    Args:
        score_rows: Query rows → their scores.
        query_index: Query row of each pair.
        target_index: Candidate of each pair's target.
        num_candidates: Number of candidates.
        known_pairs: Known ``(query row, candidate)`` positives to filter.
        ks: Hits@k cut-offs.
        batch_size: Most query rows scored at once.

    Shapes:
        - score_rows: ``(B,)`` → ``(B, num_candidates)``
        - query_index, target_index: ``(P,)``; known_pairs: ``(K, 2)``
    """
    query_index, target_index = query_index.long().cpu(), target_index.long().cpu()
    _check_range(target_index, num_candidates, "target_index")
    rows, local = torch.unique(query_index, return_inverse=True)
    known = torch.empty(0, 2, dtype=torch.long)
    if known_pairs is not None and known_pairs.numel() and rows.numel():
        known_pairs = known_pairs.long().cpu()
        lookup = torch.full((int(max(int(rows.max()), int(known_pairs[:, 0].max()))) + 1,), -1, dtype=torch.long)
        lookup[rows] = torch.arange(rows.numel())
        known = torch.stack([lookup[known_pairs[:, 0]], known_pairs[:, 1]], dim=1)
        known = known[known[:, 0] >= 0]
    ranks = torch.empty(query_index.numel())
    chunk = max(1, min(batch_size, _SCORES_PER_BATCH // max(num_candidates, 1)))
    for start in range(0, rows.numel(), chunk):
        stop = min(start + chunk, rows.numel())
        pairs = (local >= start) & (local < stop)
        in_chunk = known[(known[:, 0] >= start) & (known[:, 0] < stop)]
        ranker = PairRanker(
            local[pairs] - start, target_index[pairs], in_chunk - torch.tensor([start, 0]), stop - start, num_candidates
        )
        ranks[pairs] = ranker.ranks(score_rows(rows[start:stop]).float().cpu())
    return ranking_metrics(ranks, ks)


def _known_rows(queries: Tensor, ptr: Tensor, known_cands: Tensor) -> tuple[Tensor, Tensor]:
    """The known candidates of ``queries`` as ``(row in queries, candidate)``."""
    counts = ptr[queries + 1] - ptr[queries]  # (B,)
    rows = torch.repeat_interleave(torch.arange(queries.numel()), counts)  # (K_b,)
    offsets = torch.arange(rows.numel()) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)  # (K_b,)
    return rows, known_cands[torch.repeat_interleave(ptr[queries], counts) + offsets]


def _group_ranks(scores: Tensor, local: Tensor, targets: Tensor, known: tuple[Tensor, Tensor]) -> Tensor:
    """Filtered ranks of several targets per score row, each row's candidates scanned once.

    Each row's target scores are sorted; every candidate is placed among them
    (``searchsorted``), and a count of candidates per place gives, for each
    target, how many candidates score higher and how many tie: ``O(B C log M)``
    instead of ``O(P C)`` comparisons, ``M`` the most targets of a row. Known
    candidates are sent to a bin that counts nowhere.

    Shapes:
        - scores: ``(B, C)``; local, targets: ``(P,)``, the row and column of each pair
        - known: two ``(K,)`` tensors, row and column of each candidate to filter out
        - output: ``(P,)`` ranks, in the order of ``local``
    """
    if not bool(torch.isfinite(scores).all()):
        mask = torch.zeros(scores.shape, dtype=torch.bool)
        mask[known[0], known[1]] = True
        device = scores.device
        return filtered_ranks(scores[local.to(device)], targets.to(device), mask[local].to(device)).cpu()
    scores = scores.cpu()
    num_rows, num_cands = scores.shape
    first = torch.searchsorted(local, torch.arange(num_rows))  # (B,) first pair of each row
    place = torch.arange(local.numel()) - first[local]  # (P,) position of each pair within its row
    width = int(place.max()) + 1 if place.numel() else 1
    target_scores = torch.full((num_rows, width), float("inf"))
    target_scores[local, place] = scores[local, targets]
    sorted_scores, sorted_place = target_scores.sort(dim=1)  # (B, M)
    below = torch.searchsorted(sorted_scores, scores)  # (B, C): targets scoring lower than each candidate
    at_most = torch.searchsorted(sorted_scores, scores, right=True)  # (B, C): targets scoring lower or equal
    dump = width + 1
    below[known], at_most[known] = dump, dump
    row_offset = torch.arange(num_rows)[:, None] * (dump + 1)
    bins = num_rows * (dump + 1)
    n_below = torch.bincount((below + row_offset).flatten(), minlength=bins).view(num_rows, dump + 1)
    n_at_most = torch.bincount((at_most + row_offset).flatten(), minlength=bins).view(num_rows, dump + 1)
    counted = n_below[:, :dump]  # (B, M + 1), the dump bin left out
    higher = counted.flip(1).cumsum(1).flip(1)[:, 1:]  # (B, M): candidates above the j-th lowest target
    ties = counted.cumsum(1)[:, :width] - n_at_most[:, :dump].cumsum(1)[:, :width]  # (B, M)
    in_sorted = torch.empty_like(sorted_place)
    in_sorted.scatter_(1, sorted_place, torch.arange(width).expand(num_rows, width).contiguous())
    j = in_sorted[local, place]  # (P,) each pair's position among its row's sorted targets
    filtered = torch.zeros(scores.shape, dtype=torch.bool)
    filtered[known] = True
    self_tie = (~filtered[local, targets]).long()  # an unfiltered target ties with itself
    return 1.0 + higher[local, j].float() + 0.5 * (ties[local, j] - self_tie).float()
