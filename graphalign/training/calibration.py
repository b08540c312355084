"""Per-direction channel scales fitted on the validation links after training.

Which graph channels help a query depends on the graph and on the direction
of the query (:mod:`graphalign.nn.directions`). After training, for every
direction with validation links (``image -> concept``, ``concept -> image``,
``text -> image``, ...), :func:`fit_direction_scales` searches one scale per
channel, relative to the learned part, for the best validation MRR (the mean of
two groups of links: targets the graph already links, e.g. concepts with
training images, and new targets, e.g. zero-shot concepts).

* A direction ranked in one view (its validation targets all of one kind, e.g.
  ``concept -> image``, where every held-out image is new) tries every
  combination of a wide grid (0 to 16: a channel off, or one that outweighs the
  learned part), keeps, of the scales within ``min_gain`` of the best MRR, those
  with the fewest values other than 1, and refines them by coordinate ascent.
  Coordinate ascent alone stops at the first scales that no single change
  improves, where two channels may need to change together.
* Where the validation links hold targets of both kinds, linked and new
  candidates are ranked in views of their own: the search runs by coordinate
  ascent over both views' scales (the linked view's first; an exhaustive search
  over eight scales is too large), each change kept only when it gains at least
  ``min_gain``, so a small validation set does not move a scale on noise.

Each step of the search is a weighted sum of per-block dot products computed
once (:class:`ScoreFn`) and a ranking: 625 combinations take seconds.
The trained weights do not change; the scales live in the channels readout's
``scales`` buffer and are saved with the model.

A scale of 0 switches a channel off for that direction: a part that helps one
graph and hurts another is switched off where the user's own validation links
say it hurts.

The nearest-exemplar term of ``image -> concept`` (:mod:`graphalign.nn.exemplars`)
is fitted after that direction's scales: one weight for concepts with
training images, one for the others, the offset of the former and the weight
of the semantic transfer to the latter, every combination of
``exemplar_grid`` (twice), ``exemplar_offsets`` and ``transfer_grid`` tried.
The term lifts concepts with images far more than it lifts the others, and
each group's gain pushes the other group's targets down. A setting is
therefore taken only where it lowers neither group's MRR (linked targets, new
targets) below its MRR without the term: no group pays for the other's gain.
Among those, the criterion is the *geometric* mean of the groups' MRRs, so a
relative gain counts alike for a group of high and of low MRR. Of the
settings that gain at least ``min_gain`` over the term off, those within
``min_gain`` of the best, the one with the fewest non-zero values is kept;
where none gains that much, all stay 0 (the term off). The term also stays off
(with a warning) where the validation links hold fewer than ``min_term_links``
links of a group whose candidates the graph has: a setting that trades one
group against the other cannot be judged on a handful of links, or on one group
alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphalign.checks import check_bool, check_int, plain_numbers
from graphalign.errors import ConfigError
from graphalign.evaluation.evaluator import LinkEvaluator, RankingRun
from graphalign.evaluation.ranking import PairRanker, evaluate_ranking
from graphalign.nn.directions import LINKED, NEW, Direction, candidate_view, query_view
from graphalign.nn.exemplars import EXEMPLAR_DIRECTION, Exemplars
from graphalign.nn.hetero_gnn import HeteroAligner
from graphalign.nn.readouts import ChannelsReadout
from graphalign.training.exemplars import exemplar_term
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["CalibrationConfig", "DirectionFit", "fit_direction_scales", "reset_calibration"]


@dataclass
class CalibrationConfig:
    """How the per-direction scales are searched.

    Example:
        >>> CalibrationConfig(grid=(0.0, 1.0)).sweeps
        2

    Args:
        grid: Scales tried for each channel by coordinate ascent (relative to the learned part's 1).
        exhaustive_grid: Scales of the exhaustive search: every combination is tried where there are
            at most ``max_evaluations`` (one view of four channels: 5 ** 4 = 625), then coordinate
            ascent over both grids refines the best; elsewhere (two views: 5 ** 8) coordinate ascent
            over ``grid`` from all scales 1.
        max_evaluations: Most combinations of the exhaustive search.
        sweeps: Passes of coordinate ascent over the channels.
        min_gain: MRR within which scales count as equally good: the exhaustive search keeps the
            scales with the fewest values other than 1 among those, and coordinate ascent moves a scale
            only for a gain of at least this.
        by_state: Linked and new candidates get views of their own where the validation links hold
            targets of both kinds (``False``: one view per direction).
        max_scores: Most per-block scores held to speed the search up (``blocks x query rows x
            candidates``); a direction beyond it ranks rescaled embeddings at each step, by coordinate
            ascent, and its exemplar term stays off.
        exemplar_grid: Weights tried for the nearest-exemplar term (:mod:`graphalign.nn.exemplars`), for
            concepts with training images and for the others.
        exemplar_offsets: Offsets tried for the concepts with training images (the term's ``gamma``).
        transfer_grid: Weights tried for the term's semantic transfer to concepts without training images
            (its ``mu``).
        min_term_links: Fewest validation links of each group (targets with training images, targets
            without) the term is fitted on, counted for each kind of candidate the graph has; below it
            the term stays off.
    """

    grid: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    exhaustive_grid: tuple[float, ...] = (0.0, 0.25, 1.0, 4.0, 16.0)
    max_evaluations: int = 4096
    sweeps: int = 2
    min_gain: float = 0.005
    by_state: bool = True
    max_scores: int = 1 << 26
    exemplar_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
    exemplar_offsets: tuple[float, ...] = (-0.5, -0.4, -0.3, -0.25, -0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1)
    transfer_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)
    min_term_links: int = 10

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        if (
            not self.grid
            or not self.exhaustive_grid
            or 0.0 not in self.exemplar_grid
            or 0.0 not in self.exemplar_offsets
            or 0.0 not in self.transfer_grid
            or any(v < 0 for v in (*self.grid, *self.exhaustive_grid, *self.exemplar_grid, *self.transfer_grid))
            or self.sweeps < 1
            or self.min_gain < 0
            or self.max_evaluations < 0
            or self.max_scores < 0
            or self.min_term_links < 0
        ):
            raise ConfigError(
                "calibration needs a grid of scales >= 0; exemplar weights, offsets and transfer weights that "
                "include 0 (weights >= 0); sweeps >= 1; and "
                f"min_gain, max_evaluations, max_scores and min_term_links >= 0, got {self}"
            )
        check_bool("CalibrationConfig", "by_state", self.by_state)
        check_int("CalibrationConfig", "min_term_links", self.min_term_links, low=0)


@dataclass(frozen=True)
class DirectionFit:
    """The fitted scales of one direction (in the view of linked candidates, and of new ones) and the
    validation MRR before and after."""

    direction: Direction
    scales: tuple[float, ...]
    before: float
    after: float
    new_scales: tuple[float, ...] = ()
    exemplar_weights: tuple[float, ...] = ()
    """The nearest-exemplar term's weights (linked, new concepts), where the direction has the term."""
    exemplar_offset: float = 0.0
    """The nearest-exemplar term's offset of linked concepts."""
    exemplar_transfer: float = 0.0
    """The nearest-exemplar term's weight of the semantic transfer to new concepts."""


def reset_calibration(model: HeteroAligner) -> None:
    """Sets what calibration fits back to its unfitted state: every channel scale 1 and the exemplar term
    off. The model then embeds as calibration reads it (the stored embeddings)."""
    for readout in model.readouts.values():
        if isinstance(readout, ChannelsReadout):
            readout.scales.fill_(1.0)
    if model.exemplars is not None:
        model.exemplars.switch_off()


def _channels(model: HeteroAligner) -> ChannelsReadout | None:
    readout = model.readouts["channels"] if "channels" in model.readouts else None
    return readout if isinstance(readout, ChannelsReadout) else None


def _fit_one(readout: ChannelsReadout, direction: Direction, score: ScoreFn, config: CalibrationConfig) -> DirectionFit:
    """The best scales of one direction on the validation links (``readout`` is set to them)."""
    num = len(readout.get_scales(direction))
    both = config.by_state and score.states == {LINKED, NEW}
    coordinates = [(state, k) for state in ((LINKED, NEW) if both else (None,)) for k in range(num)]
    ones = {LINKED: (1.0,) * num, NEW: (1.0,) * num}
    before = score(ones)
    if score.cached and len(config.exhaustive_grid) ** len(coordinates) <= config.max_evaluations:
        best, best_mrr = _exhaustive(score, coordinates, num, config)
        grid = tuple(sorted({*config.grid, *config.exhaustive_grid}))
        best, best_mrr = _ascent(score, coordinates, best, best_mrr, config, grid)
    else:
        best, best_mrr = _ascent(score, coordinates, ones, before, config, config.grid)
    for state, values in best.items():
        readout.set_scales(direction, values, state=state)
    return DirectionFit(direction, tuple(best[LINKED]), before, best_mrr, tuple(best[NEW]))


Views = dict[int, tuple[float, ...]]


def _views(coordinates: Sequence[tuple[int | None, int]], values: Sequence[float], num: int) -> Views:
    """Scales of both views from one value per searched coordinate (``state`` ``None``: both views)."""
    views = {LINKED: [1.0] * num, NEW: [1.0] * num}
    for (state, channel), value in zip(coordinates, values):
        for s in (LINKED, NEW) if state is None else (state,):
            views[s][channel] = value
    return {s: tuple(v) for s, v in views.items()}


def _exhaustive(
    score: ScoreFn, coordinates: Sequence[tuple[int | None, int]], num: int, config: CalibrationConfig
) -> tuple[Views, float]:
    """Every point of the grid; of those within ``min_gain`` of the best, the one with the fewest scales
    other than 1 (then the higher MRR)."""
    results = [
        (score(_views(coordinates, values, num)), values)
        for values in itertools.product(config.exhaustive_grid, repeat=len(coordinates))
    ]
    top = max(mrr for mrr, _ in results)
    _, _, mrr, values = min(
        (sum(v != 1.0 for v in values), -mrr, mrr, values) for mrr, values in results if mrr >= top - config.min_gain
    )
    return _views(coordinates, values, num), mrr


def _ascent(
    score: ScoreFn,
    coordinates: Sequence[tuple[int | None, int]],
    best: Views,
    best_mrr: float,
    config: CalibrationConfig,
    grid: Sequence[float],
) -> tuple[Views, float]:
    """Coordinate ascent from ``best``: each coordinate takes the value of ``grid`` with the best MRR, a
    change kept only when it gains at least ``min_gain``; ``sweeps`` passes at most."""
    for _ in range(config.sweeps):
        moved = False
        for state, channel in coordinates:
            for value in grid:
                trial = {s: list(v) for s, v in best.items()}
                for s in (LINKED, NEW) if state is None else (state,):
                    trial[s][channel] = value
                views = {s: tuple(v) for s, v in trial.items()}
                if views == best:
                    continue
                mrr = score(views)
                if mrr >= best_mrr + config.min_gain:
                    best, best_mrr, moved = views, mrr, True
        if not moved:
            break
    return best, best_mrr


def _fit_exemplars(
    score: ScoreFn, views: Views, term: Exemplars, config: CalibrationConfig
) -> tuple[tuple[float, float, float, float], float, float]:
    """The exemplar term's weights (linked, new concepts), offset (linked concepts) and semantic transfer
    (new concepts) with the best geometric mean of the group MRRs among the settings that lower no group's
    MRR below its MRR without the term (see the module docstring), and that mean without the term and with
    it."""
    base = score.scores(views)  # (num_query_rows, num_candidates)
    own, borrowed = term.parts(term.features[score.rows])
    transferred, linked = term.transferred(base), term.linked.float()

    def geometric_mean(mrrs: list[float]) -> float:
        return math.exp(sum(math.log(max(mrr, 1e-12)) for mrr in mrrs) / len(mrrs))

    off = score.mrrs(base)
    results = []
    for weights in itertools.product(config.exemplar_grid, config.exemplar_grid):
        weighted = base + weights[0] * own + weights[1] * borrowed  # once per pair of weights
        for offset, transfer in itertools.product(config.exemplar_offsets, config.transfer_grid):
            mrrs = score.mrrs(weighted + offset * linked + transfer * transferred)
            if all(mrr >= before for mrr, before in zip(mrrs, off)):  # no group pays for another's gain
                results.append((geometric_mean(mrrs), (*weights, offset, transfer)))
    return _sparsest_gain(results, geometric_mean(off), config.min_gain)


def _sparsest_gain(
    results: Sequence[tuple[float, tuple[float, ...]]], before: float, min_gain: float
) -> tuple[tuple[float, ...], float, float]:
    """Of the settings that gain at least ``min_gain`` over ``before`` (the term off), those within
    ``min_gain`` of the best, the one with the fewest non-zero values (then the best); none: the term off.

    Returns:
        The setting (all 0 where none gains), ``before`` and the objective with it.
    """
    gaining = [(value, weights) for value, weights in results if value >= before + min_gain]
    if not gaining:
        return tuple(0.0 for _ in results[0][1]) if results else (), before, before
    top = max(value for value, _ in gaining)
    after, weights = min(
        ((value, weights) for value, weights in gaining if value >= top - min_gain),
        key=lambda entry: (sum(w != 0.0 for w in entry[1]), -entry[0], entry[1]),
    )
    return weights, before, after


def _with_exemplars(
    model: HeteroAligner,
    fit: DirectionFit,
    score: ScoreFn,
    features: Mapping[NodeType, Tensor],
    evaluator: LinkEvaluator,
    edges: Mapping[tuple[str, str, str], Tensor],
    config: CalibrationConfig,
) -> DirectionFit:
    """``fit`` with the exemplar term's weights fitted on its scales (the model's weights set to them)."""
    assert model.exemplars is not None
    term = exemplar_term(model, features, evaluator.split, weights=torch.ones(2), edges=edges, offset=0.0)
    if term is None or not score.cached:
        logger.info("exemplar term off: %s", "no images or concepts" if term is None else "too many scores to search")
        return fit
    kinds = {LINKED: bool(score.linked.any()), NEW: not bool(score.linked.all())}
    counts = {state: score.counts[state] for state in (LINKED, NEW)}
    if any(present and counts[state] < config.min_term_links for state, present in kinds.items()):
        logger.warning(
            "nearest-exemplar term off: the validation links hold %d image -> concept links to concepts with "
            "training images and %d to concepts without; fitting the term needs %d of each kind the graph has",
            counts[LINKED],
            counts[NEW],
            config.min_term_links,
        )
        return dataclasses.replace(fit, exemplar_weights=(0.0, 0.0))
    views = {LINKED: fit.scales, NEW: fit.new_scales}
    (*weights, offset, transfer), before, after = _fit_exemplars(score, views, term, config)
    model.exemplars.weights.copy_(torch.tensor(weights))
    model.exemplars.offset.fill_(offset)
    model.exemplars.transfer.fill_(transfer)
    logger.info(
        "exemplar term weights %g, %g, offset %g, semantic transfer %g (geometric mean of group MRRs %.4f -> %.4f)",
        *weights,
        offset,
        transfer,
        before,
        after,
    )
    return dataclasses.replace(fit, exemplar_weights=tuple(weights), exemplar_offset=offset, exemplar_transfer=transfer)


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


def _blocks(model: HeteroAligner, readout: ChannelsReadout) -> Tensor:
    """The block of every embedding dimension: 0 where no scale applies (the learned part, other
    readouts), ``k + 1`` on channel ``k`` of ``readout``.

    Shapes:
        - output: ``(dim,)``
    """
    blocks = torch.zeros(model.out_dim, dtype=torch.long)
    start = next(start for start, other in model.readout_offsets() if other is readout)
    sizes = torch.tensor(readout.graph_channels.dims)
    blocks[start : start + readout.extra_dim] = torch.repeat_interleave(torch.arange(1, sizes.numel() + 1), sizes)
    return blocks


class ScoreFn:
    """Validation MRR of one direction under given channel scales (the mean over its rankings and their
    target groups).

    A score is a cosine: with ``w`` the squared scale of each block of dimensions (1 on the learned
    part), ``sum_b w_b <q_b, c_b> / sqrt(sum_b w_b |q_b|^2) / sqrt(sum_b w_b |c_b|^2)``. The per-block
    dot products of the query rows the rankings read with every candidate are computed once
    (``cached``, while they fit in ``max_scores`` numbers), so a search of many scales costs a weighted
    sum and a ranking each; beyond that, each call ranks the rescaled embeddings in batches.
    """

    def __init__(
        self,
        direction: Direction,
        runs: Sequence[tuple[int, RankingRun]],
        embeddings: Mapping[NodeType, Tensor],
        linked: Tensor,
        blocks: Tensor,
        max_scores: int = 1 << 26,
    ):
        self.linked, self.blocks = linked.cpu(), blocks
        self.counts: dict[int, int] = defaultdict(int)
        """Validation links per target state (the states the rankings hold)."""
        for state, run in runs:
            self.counts[state] += run.pairs.size(1)
        query_type, cand_type = direction
        self.rows = rows = torch.unique(torch.cat([run.pairs[0] for _, run in runs]))
        local = torch.full((embeddings[query_type].size(0),), -1, dtype=torch.long)
        local[rows] = torch.arange(rows.numel())
        queries, candidates = embeddings[query_type][rows].float().cpu(), embeddings[cand_type].float().cpu()
        self.pairs = []  # (query row, target) and known (query row, candidate) of each ranking, rows renumbered
        for _, run in runs:
            known = run.known[:, local[run.known[0]] >= 0]
            self.pairs.append((local[run.pairs[0]], run.pairs[1], torch.stack([local[known[0]], known[1]]).t()))
        num_blocks = int(blocks.max()) + 1
        self.cached = num_blocks * rows.numel() * candidates.size(0) <= max_scores
        masks = torch.nn.functional.one_hot(blocks, num_blocks).t().float()  # (B, dim)
        self.query_norms = (queries * queries) @ masks.t()  # (Q, B)
        self.num_candidates = candidates.size(0)
        if self.cached:
            # per state, the (B, Q * C_state) dot products of each block with the candidates of that state,
            # and the (C_state, B) squared norms of those candidates' blocks
            self.block_scores, self.cand_norms = {}, {}
            for state, columns in ((LINKED, self.linked), (NEW, ~self.linked)):
                if bool(columns.any()):
                    part = candidates[columns]
                    self.block_scores[state] = torch.stack([((queries * m) @ part.t()).flatten() for m in masks])
                    self.cand_norms[state] = (part * part) @ masks.t()
            self.rankers = [PairRanker(q, t, k, rows.numel(), candidates.size(0)) for q, t, k in self.pairs]
        else:
            self.queries, self.candidates = queries, candidates

    @property
    def states(self) -> set[int]:
        """The target states the rankings hold (:data:`LINKED`, :data:`NEW`)."""
        return set(self.counts)

    def scores(self, views: Mapping[int, Sequence[float]]) -> Tensor:
        """The score of every query row with every candidate, each candidate in the view of its state.

        Shapes:
            - output: ``(num_query_rows, num_candidates)``
        """
        num_queries = self.query_norms.size(0)
        parts = {}
        for state, block_scores in self.block_scores.items():
            weights = torch.tensor([1.0, *(float(v) ** 2 for v in views[state])])  # (B,)
            dots = (weights @ block_scores).view(num_queries, -1)
            query_norms = (self.query_norms @ weights).clamp_min(1e-24).sqrt()[:, None]
            cand_norms = (self.cand_norms[state] @ weights).clamp_min(1e-24).sqrt()[None, :]
            parts[state] = dots / query_norms / cand_norms
        if len(parts) == 1:
            return next(iter(parts.values()))
        out = torch.empty(num_queries, self.num_candidates)
        out[:, self.linked], out[:, ~self.linked] = parts[LINKED], parts[NEW]
        return out

    def mrrs(self, scores: Tensor) -> list[float]:
        """The MRR of each ranking (and target group) under ``scores`` (cached only).

        Shapes:
            - scores: ``(num_query_rows, num_candidates)``, rows in the order of ``self.rows``
        """
        return [ranker.metrics(scores)["mrr"] for ranker in self.rankers]

    def __call__(self, views: Mapping[int, Sequence[float]]) -> float:
        if self.cached:
            mrrs = self.mrrs(self.scores(views))
        else:
            ones = torch.ones(1)
            multiplier = torch.stack([torch.cat([ones, torch.tensor(views[s])])[self.blocks] for s in (LINKED, NEW)])
            queries = query_view(self.queries, multiplier, self.linked)
            candidates = candidate_view(self.candidates, multiplier, self.linked)
            mrrs = [evaluate_ranking(queries, candidates, q, t, known_pairs=k)["mrr"] for q, t, k in self.pairs]
        return sum(mrrs) / len(mrrs)


@torch.no_grad()
def fit_direction_scales(
    model: HeteroAligner,
    embeddings: Mapping[NodeType, Tensor],
    evaluator: LinkEvaluator,
    part: str = "val",
    config: CalibrationConfig | None = None,
    features: Mapping[NodeType, Tensor] | None = None,
) -> list[DirectionFit]:
    """Fits the channel scales of every direction with links in ``part``, and the weights of the model's
    exemplar term (see the module docstring).

    Args:
        model: The trained model; its channels readout's scales and its exemplar weights are set in place.
        embeddings: Its embeddings with every scale 1 (as :func:`~graphalign.training.trainer.embed_nodes`
            stores them).
        evaluator: Ranks the links of ``part``.
        part: The split part to fit on.
        config: The search (default :class:`CalibrationConfig`).
        features: The graph's input features per node type (``None``: the exemplar term's weights are
            left as they are).

    Returns:
        One :class:`DirectionFit` per direction (none when the model has no channels readout, or one
        with ``calibrate=False``).
    """
    config = config or CalibrationConfig()
    if model.exemplars is not None and features is not None and EXEMPLAR_DIRECTION[0] in features:
        model.exemplars.switch_off()
        model.exemplars.mean.copy_(features[EXEMPLAR_DIRECTION[0]].float().mean(0))
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
    fits, blocks = [], _blocks(model, readout)
    for direction, runs in sorted(by_direction.items()):
        score = ScoreFn(direction, runs, embeddings, linked[direction], blocks, config.max_scores)
        fit = _fit_one(readout, direction, score, config)
        if direction == EXEMPLAR_DIRECTION and features is not None and model.exemplars is not None:
            fit = _with_exemplars(model, fit, score, features, evaluator, trained_edges, config)
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
