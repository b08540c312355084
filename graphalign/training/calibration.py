"""Per-direction channel scales fitted on the validation links after training.

Which graph channels help a query depends on the graph and on the direction
of the query (:mod:`graphalign.nn.directions`). After training, for every
direction with validation links (``image -> concept``, ``concept -> image``,
``text -> image``, ...), :func:`fit_direction_scales` searches one scale per
channel on a small grid (coordinate ascent from all scales 1, a few sweeps)
for the best validation MRR (the mean of two groups of links: targets the
graph already links, e.g. concepts with training images, and new targets,
e.g. zero-shot concepts), and keeps a change only when it gains at least
``min_gain`` of MRR, so a small validation set does not move a scale on noise.
The trained weights do not change; the scales live in the channels readout's
``scales`` buffer and are saved with the model.

A scale of 0 switches a channel off for that direction: a part that helps one
graph and hurts another is switched off where the user's own validation links
say it hurts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphalign.data.split import EdgeSplit
from graphalign.errors import ConfigError
from graphalign.evaluation.evaluator import LinkEvaluator, RankingRun
from graphalign.nn.directions import Direction
from graphalign.nn.hetero_gnn import HeteroAligner
from graphalign.nn.readouts import ChannelsReadout
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["CalibrationConfig", "DirectionFit", "fit_direction_scales"]


@dataclass
class CalibrationConfig:
    """How the per-direction scales are searched.

    Example:
        >>> CalibrationConfig(grid=(0.0, 1.0)).sweeps
        2

    Args:
        grid: Scales tried for each channel.
        sweeps: Passes of coordinate ascent over the channels.
        min_gain: Least gain of validation MRR that moves a scale.
    """

    grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    sweeps: int = 2
    min_gain: float = 0.005

    def __post_init__(self) -> None:
        if not self.grid or any(v < 0 for v in self.grid) or self.sweeps < 1 or self.min_gain < 0:
            raise ConfigError(f"calibration needs a grid of scales >= 0, sweeps >= 1 and min_gain >= 0, got {self}")


@dataclass(frozen=True)
class DirectionFit:
    """The fitted scales of one direction and the validation MRR before and after."""

    direction: Direction
    scales: tuple[float, ...]
    before: float
    after: float


def _channels(model: HeteroAligner) -> ChannelsReadout | None:
    readout = model.readouts["channels"] if "channels" in model.readouts else None
    return readout if isinstance(readout, ChannelsReadout) else None


def _fit_one(
    model: HeteroAligner,
    readout: ChannelsReadout,
    direction: Direction,
    score: ScoreFn,
    config: CalibrationConfig,
) -> DirectionFit:
    """Coordinate ascent over one direction's channel scales (``readout`` holds the best found)."""

    def evaluate(scales: list[float]) -> float:
        readout.set_scales(direction, scales)
        multiplier = model.direction_multipliers().get(direction, torch.ones(model.out_dim))
        return score(multiplier)

    best = [1.0] * len(readout.get_scales(direction))
    before = best_mrr = evaluate(best)
    for _ in range(config.sweeps):
        moved = False
        for channel in range(len(best)):
            for value in config.grid:
                trial = [*best[:channel], value, *best[channel + 1 :]]
                if trial == best:
                    continue
                mrr = evaluate(trial)
                if mrr >= best_mrr + config.min_gain:
                    best, best_mrr, moved = trial, mrr, True
        if not moved:
            break
    readout.set_scales(direction, best)
    return DirectionFit(direction, tuple(best), before, best_mrr)


def _by_target(run: RankingRun, split: EdgeSplit, trained_edges: dict) -> list[RankingRun]:
    """``run`` in two groups: links whose target has training links of the same kind (seen) and the rest (new).

    Each group counts as one ranking, so the scales serve targets the graph
    already links (e.g. concepts with training images) and new ones (zero-shot
    concepts) alike, however few of the latter the validation links hold.
    """
    trained = [
        edges[1] if (src, dst) == (run.query_type, run.cand_type) else edges[0]
        for (src, _, dst), edges in trained_edges.items()
        if (src, dst) in ((run.query_type, run.cand_type), (run.cand_type, run.query_type))
        and (src, _, dst) in split.aligned_edge_types
    ]
    seen = torch.isin(run.pairs[1], torch.cat(trained)) if trained else torch.zeros_like(run.pairs[1], dtype=torch.bool)
    groups = [mask for mask in (seen, ~seen) if bool(mask.any())]
    return [dataclasses.replace(run, pairs=run.pairs[:, mask]) for mask in groups]


class ScoreFn:
    """Validation MRR of one direction under a multiplier (mean over its rankings and their target groups)."""

    def __init__(self, evaluator: LinkEvaluator, runs: Sequence[RankingRun], embeddings: Mapping[NodeType, Tensor]):
        self.evaluator, self.runs, self.embeddings = evaluator, list(runs), embeddings

    def __call__(self, multiplier: Tensor) -> float:
        return sum(self.evaluator.rank(run, self.embeddings, multiplier)["mrr"] for run in self.runs) / len(self.runs)


@torch.no_grad()
def fit_direction_scales(
    model: HeteroAligner,
    embeddings: Mapping[NodeType, Tensor],
    evaluator: LinkEvaluator,
    part: str = "val",
    config: CalibrationConfig | None = None,
) -> list[DirectionFit]:
    """Fits the channel scales of every direction with links in ``part`` (see the module docstring).

    Args:
        model: The trained model; its channels readout's scales are set in place.
        embeddings: Its embeddings with every scale 1 (as :func:`~graphalign.training.trainer.embed_nodes`
            stores them).
        evaluator: Ranks the links of ``part``.
        part: The split part to fit on.
        config: The search (default :class:`CalibrationConfig`).

    Returns:
        One :class:`DirectionFit` per direction (none when the model has no channels readout, or one
        with ``calibrate=False``).
    """
    config = config or CalibrationConfig()
    readout = _channels(model)
    if readout is None or not readout.calibrate:
        return []
    by_direction: dict[Direction, list[RankingRun]] = defaultdict(list)
    trained_edges = evaluator.split.inference_edges(add_reverse=False)  # once: it merges and deduplicates
    for run in evaluator.runs(part):
        if run.query_type in readout.node_types and run.cand_type in readout.node_types:
            by_direction[(run.query_type, run.cand_type)].extend(_by_target(run, evaluator.split, trained_edges))
    fits = []
    for direction, runs in sorted(by_direction.items()):
        fit = _fit_one(model, readout, direction, ScoreFn(evaluator, runs, embeddings), config)
        logger.info(
            "channel scales for %s -> %s: %s (validation MRR %.4f -> %.4f)",
            *direction,
            ", ".join(f"{v:g}" for v in fit.scales),
            fit.before,
            fit.after,
        )
        fits.append(fit)
    return fits
