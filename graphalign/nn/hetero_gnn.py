"""The heterogeneous GNN that maps concepts, texts and images into one shared space.

:class:`HeteroAligner` = per-type input projection → ``num_layers`` residual
message-passing layers from :data:`~graphalign.nn.convs.CONVS` → projection head →
L2 normalisation. Its hyper-parameters live in :class:`ModelConfig`.
"""

from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
import graphalign._pyg  # noqa: F401  (PyG without its import-time FutureWarning)
from torch_geometric.data import HeteroData
from torch_geometric.nn.module_dict import ModuleDict

from graphalign.checks import check_bool, check_float, check_int
from graphalign.errors import ConfigError, GraphValidationError, check_config_keys
from graphalign.nn.channels import ChannelConfig, GraphChannels
from graphalign.nn.inherit import InheritConfig, inherit
from graphalign.nn.convs import CONVS
from graphalign.registry import Registry
from graphalign.typing import EdgeType, NodeType

__all__ = ["ModelConfig", "HeteroAligner", "NORMS", "ACTIVATIONS"]

ACTIVATIONS: Registry[nn.Module] = Registry("activation")
"""Activation modules by name (``gelu``, ``relu``, ``silu``, ``elu``, ``tanh``)."""
ACTIVATIONS.register("gelu")(nn.GELU)
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("silu")(nn.SiLU)
ACTIVATIONS.register("elu")(nn.ELU)
ACTIVATIONS.register("tanh")(nn.Tanh)

NORMS: Registry[nn.Module] = Registry("norm")
"""Normalisation layers by name, built as ``NORMS.build(name, {"num_features": h})``."""


@NORMS.register("layer")
class _LayerNorm(nn.LayerNorm):
    def __init__(self, num_features: int) -> None:
        super().__init__(num_features)


@NORMS.register("batch")
class _BatchNorm(nn.BatchNorm1d):
    """BatchNorm that falls back to running statistics for batches of < 2 rows."""

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.size(0) < 2:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


@NORMS.register("none")
class _NoNorm(nn.Identity):
    def __init__(self, num_features: int) -> None:
        super().__init__()


MAX_DIM = 1 << 16
"""Largest ``hidden_dim`` / ``out_dim`` a :class:`ModelConfig` accepts (a typo like ``2560000`` would
ask for terabytes)."""
MAX_LAYERS = 64
"""Most message-passing layers a :class:`ModelConfig` accepts."""


