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
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from graphalign.digest import file_digest
from graphalign.checks import check_bool, check_choice, check_float
from graphalign.errors import ConfigError, GraphValidationError, check_config_keys
from graphalign.graph.convert import NodeIndex, edge_index_dict, reverse_edge_type
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import ImageNode, Node, TextNode
from graphalign.typing import NODE_TYPES, EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = ["SplitConfig", "EdgeSplit", "split_graph", "is_aligned", "LABEL_FREE_RELATIONS", "fold_text", "copy_key"]

PARTS = ("message_passing", "supervision", "val", "test")


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
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    heldout_node_types: tuple[NodeType, ...] = ("image", "text")
    supervision_only: float = 0.3
    align_relations: list[str] | None = None
    isolate_heldout: bool = True
    group_copies: bool = True

    def __post_init__(self) -> None:
        self.heldout_node_types = tuple(self.heldout_node_types)
        for node_type in self.heldout_node_types:
            check_choice("SplitConfig", "heldout_node_types", node_type, NODE_TYPES)
        for name in ("val_fraction", "test_fraction", "supervision_only"):
            check_float("SplitConfig", name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        for name in ("isolate_heldout", "group_copies"):
            check_bool("SplitConfig", name, getattr(self, name))
        if self.align_relations is not None and (isinstance(self.align_relations, str)
                                                 or not all(isinstance(r, str) for r in self.align_relations)):
            raise ConfigError(f"SplitConfig.align_relations must be a list of relation names or None, got {self.align_relations!r}",
                              config="SplitConfig", key="align_relations")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(f"SplitConfig: val_fraction + test_fraction must be below 1, got "
                              f"{self.val_fraction} + {self.test_fraction}", config="SplitConfig", key="test_fraction")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitConfig:
        check_config_keys(cls, data, "split")
        return cls(**data)


LABEL_FREE_RELATIONS: tuple[str, ...] = ("similar_to", "predicted_as")
"""Relations computed from features alone (:mod:`graphalign.features.knn`,
:mod:`graphalign.features.wordnet_predictions`): never supervision, and kept for
held-out nodes (they carry no label)."""


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
        return cls(edges=edges, heldout=dict(heldout), aligned_edge_types=[tuple(e) for e in aligned_edge_types],  # type: ignore[misc]
                   copies=copies)


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


def _choose_heldout_nodes(
    graph: KnowledgeGraph, index: NodeIndex, node_type: NodeType, config: SplitConfig, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Held-out rows of one node type, stratified by their first linked concept, in groups of copies.

    Returns:
        ``"val"`` and ``"test"`` rows, and under ``"copies"`` the copy-group id of
        every row when some rows are copies (else no such key).
    """
    first_concept: dict[str, str] = {}
    for edge in graph.edges:
        for here, there in ((edge.head, edge.tail), (edge.tail, edge.head)):
            if here not in first_concept and graph[here].type == node_type and graph[there].type == "concept":
                first_concept[here] = there
    ids = index.ids.get(node_type, [])
    groups: dict[Any, list[int]] = defaultdict(list)
    for row, node_id in enumerate(ids):
        groups[copy_key(graph, graph[node_id]) if config.group_copies else row].append(row)
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for rows in groups.values():  # a group's stratum: its first member's concept
        strata[first_concept.get(ids[rows[0]], "")].append(rows)
    shared = [rows for rows in groups.values() if len(rows) > 1]
    if shared:
        logger.info("%d %s nodes are copies of another (%d groups): each group is held out whole",
                    sum(map(len, shared)), node_type, len(shared))
    val: list[int] = []
    test: list[int] = []
    carry_val = carry_test = 0.0
    for key in sorted(strata):
        members = strata[key]
        members = [members[i] for i in torch.randperm(len(members), generator=generator).tolist()]
        # Randomised rounding keeps the overall fractions right across many small strata.
        carry_test += config.test_fraction * len(members)
        carry_val += config.val_fraction * len(members)
        n_test, n_val = int(carry_test), int(carry_val)
        n_test = min(n_test, len(members))
        n_val = min(n_val, len(members) - n_test)
        carry_test -= n_test
        carry_val -= n_val
        test.extend(row for rows in members[:n_test] for row in rows)
        val.extend(row for rows in members[n_test : n_test + n_val] for row in rows)
    chosen = {"val": torch.tensor(sorted(val), dtype=torch.long), "test": torch.tensor(sorted(test), dtype=torch.long)}
    if shared:
        group_of = torch.empty(len(ids), dtype=torch.long)
        for group, rows in enumerate(groups.values()):
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
    """
    config = config or SplitConfig()
    generator = torch.Generator().manual_seed(seed)
    index = NodeIndex.from_graph(graph)
    all_edges = edge_index_dict(graph, index)
    aligned = [et for et in all_edges if is_aligned(et, config.align_relations)]
    if not aligned:
        raise GraphValidationError(
            f"no aligned edge type among {sorted('|'.join(e) for e in all_edges)} (align_relations={config.align_relations})"
        )
    heldout: dict[str, dict[NodeType, torch.Tensor]] = {"val": {}, "test": {}}
    masks: dict[str, dict[NodeType, torch.Tensor]] = {"val": {}, "test": {}}
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
            mask = torch.zeros(count, dtype=torch.bool)
            mask[chosen[part]] = True
            masks[part][node_type] = mask

    def touches(part: str, edge_type: EdgeType, edge_index: torch.Tensor) -> torch.Tensor:
        src, _, dst = edge_type
        hit = torch.zeros(edge_index.size(1), dtype=torch.bool)
        if src in masks[part]:
            hit |= masks[part][src][edge_index[0]]
        if dst in masks[part]:
            hit |= masks[part][dst][edge_index[1]]
        return hit

    edges: dict[str, dict[EdgeType, torch.Tensor]] = {part: {} for part in PARTS}
    for edge_type, edge_index in all_edges.items():
        test_hit = touches("test", edge_type, edge_index)
        val_hit = touches("val", edge_type, edge_index) & ~test_hit
        train = ~(test_hit | val_hit)
        if edge_type not in aligned:
            label_free = edge_type[1] in LABEL_FREE_RELATIONS
            keep = train if config.isolate_heldout and not label_free else torch.ones_like(train)
            edges["message_passing"][edge_type] = edge_index[:, keep]
            continue
        src, _, dst = edge_type
        if src not in masks["test"] and dst not in masks["test"]:
            # Link-level split (e.g. concept–concept): random edges held out.
            order = torch.randperm(edge_index.size(1), generator=generator)
            n_test = int(round(config.test_fraction * len(order)))
            n_val = int(round(config.val_fraction * len(order)))
            test_hit = torch.zeros_like(train)
            val_hit = torch.zeros_like(train)
            test_hit[order[:n_test]] = True
            val_hit[order[n_test : n_test + n_val]] = True
            train = ~(test_hit | val_hit)
        edges["test"][edge_type] = edge_index[:, test_hit]
        edges["val"][edge_type] = edge_index[:, val_hit]
        train_edges = edge_index[:, train]
        edges["supervision"][edge_type] = train_edges
        hidden = torch.rand(train_edges.size(1), generator=generator) < config.supervision_only
        edges["message_passing"][edge_type] = train_edges[:, ~hidden]
    split = EdgeSplit(edges=edges, heldout=heldout, aligned_edge_types=aligned, copies=copies)
    logger.info("split (seed %d): %s", seed, split.counts())
    return split
