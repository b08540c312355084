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
Linked and new candidates are ranked in views of their own
(:mod:`graphalign.nn.directions`): where the validation links hold targets of
both kinds, the search runs over both views' scales (the linked view's first);
where they hold one kind, both views take the same scales.
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

from graphalign.checks import check_bool
from graphalign.errors import ConfigError
from graphalign.evaluation.evaluator import LinkEvaluator, RankingRun
from graphalign.nn.directions import LINKED, NEW, Direction, candidate_view, query_view
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
        by_state: Linked and new candidates get views of their own where the validation links hold
            targets of both kinds (``False``: one view per direction).
    """

    grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    sweeps: int = 2
    min_gain: float = 0.005
    by_state: bool = True

    def __post_init__(self) -> None:
        if not self.grid or any(v < 0 for v in self.grid) or self.sweeps < 1 or self.min_gain < 0:
            raise ConfigError(f"calibration needs a grid of scales >= 0, sweeps >= 1 and min_gain >= 0, got {self}")
        check_bool("CalibrationConfig", "by_state", self.by_state)


@dataclass(frozen=True)
class DirectionFit:
    """The fitted scales of one direction (in the view of linked candidates, and of new ones) and the
    validation MRR before and after."""

    direction: Direction
    scales: tuple[float, ...]
    before: float
    after: float
    new_scales: tuple[float, ...] = ()


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
    num = len(readout.get_scales(direction))
    both = config.by_state and score.states == {LINKED, NEW}

    def apply(views: dict[int, list[float]]) -> None:
        for state, values in views.items():
            readout.set_scales(direction, values, state=state)

    def evaluate(views: dict[int, list[float]]) -> float:
        apply(views)
        return score(model.direction_multipliers().get(direction))

    best = {LINKED: [1.0] * num, NEW: [1.0] * num}
    coordinates = [(state, k) for state in ((LINKED, NEW) if both else (None,)) for k in range(num)]
    before = best_mrr = evaluate(best)
    for _ in range(config.sweeps):
        moved = False
        for state, channel in coordinates:
            for value in config.grid:
                trial = {s: list(v) for s, v in best.items()}
                for s in (LINKED, NEW) if state is None else (state,):
                    trial[s][channel] = value
                if trial == best:
                    continue
                mrr = evaluate(trial)
                if mrr >= best_mrr + config.min_gain:
                    best, best_mrr, moved = trial, mrr, True
        if not moved:
            break
    apply(best)
    return DirectionFit(direction, tuple(best[LINKED]), before, best_mrr, tuple(best[NEW]))


def _by_target(run: RankingRun, linked: Tensor) -> list[tuple[int, RankingRun]]:
    """``run`` in two groups, with their state: links whose target the graph links to the query's type
    (``linked``, e.g. concepts with training images) and the rest (new).

    Each group counts as one ranking, so the scales serve targets the graph
    already links and new ones (zero-shot concepts) alike, however few of the
    latter the validation links hold.
    """
    seen = linked[run.pairs[1]]
    groups = [(state, mask) for state, mask in ((LINKED, seen), (NEW, ~seen)) if bool(mask.any())]
    return [(state, dataclasses.replace(run, pairs=run.pairs[:, mask])) for state, mask in groups]


class ScoreFn:
    """Validation MRR of one direction under a ``(2, dim)`` multiplier (mean over its rankings and their
    target groups).

    The views are computed once per call, and for the query rows the rankings read only (their rows
    renumbered), so a search of many scales costs a ranking each, not a pass over every node.
    """

    def __init__(
        self,
        evaluator: LinkEvaluator,
        direction: Direction,
        runs: Sequence[tuple[int, RankingRun]],
        embeddings: Mapping[NodeType, Tensor],
        linked: Tensor,
    ):
        self.evaluator, self.linked = evaluator, linked
        self.states = {state for state, _ in runs}
        query_type, cand_type = direction
        rows = torch.unique(torch.cat([run.pairs[0] for _, run in runs]))
        local = torch.full((embeddings[query_type].size(0),), -1, dtype=torch.long)
        local[rows] = torch.arange(rows.numel())
        self.runs = []
        for _, run in runs:
            known = run.known[:, local[run.known[0]] >= 0]
            self.runs.append(
                dataclasses.replace(
                    run,
                    pairs=torch.stack([local[run.pairs[0]], run.pairs[1]]),
                    known=torch.stack([local[known[0]], known[1]]),
                )
            )
        self.queries, self.candidates = embeddings[query_type][rows], embeddings[cand_type]

    def __call__(self, multiplier: Tensor | None) -> float:
        queries = query_view(self.queries, multiplier, self.linked)
        candidates = candidate_view(self.candidates, multiplier, self.linked)
        return sum(self.evaluator.rank_views(run, queries, candidates)["mrr"] for run in self.runs) / len(self.runs)


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
    by_direction: dict[Direction, list[tuple[int, RankingRun]]] = defaultdict(list)
    trained_edges = evaluator.split.inference_edges(add_reverse=False)  # once: it merges and deduplicates
    linked: dict[Direction, Tensor] = {}
    for run in evaluator.runs(part):
        if run.query_type in readout.node_types and run.cand_type in readout.node_types:
            direction = (run.query_type, run.cand_type)
            if direction not in linked:
                size = embeddings[run.cand_type].size(0)
                linked[direction] = evaluator.split.linked(*direction, size, trained_edges)
            by_direction[direction].extend(_by_target(run, linked[direction]))
    fits = []
    for direction, runs in sorted(by_direction.items()):
        score = ScoreFn(evaluator, direction, runs, embeddings, linked[direction])
        fit = _fit_one(model, readout, direction, score, config)
        logger.info(
            "channel scales for %s -> %s: %s; new candidates: %s (validation MRR %.4f -> %.4f)",
            *direction,
            ", ".join(f"{v:g}" for v in fit.scales),
            ", ".join(f"{v:g}" for v in fit.new_scales),
            fit.before,
            fit.after,
        )
        fits.append(fit)
    return fits
