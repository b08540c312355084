"""Splitting aligned edges without leakage.

Aligned edges (the pairs the contrastive loss pulls together) are split into

* **message-passing** edges: visible to the GNN;
* **supervision** edges: positives of the training loss (a ``supervision_only``
  fraction of them is hidden from message passing, so that the model learns to
  place nodes whose links it cannot see);
* **validation** and **test** edges: never visible to message passing and never
  positives or in-batch pairs in training.

Held-out *nodes* (a fraction of images and texts, stratified by the concept they
are linked to) lose every edge at evaluation time: all their aligned edges
become validation/test edges, and their other edges are dropped from message
passing too (``isolate_heldout``), so a held-out image is ranked from its own
pixels alone, never from a label edge. Concept–concept aligned relations
(``is_a``, ``part_of``, ...) are split edge by edge (link prediction).

Copies are held out together (``group_copies``): texts with the same text (case
and whitespace folded) and images with the same file bytes are all training,
all validation or all test. Otherwise a held-out description "A frog." whose
word-for-word copy describes another image in training is answered from memory,
and test metrics come out inflated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import torch

from graphalign.checks import check_bool, check_choice, check_float, plain_numbers
from graphalign.digest import file_digest
from graphalign.errors import ConfigError, GraphValidationError, check_config_keys
from graphalign.features.augment import LABEL_FREE_RELATIONS
from graphalign.graph.convert import NodeIndex, edge_index_dict, reverse_edge_type
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import ImageNode, Node, TextNode
from graphalign.typing import NODE_TYPES, EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = [
    "SplitConfig",
    "EdgeSplit",
    "split_graph",
    "is_aligned",
    "LABEL_FREE_RELATIONS",
    "fold_text",
    "copy_key",
    "UnionFind",
    "stratified_holdout",
    "stratified_holdout_masks",
    "node_mask",
    "touches",
    "without_held_out_pairs",
    "link_holdout",
    "add_aligned_parts",
    "aligned_edge_types",
    "split_edges",
]

PARTS = ("message_passing", "supervision", "val", "test")

T = TypeVar("T")
NodeMasks = dict[NodeType, torch.Tensor]
"""Node type → boolean mask over its rows."""


@dataclass
class SplitConfig:
    """How aligned edges and held-out nodes are chosen.

    Example:
        >>> SplitConfig(val_fraction=0.1, test_fraction=0.2).heldout_node_types
        ('image', 'text')

    Args:
        val_fraction: Fraction of held-out-type nodes (and of concept–concept
            aligned edges) used for validation.
        test_fraction: Same, for the test set.
        heldout_node_types: Node types whose nodes are held out whole.
        supervision_only: Fraction of training aligned edges that are loss
            positives but hidden from message passing.
        align_relations: Relations to align. ``None``: every edge between
            different node types, and every concept–concept relation.
        isolate_heldout: Also drop non-aligned edges of held-out nodes from
            message passing (label-free kNN edges are kept: they use no label).
        group_copies: Hold out copies together (see the module docstring;
            :func:`copy_key`); the fractions then count groups of copies.
        supervise: Relations whose supervision edges the loss trains on
            (``None``: every aligned relation). The others still pass messages
            and are still validated and tested; e.g. ``["describes"]`` trains
            text ↔ image only and leaves image ↔ concept to the prior and the
            graph channels (:class:`~graphalign.nn.hetero_gnn.ModelConfig`).
            The split itself does not depend on it.
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    heldout_node_types: tuple[NodeType, ...] = ("image", "text")
    supervision_only: float = 0.3
    align_relations: list[str] | None = None
    isolate_heldout: bool = True
    group_copies: bool = True
    supervise: list[str] | None = None

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        self.heldout_node_types = tuple(self.heldout_node_types)
        for node_type in self.heldout_node_types:
            check_choice("SplitConfig", "heldout_node_types", node_type, NODE_TYPES)
        for name in ("val_fraction", "test_fraction", "supervision_only"):
            check_float("SplitConfig", name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        for name in ("isolate_heldout", "group_copies"):
            check_bool("SplitConfig", name, getattr(self, name))
        if self.align_relations is not None and (
            isinstance(self.align_relations, str) or not all(isinstance(r, str) for r in self.align_relations)
        ):
            raise ConfigError(
                f"SplitConfig.align_relations must be a list of relation names or None, got {self.align_relations!r}",
                config="SplitConfig",
                key="align_relations",
            )
        if self.supervise is not None:
            if isinstance(self.supervise, str):
                self.supervise = [self.supervise]
            self.supervise = list(self.supervise)
            if not self.supervise or not all(isinstance(r, str) and r for r in self.supervise):
                raise ConfigError(
                    "SplitConfig.supervise must name at least one relation (or be None for all)",
                    config="SplitConfig",
                    key="supervise",
                )
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                f"SplitConfig: val_fraction + test_fraction must be below 1, got "
                f"{self.val_fraction} + {self.test_fraction}",
                config="SplitConfig",
                key="test_fraction",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitConfig:
        check_config_keys(cls, data, "split")
        return cls(**data)


def is_aligned(edge_type: EdgeType, align_relations: list[str] | None) -> bool:
    """Whether edges of ``edge_type`` are aligned (contrastive positives).

    By default every edge between two node types, and every concept–concept
    relation, except the label-free :data:`LABEL_FREE_RELATIONS`.
    """
    src, rel, dst = edge_type
    if align_relations is not None:
        return rel in align_relations
    if rel in LABEL_FREE_RELATIONS:
        return False
    return src != dst or src == "concept"


@dataclass
class EdgeSplit:
    """The result of :func:`split_graph`: edge tensors per part and edge type.

    Attributes:
        edges: ``part → edge type → (2, E)`` row indices, for parts
            ``message_passing`` (aligned and non-aligned edges visible to the
            GNN, forward direction only), ``supervision``, ``val``, ``test``.
        heldout: ``"val"``/``"test"`` → node type → held-out row indices.
        aligned_edge_types: The aligned edge types.
        copies: Node type → copy-group id of every row (rows with the same id are
            copies, :func:`copy_key`), for the node types that have copies; the
            evaluation counts a copy's links as known positives
            (:class:`~graphalign.evaluation.LinkEvaluator`).
    """

    edges: dict[str, dict[EdgeType, torch.Tensor]]
    heldout: dict[str, dict[NodeType, torch.Tensor]] = field(default_factory=dict)
    aligned_edge_types: list[EdgeType] = field(default_factory=list)
    copies: dict[NodeType, torch.Tensor] = field(default_factory=dict)

    def message_passing_edges(self, add_reverse: bool = True) -> dict[EdgeType, torch.Tensor]:
        """Message-passing edges with reverse edge types added."""
        out = dict(self.edges["message_passing"])
        if add_reverse:
            for edge_type, edge_index in self.edges["message_passing"].items():
                out[reverse_edge_type(edge_type)] = edge_index.flip(0)
        return out

    def inference_edges(self, add_reverse: bool = True) -> dict[EdgeType, torch.Tensor]:
        """Every training edge, with reverse edge types added: the graph to embed with after training.

        Message passing during training hides the supervision-only edges (so the
        model does not read the pairs it is trained on); once trained, every
        known edge is used, as PyG's ``RandomLinkSplit`` does for validation and
        test data. Validation and test edges stay out.
        """
        out: dict[EdgeType, torch.Tensor] = {}
        for edge_type in {**self.edges["message_passing"], **self.edges["supervision"]}:
            parts = [self.edges[p][edge_type] for p in ("message_passing", "supervision") if edge_type in self.edges[p]]
            merged = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            if len(parts) > 1 and merged.size(1):
                merged = torch.unique(merged, dim=1)
            out[edge_type] = merged
            if add_reverse:
                out[reverse_edge_type(edge_type)] = merged.flip(0)
        return out

    def linked(
        self,
        query_type: NodeType,
        cand_type: NodeType,
        num_nodes: int,
        edges: Mapping[EdgeType, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Which ``cand_type`` nodes have a training link to or from a ``query_type`` node (an aligned edge).

        A candidate the graph already links in this way (a concept with training
        images, for ``image -> concept``) and a new one (a zero-shot concept) are
        ranked in views of their own (:mod:`graphalign.nn.directions`).

        Args:
            query_type: The query side.
            cand_type: The candidate side.
            num_nodes: Number of ``cand_type`` nodes.
            edges: :meth:`inference_edges` without reverses, when the caller has them already.

        Shapes:
            - output: ``(num_nodes,)`` bool
        """
        edges = self.inference_edges(add_reverse=False) if edges is None else edges
        linked = torch.zeros(num_nodes, dtype=torch.bool)
        for edge_type, edge_index in edges.items():
            src, _, dst = edge_type
            if edge_type not in self.aligned_edge_types or edge_index.size(1) == 0:
                continue
            if (src, dst) == (query_type, cand_type):
                linked[edge_index[1]] = True
            if (src, dst) == (cand_type, query_type):
                linked[edge_index[0]] = True
        return linked

    def counts(self) -> dict[str, int]:
        return {part: sum(int(e.size(1)) for e in self.edges[part].values()) for part in PARTS}

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Flat dict for safetensors."""
        flat = {}
        for part, by_type in self.edges.items():
            for edge_type, edge_index in by_type.items():
                flat[f"edges/{part}/{'|'.join(edge_type)}"] = edge_index.contiguous()
        for part, by_type in self.heldout.items():
            for node_type, rows in by_type.items():
                flat[f"heldout/{part}/{node_type}"] = rows.contiguous()
        for node_type, groups in self.copies.items():
            flat[f"copies/groups/{node_type}"] = groups.contiguous()
        return flat

    @classmethod
    def from_tensors(cls, flat: dict[str, torch.Tensor], aligned_edge_types: list[EdgeType]) -> EdgeSplit:
        edges: dict[str, dict[EdgeType, torch.Tensor]] = {part: {} for part in PARTS}
        heldout: dict[str, dict[NodeType, torch.Tensor]] = defaultdict(dict)
        copies: dict[NodeType, torch.Tensor] = {}
        for key, value in flat.items():
            kind, part, name = key.split("/", 2)
            if kind == "edges":
                edges[part][tuple(name.split("|"))] = value  # type: ignore[index]
            elif kind == "copies":
                copies[name] = value
            else:
                heldout[part][name] = value
        return cls(
            edges=edges,
            heldout=dict(heldout),
            aligned_edge_types=[tuple(e) for e in aligned_edge_types],  # type: ignore[misc]
            copies=copies,
        )


def fold_text(text: str) -> str:
    """``text`` case-folded, with runs of whitespace as one space: copies compare equal."""
    return " ".join(text.casefold().split())


def copy_key(graph: KnowledgeGraph, node: Node) -> tuple[str, str]:
    """What makes two nodes copies of each other (see :attr:`SplitConfig.group_copies`).

    A text's folded text (:func:`fold_text`); an image's file bytes (SHA-256; the
    pixels of an in-memory image); for anything else, and for an image file that
    cannot be read (the encoders report it), the node id.
    """
    if isinstance(node, TextNode):
        return ("text", fold_text(node.text))
    if isinstance(node, ImageNode):
        if node.path is None:
            return ("pixels", node.pixel_hash())
        try:
            return ("file", file_digest(graph.resolve_image_path(node)).hex())
        except (OSError, GraphValidationError):
            return ("id", node.id)
    return ("id", node.id)


# Shared steps of every splitter (this module, ``SyntheticGraph.split``, the benchmark protocols) ###########


class UnionFind:
    """Disjoint sets of items: groups of copies that are held out whole.

    An item joins the set of the first item that shared one of its keys
    (:meth:`union_by_keys`), or of any other item (:meth:`union`).

    Example:
        >>> sets = UnionFind([0, 1, 2])
        >>> sets.union_by_keys(0, ["a"]); sets.union_by_keys(1, ["b"]); sets.union_by_keys(2, ["a"])
        >>> list(sets.groups().values())
        [[0, 2], [1]]
    """

    def __init__(self, items: Iterable[int]) -> None:
        self.parent = {item: item for item in items}
        self.first: dict[Hashable, int] = {}

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, item: int, other: int) -> None:
        self.parent[self.find(item)] = self.find(other)

    def union_by_keys(self, item: int, keys: Iterable[Hashable]) -> None:
        for key in keys:
            if key in self.first:
                self.union(item, self.first[key])
            else:
                self.first[key] = item

    def groups(self) -> dict[int, list[int]]:
        """Root → members, both in the order the items were given."""
        groups: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            groups[self.find(item)].append(item)
        return groups


def _shuffled(items: Sequence[T], generator: torch.Generator) -> list[T]:
    return [items[i] for i in torch.randperm(len(items), generator=generator).tolist()]


class _RandomisedRounding:
    """Counts that add up to ``fraction * size`` over many small strata: the remainder carries over."""

    def __init__(self) -> None:
        self.carry = 0.0

    def take(self, expected: float, limit: int) -> int:
        self.carry += expected
        count = min(int(self.carry), limit)
        self.carry -= count
        return count


def stratified_holdout(
    strata: Mapping[Any, Sequence[T]],
    test_fraction: float,
    val_fraction: float,
    generator: torch.Generator,
    val_of_rest: bool = False,
) -> tuple[list[T], list[T]]:
    """Test and validation members drawn stratum by stratum (strata in sorted key order).

    In each stratum the members are shuffled and the first ``test_fraction`` of
    them go to test; the counts are rounded at random (the remainder carries to
    the next stratum), so the overall fractions stay right across many small
    strata. Validation takes the next ``val_fraction`` of the stratum, or, with
    ``val_of_rest``, ``val_fraction / (1 - test_fraction)`` of the members left
    after test, shuffled again (how the benchmark protocols draw).

    Example:
        >>> test, val = stratified_holdout({"a": list(range(10))}, 0.2, 0.1, torch.Generator().manual_seed(0))
        >>> len(test), len(val)
        (2, 1)

    Returns:
        ``(test, val)``: the chosen members, in draw order.
    """
    test: list[T] = []
    val: list[T] = []
    test_count, val_count = _RandomisedRounding(), _RandomisedRounding()
    for key in sorted(strata):
        members = _shuffled(strata[key], generator)
        n_test = test_count.take(test_fraction * len(members), len(members))
        rest = members[n_test:]
        if val_of_rest:
            rest = _shuffled(rest, generator)
            n_val = val_count.take(val_fraction / max(1e-9, 1 - test_fraction) * len(rest), len(rest))
        else:
            n_val = val_count.take(val_fraction * len(members), len(rest))
        test.extend(members[:n_test])
        val.extend(rest[:n_val])
    return test, val


def stratified_holdout_masks(
    strata: torch.Tensor, val_fraction: float, test_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean val and test masks over ``strata`` (a stratum id per row), vectorised for large graphs.

    In a stratum of ``s`` rows, ``test_fraction * s`` (randomly rounded) go to
    test and ``val_fraction * s`` to validation. The same fractions as
    :func:`stratified_holdout`, but every stratum is rounded on its own (one
    random offset per stratum) and no Python loop runs per row or stratum.
    """
    n = strata.numel()
    num_strata = int(strata.max()) + 1 if n else 0
    order = torch.argsort(strata * n + torch.randperm(n, generator=generator))  # random order inside strata
    sorted_strata = strata[order]
    size = torch.bincount(strata, minlength=num_strata)
    start = torch.cumsum(size, 0) - size
    rank = torch.arange(n) - start[sorted_strata]
    offset = torch.rand(num_strata, generator=generator, dtype=torch.float64)[sorted_strata]
    position = (rank + offset) / size[sorted_strata]  # in [0, 1), evenly spread per stratum
    test = torch.zeros(n, dtype=torch.bool)
    val = torch.zeros(n, dtype=torch.bool)
    test[order[position < test_fraction]] = True
    val[order[(position >= test_fraction) & (position < test_fraction + val_fraction)]] = True
    return val, test


def node_mask(rows: torch.Tensor | Iterable[int], count: int) -> torch.Tensor:
    """A ``(count,)`` boolean mask that is true at ``rows``."""
    mask = torch.zeros(count, dtype=torch.bool)
    mask[torch.as_tensor(rows if isinstance(rows, torch.Tensor) else list(rows), dtype=torch.long)] = True
    return mask


def touches(masks: NodeMasks, edge_type: EdgeType, edge_index: torch.Tensor) -> torch.Tensor:
    """Which edges have an end among the masked nodes: a ``(E,)`` boolean mask."""
    src, _, dst = edge_type
    hit = torch.zeros(edge_index.size(1), dtype=torch.bool)
    if src in masks:
        hit |= masks[src][edge_index[0]]
    if dst in masks:
        hit |= masks[dst][edge_index[1]]
    return hit


def link_holdout(
    num_edges: int, test_fraction: float, val_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Test and validation masks of a link-level split: random edges held out (``round`` of each fraction)."""
    order = torch.randperm(num_edges, generator=generator)
    n_test = round(test_fraction * num_edges)
    n_val = round(val_fraction * num_edges)
    test = torch.zeros(num_edges, dtype=torch.bool)
    val = torch.zeros(num_edges, dtype=torch.bool)
    test[order[:n_test]] = True
    val[order[n_test : n_test + n_val]] = True
    return test, val


def add_aligned_parts(
    parts: dict[str, dict[EdgeType, torch.Tensor]],
    edge_type: EdgeType,
    edge_index: torch.Tensor,
    test: torch.Tensor,
    val: torch.Tensor,
    train: torch.Tensor,
    supervision_only: float,
    generator: torch.Generator,
    hide: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Puts the aligned edges of one type into ``parts``.

    ``test``/``val`` edges are evaluated; ``train`` edges are supervision, and a
    random ``supervision_only`` of them (plus those ``hide(supervision)`` marks)
    is hidden from message passing.
    """
    parts["test"][edge_type] = edge_index[:, test]
    parts["val"][edge_type] = edge_index[:, val]
    supervision = edge_index[:, train]
    parts["supervision"][edge_type] = supervision
    hidden = torch.rand(supervision.size(1), generator=generator) < supervision_only
    if hide is not None:
        hidden |= hide(supervision)
    parts["message_passing"][edge_type] = supervision[:, ~hidden]


def aligned_edge_types(edge_types: Iterable[EdgeType], align_relations: list[str] | None) -> list[EdgeType]:
    """The aligned ones among ``edge_types`` (:func:`is_aligned`).

    Raises:
        GraphValidationError: If none is aligned.
    """
    edge_types = list(edge_types)
    aligned = [et for et in edge_types if is_aligned(et, align_relations)]
    if not aligned:
        raise GraphValidationError(
            f"no aligned edge type among {sorted('|'.join(e) for e in edge_types)} (align_relations={align_relations})"
        )
    return aligned


def split_edges(
    all_edges: dict[EdgeType, torch.Tensor],
    aligned: list[EdgeType],
    heldout_masks: dict[str, NodeMasks],
    config: SplitConfig,
    generator: torch.Generator,
) -> dict[str, dict[EdgeType, torch.Tensor]]:
    """Every edge into the parts of :data:`PARTS`, given the held-out nodes.

    Aligned edges of held-out nodes become test (or validation) edges; aligned
    edge types between nodes that are never held out (concept–concept) are
    split edge by edge (:func:`link_holdout`); other edges of held-out nodes
    leave message passing with ``isolate_heldout``, except label-free ones.

    Args:
        all_edges: Every edge by (forward) edge type.
        aligned: The aligned edge types.
        heldout_masks: ``"val"``/``"test"`` → node type → held-out rows as a mask.
        config: The split settings.
        generator: Source of randomness.
    """
    edges: dict[str, dict[EdgeType, torch.Tensor]] = {part: {} for part in PARTS}
    for edge_type, edge_index in all_edges.items():
        test = touches(heldout_masks["test"], edge_type, edge_index)
        val = touches(heldout_masks["val"], edge_type, edge_index) & ~test
        train = ~(test | val)
        if edge_type not in aligned:  # label-free relations (kNN-like) stay for held-out nodes too
            label_free = edge_type[1] in LABEL_FREE_RELATIONS
            isolate = config.isolate_heldout and not label_free
            edges["message_passing"][edge_type] = edge_index[:, train] if isolate else edge_index
            continue
        src, _, dst = edge_type
        if src not in heldout_masks["test"] and dst not in heldout_masks["test"]:
            test, val = link_holdout(edge_index.size(1), config.test_fraction, config.val_fraction, generator)
            train = ~(test | val)
        add_aligned_parts(edges, edge_type, edge_index, test, val, train, config.supervision_only, generator)
    without_held_out_pairs(edges)
    return edges


def without_held_out_pairs(parts: dict[str, dict[EdgeType, torch.Tensor]]) -> int:
    """Drops from training every edge between two nodes of one type that a validation or test link joins.

    An inverse relation (``vehicle has_hyponym boat`` beside a held-out ``boat is_a vehicle``) or a
    symmetric one stored both ways would otherwise show the held-out link to message passing and
    supervision. Such edges, in either direction and under any relation, leave the ``message_passing``
    and ``supervision`` parts (in place); they are not evaluated.

    Returns:
        How many edges were dropped (logged when any).
    """
    held: dict[NodeType, list[torch.Tensor]] = defaultdict(list)
    for part in ("val", "test"):
        for (src, _, dst), edge_index in parts[part].items():
            if src == dst and edge_index.size(1):
                held[src].append(_unordered(edge_index))
    dropped = 0
    for node_type, keys in held.items():
        keys_held = torch.cat(keys)
        for part in ("message_passing", "supervision"):
            for edge_type, edge_index in list(parts[part].items()):
                if edge_type[0] == edge_type[2] == node_type and edge_index.size(1):
                    leaks = torch.isin(_unordered(edge_index), keys_held)
                    dropped += int(leaks.sum()) if part == "message_passing" else 0
                    parts[part][edge_type] = edge_index[:, ~leaks]
    if dropped:
        logger.info(
            "%d training edges join the two nodes of a held-out link (an inverse or symmetric relation): "
            "left out of training",
            dropped,
        )
    return dropped


def _unordered(edge_index: torch.Tensor) -> torch.Tensor:
    """One key per ``(2, E)`` edge, equal for ``(a, b)`` and ``(b, a)``."""
    low, high = edge_index.min(dim=0).values, edge_index.max(dim=0).values
    return low * (1 << 31) + high


# The library's split ##########################################################


def _first_concepts(graph: KnowledgeGraph, node_type: NodeType) -> dict[str, str]:
    """Node id → the first concept it is linked to (in edge order), for the nodes of ``node_type``."""
    first_concept: dict[str, str] = {}
    for edge in graph.edges:
        for here, there in ((edge.head, edge.tail), (edge.tail, edge.head)):
            if here not in first_concept and graph[here].type == node_type and graph[there].type == "concept":
                first_concept[here] = there
    return first_concept


def _choose_heldout_nodes(
    graph: KnowledgeGraph, index: NodeIndex, node_type: NodeType, config: SplitConfig, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Held-out rows of one node type, stratified by their first linked concept, in groups of copies.

    Returns:
        ``"val"`` and ``"test"`` rows, and under ``"copies"`` the copy-group id of
        every row when some rows are copies (else no such key).
    """
    first_concept = _first_concepts(graph, node_type)
    ids = index.ids.get(node_type, [])
    sets = UnionFind(range(len(ids)))
    if config.group_copies:
        for row, node_id in enumerate(ids):
            sets.union_by_keys(row, [copy_key(graph, graph[node_id])])
    groups = list(sets.groups().values())
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for rows in groups:  # a group's stratum: its first member's concept
        strata[first_concept.get(ids[rows[0]], "")].append(rows)
    shared = [rows for rows in groups if len(rows) > 1]
    if shared:
        logger.info(
            "%d %s nodes are copies of another (%d groups): each group is held out whole",
            sum(map(len, shared)),
            node_type,
            len(shared),
        )
    test, val = stratified_holdout(strata, config.test_fraction, config.val_fraction, generator)
    chosen = {
        "val": torch.tensor(sorted(row for rows in val for row in rows), dtype=torch.long),
        "test": torch.tensor(sorted(row for rows in test for row in rows), dtype=torch.long),
    }
    if shared:
        group_of = torch.empty(len(ids), dtype=torch.long)
        for group, rows in enumerate(groups):
            group_of[rows] = group
        chosen["copies"] = group_of
    return chosen


def split_graph(graph: KnowledgeGraph, config: SplitConfig | None = None, seed: int = 0) -> EdgeSplit:
    """Splits a graph's edges into message-passing, supervision, val and test parts.

    Args:
        graph: The knowledge graph.
        config: The split settings.
        seed: Random seed; the same seed gives the same split.

    Raises:
        GraphValidationError: If no edge type is aligned.
        ConfigError: If ``graph`` is not a :class:`KnowledgeGraph` (a ``BuiltGraph``: its ``.graph``).
    """
    if not isinstance(graph, KnowledgeGraph):
        hint = ": pass its .graph" if isinstance(getattr(graph, "graph", None), KnowledgeGraph) else ""
        raise ConfigError(f"split_graph splits a KnowledgeGraph, got {type(graph).__name__}{hint}")
    config = config or SplitConfig()
    generator = torch.Generator().manual_seed(seed)
    index = NodeIndex.from_graph(graph)
    all_edges = edge_index_dict(graph, index)
    aligned = aligned_edge_types(all_edges, config.align_relations)
    heldout: dict[str, dict[NodeType, torch.Tensor]] = {"val": {}, "test": {}}
    masks: dict[str, NodeMasks] = {"val": {}, "test": {}}
    copies: dict[NodeType, torch.Tensor] = {}
    for node_type in config.heldout_node_types:
        count = index.num_nodes(node_type)
        if count == 0:
            continue
        chosen = _choose_heldout_nodes(graph, index, node_type, config, generator)
        if "copies" in chosen:
            copies[node_type] = chosen["copies"]
        for part in ("val", "test"):
            heldout[part][node_type] = chosen[part]
            masks[part][node_type] = node_mask(chosen[part], count)
    edges = split_edges(all_edges, aligned, masks, config, generator)
    split = EdgeSplit(edges=edges, heldout=heldout, aligned_edge_types=aligned, copies=copies)
    logger.info("split (seed %d): %s", seed, split.counts())
    return split
