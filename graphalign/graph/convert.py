"""Conversions between :class:`KnowledgeGraph`, PyG ``HeteroData`` and networkx."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from graphalign.errors import GraphValidationError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import NODE_CLASSES, REVERSE_PREFIX, brief_repr
from graphalign.typing import NODE_TYPES, EdgeType, NodeType

if TYPE_CHECKING:
    import networkx as nx
    from torch_geometric.data import HeteroData

__all__ = [
    "NodeIndex",
    "REVERSE_PREFIX",
    "check_features",
    "nonfinite_rows",
    "reverse_edge_type",
    "is_reverse",
    "forward_relation",
    "to_hetero_data",
    "to_networkx",
    "from_networkx",
]


def is_reverse(edge_type: EdgeType) -> bool:
    """Whether an edge type is a reverse message-passing type (its relation starts with ``rev_``).

    Example:
        >>> is_reverse(("concept", "rev_depicts", "image")), is_reverse(("image", "depicts", "concept"))
        (True, False)
    """
    return edge_type[1].startswith(REVERSE_PREFIX)


def forward_relation(relation: str) -> str:
    """A relation name without its ``rev_`` prefix: the relation of the graph it stands for.

    Example:
        >>> forward_relation("rev_is_a"), forward_relation("is_a")
        ('is_a', 'is_a')
    """
    return relation.removeprefix(REVERSE_PREFIX)


def reverse_edge_type(edge_type: EdgeType) -> EdgeType:
    """``(src, rel, dst)`` → ``(dst, rev_rel, src)`` (and back)."""
    src, rel, dst = edge_type
    return (dst, forward_relation(rel) if is_reverse(edge_type) else REVERSE_PREFIX + rel, src)


class NodeIndex:
    """The id ↔ (node type, row index) mapping of a graph, both ways.

    Row ``i`` of node type ``t`` in ``HeteroData`` and in feature matrices is the
    ``i``-th node of type ``t`` in insertion order.

    Example:
        >>> index = NodeIndex({"concept": ["a", "b"], "image": ["x"]})
        >>> index.locate("b"), index.id("image", 0)
        (('concept', 1), 'x')

    Args:
        ids: Node ids per node type, in row order.
    """

    def __init__(self, ids: dict[NodeType, list[str]]) -> None:
        self.ids = {t: list(v) for t, v in ids.items()}
        self._position: dict[str, tuple[NodeType, int]] = {}
        for node_type, type_ids in self.ids.items():
            for row, node_id in enumerate(type_ids):
                self._position[node_id] = (node_type, row)

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> NodeIndex:
        return cls({t: graph.node_ids(t) for t in NODE_TYPES})

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._position

    def locate(self, node_id: str) -> tuple[NodeType, int]:
        """``(node type, row)`` of a node id.

        Raises:
            GraphValidationError: If the id is unknown.
        """
        if not isinstance(node_id, str):
            raise GraphValidationError(f"a node id is a string, got {type(node_id).__name__} {brief_repr(node_id)}")
        try:
            return self._position[node_id]
        except KeyError:
            raise GraphValidationError(f"unknown node id {node_id!r}") from None

    def id(self, node_type: NodeType, row: int) -> str:
        return self.ids[node_type][row]

    def num_nodes(self, node_type: NodeType) -> int:
        return len(self.ids.get(node_type, []))


def edge_index_dict(graph: KnowledgeGraph, index: NodeIndex | None = None) -> dict[EdgeType, torch.Tensor]:
    """Edges grouped by edge type as ``(2, E)`` long tensors of row indices."""
    index = index or NodeIndex.from_graph(graph)
    grouped: dict[EdgeType, list[tuple[int, int]]] = defaultdict(list)
    for edge in graph.edges:
        head_type, head_row = index.locate(edge.head)
        tail_type, tail_row = index.locate(edge.tail)
        grouped[(head_type, edge.relation, tail_type)].append((head_row, tail_row))
    return {et: torch.tensor(pairs, dtype=torch.long).t().contiguous() for et, pairs in grouped.items()}


def nonfinite_rows(x: torch.Tensor, limit: int = 5, chunk: int = 1 << 16) -> list[int]:
    """The first ``limit`` rows of ``x`` holding NaN or an infinity, read ``chunk`` rows at a time (so the
    check of a large feature matrix needs little more memory than the matrix itself).

    Shapes:
        x: ``(rows, dim)``.
    """
    if not x.is_floating_point():
        return []
    bad: list[int] = []
    for start in range(0, x.size(0), chunk):
        block = x[start : start + chunk]
        if not torch.isfinite(block).all():
            bad += (start + (~torch.isfinite(block)).any(dim=1).nonzero().flatten()).tolist()
            if len(bad) >= limit:
                break
    return bad[:limit]


def check_features(
    index: NodeIndex, features: Mapping[NodeType, Any], required: bool = True, floating: bool = True
) -> None:
    """Checks node features against the graph: a tensor of ``(nodes of the type, dim)`` with finite
    values per node type (with ``required``: for every type that has nodes; with ``floating``: of a
    floating-point dtype, as encoders give).

    Raises:
        GraphValidationError: Naming the node type, and the first nodes with NaN or infinite values.
    """
    for node_type in NODE_TYPES:
        count = index.num_nodes(node_type)
        if count == 0:
            continue
        if node_type not in features:
            if required:
                raise GraphValidationError(
                    f"no features for the {count} {node_type} node(s); features has {sorted(features)}"
                )
            continue
        x = features[node_type]
        if not isinstance(x, torch.Tensor):
            raise GraphValidationError(
                f"features for {node_type!r} must be a torch.Tensor, got {type(x).__name__} "
                "(torch.as_tensor(array, dtype=torch.float32))"
            )
        if x.dim() != 2 or x.size(0) != count:
            raise GraphValidationError(
                f"features for {node_type!r} have shape {tuple(x.shape)}, expected ({count}, dim)"
            )
        if floating and not x.is_floating_point():
            raise GraphValidationError(f"features for {node_type!r} must be floating point, got {x.dtype}")
        bad = nonfinite_rows(x)
        if bad:
            raise GraphValidationError(
                f"features for {node_type!r} contain NaN or infinite values (nodes "
                f"{', '.join(repr(index.id(node_type, r)) for r in bad)})"
            )


def to_hetero_data(
    graph: KnowledgeGraph,
    features: dict[NodeType, torch.Tensor] | None = None,
    add_reverse: bool = True,
) -> HeteroData:
    """Converts a graph into PyG ``HeteroData``.

    Node types with at least one node appear (``concept``, ``text``, ``image``),
    with ``x`` from ``features`` when given. There is one edge type per
    ``(source type, relation, target type)``, plus a reverse edge type
    ``(target type, rev_relation, source type)`` for message passing when
    ``add_reverse`` is on.

    Args:
        graph: The knowledge graph.
        features: Optional node features per type, rows in :class:`NodeIndex` order.
        add_reverse: Add reverse edge types.

    Raises:
        GraphValidationError: If a feature matrix is not a tensor, has the wrong number
            of rows or holds NaN/infinite values (integer features are taken).
    """
    import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

    # isort: split
    from torch_geometric.data import HeteroData

    index = NodeIndex.from_graph(graph)
    data = HeteroData()
    for node_type in NODE_TYPES:
        count = index.num_nodes(node_type)
        if count == 0:
            continue
        data[node_type].num_nodes = count
        if features is not None and node_type in features:
            check_features(index, {node_type: features[node_type]}, required=False, floating=False)
            data[node_type].x = features[node_type]
    for edge_type, edge_index in edge_index_dict(graph, index).items():
        data[edge_type].edge_index = edge_index
        if add_reverse:
            data[reverse_edge_type(edge_type)].edge_index = edge_index.flip(0)
    return data


def to_networkx(graph: KnowledgeGraph) -> nx.MultiDiGraph:
    """Exports to a networkx ``MultiDiGraph``.

    Nodes carry ``type``, their format fields (``name``, ``text``, ``path``, ...)
    and ``attributes``; edges are keyed by relation and carry ``relation`` (and
    ``order``, their position in the graph, so that importing keeps it). The
    folder that image paths are relative to is ``g.graph["root"]``, where the
    graph has one.
    """
    import networkx as nx

    g = nx.MultiDiGraph()
    if graph.root is not None:
        g.graph["root"] = str(graph.root)
    for node in graph.nodes():
        attrs = node.to_json()
        attrs.pop("id")
        attrs.setdefault("attributes", {})
        if getattr(node, "image", None) is not None:
            attrs["image"] = node.image  # type: ignore[attr-defined]
        g.add_node(node.id, **attrs)
    for order, edge in enumerate(graph.edges):
        g.add_edge(edge.head, edge.tail, key=edge.relation, relation=edge.relation, order=order)
    return g


def from_networkx(
    g: nx.Graph,
    root: str | os.PathLike[str] | None = None,
    *,
    allow_self_loops: bool = False,
    allow_outside_root: bool = False,
) -> KnowledgeGraph:
    """Imports a directed networkx graph (``DiGraph`` or ``MultiDiGraph``; edges are head → tail).

    Every node needs a ``type`` attribute. Format fields (``name``,
    ``description``, ``text``, ``language``, ``path``, ``image``) are read by
    name; an ``attributes`` dict is kept; any other node attribute goes into
    ``attributes``. The relation of an edge is its ``relation`` attribute, else
    its key in a multigraph.

    Args:
        g: The graph.
        root: The folder that image paths are relative to (default: ``g.graph["root"]``, which
            :func:`to_networkx` sets, else none).
        allow_self_loops: Accept edges from a node to itself.
        allow_outside_root: Accept image paths that leave ``root``.

    Raises:
        GraphValidationError: Naming the node or edge at fault; on an undirected graph, whose edges
            have no head and tail (``is_a``, ``depicts`` and most relations have a direction).
    """
    if not g.is_directed():
        raise GraphValidationError(
            f"from_networkx needs a directed graph (nx.DiGraph or nx.MultiDiGraph), got an undirected "
            f"{type(g).__name__}: its edges have no head and tail, and relations such as is_a and depicts "
            "have a direction; build it as nx.DiGraph and add each edge head first"
        )
    if root is None and isinstance(g.graph.get("root"), (str, os.PathLike)):
        root = g.graph["root"]
    graph = KnowledgeGraph(root, allow_self_loops=allow_self_loops, allow_outside_root=allow_outside_root)
    for node_id, attrs in g.nodes(data=True):
        attrs = dict(attrs)
        node_type = attrs.pop("type", None)
        cls = NODE_CLASSES.get(node_type) if isinstance(node_type, str) else None
        if cls is None:
            raise GraphValidationError(
                f"networkx node {node_id!r}: missing or unknown 'type' {node_type!r} "
                f"(expected one of: {', '.join(NODE_CLASSES)})"
            )
        field_names = cls.fields + (("image",) if node_type == "image" else ())
        kwargs: dict[str, Any] = {name: attrs.pop(name) for name in field_names if name in attrs}
        attributes = attrs.pop("attributes", None)
        if attributes is not None and not isinstance(attributes, dict):
            raise GraphValidationError(
                f"networkx node {node_id!r}: attributes must be a dict, got {type(attributes).__name__}"
            )
        attributes = dict(attributes or {})
        attributes.update(attrs)
        graph.add_node(cls(node_id, attributes=attributes, **kwargs))
    triples = []
    for position, edge in enumerate(g.edges(keys=True, data=True) if g.is_multigraph() else g.edges(data=True)):
        head, tail, data = edge[0], edge[1], edge[-1]
        relation = data.get("relation", edge[2] if g.is_multigraph() else None)
        if relation is None:
            raise GraphValidationError(f"networkx edge ({head!r}, {tail!r}): no 'relation' attribute")
        order = data.get("order", position)
        triples.append((order if isinstance(order, int) else position, position, (head, relation, tail)))
    graph.add_edges([triple for _, _, triple in sorted(triples)])  # keep the order of to_networkx
    return graph
