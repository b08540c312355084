"""Tests of the filtered ranking metrics in graphalign.evaluation.ranking."""

from __future__ import annotations

import pytest
import torch

from graphalign.evaluation import PRIMARY_METRIC, evaluate_ranking, filtered_ranks, ranking_metrics

# Scores of 2 queries against 5 candidates (the embeddings below reproduce them exactly).
SCORES = torch.tensor(
    [
        [0.9, 0.5, 0.7, 0.5, 0.1],  # query 0: known positives are candidates 1 and 2
        [0.2, 0.8, 0.3, 0.1, 0.0],  # query 1: known positive is candidate 1
    ]
)
KNOWN = torch.tensor([[0, 1], [0, 2], [1, 1]])
QUERY_INDEX = torch.tensor([0, 1, 0])
TARGET_INDEX = torch.tensor([1, 1, 2])
# Ranks by hand (rank = 1 + #higher + 0.5 * #ties among unfiltered candidates):
#   (0 -> 1): score 0.5; candidate 2 (0.7) is filtered; higher: c0; tie: c3 -> 1 + 1 + 0.5 = 2.5
#   (1 -> 1): score 0.8; nothing higher                                      -> 1
#   (0 -> 2): score 0.7; candidate 1 is filtered; higher: c0; no tie           -> 1 + 1 = 2
FILTERED_RANKS = [2.5, 1.0, 2.0]
#   Unfiltered, (0 -> 1) also counts c2 as higher: 1 + 2 + 0.5 = 3.5; (0 -> 2): 2 (c1 is lower).
RAW_RANKS = [3.5, 1.0, 2.0]


def test_filtered_ranks_by_hand() -> None:
    scores = SCORES[QUERY_INDEX]
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[0, [1, 2]] = True  # every known positive of query 0, including the target itself
    mask[1, 1] = True
    mask[2, [1, 2]] = True
    assert filtered_ranks(scores, TARGET_INDEX, mask).tolist() == FILTERED_RANKS
    assert filtered_ranks(scores, TARGET_INDEX).tolist() == RAW_RANKS
    assert filtered_ranks(scores, TARGET_INDEX).dtype == torch.float32


def test_all_ties_give_the_middle_rank() -> None:
    assert filtered_ranks(torch.zeros(1, 4), torch.tensor([2])).tolist() == [2.5]


