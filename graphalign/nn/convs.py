r"""Message-passing layers for heterogeneous graphs, chosen by name from :data:`CONVS`.

Every layer maps ``x_dict`` (hidden size ``h`` for every node type) to an output
dict of the same size **for every node type in** ``x_dict``, including node types
that receive no edge type and nodes that have no incoming edge. Each layer also
offers :meth:`HeteroLayer.forward_isolated`, the output of a node that receives
no message at all; :class:`~graphalign.nn.hetero_gnn.HeteroAligner` uses it to
embed new nodes (zero-shot queries) exactly like isolated nodes of the graph.

Most layers (``gat``, ``gatv2``, ``sage``, ``rgcn``) share one form, a per-type
root (self) transform plus a sum of per-edge-type messages:

.. math::
    \mathbf{x}'_i = \mathbf{W}^{\mathrm{root}}_{\tau(i)} \mathbf{x}_i + \mathbf{b}_{\tau(i)}
    + \sum_{r \in \mathcal{R},\ \mathrm{dst}(r) = \tau(i)} \mathrm{msg}_r(\mathbf{x})_i

where the message terms carry no bias, so that a node without incoming edges gets
exactly the root term. ``hgt`` wraps PyG's :class:`~torch_geometric.nn.conv.HGTConv`,
whose own gated skip connection defines its no-message output.

Example:
    >>> layer = CONVS.build("gat", {"metadata": (["a", "b"], [("a", "r", "b")]), "hidden_dim": 8})
    >>> out = layer({"a": torch.randn(3, 8), "b": torch.randn(2, 8)},
    ...             {("a", "r", "b"): torch.tensor([[0, 1], [0, 0]])})
    >>> sorted(out), out["b"].shape
    (['a', 'b'], torch.Size([2, 8]))
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
from torch_geometric.nn import GATConv, GATv2Conv, HeteroConv, HGTConv, SAGEConv
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.module_dict import ModuleDict
from torch_geometric.utils import scatter

from graphalign.errors import ConfigError, GraphValidationError
from graphalign.registry import Registry
from graphalign.typing import EdgeType, NodeType

__all__ = [
    "CONVS",
    "Metadata",
    "HeteroLayer",
    "GATLayer",
    "GATv2Layer",
    "SAGELayer",
    "RGCNLayer",
    "HGTLayer",
]

Metadata = tuple[Sequence[NodeType], Sequence[EdgeType]]
"""``(node_types, edge_types)`` as returned by :meth:`HeteroData.metadata`."""

CONVS: Registry[HeteroLayer] = Registry("conv")
"""Registry of heterogeneous message-passing layers; build with
``CONVS.build(name, {"metadata": ..., "hidden_dim": ..., **kwargs})``."""


class HeteroLayer(nn.Module):
    """Base class: one message-passing layer over a heterogeneous graph, ``h -> h``.

    Subclasses implement :meth:`_convolve` (outputs of the node types that messages
    reach) and :meth:`forward_isolated` (output without any message); :meth:`forward`
    checks the inputs and fills every other node type with the latter.

    Example:
        >>> layer = SAGELayer((["a"], [("a", "r", "a")]), hidden_dim=4)
        >>> isinstance(layer, HeteroLayer)
        True

    Args:
        metadata: ``(node_types, edge_types)`` of the graph.
        hidden_dim: Feature size ``h`` of inputs and outputs.
    """

    def __init__(self, metadata: Metadata, hidden_dim: int) -> None:
        super().__init__()
        node_types, edge_types = metadata
        self.node_types: list[NodeType] = list(node_types)
        self.edge_types: list[EdgeType] = [tuple(edge_type) for edge_type in edge_types]  # type: ignore[misc]
        if hidden_dim <= 0:
            raise ConfigError(f"hidden_dim must be positive, got {hidden_dim}")
        self.hidden_dim = hidden_dim
        unknown = sorted({t for src, _, dst in self.edge_types for t in (src, dst)} - set(self.node_types))
        if unknown:
            raise GraphValidationError(f"edge types use node types {unknown} missing from metadata {self.node_types}")

    def forward(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        """Runs one round of message passing.

        Args:
            x_dict: Node features per node type.
            edge_index_dict: ``(2, num_edges)`` source/target indices per edge type;
                edge types may be missing (e.g. in a mini-batch).

        Returns:
            Updated features for every node type in ``x_dict``; node types that
            receive no message get :meth:`forward_isolated`.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, hidden_dim)``
            - edge_index_dict[(s, r, t)]: ``(2, num_edges)``
            - output[t]: ``(num_nodes_t, hidden_dim)``
        """
        edges = self._active_edges(x_dict, edge_index_dict)
        convolved = self._convolve(x_dict, edges) if edges else {}
        out: dict[NodeType, Tensor] = {}
        for node_type, x in x_dict.items():
            y = convolved.get(node_type)
            out[node_type] = y if y is not None else self.forward_isolated(node_type, x)  # (num_nodes_t, h)
        return out

    def _convolve(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> Mapping[NodeType, Tensor | None]:
        """Outputs of the node types that the (non-empty, checked) edges reach.

        Node types left out (or mapped to ``None``) get :meth:`forward_isolated`.
        """
        raise NotImplementedError

    def forward_isolated(self, node_type: NodeType, x: Tensor) -> Tensor:
        """Output of nodes that receive no message (no incoming edge).

        Shapes:
            - x: ``(num_nodes, hidden_dim)``
            - output: ``(num_nodes, hidden_dim)``
        """
        raise NotImplementedError

    def _active_edges(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[EdgeType, Tensor]:
        """Checks the inputs; keeps edge types whose two node types are present."""
        unknown_nodes = sorted(set(x_dict) - set(self.node_types))
        if unknown_nodes:
            raise GraphValidationError(f"unknown node types {unknown_nodes}; this layer knows {self.node_types}")
        known = set(self.edge_types)
        unknown_edges = [edge_type for edge_type in edge_index_dict if tuple(edge_type) not in known]
        if unknown_edges:
            raise GraphValidationError(f"unknown edge types {unknown_edges}; this layer knows {self.edge_types}")
        return {
            tuple(edge_type): edge_index  # type: ignore[misc]
            for edge_type, edge_index in edge_index_dict.items()
            if edge_type[0] in x_dict and edge_type[2] in x_dict
        }

    def _repr_args(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._repr_args()
        return (
            f"{self.__class__.__name__}(hidden_dim={self.hidden_dim}{', ' + extra if extra else ''}, "
            f"num_node_types={len(self.node_types)}, num_edge_types={len(self.edge_types)})"
        )


class _RootMessageLayer(HeteroLayer):
    """``x'_i = root_{type(i)}(x_i) + sum of bias-free messages``: the shared form."""

    def __init__(self, metadata: Metadata, hidden_dim: int) -> None:
        super().__init__(metadata, hidden_dim)
        self.root = ModuleDict({t: nn.Linear(hidden_dim, hidden_dim) for t in self.node_types})

    def messages(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        """Summed messages per destination type; zero rows for nodes with no in-edge."""
        raise NotImplementedError

    def _convolve(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        msg = self.messages(x_dict, edge_index_dict)
        return {t: self.forward_isolated(t, x_dict[t]) + m for t, m in msg.items()}  # (num_nodes_t, h)

    def forward_isolated(self, node_type: NodeType, x: Tensor) -> Tensor:
        """The root term alone. See :meth:`HeteroLayer.forward_isolated`.

        Shapes:
            - x: ``(num_nodes, hidden_dim)``
            - output: ``(num_nodes, hidden_dim)``
        """
        return self.root[node_type](x)


class _HeteroConvLayer(_RootMessageLayer):
    """Messages from PyG's :class:`HeteroConv` (sum over edge types) of bias-free convs."""

    def __init__(self, metadata: Metadata, hidden_dim: int) -> None:
        super().__init__(metadata, hidden_dim)
        with warnings.catch_warnings():
            # HeteroConv warns about node types that are never a destination; the
            # root transform updates those, so the warning does not apply here.
            warnings.filterwarnings("ignore", message=".*do not occur as destination.*")
            self.conv = HeteroConv({edge_type: self._make_conv(edge_type) for edge_type in self.edge_types}, aggr="sum")

    def _make_conv(self, edge_type: EdgeType) -> MessagePassing:
        raise NotImplementedError

    def _in_channels(self, edge_type: EdgeType) -> int | tuple[int, int]:
        h = self.hidden_dim
        return h if edge_type[0] == edge_type[2] else (h, h)

    def messages(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        return self.conv(dict(x_dict), dict(edge_index_dict))


@CONVS.register("gat")
class GATLayer(_HeteroConvLayer):
    """One :class:`~torch_geometric.nn.conv.GATConv` per edge type, summed, plus a root.

    Every GATConv is built with ``add_self_loops=False`` (bipartite edge types
    require it; the root transform carries each node's own features) and
    ``bias=False`` (the root's bias is the only bias, so a node without in-edges
    gets exactly the root term). With ``concat=True`` (default) each of the
    ``heads`` heads outputs ``hidden_dim // heads`` features and the heads are
    concatenated, keeping the cost of one ``hidden_dim`` head; with
    ``concat=False`` each head outputs ``hidden_dim`` features and heads are
    averaged.

    Example:
        >>> layer = GATLayer((["a", "b"], [("a", "r", "b")]), hidden_dim=8, heads=2)
        >>> layer
        GATLayer(hidden_dim=8, heads=2, concat=True, dropout=0.0, num_node_types=2, num_edge_types=1)

    Args:
        metadata: ``(node_types, edge_types)``.
        hidden_dim: Feature size ``h``.
        heads: Number of attention heads; must divide ``hidden_dim`` if ``concat``.
        concat: Concatenate heads (``True``) or average them (``False``).
        dropout: Dropout on the attention coefficients.
        negative_slope: LeakyReLU slope of the attention scores.
    """

    conv_cls: type[MessagePassing] = GATConv

    def __init__(
        self,
        metadata: Metadata,
        hidden_dim: int,
        heads: int = 4,
        concat: bool = True,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        if heads <= 0:
            raise ConfigError(f"heads must be positive, got {heads}")
        if concat and hidden_dim % heads != 0:
            raise ConfigError(f"hidden_dim ({hidden_dim}) must be divisible by heads ({heads}) when concat=True")
        self.heads = heads
        self.concat = concat
        self.dropout = dropout
        self.negative_slope = negative_slope
        super().__init__(metadata, hidden_dim)

    def _make_conv(self, edge_type: EdgeType) -> MessagePassing:
        out_channels = self.hidden_dim // self.heads if self.concat else self.hidden_dim
        return self.conv_cls(
            self._in_channels(edge_type),
            out_channels,
            heads=self.heads,
            concat=self.concat,
            negative_slope=self.negative_slope,
            dropout=self.dropout,
            add_self_loops=False,
            bias=False,
        )

    def _repr_args(self) -> str:
        return f"heads={self.heads}, concat={self.concat}, dropout={self.dropout}"


@CONVS.register("gatv2")
class GATv2Layer(GATLayer):
    """As :class:`GATLayer` with :class:`~torch_geometric.nn.conv.GATv2Conv` (dynamic attention).

    Example:
        >>> GATv2Layer((["a"], [("a", "r", "a")]), hidden_dim=8, heads=4).heads
        4

    Args:
        metadata, hidden_dim, heads, concat, dropout, negative_slope: As in :class:`GATLayer`.
    """

    conv_cls = GATv2Conv


@CONVS.register("sage")
class SAGELayer(_HeteroConvLayer):
    """One :class:`~torch_geometric.nn.conv.SAGEConv` per edge type, summed, plus a root.

    The SAGEConvs use ``root_weight=False, bias=False``: one root transform per
    node type replaces the per-edge-type roots (which would count a node's own
    features once per incoming edge type).

    Example:
        >>> SAGELayer((["a"], [("a", "r", "a")]), hidden_dim=8, aggr="max")
        SAGELayer(hidden_dim=8, aggr='max', num_node_types=1, num_edge_types=1)

    Args:
        metadata: ``(node_types, edge_types)``.
        hidden_dim: Feature size ``h``.
        aggr: Neighbourhood aggregation of each edge type (``"mean"``, ``"sum"``, ``"max"``).
    """

    def __init__(self, metadata: Metadata, hidden_dim: int, aggr: str = "mean") -> None:
        self.aggr = aggr
        super().__init__(metadata, hidden_dim)

    def _make_conv(self, edge_type: EdgeType) -> MessagePassing:
        return SAGEConv(self._in_channels(edge_type), self.hidden_dim, aggr=self.aggr, root_weight=False, bias=False)

    def _repr_args(self) -> str:
        return f"aggr={self.aggr!r}"


@CONVS.register("rgcn")
class RGCNLayer(_RootMessageLayer):
    r"""Relational GCN (Schlichtkrull et al., 2018) over a heterogeneous graph.

    .. math::
        \mathbf{x}'_i = \mathbf{W}^{\mathrm{root}}_{\tau(i)} \mathbf{x}_i + \mathbf{b}_{\tau(i)}
        + \sum_{r} \frac{1}{|\mathcal{N}_r(i)|} \sum_{j \in \mathcal{N}_r(i)} \mathbf{W}_r \mathbf{x}_j,
        \qquad \mathbf{W}_r = \sum_{b=1}^{B} a_{rb} \mathbf{V}_b \text{ (with bases)}

    One relation per edge type ``(src, rel, dst)``, as PyG's ``RGCNConv`` after
    ``to_homogeneous``. It is computed directly on the typed edge indices, with no
    conversion: per edge type, the mean of the source features over each target's
    neighbours (one ``scatter`` mean, pure PyTorch), then one ``h x h`` matmul by
    ``W_r`` (mean and matmul commute, and there are fewer targets than edges).
    The root weight is per node type (the heterogeneous form of R-GCN's self
    connection ``W_0``).

    Example:
        >>> RGCNLayer((["a"], [("a", "r", "a"), ("a", "s", "a")]), hidden_dim=8, num_bases=2)
        RGCNLayer(hidden_dim=8, num_bases=2, num_node_types=1, num_edge_types=2)

    Args:
        metadata: ``(node_types, edge_types)``.
        hidden_dim: Feature size ``h``.
        num_bases: If set, basis decomposition with this many shared ``h x h`` bases.
    """

    def __init__(self, metadata: Metadata, hidden_dim: int, num_bases: int | None = None) -> None:
        super().__init__(metadata, hidden_dim)
        if num_bases is not None and num_bases <= 0:
            raise ConfigError(f"num_bases must be positive or None, got {num_bases}")
        self.num_bases = num_bases
        self._relation_index = {edge_type: i for i, edge_type in enumerate(self.edge_types)}
        num_relations, h = len(self.edge_types), hidden_dim
        if num_bases is None:
            self.weight = nn.Parameter(torch.empty(num_relations, h, h))  # (R, h, h)
            self.register_parameter("basis", None)
            self.register_parameter("comp", None)
        else:
            self.register_parameter("weight", None)
            self.basis = nn.Parameter(torch.empty(num_bases, h, h))  # (B, h, h)
            self.comp = nn.Parameter(torch.empty(num_relations, num_bases))  # (R, B)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-initialises relation weights (or bases and coefficients)."""
        if self.weight is not None:
            for w in self.weight:
                nn.init.xavier_uniform_(w)
        else:
            for v in self.basis:
                nn.init.xavier_uniform_(v)
            nn.init.xavier_uniform_(self.comp)
        for lin in self.root.values():
            lin.reset_parameters()

    def relation_weights(self) -> Tensor:
        """All relation matrices ``W_r``, shape ``(num_edge_types, h, h)``."""
        if self.weight is not None:
            return self.weight
        return torch.einsum("rb,bio->rio", self.comp, self.basis)  # (R, h, h)

    def messages(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        weights = self.relation_weights()  # (R, h, h)
        out: dict[NodeType, Tensor] = {}
        for edge_type, edge_index in edge_index_dict.items():
            src, _, dst = edge_type
            num_dst = x_dict[dst].size(0)
            mean = scatter(
                x_dict[src][edge_index[0]], edge_index[1], dim=0, dim_size=num_dst, reduce="mean"
            )  # (N_dst, h)
            msg = mean @ weights[self._relation_index[edge_type]]  # (N_dst, h)
            out[dst] = out[dst] + msg if dst in out else msg
        return out

    def _repr_args(self) -> str:
        return f"num_bases={self.num_bases}"


@CONVS.register("hgt")
class HGTLayer(HeteroLayer):
    r"""Heterogeneous Graph Transformer layer (PyG's :class:`~torch_geometric.nn.conv.HGTConv`).

    HGTConv mixes its attention output with the input through a learnable gate
    per node type: :math:`\mathbf{x}'_i = \alpha\,\mathrm{Lin}_{\tau}(\mathrm{GELU}(\mathbf{m}_i))
    + (1 - \alpha)\,\mathbf{x}_i`, :math:`\alpha = \sigma(s_\tau)`. A node with no
    message has :math:`\mathbf{m}_i = 0`; node types that HGTConv leaves out (no
    incoming edge type) get that same no-message output here.

    Example:
        >>> HGTLayer((["a", "b"], [("a", "r", "b")]), hidden_dim=8, heads=2)
        HGTLayer(hidden_dim=8, heads=2, num_node_types=2, num_edge_types=1)

    Args:
        metadata: ``(node_types, edge_types)``.
        hidden_dim: Feature size ``h``; must be divisible by ``heads``.
        heads: Number of attention heads.
    """

    def __init__(self, metadata: Metadata, hidden_dim: int, heads: int = 4) -> None:
        super().__init__(metadata, hidden_dim)
        if heads <= 0 or hidden_dim % heads != 0:
            raise ConfigError(f"hidden_dim ({hidden_dim}) must be divisible by a positive heads ({heads})")
        self.heads = heads
        self.conv = HGTConv(hidden_dim, hidden_dim, (self.node_types, self.edge_types), heads=heads)

    def _convolve(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor | None]:
        return self.conv(dict(x_dict), dict(edge_index_dict))

    def forward_isolated(self, node_type: NodeType, x: Tensor) -> Tensor:
        """HGTConv's output for a zero message. See :meth:`HeteroLayer.forward_isolated`.

        Shapes:
            - x: ``(num_nodes, hidden_dim)``
            - output: ``(num_nodes, hidden_dim)``
        """
        alpha = self.conv.skip[node_type].sigmoid()
        no_message = self.conv.out_lin.lins[node_type](x.new_zeros(x.shape))  # GELU(0) = 0; (num_nodes, h)
        return alpha * no_message + (1 - alpha) * x

    def _repr_args(self) -> str:
        return f"heads={self.heads}"
