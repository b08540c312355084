"""Filtered ranking evaluation of held-out links in every direction between node types."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from graphalign.data.split import EdgeSplit
from graphalign.evaluation.ranking import evaluate_ranking, evaluate_scored
from graphalign.nn.directions import DirectedEmbeddings
from graphalign.typing import EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = ["LinkEvaluator", "RankingRun", "direction_name", "expand_copies"]


def _with_copies(pairs: torch.Tensor, side: int, groups: torch.Tensor) -> torch.Tensor:
    """``pairs`` plus, for each pair, the same pair with its ``side`` node replaced by each of its copies."""
    counts = torch.bincount(groups)
    members = torch.argsort(groups, stable=True)  # the rows of group g are members[starts[g] : starts[g] + counts[g]]
    starts = torch.cumsum(counts, 0) - counts
    group = groups[pairs[side]]
    sizes = counts[group]
    first = torch.repeat_interleave(starts[group], sizes)
    within = torch.arange(int(sizes.sum())) - torch.repeat_interleave(torch.cumsum(sizes, 0) - sizes, sizes)
    out = torch.repeat_interleave(pairs, sizes, dim=1)
    out[side] = members[first + within]
    return out


def expand_copies(
    pairs: torch.Tensor, src_groups: torch.Tensor | None, dst_groups: torch.Tensor | None
) -> torch.Tensor:
    """Known ``(2, K)`` pairs closed under copies.

    ``(a, b)`` known makes ``(a', b')`` known for copies ``a'`` of ``a`` and ``b'`` of ``b``.

    Args:
        pairs: Known (source row, target row) pairs.
        src_groups, dst_groups: Copy-group id of every source / target row, or ``None`` (no copies).

    Shapes:
        - pairs: ``(2, K)``; groups: ``(num_rows,)``; output: ``(2, K')`` with ``K' >= K``, unique columns.
    """
    out = pairs
    for side, groups in ((0, src_groups), (1, dst_groups)):
        if groups is not None and out.size(1):
            out = _with_copies(out, side, groups)
    return torch.unique(out, dim=1) if out is not pairs else pairs


def direction_name(src: NodeType, relation: str, dst: NodeType, reverse: bool = False) -> str:
    """``image->concept`` for links between types; ``concept-is_a->concept`` within a type.

    With ``reverse`` the ranking goes from ``dst`` to ``src`` (``concept->image``,
    ``concept<-is_a-concept``).
    """
    if src != dst:
        return f"{dst}->{src}" if reverse else f"{src}->{dst}"
    return f"{src}<-{relation}-{dst}" if reverse else f"{src}-{relation}->{dst}"


@dataclass(frozen=True)
class RankingRun:
    """One ranking of held-out links: ``pairs[0]`` (queries of ``query_type``) against every ``cand_type`` node.

    Shapes:
        - pairs: ``(2, num_links)``, query row then true candidate row
        - known: ``(2, num_known)``, every known link of the two types, filtered out
    """

    name: str
    query_type: NodeType
    cand_type: NodeType
    pairs: torch.Tensor
    known: torch.Tensor


def rank_scored(
    embeddings: DirectedEmbeddings,
    query_type: NodeType,
    cand_type: NodeType,
    pairs: torch.Tensor,
    known: torch.Tensor,
    ks: Sequence[int] = (1, 3, 10),
    batch_size: int = 1024,
) -> dict[str, float]:
    """Filtered ranking of ``(query, target)`` pairs in a direction with a score term: every candidate
    scored by :meth:`~graphalign.nn.directions.DirectedEmbeddings.scores` (views plus term).

    Shapes:
        - pairs, known: ``(2, P)``, ``(2, K)``
    """
    return evaluate_scored(
        lambda rows: embeddings.scores(query_type, cand_type, rows=rows),
        pairs[0],
        pairs[1],
        embeddings[cand_type].size(0),
        known_pairs=known.t(),
        ks=ks,
        batch_size=batch_size,
    )


MAX_EXCLUDED_PAIRS = 1 << 25
"""Most (query, test-held-out candidate) pairs a validation ranking filters out (16 bytes each); past it the
test's nodes stay candidates (with a warning)."""
_TYPE_ORDER = {"text": 0, "image": 1, "concept": 2}
"""The direction a ranking group of two node types takes (``text -> image``, ``image -> concept``)."""


def _without(edges: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """The ``(2, E)`` pairs of ``edges`` that are not in ``removed``."""
    if removed.size(1) == 0 or edges.size(1) == 0:
        return edges
    size = int(max(edges[1].max(), removed[1].max())) + 1
    return edges[:, ~torch.isin(edges[0] * size + edges[1], removed[0] * size + removed[1])]


def every_pair(queries: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """``(2, Q * N)``: each of the distinct ``queries`` with each of ``nodes`` (known pairs that leave
    those nodes out of the queries' rankings)."""
    unique = queries.unique()
    return torch.stack([unique.repeat_interleave(nodes.numel()), nodes.repeat(unique.numel())])


class LinkEvaluator:
    """Ranks the true end of every held-out link against all nodes of its type.

    For a held-out ``image --depicts--> concept`` link, ``image->concept`` ranks
    the concept among all concepts given the image, and ``concept->image`` the
    image among all images given the concept. Known positives other than the
    target are filtered out of each ranking, and so are the links of copies
    (:attr:`EdgeSplit.copies`): when "A frog." describes two images, both images
    answer the query "A frog.". Known are the links between the two nodes' types
    whichever way a relation stores them (``concept depicted_by image`` counts
    for ``image -> concept``): for a test ranking every link of the graph. A
    validation ranking, which model selection reads (early stopping,
    calibration), never reads the test links: it filters every other link, and
    the nodes the test holds out are no candidates in it, whatever their links
    (held out as nodes, they are the test's; as true answers left unfiltered,
    the test images of a concept would count against its validation image).

    Example:
        >>> evaluator = LinkEvaluator(all_edges, split)  # doctest: +SKIP
        >>> evaluator.evaluate(embeddings, part="test")["image->concept/mrr"]  # doctest: +SKIP
        0.41

    Args:
        all_edges: Every edge of the graph by edge type (forward directions).
        split: The split whose ``val``/``test`` edges are evaluated.
        ks: Hits@k cut-offs.
        both_directions: Also rank in the reverse direction.
        batch_size: Queries scored at once.
    """

    primary_metric = "mrr"
    """Mean MRR over all evaluated directions (used for early stopping)."""

    def __init__(
        self,
        all_edges: Mapping[EdgeType, torch.Tensor],
        split: EdgeSplit,
        ks: Sequence[int] = (1, 3, 10),
        both_directions: bool = True,
        batch_size: int = 1024,
    ) -> None:
        self.split = split
        self.ks = tuple(ks)
        self.both_directions = both_directions
        self.batch_size = batch_size
        grouped = self._grouped({t: all_edges[t] for t in split.aligned_edge_types if t in all_edges})
        tests = self._grouped(split.edges["test"])
        self._known = {key: self._close(key, edges) for key, edges in grouped.items()}
        self._runs: dict[str, list[RankingRun]] = {}
        self._known_before_test = {
            key: self._close(key, _without(edges, tests[key])) if key in tests else self._known[key]
            for key, edges in grouped.items()
        }

    def _close(self, key: tuple[NodeType, str, NodeType], edges: torch.Tensor) -> torch.Tensor:
        return expand_copies(edges, self.split.copies.get(key[0]), self.split.copies.get(key[2]))

    @staticmethod
    def _group(edge_type: EdgeType) -> tuple[tuple[NodeType, str, NodeType], bool]:
        """The ranking group of an edge type and whether its edges are flipped into it: links between two
        different types are pooled over relations and stored directions (``text``, ``image``, ``concept``
        in that order: ``image depicts concept`` and ``concept depicted_by image`` are one group)."""
        src, rel, dst = edge_type
        if src == dst:
            return (src, rel, dst), False
        flip = _TYPE_ORDER.get(src, len(_TYPE_ORDER)) > _TYPE_ORDER.get(dst, len(_TYPE_ORDER))
        return ((dst, "*", src) if flip else (src, "*", dst)), flip

    @classmethod
    def _grouped(cls, edges: Mapping[EdgeType, torch.Tensor]) -> dict[tuple[NodeType, str, NodeType], torch.Tensor]:
        """``edges`` pooled by ranking group (each ``(2, E)`` in the group's direction)."""
        grouped: dict[tuple[NodeType, str, NodeType], list[torch.Tensor]] = defaultdict(list)
        for edge_type, edge_index in edges.items():
            key, flip = cls._group(edge_type)
            grouped[key].append(edge_index.flip(0) if flip else edge_index)
        return {key: torch.cat(parts, dim=1) for key, parts in grouped.items()}

    def directions(self, part: str = "test") -> list[str]:
        """Names of the directions with links to evaluate in ``part``."""
        names = []
        for (src, rel, dst), edges in self._held_out(part).items():
            if edges.size(1):
                names.append(direction_name(src, rel, dst))
                if self.both_directions:
                    names.append(direction_name(src, rel, dst, reverse=True))
        return names

    def _held_out(self, part: str) -> dict[tuple[NodeType, str, NodeType], torch.Tensor]:
        return self._grouped(self.split.edges[part])

    def runs(self, part: str = "test") -> list[RankingRun]:
        """The rankings of ``part``: one per direction with held-out links (built once per part)."""
        if part not in self._runs:
            self._runs[part] = self._build_runs(part)
        return self._runs[part]

    def _build_runs(self, part: str) -> list[RankingRun]:
        out = []
        for key, edges in sorted(self._held_out(part).items()):
            if edges.size(1) == 0:
                continue
            src, rel, dst = key
            if part == "test":
                forward, backward = self._known[key], self._known[key].flip(0)
            else:  # the test's nodes are no candidates, whatever their links (which stay unread)
                known = self._known_before_test[key]
                forward = torch.cat([known, self._against_test_nodes(edges[0], dst)], dim=1)
                backward = torch.cat([known.flip(0), self._against_test_nodes(edges[1], src)], dim=1)
            out.append(RankingRun(direction_name(src, rel, dst), src, dst, edges, forward))
            if self.both_directions:
                name = direction_name(src, rel, dst, reverse=True)
                out.append(RankingRun(name, dst, src, edges.flip(0), backward))
        return out

    def _against_test_nodes(self, queries: torch.Tensor, cand_type: NodeType) -> torch.Tensor:
        """``(2, Q * T)`` pairs of every query with every test-held-out node of ``cand_type`` (``T`` of them),
        filtered out of a validation ranking as known pairs are."""
        held = self.split.heldout.get("test", {}).get(cand_type)
        if held is None or held.numel() == 0:
            return torch.zeros(2, 0, dtype=torch.long)
        num_queries = queries.unique().numel()
        if num_queries * held.numel() > MAX_EXCLUDED_PAIRS:
            logger.warning(
                "validation ranks %d %s candidates held out for the test among the others (%d queries x %d "
                "held-out nodes is past %d pairs): it reads no test link, but the test's true answers compete",
                held.numel(),
                cand_type,
                num_queries,
                held.numel(),
                MAX_EXCLUDED_PAIRS,
            )
            return torch.zeros(2, 0, dtype=torch.long)
        return every_pair(queries, held)

    @torch.no_grad()
    def rank(self, run: RankingRun, embeddings: Mapping[NodeType, torch.Tensor]) -> dict[str, float]:
        """The metrics of one ranking; :class:`~graphalign.nn.directions.DirectedEmbeddings` are read in the
        views of the run's direction, with its score term where it has one."""
        if isinstance(embeddings, DirectedEmbeddings) and embeddings.term(run.query_type, run.cand_type) is not None:
            return rank_scored(
                embeddings, run.query_type, run.cand_type, run.pairs, run.known, self.ks, self.batch_size
            )
        if isinstance(embeddings, DirectedEmbeddings):
            queries, candidates = embeddings.pair(run.query_type, run.cand_type)
        else:
            queries, candidates = embeddings[run.query_type], embeddings[run.cand_type]
        return evaluate_ranking(
            queries,
            candidates,
            run.pairs[0],
            run.pairs[1],
            known_pairs=run.known.t(),
            ks=self.ks,
            batch_size=self.batch_size,
        )

    @torch.no_grad()
    def evaluate(self, embeddings: Mapping[NodeType, torch.Tensor], part: str = "test") -> dict[str, float]:
        """Metrics per direction (``"image->concept/mrr"``, ...) plus their mean ``"mrr"``.

        Args:
            embeddings: Shared-space embedding of every node, per node type
                (:class:`~graphalign.nn.directions.DirectedEmbeddings`: each direction in its own view).
            part: ``"val"`` or ``"test"``.
        """
        results: dict[str, float] = {}
        mrrs = []
        for run in self.runs(part):
            metrics = self.rank(run, embeddings)
            results.update({f"{run.name}/{metric}": value for metric, value in metrics.items()})
            mrrs.append(metrics["mrr"])
        results[self.primary_metric] = float(sum(mrrs) / len(mrrs)) if mrrs else 0.0
        return results