def test_ranking_metrics_keys_and_values() -> None:
    metrics = ranking_metrics(torch.tensor(FILTERED_RANKS))
    assert list(metrics) == ["mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "count"]
    assert metrics["mrr"] == pytest.approx((1 / 2.5 + 1 + 1 / 2) / 3)
    assert metrics["hits@1"] == pytest.approx(1 / 3)
    assert metrics["hits@3"] == 1.0 and metrics["hits@10"] == 1.0
    assert metrics["mean_rank"] == pytest.approx(5.5 / 3)
    assert metrics["count"] == 3.0
    assert PRIMARY_METRIC in metrics
    empty = ranking_metrics(torch.zeros(0), ks=(5,))
    assert empty["count"] == 0.0 and empty["mrr"] != empty["mrr"]  # NaN
    assert "hits@5" in empty


@pytest.mark.parametrize("batch_size", [1, 2, 1024])
def test_evaluate_ranking_by_hand(batch_size: int) -> None:
    # With one-hot candidates, dot-product scores are the SCORES rows exactly.
    metrics = evaluate_ranking(
        SCORES, torch.eye(5), QUERY_INDEX, TARGET_INDEX, KNOWN, batch_size=batch_size, similarity="dot"
    )
    assert metrics == pytest.approx(ranking_metrics(torch.tensor(FILTERED_RANKS)))
    unfiltered = evaluate_ranking(SCORES, torch.eye(5), QUERY_INDEX, TARGET_INDEX, None, similarity="dot")
    assert unfiltered == pytest.approx(ranking_metrics(torch.tensor(RAW_RANKS)))


def _ranks_pair_by_pair(q: torch.Tensor, c: torch.Tensor, pairs: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The definition, one pair at a time: every other known candidate of the query filtered out."""
    ranks = []
    for query, target in pairs.tolist():
        scores = q[query] @ c.T  # (C,)
        others = [cand for kq, cand in known.tolist() if kq == query and cand != target]
        keep = torch.ones(c.size(0), dtype=torch.bool)
        keep[others] = False
        keep[target] = False
        higher = int(((scores > scores[target]) & keep).sum())
        ties = int(((scores == scores[target]) & keep).sum())
        ranks.append(1.0 + higher + 0.5 * ties)
    return torch.tensor(ranks)


@pytest.mark.parametrize("seed", range(20))
def test_evaluate_ranking_matches_the_definition(seed: int) -> None:
    # Small integer embeddings give many ties; queries repeat with several targets;
    # known pairs repeat and include the targets or not; batches cut groups apart.
    g = torch.Generator().manual_seed(seed)
    num_q, num_c = int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(1, 9, (1,), generator=g))
    q = torch.randint(-1, 2, (num_q, 2), generator=g).float()
    c = torch.randint(-1, 2, (num_c, 2), generator=g).float()
    pairs = torch.stack([torch.randint(0, num_q, (12,), generator=g), torch.randint(0, num_c, (12,), generator=g)], 1)
    known = torch.stack([torch.randint(0, num_q, (15,), generator=g), torch.randint(0, num_c, (15,), generator=g)], 1)
    expected = ranking_metrics(_ranks_pair_by_pair(q, c, pairs, known))
    for batch_size in (1, 2, 1024):
        got = evaluate_ranking(q, c, pairs[:, 0], pairs[:, 1], known, batch_size=batch_size, similarity="dot")
        assert got == pytest.approx(expected)


def test_evaluate_ranking_with_non_finite_scores() -> None:
    q = torch.tensor([[1.0, 0.0], [float("nan"), 0.0]])
    c = torch.tensor([[1.0, 0.0], [0.5, 0.0], [float("inf"), 0.0]])
    pairs = torch.tensor([[0, 1], [0, 0], [1, 0]])
    got = evaluate_ranking(q, c, pairs[:, 0], pairs[:, 1], similarity="dot")
    scores = q[pairs[:, 0]] @ c.T
    assert got == pytest.approx(ranking_metrics(filtered_ranks(scores, pairs[:, 1])), nan_ok=True)


def test_evaluate_ranking_cosine_and_errors() -> None:
    q = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    c = torch.tensor([[1.0, 0.1], [0.1, 1.0], [-1.0, 0.0]])
    metrics = evaluate_ranking(q, c, torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert metrics["mrr"] == 1.0 and metrics["count"] == 2.0
    with pytest.raises(ValueError, match="target_index"):
        evaluate_ranking(q, c, torch.tensor([0]), torch.tensor([3]))
    with pytest.raises(ValueError, match="similarity"):
        evaluate_ranking(q, c, torch.tensor([0]), torch.tensor([0]), similarity="l2")


@pytest.mark.parametrize("small", [True, False])
def test_pair_ranker_equals_evaluate_ranking(small, monkeypatch) -> None:
    """Both of its paths (a comparison per pair and candidate; the grouped ranks of large inputs)."""
    import graphalign.evaluation.ranking as ranking
    from graphalign.evaluation import PairRanker

    if not small:
        monkeypatch.setattr(ranking, "_SCORES_PER_BATCH", 0)
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(12, 6, generator=g), dim=-1)
    c = torch.nn.functional.normalize(torch.randn(9, 6, generator=g), dim=-1)
    c[4] = c[3]  # a tie
    query_index = torch.tensor([0, 0, 1, 5, 5, 5, 11, 3])
    target_index = torch.tensor([3, 4, 0, 1, 2, 8, 3, 4])
    known = torch.cat([torch.stack([query_index, target_index], 1), torch.tensor([[0, 7], [5, 0], [3, 3]])])
    ranker = PairRanker(query_index, target_index, known, num_queries=12, num_candidates=9)
    assert (ranker.pair_filter is None) == (not small)
    expected = evaluate_ranking(q, c, query_index, target_index, known_pairs=known)
    assert ranker.metrics(q @ c.T) == pytest.approx(expected)


@pytest.mark.parametrize("per_batch", [1 << 23, 20])
def test_evaluate_scored_equals_evaluate_ranking(per_batch, monkeypatch) -> None:
    """Scores given by a function of the query rows, in one batch or in batches of two rows."""
    import graphalign.evaluation.ranking as ranking
    from graphalign.evaluation import evaluate_scored

    monkeypatch.setattr(ranking, "_SCORES_PER_BATCH", per_batch)
    g = torch.Generator().manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(12, 6, generator=g), dim=-1)
    c = torch.nn.functional.normalize(torch.randn(9, 6, generator=g), dim=-1)
    c[4] = c[3]  # a tie
    query_index = torch.tensor([5, 0, 1, 0, 5, 5, 11, 3])
    target_index = torch.tensor([1, 3, 0, 4, 2, 8, 3, 4])
    known = torch.cat([torch.stack([query_index, target_index], 1), torch.tensor([[0, 7], [5, 0], [3, 3], [7, 1]])])
    calls = []

    def score_rows(rows: torch.Tensor) -> torch.Tensor:
        calls.append(rows.numel())
        return q[rows] @ c.T

    expected = evaluate_ranking(q, c, query_index, target_index, known_pairs=known)
    assert evaluate_scored(score_rows, query_index, target_index, 9, known_pairs=known) == pytest.approx(expected)
    assert sum(calls) == 5 and (len(calls) == 1) == (per_batch > 100)  # each evaluated query row once
