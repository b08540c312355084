"""Tests of the filtered ranking metrics in graphalign.evaluation.ranking."""

from __future__ import annotations

import pytest
import torch

import graphalign.evaluation.ranking as ranking
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
def test_evaluate_ranking_by_hand(batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rows_seen: list[int] = []
    original = ranking.filtered_ranks

    def spy(scores: torch.Tensor, targets: torch.Tensor, filter_mask: torch.Tensor | None = None) -> torch.Tensor:
        rows_seen.append(scores.size(0))
        return original(scores, targets, filter_mask)

    monkeypatch.setattr(ranking, "filtered_ranks", spy)
    # With one-hot candidates, dot-product scores are the SCORES rows exactly.
    metrics = evaluate_ranking(
        SCORES, torch.eye(5), QUERY_INDEX, TARGET_INDEX, KNOWN, batch_size=batch_size, similarity="dot"
    )
    assert metrics == pytest.approx(ranking_metrics(torch.tensor(FILTERED_RANKS)))
    assert max(rows_seen) <= batch_size and sum(rows_seen) == 3
    unfiltered = evaluate_ranking(SCORES, torch.eye(5), QUERY_INDEX, TARGET_INDEX, None, similarity="dot")
    assert unfiltered == pytest.approx(ranking_metrics(torch.tensor(RAW_RANKS)))


def test_evaluate_ranking_cosine_and_errors() -> None:
    q = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    c = torch.tensor([[1.0, 0.1], [0.1, 1.0], [-1.0, 0.0]])
    metrics = evaluate_ranking(q, c, torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert metrics["mrr"] == 1.0 and metrics["count"] == 2.0
    with pytest.raises(ValueError, match="target_index"):
        evaluate_ranking(q, c, torch.tensor([0]), torch.tensor([3]))
    with pytest.raises(ValueError, match="similarity"):
        evaluate_ranking(q, c, torch.tensor([0]), torch.tensor([0]), similarity="l2")