@dataclass
class ModelConfig:
    """Hyper-parameters of :class:`HeteroAligner`; JSON-friendly via :meth:`to_dict`.

    Example:
        >>> cfg = ModelConfig(hidden_dim=64, conv="rgcn", conv_kwargs={"num_bases": 2})
        >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
        True

    Args:
        hidden_dim: Width of the message-passing layers.
        out_dim: Size of the shared, L2-normalised embedding space.
        num_layers: Number of message-passing layers (0 gives a per-type MLP).
        conv: Name of a layer in :data:`~graphalign.nn.convs.CONVS`.
        conv_kwargs: Extra keyword arguments of that layer (e.g. ``heads``).
        dropout: Dropout after each layer's activation.
        norm: ``"layer"``, ``"batch"`` or ``"none"`` (per node type, after each conv).
        residual: ``h = h + update`` instead of ``h = update``.
        input_dropout: Dropout on the raw input features.
        edge_dropout: Probability of dropping each message-passing edge during
            training (one draw per forward pass, shared by all layers).
        skip_input: Add the input projection ``h0`` to the last hidden state before
            the head, so the encoder signal reaches the head directly.
        act: Activation name from :data:`ACTIVATIONS`, used everywhere.
        shared_head: One projection head for all node types (default) or one per type.
        tie_inputs: Node types whose features come from the same encoder share one
            input projection (:func:`~graphalign.training.fit` groups them by encoder).
        prior_residual: Keep the pretrained space as a prior: the output is
            ``normalize(P x + s * head(h))`` with ``P`` a linear map per input group,
            initialised to pass the last ``out_dim`` input features through (the
            text-space part of ``conse`` image features, or text features when
            ``out_dim`` equals their size), and ``s`` a learned scale starting at
            ``prior_scale``. Training then starts from the pretrained alignment.
        prior_scale: Initial weight of the GNN term against the prior.
        channels: Graph channels (:class:`~graphalign.nn.channels.ChannelConfig`
            dicts): parameter-free propagations of input features (e.g. image
            features spread to concepts over ``depicts`` and ``is_a``), appended
            to the learned embedding before the final normalisation; the
            embedding then has ``out_dim`` plus the channels' sizes.
        inherit: Inheritance (:class:`~graphalign.nn.inherit.InheritConfig` dict),
            evaluation mode only: nodes without an anchor edge (concepts without
            images) move towards the learned embeddings of their anchored
            relatives over ``is_a`` / ``part_of``; ``None`` turns it off.
    """

    hidden_dim: int = 256
    out_dim: int = 128
    num_layers: int = 2
    conv: str = "gatv2"
    conv_kwargs: dict[str, Any] = field(default_factory=dict)
    dropout: float = 0.1
    norm: str = "layer"
    residual: bool = True
    input_dropout: float = 0.0
    edge_dropout: float = 0.0
    skip_input: bool = True
    act: str = "gelu"
    shared_head: bool = True
    tie_inputs: bool = True
    prior_residual: bool = False
    prior_scale: float = 0.5
    channels: list[dict[str, Any]] = field(default_factory=list)
    inherit: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.channels = [c.to_dict() if isinstance(c, ChannelConfig) else ChannelConfig.from_dict(c).to_dict() for c in self.channels]
        if self.inherit is not None:
            self.inherit = (self.inherit if isinstance(self.inherit, InheritConfig) else InheritConfig.from_dict(self.inherit)).to_dict()
        for name in ("hidden_dim", "out_dim"):
            check_int("ModelConfig", name, getattr(self, name), low=1, high=MAX_DIM)
        check_int("ModelConfig", "num_layers", self.num_layers, low=0, high=MAX_LAYERS)
        for name in ("dropout", "input_dropout", "edge_dropout"):
            check_float("ModelConfig", name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        check_float("ModelConfig", "prior_scale", self.prior_scale, low=0.0)
        for name in ("residual", "skip_input", "shared_head", "tie_inputs", "prior_residual"):
            check_bool("ModelConfig", name, getattr(self, name))
        if not isinstance(self.conv_kwargs, dict):
            raise ConfigError(f"ModelConfig.conv_kwargs must be a dict (a JSON object), got {self.conv_kwargs!r}",
                              config="ModelConfig", key="conv_kwargs")
        try:  # unknown names list the valid ones; unknown arguments get a did-you-mean
            CONVS.check_kwargs(self.conv, self.conv_kwargs, reserved=("metadata", "hidden_dim"))
        except ConfigError as error:
            raise ConfigError(f"ModelConfig.conv_kwargs: {error}", config="ModelConfig", key="conv_kwargs") from None
        NORMS.get(self.norm)
        ACTIVATIONS.get(self.act)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: On keys that are not fields of :class:`ModelConfig`.
        """
        check_config_keys(cls, data, "ModelConfig")
        return cls(**{key: (dict(value) if key == "conv_kwargs" or (key == "inherit" and value is not None)
                            else list(value) if key == "channels" else value)
                      for key, value in data.items()})


def _pass_through(in_dim: int, out_dim: int) -> nn.Linear:
    """A linear map initialised to copy the last ``min(in_dim, out_dim)`` inputs."""
    linear = nn.Linear(in_dim, out_dim, bias=False)
    with torch.no_grad():
        linear.weight.zero_()
        n = min(in_dim, out_dim)
        linear.weight[:n, in_dim - n :] = torch.eye(n)
    return linear


class _ProjectionHead(nn.Sequential):
    """``Linear(hidden, hidden) → act → Linear(hidden, out_dim)``."""

    def __init__(self, hidden_dim: int, out_dim: int, act: str) -> None:
        super().__init__(nn.Linear(hidden_dim, hidden_dim), ACTIVATIONS.build(act), nn.Linear(hidden_dim, out_dim))


class HeteroAligner(nn.Module):
    r"""Heterogeneous GNN embedding every node into one L2-normalised space.

    .. math::
        \mathbf{h}^{(0)}_i &= \sigma(\mathbf{W}_{\tau(i)} \mathbf{x}_i + \mathbf{b}_{\tau(i)}) \\
        \mathbf{h}^{(l+1)}_i &= \mathbf{h}^{(l)}_i + \mathrm{Dropout}(\sigma(\mathrm{Norm}_{\tau(i)}(
            \mathrm{Conv}_l(\mathbf{h}^{(l)})_i))) \\
        \mathbf{z}_i &= \mathrm{normalize}(\mathrm{Head}(\mathbf{h}^{(L)}_i + \mathbf{h}^{(0)}_i))

    (the ``+ h0`` only with ``skip_input``, the ``h^{(l)} +`` only with ``residual``).
    Every layer gives nodes without incoming messages a defined output from their
    own features (see :meth:`~graphalign.nn.convs.HeteroLayer.forward_isolated`), so isolated nodes and
    node types that receive no edge type get meaningful embeddings, and
    :meth:`encode_features` embeds brand-new nodes the same way.

    Works on full graphs and on mini-batches of ``NeighborLoader`` /
    ``LinkNeighborLoader`` (any subset of the node and edge types).

    Example:
        >>> in_dims = {"concept": 16, "image": 32}
        >>> edge_types = [("image", "depicts", "concept"), ("concept", "rev_depicts", "image")]
        >>> model = HeteroAligner(in_dims, edge_types, ModelConfig(hidden_dim=8, out_dim=4, conv="sage"))
        >>> z = model({"concept": torch.randn(3, 16), "image": torch.randn(2, 32)},
        ...           {("image", "depicts", "concept"): torch.tensor([[0, 1], [2, 2]])})
        >>> z["image"].shape, bool(torch.allclose(z["image"].norm(dim=-1), torch.ones(2)))
        (torch.Size([2, 4]), True)

    Args:
        in_dims: Raw input feature size per node type.
        input_groups: Node type → group name; types of one group share their input
            projection (default: none shared).
        edge_types: Message-passing edge types ``(src, rel, dst)`` (reverse edges included).
        config: Hyper-parameters; defaults to :class:`ModelConfig()`.
    """

    def __init__(
        self,
        in_dims: Mapping[NodeType, int],
        edge_types: Sequence[EdgeType],
        config: ModelConfig | None = None,
        input_groups: Mapping[NodeType, str] | None = None,
    ) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.in_dims: dict[NodeType, int] = dict(in_dims)
        self.edge_types: list[EdgeType] = [tuple(edge_type) for edge_type in edge_types]  # type: ignore[misc]
        node_types = list(self.in_dims)
        h = config.hidden_dim

        self.input_dropout = nn.Dropout(config.input_dropout)
        # Node types in one input group (features from the same encoder, e.g. concepts
        # and texts both encoded by MiniLM) share one input projection, so that the
        # pretrained space they share stays shared.
        self.input_groups: dict[NodeType, str] = {t: t for t in node_types}
        self.input_groups.update({t: g for t, g in (input_groups or {}).items() if t in self.in_dims})
        group_dims: dict[str, int] = {}
        for t, group in self.input_groups.items():
            if group_dims.setdefault(group, self.in_dims[t]) != self.in_dims[t]:
                raise ConfigError(f"input group {group!r} mixes feature sizes {group_dims[group]} and {self.in_dims[t]}")
        self.input_proj = ModuleDict(
            {g: nn.Sequential(nn.Linear(dim, h), ACTIVATIONS.build(config.act)) for g, dim in group_dims.items()}
        )
        conv_kwargs = {"metadata": (node_types, self.edge_types), "hidden_dim": h, **config.conv_kwargs}
        self.convs = nn.ModuleList([CONVS.build(config.conv, conv_kwargs) for _ in range(config.num_layers)])
        self.norms = nn.ModuleList(
            [ModuleDict({t: NORMS.build(config.norm, {"num_features": h}) for t in node_types}) for _ in self.convs]
        )
        self.act = ACTIVATIONS.build(config.act)
        self.dropout = nn.Dropout(config.dropout)
        self.prior: ModuleDict | None = None
        if config.prior_residual:
            self.prior = ModuleDict({g: _pass_through(dim, config.out_dim) for g, dim in group_dims.items()})
            self.prior_log_scale = nn.Parameter(torch.tensor(math.log(config.prior_scale)))
        if config.shared_head:
            self.head: nn.Module | None = _ProjectionHead(h, config.out_dim, config.act)
            self.heads: ModuleDict | None = None
        else:
            self.head = None
            self.heads = ModuleDict({t: _ProjectionHead(h, config.out_dim, config.act) for t in node_types})
        self.channels: GraphChannels | None = GraphChannels(self.in_dims, config.channels) if config.channels else None
        self.inherit: InheritConfig | None = InheritConfig.from_dict(config.inherit) if config.inherit is not None else None

    @classmethod
    def from_data(cls, data: HeteroData, config: ModelConfig | None = None) -> HeteroAligner:
        """Builds a model for ``data``'s node types (sizes of ``x``) and edge types.

        Example:
            >>> data = HeteroData()
            >>> data["text"].x = torch.randn(2, 6)
            >>> HeteroAligner.from_data(data, ModelConfig(hidden_dim=8, out_dim=4)).in_dims
            {'text': 6}
        """
        in_dims = {t: int(data[t].x.size(-1)) for t in data.node_types if "x" in data[t]}
        return cls(in_dims, data.edge_types, config)

    @property
    def node_types(self) -> list[NodeType]:
        """Node types the model embeds."""
        return list(self.in_dims)

    @property
    def out_dim(self) -> int:
        """Size of the shared embedding space (``config.out_dim`` plus the graph channels)."""
        return self.config.out_dim + (self.channels.dim if self.channels is not None else 0)

    def append_channels(self, z: dict[NodeType, Tensor], x_dict: Mapping[NodeType, Tensor],
                        edge_index_dict: Mapping[EdgeType, Tensor], select: Sequence[int] | None = None,
                        new_nodes: bool = False) -> dict[NodeType, Tensor]:
        """``z`` (the learned part, ``forward(..., with_channels=False)``) with the graph channels
        appended: all of them (or those in ``select``) in eval mode, those with ``in_loss`` in training.
        ``new_nodes``: the rows are nodes outside the graph (identity channels give them zeros).

        Shapes:
            - z[t]: ``(num_nodes_t, config.out_dim)``
            - output[t]: ``(num_nodes_t, config.out_dim + size of the appended channels)``
        """
        if self.channels is None:
            return z
        only = list(select) if select is not None else None
        if self.training:
            only = [i for i in self.channels.in_loss if only is None or i in only]
        if only == []:
            return z
        channels = self.channels(x_dict, edge_index_dict, only=only, new_nodes=new_nodes)
        return {t: F.normalize(torch.cat([v, channels[t].to(v.dtype)], dim=-1), dim=-1) for t, v in z.items()}

    def _check_input(self, node_type: NodeType, x: Tensor) -> None:
        if node_type not in self.in_dims:
            raise GraphValidationError(f"unknown node type {node_type!r}; the model knows {self.node_types}")
        if x.dim() != 2 or x.size(-1) != self.in_dims[node_type]:
            raise GraphValidationError(
                f"{node_type!r} features must have shape (num_nodes, {self.in_dims[node_type]}), got {tuple(x.shape)}"
            )

    def _embed_input(self, node_type: NodeType, x: Tensor) -> Tensor:
        self._check_input(node_type, x)
        return self.input_proj[self.input_groups[node_type]](self.input_dropout(x))  # (num_nodes, hidden)

    def _update(self, layer: int, node_type: NodeType, h: Tensor, conv_out: Tensor) -> Tensor:
        update = self.dropout(self.act(self.norms[layer][node_type](conv_out)))  # (num_nodes, hidden)
        return h + update if self.config.residual else update

    def _output(self, node_type: NodeType, h: Tensor, h0: Tensor, x: Tensor) -> Tensor:
        if self.config.skip_input:
            h = h + h0
        head = self.head if self.head is not None else self.heads[node_type]  # type: ignore[index]
        z = head(h)  # (num_nodes, out_dim)
        if self.prior is not None:
            prior = F.normalize(self.prior[self.input_groups[node_type]](x), dim=-1)  # (num_nodes, out_dim)
            z = prior + self.prior_log_scale.exp() * F.normalize(z, dim=-1)
        return F.normalize(z, dim=-1)  # (num_nodes, out_dim)

    def _drop_edges(self, edge_index_dict: Mapping[EdgeType, Tensor]) -> Mapping[EdgeType, Tensor]:
        p = self.config.edge_dropout
        if not self.training or p == 0.0:
            return edge_index_dict
        return {
            edge_type: edge_index[:, torch.rand(edge_index.size(1), device=edge_index.device) >= p]
            for edge_type, edge_index in edge_index_dict.items()
        }

    def forward(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor],
        with_channels: bool | Sequence[int] = True,
    ) -> dict[NodeType, Tensor]:
        """Embeds every node of a (sub)graph.

        Args:
            x_dict: Raw input features per node type (any subset of the model's types).
            edge_index_dict: Edge indices per edge type (any subset of the model's types).
            with_channels: ``False`` gives the learned part alone (``config.out_dim``;
                with inheritance, if configured), without the graph channels; a sequence of channel indices appends
                only those (ablations; queries use the default, every channel).

        Returns:
            Unit-norm embeddings for every node type in ``x_dict``.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, in_dims[t])``
            - edge_index_dict[(s, r, t)]: ``(2, num_edges)``
            - output[t]: ``(num_nodes_t, out_dim)`` (:attr:`out_dim`: with the graph channels; in
              training mode only those with ``in_loss``)
        """
        edges = self._drop_edges(edge_index_dict)
        h0 = {t: self._embed_input(t, x) for t, x in x_dict.items()}  # (N_t, hidden)
        h = h0
        for layer, conv in enumerate(self.convs):
            conv_out = conv(h, edges)  # (N_t, hidden) for every t in h
            h = {t: self._update(layer, t, h[t], conv_out[t]) for t in h}
        z = {t: self._output(t, h[t], h0[t], x_dict[t]) for t in h}
        if self.inherit is not None and not self.training:
            z = inherit(z, edges, self.inherit)
        if self.channels is not None and self.training:
            self.channels.observe(x_dict)
        if with_channels is False:
            return z
        return self.append_channels(z, x_dict, edges, None if with_channels is True else with_channels)

    def encode_features(self, node_type: NodeType, x: Tensor) -> Tensor:
        """Embeds new nodes (not in the graph) from their raw features alone.

        Follows exactly the path of a node with no edges: input projection, each
        layer's no-message output, head. In eval mode the result equals
        :meth:`forward`'s output for isolated nodes with the same features; call
        ``model.eval()`` first (dropout is active in training mode).

        Example:
            >>> model = HeteroAligner({"text": 6}, [], ModelConfig(hidden_dim=8, out_dim=4)).eval()
            >>> model.encode_features("text", torch.randn(3, 6)).shape
            torch.Size([3, 4])

        Shapes:
            - x: ``(num_nodes, in_dims[node_type])``
            - output: ``(num_nodes, out_dim)``
        """
        h0 = self._embed_input(node_type, x)  # (num_nodes, hidden)
        h = h0
        for layer, conv in enumerate(self.convs):
            h = self._update(layer, node_type, h, conv.forward_isolated(node_type, h))
        z = {node_type: self._output(node_type, h, h0, x)}
        return self.append_channels(z, {node_type: x}, {}, new_nodes=True)[node_type]  # no edges: sources keep their own value

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"{self.__class__.__name__}(conv={cfg.conv!r}, num_layers={cfg.num_layers}, "
            f"hidden_dim={cfg.hidden_dim}, out_dim={cfg.out_dim}, norm={cfg.norm!r}, "
            f"residual={cfg.residual}, node_types={self.node_types}, num_edge_types={len(self.edge_types)})"
        )

