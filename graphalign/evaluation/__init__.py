"""Evaluation: ranking metrics for retrieval between node types."""

from __future__ import annotations

from graphalign.evaluation.ranking import (
    PRIMARY_METRIC,
    PairRanker,
    evaluate_ranking,
    evaluate_scored,
    filtered_ranks,
    ranking_metrics,
)

__all__ = ["PRIMARY_METRIC", "PairRanker", "evaluate_ranking", "evaluate_scored", "filtered_ranks", "ranking_metrics"]
