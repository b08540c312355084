"""The heterogeneous GNN that maps concepts, texts and images into one shared space.

:class:`HeteroAligner` = input projection per input group → ``num_layers``
residual message-passing layers from :data:`~graphalign.nn.convs.CONVS` → an
output head from :data:`~graphalign.nn.heads.HEADS` → the readouts of
:data:`~graphalign.nn.readouts.READOUTS`. Its hyper-parameters live in
:class:`ModelConfig`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
from torch_geometric.data import HeteroData
from torch_geometric.nn.module_dict import ModuleDict

from graphalign.checks import check_float, check_int, plain_numbers
from graphalign.errors import ConfigError, GraphValidationError, check_config_keys
from graphalign.nn.channels import ChannelConfig
from graphalign.nn.convs import CONVS
from graphalign.nn.directions import Direction
from graphalign.nn.exemplars import EXEMPLAR_DIRECTION, ExemplarConfig, ExemplarWeights
from graphalign.nn.heads import HEADS, build_head
from graphalign.nn.inherit import InheritConfig
from graphalign.nn.layers import NORMS, build_activation, build_norm, check_activation
from graphalign.nn.propagate import FeaturePropagation, PropagationConfig
from graphalign.nn.readouts import READOUTS, Readout, build_readouts
from graphalign.typing import EdgeType, NodeType

__all__ = ["ModelConfig", "HeteroAligner", "DEFAULT_READOUTS", "DEFAULT_CHANNEL_NAMES"]

MAX_DIM = 1 << 16
"""Largest ``hidden_dim`` / ``out_dim`` a :class:`ModelConfig` accepts (a typo like ``2560000`` would
ask for terabytes)."""
MAX_LAYERS = 64
"""Most message-passing layers a :class:`ModelConfig` accepts."""


LEGACY_KEYS = (
    "prior_residual",
    "prior_scale",
    "channels",
    "inherit",
    "residual",
    "skip_input",
    "shared_head",
    "tie_inputs",
    "input_dropout",
)
"""Keys of ``run.json`` files that describe the same model in other terms (:meth:`ModelConfig.from_dict` reads them)."""
DEFAULT_READOUTS: list[dict[str, Any]] = [
    {"name": "inherit"},
    {
        "name": "channels",
        "channels": [
            # prior: the pretrained shared space as it is (ConSE part of images, text features)
            {
                "sources": ["image", "concept", "text"],
                "weight": 1.0,
                "hops": 0,
                "center": False,
                "feature_slice": "shared",
            },
            # text: an image carries the mean of its descriptions
            {"sources": ["text"], "weight": 1.0, "relations": ["describes"], "hops": 1, "decay": 1.0},
            # concept: an image carries the text feature of the concept it depicts
            {
                "sources": ["concept", "text"],
                "weight": 1.0,
                "relations": ["depicts"],
                "hops": 1,
                "decay": 1.0,
                "center": False,
                "feature_slice": "shared",
            },
            # hierarchy: identity codes of the concepts an image's ImageNet classes lead to
            {
                "sources": ["concept"],
                "weight": 0.5,
                "relations": ["predicted_as"],
                "hops": 1,
                "center": False,
                "codes": 256,
            },
        ],
    },
]
"""The readouts of the default model (the ``best`` preset): inheritance, then four graph channels
(:mod:`graphalign.nn.channels`): *prior*, *text*, *concept* and *hierarchy* (half weight)."""
DEFAULT_CHANNEL_NAMES = ("prior", "text", "concept", "hierarchy")
"""The names of the default model's graph channels, in the order of :data:`DEFAULT_READOUTS`."""

_LEGACY_DEFAULTS = {"residual": True, "skip_input": True, "shared_head": True, "tie_inputs": True, "input_dropout": 0.0}


@dataclass
class ModelConfig:
    """Hyper-parameters of :class:`HeteroAligner`; JSON-friendly via :meth:`to_dict`.

    What every model has lives here; the parts that vary are chosen by name
    with their own arguments: the output head (:data:`~graphalign.nn.heads.HEADS`)
    and the readouts after it (:data:`~graphalign.nn.readouts.READOUTS`).

    The defaults are the ``best`` preset's model (:mod:`graphalign.presets`):
    every node's input features beside the same features propagated 2 hops
    over the graph once, without parameters (128 principal components per
    encoder, :mod:`graphalign.nn.propagate`), read by a per-type MLP (no
    message-passing layer in training), the ``prior`` head (the pretrained
    space of the input features kept as a prior, the learned term starting at
    weight 0.2) in a 384-dimensional space, then :data:`DEFAULT_READOUTS`.
    ``num_layers > 0`` adds residual message-passing layers of ``conv`` (the
    ``gnn`` preset: 2 GATv2 layers, no propagated features).

    Example:
        >>> cfg = ModelConfig(hidden_dim=64, conv="rgcn", conv_kwargs={"num_bases": 2}, head="prior")
        >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
        True

    Args:
        hidden_dim: Width of the message-passing layers.
        out_dim: Size of the shared, L2-normalised embedding space (before readouts that append).
        num_layers: Number of residual message-passing layers (0, the default, gives a per-type
            MLP: on propagated features with ``propagate``, two towers without).
        conv: Name of a layer in :data:`~graphalign.nn.convs.CONVS`.
        conv_kwargs: Extra keyword arguments of that layer (e.g. ``heads``).
        dropout: Dropout after each layer's activation.
        edge_dropout: Probability of dropping each message-passing edge during
            training (one draw per forward pass, shared by all layers).
        norm: ``"layer"``, ``"batch"`` or ``"none"`` (per node type, after each conv).
        act: Activation name (:func:`~graphalign.nn.layers.build_activation`: PyG's resolver), used everywhere.
        head: Output head from :data:`~graphalign.nn.heads.HEADS`: ``plain``, or
            ``prior`` to keep the pretrained space of the input features as a prior.
        head_kwargs: Its arguments (``prior``: ``{"scale": 0.2}``, the default).
        readouts: Readouts applied in order after the head, each a dict with its
            ``name`` in :data:`~graphalign.nn.readouts.READOUTS` and its arguments,
            e.g. ``{"name": "channels", "channels": [{"sources": ["image"]}]}`` or
            ``{"name": "inherit", "weight": 1.0}``.
        propagate: With ``{"hops": K, "dim": d}``
            (:class:`~graphalign.nn.propagate.PropagationConfig`), every node also
            reads its input features propagated ``K`` hops without parameters,
            computed once per graph (SIGN-style); with ``num_layers=0`` training
            then reads one row per node and its cost follows the supervision
            pairs, not the neighbourhoods (the default; ``None``: raw
            features only, as the ``gnn`` and ``towers`` presets).
        exemplars: With ``{"hops": K}`` (:class:`~graphalign.nn.exemplars.ExemplarConfig`), image →
            concept rankings add each concept's nearest training image (label transfer), an offset of
            the concepts with training images and a semantic transfer to those without, weighted by
            calibration on the validation links (0, off, until then and where it does not help); a
            concept without images borrows its relatives' exemplars within ``K`` hops (``None``: no
            such term, as the ``towers`` and ``plain`` presets).
    """

    hidden_dim: int = 256
    out_dim: int = 384
    num_layers: int = 0
    conv: str = "gatv2"
    conv_kwargs: dict[str, Any] = field(default_factory=dict)
    dropout: float = 0.1
    edge_dropout: float = 0.0
    norm: str = "layer"
    act: str = "gelu"
    head: str = "prior"
    head_kwargs: dict[str, Any] = field(default_factory=dict)
    readouts: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_READOUTS))
    propagate: dict[str, Any] | None = field(default_factory=lambda: {"hops": 2, "dim": 128})
    exemplars: dict[str, Any] | None = field(default_factory=lambda: {"hops": 2})

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        for name in ("hidden_dim", "out_dim"):
            check_int("ModelConfig", name, getattr(self, name), low=1, high=MAX_DIM)
        check_int("ModelConfig", "num_layers", self.num_layers, low=0, high=MAX_LAYERS)
        for name in ("dropout", "edge_dropout"):
            check_float("ModelConfig", name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        for name in ("conv_kwargs", "head_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(
                    f"ModelConfig.{name} must be a dict (a JSON object), got {getattr(self, name)!r}",
                    config="ModelConfig",
                    key=name,
                )
        CONVS.get(self.conv)  # an unknown name lists the valid ones
        HEADS.get(self.head)
        try:  # unknown arguments get a did-you-mean
            CONVS.check_kwargs(self.conv, self.conv_kwargs, reserved=("metadata", "hidden_dim"))
        except ConfigError as error:
            raise ConfigError(f"ModelConfig.conv_kwargs: {error}", config="ModelConfig", key="conv_kwargs") from None
        try:
            HEADS.check_kwargs(self.head, self.head_kwargs, reserved=("group_dims", "hidden_dim", "out_dim", "act"))
        except ConfigError as error:
            raise ConfigError(f"ModelConfig.head_kwargs: {error}", config="ModelConfig", key="head_kwargs") from None
        try:
            HEADS.get(self.head).check_arguments(**self.head_kwargs)
        except ConfigError as error:
            raise ConfigError(f"ModelConfig.head_kwargs: {error}", config="ModelConfig", key="head_kwargs") from None
        self.readouts = [_readout_spec(spec) for spec in self.readouts]
        names = [spec["name"] for spec in self.readouts]
        if len(set(names)) < len(names):
            raise ConfigError(
                f"ModelConfig.readouts: a readout is given twice ({names}); give each once with all its settings",
                config="ModelConfig",
                key="readouts",
            )
        NORMS.get(self.norm)
        check_activation(self.act)
        if self.propagate is not None:
            if not isinstance(self.propagate, Mapping):
                raise ConfigError(
                    f"ModelConfig.propagate must be a dict such as {{'hops': 2, 'dim': 128}} or None, "
                    f"got {self.propagate!r}",
                    config="ModelConfig",
                    key="propagate",
                )
            self.propagate = PropagationConfig.from_dict(self.propagate).to_dict()
        if self.exemplars is not None:
            self.exemplars = ExemplarConfig.from_dict(self.exemplars).to_dict()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; also reads the keys of :data:`LEGACY_KEYS`.

        Raises:
            ConfigError: On keys that are not fields of :class:`ModelConfig`, or
                legacy settings that no model has (e.g. ``residual=False``).
        """
        data = _from_legacy(dict(data))
        check_config_keys(cls, data, "ModelConfig")
        copied = {
            key: (
                dict(value)
                if key in ("conv_kwargs", "head_kwargs") or (key in ("propagate", "exemplars") and value is not None)
                else list(value)
                if key == "readouts"
                else value
            )
            for key, value in data.items()
        }
        return cls(**copied)

    def readout(self, name: str) -> dict[str, Any] | None:
        """The arguments of readout ``name`` (without ``name``), or ``None`` if the model has none."""
        for spec in self.readouts:
            if spec["name"] == name:
                return {k: v for k, v in spec.items() if k != "name"}
        return None


def _readout_spec(spec: Any) -> dict[str, Any]:
    """A readout dict, checked against its part's signature (channel and inherit settings completed)."""
    name, kwargs = READOUTS.split_spec(spec, "ModelConfig.readouts")
    READOUTS.get(name)  # an unknown name lists the valid ones
    try:
        READOUTS.check_kwargs(name, kwargs, reserved=("in_dims",))
        if name == "channels":
            kwargs["channels"] = [ChannelConfig.from_dict(c).to_dict() for c in kwargs.get("channels", [])]
        elif name == "inherit":
            kwargs = InheritConfig.from_dict(kwargs).to_dict()
    except ConfigError as error:
        raise ConfigError(f"ModelConfig.readouts: {error}", config="ModelConfig", key="readouts") from None
    return {"name": name, **kwargs}


def _from_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """Model settings written as flags (``prior_residual``, ``channels``, ``inherit``, ...) as parts."""
    if not data.keys() & set(LEGACY_KEYS):
        return data
    for key, default in _LEGACY_DEFAULTS.items():
        if key in data and data[key] != default:
            raise ConfigError(
                f"ModelConfig: {key}={data[key]!r} is not a setting of graphalign's model (always {default!r})",
                config="ModelConfig",
                key=key,
            )
        data.pop(key, None)
    scale = data.pop("prior_scale", 0.5)
    if data.pop("prior_residual", False):
        data.setdefault("head", "prior")
        data.setdefault("head_kwargs", {"scale": scale})
    data.setdefault("head", "plain")  # the settings a legacy run had without saying them
    data.setdefault("head_kwargs", {})
    data.setdefault("out_dim", 128)
    readouts = list(data.get("readouts", []))
    inherit_settings = data.pop("inherit", None)
    if inherit_settings is not None:
        readouts.append({"name": "inherit", **inherit_settings})
    channels = data.pop("channels", None)
    if channels:
        readouts.append({"name": "channels", "channels": channels})
    data["readouts"] = readouts
    return data


class HeteroAligner(nn.Module):
    r"""Heterogeneous GNN embedding every node into one L2-normalised space.

    .. math::
        \mathbf{h}^{(0)}_i &= \sigma(\mathbf{W}_{g(i)} \mathbf{x}_i + \mathbf{b}_{g(i)}) \\
        \mathbf{h}^{(l+1)}_i &= \mathbf{h}^{(l)}_i + \mathrm{Dropout}(\sigma(\mathrm{Norm}_{\tau(i)}(
            \mathrm{Conv}_l(\mathbf{h}^{(l)})_i))) \\
        \mathbf{z}_i &= \mathrm{Head}(\mathbf{h}^{(L)}_i + \mathbf{h}^{(0)}_i, \mathbf{x}_i)

    then the readouts of ``config.readouts`` in order. ``g(i)`` is the input
    group of node ``i``'s type: node types whose features come from one encoder
    (e.g. concepts and texts, both MiniLM) share one input projection, so the
    pretrained space they share stays shared. Every layer gives nodes without
    incoming messages a defined output from their own features (see
    :meth:`~graphalign.nn.convs.HeteroLayer.forward_isolated`), so isolated nodes
    and node types that receive no edge type get meaningful embeddings, and
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
        edge_types: Message-passing edge types ``(src, rel, dst)`` (reverse edges included).
        config: Hyper-parameters; defaults to :class:`ModelConfig()`.
        input_groups: Node type → group name; types of one group share their input
            projection (default: none shared).
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
        self.input_groups: dict[NodeType, str] = {t: t for t in node_types}
        self.input_groups.update({t: g for t, g in (input_groups or {}).items() if t in self.in_dims})
        group_dims: dict[str, int] = {}
        for t, group in self.input_groups.items():
            if group_dims.setdefault(group, self.in_dims[t]) != self.in_dims[t]:
                raise ConfigError(
                    f"input group {group!r} mixes feature sizes {group_dims[group]} and {self.in_dims[t]}"
                )
        self.input_proj = ModuleDict(
            {g: nn.Sequential(nn.Linear(dim, h), build_activation(config.act)) for g, dim in group_dims.items()}
        )
        self.propagation: FeaturePropagation | None = None
        self.propagated_proj = ModuleDict()
        if config.propagate is not None:
            self.propagation = FeaturePropagation(
                self.in_dims, self.input_groups, PropagationConfig.from_dict(config.propagate)
            )
            self.propagated_proj = ModuleDict(
                {g: nn.Linear(self.propagation.out_dim, h, bias=False) for g in group_dims}
            )
        conv_kwargs = {"metadata": (node_types, self.edge_types), "hidden_dim": h, **config.conv_kwargs}
        self.convs = nn.ModuleList([CONVS.build(config.conv, conv_kwargs) for _ in range(config.num_layers)])
        self.norms = nn.ModuleList(
            [ModuleDict({t: build_norm(config.norm, h) for t in node_types}) for _ in self.convs]
        )
        self.act = build_activation(config.act)
        self.dropout = nn.Dropout(config.dropout)
        self.head = build_head(
            config.head, config.head_kwargs, group_dims, h, config.out_dim, build_activation(config.act)
        )
        self.readouts = build_readouts(config.readouts, self.in_dims)
        query_type, cand_type = EXEMPLAR_DIRECTION
        self.exemplars: ExemplarWeights | None = None
        if config.exemplars is not None and query_type in self.in_dims and cand_type in self.in_dims:
            self.exemplars = ExemplarWeights(self.in_dims[query_type], ExemplarConfig.from_dict(config.exemplars))
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)

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
        """Size of the shared embedding space (``config.out_dim`` plus what the readouts append)."""
        return self.config.out_dim + sum(readout.extra_dim for readout in self.readouts.values())

    @property
    def train_out_dim(self) -> int:
        """Size of the embedding in training mode, which the loss sees (readouts append less or nothing)."""
        return self.config.out_dim + sum(readout.train_extra_dim for readout in self.readouts.values())

    def _check_input(self, node_type: NodeType, x: Tensor) -> None:
        if node_type not in self.in_dims:
            raise GraphValidationError(f"unknown node type {node_type!r}; the model knows {self.node_types}")
        if x.dim() != 2 or x.size(-1) != self.in_dims[node_type]:
            raise GraphValidationError(
                f"{node_type!r} features must have shape (num_nodes, {self.in_dims[node_type]}), got {tuple(x.shape)}"
            )

    def _embed_input(self, node_type: NodeType, x: Tensor, propagated: Tensor | None = None) -> Tensor:
        """The input projection of features already checked by :meth:`_check_input`."""
        group = self.input_groups[node_type]
        if self.propagation is None:
            return self.input_proj[group](x)  # (num_nodes, hidden)
        linear, act = self.input_proj[group]
        h = linear(x)
        if propagated is not None:  # a node without edges (or a new one) has zeros there
            h = h + self.propagated_proj[group](propagated)
        return act(h)  # (num_nodes, hidden)

    def _update(self, layer: int, node_type: NodeType, h: Tensor, conv_out: Tensor) -> Tensor:
        return h + self.dropout(self.act(self.norms[layer][node_type](conv_out)))  # (num_nodes, hidden)

    def _output(self, node_type: NodeType, h: Tensor, h0: Tensor, x: Tensor) -> Tensor:
        return self.head.embed(h + h0, x, self.input_groups[node_type])  # (num_nodes, out_dim)

    def _drop_edges(self, edge_index_dict: Mapping[EdgeType, Tensor]) -> Mapping[EdgeType, Tensor]:
        p = self.config.edge_dropout
        if not self.training or p == 0.0:
            return edge_index_dict
        return {
            edge_type: edge_index[:, torch.rand(edge_index.size(1), device=edge_index.device) >= p]
            for edge_type, edge_index in edge_index_dict.items()
        }

    def forward(
        self,
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        readouts: bool = True,
        propagated: Mapping[NodeType, Tensor] | None = None,
    ) -> dict[NodeType, Tensor]:
        """Embeds every node of a (sub)graph.

        Args:
            x_dict: Raw input features per node type (any subset of the model's types).
            edge_index_dict: Edge indices per edge type (any subset of the model's types).
            readouts: Apply the readouts (``False``: the head's output alone, e.g.
                to compose other readouts on it with :meth:`apply_readouts`).
            propagated: With ``config.propagate``, each node's propagated
                features (:class:`~graphalign.nn.propagate.FeaturePropagation`), if
                computed already (training reads rows of those of the whole
                graph); ``None``: computed here over ``edge_index_dict``.

        Returns:
            Unit-norm embeddings for every node type in ``x_dict``.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, in_dims[t])``
            - edge_index_dict[(s, r, t)]: ``(2, num_edges)``
            - propagated[t]: ``(num_nodes_t, propagation.out_dim)``
            - output[t]: ``(num_nodes_t, out_dim)`` (in training mode, readouts append only
              what the loss sees, e.g. graph channels with ``in_loss``)
        """
        for node_type, x in x_dict.items():
            self._check_input(node_type, x)
        edges = self._drop_edges(edge_index_dict)
        if self.propagation is not None and propagated is None:
            propagated = self.propagation(x_dict, edges)
        propagated = propagated or {}
        h0 = {t: self._embed_input(t, x, propagated.get(t)) for t, x in x_dict.items()}  # (N_t, hidden)
        h = h0
        for layer, conv in enumerate(self.convs):
            conv_out = conv(h, edges)  # (N_t, hidden) for every t in h
            h = {t: self._update(layer, t, h[t], conv_out[t]) for t in h}
        z = {t: self._output(t, h[t], h0[t], x_dict[t]) for t in h}
        return self.apply_readouts(z, x_dict, edges) if readouts else z

    def apply_readouts(
        self,
        z: dict[NodeType, Tensor],
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        new_nodes: bool = False,
    ) -> dict[NodeType, Tensor]:
        """The model's readouts applied in order to ``z`` (see :mod:`graphalign.nn.readouts`).

        Shapes:
            - z[t]: ``(num_nodes_t, config.out_dim)``
            - output[t]: ``(num_nodes_t, out_dim)``
        """
        for readout in self.readouts.values():
            z = readout(z, x_dict, edge_index_dict, new_nodes=new_nodes)
        return z

    def direction_multipliers(self) -> dict[Direction, Tensor]:
        """The ``(2, dim)`` multiplier of each direction whose readout scales are not all 1
        (:mod:`graphalign.nn.directions`; row 0: the view of linked candidates, row 1: of new ones):
        1 on the learned part, each readout's scales on what it appends."""
        multipliers: dict[Direction, Tensor] = {}
        for start, readout in self.readout_offsets():
            for direction, scales in readout.direction_scales().items():
                multiplier = multipliers.setdefault(direction, torch.ones(2, self.out_dim))
                multiplier[:, start : start + scales.size(-1)] = scales
        return multipliers

    def readout_offsets(self) -> list[tuple[int, Readout]]:
        """Each readout with the first dimension of what it appends to the embedding (after the learned
        part, in order)."""
        offsets: list[tuple[int, Readout]] = []
        start = self.config.out_dim
        for readout in self.readouts.values():
            offsets.append((start, readout))
            start += readout.extra_dim
        return offsets

    def encode_features(self, node_type: NodeType, x: Tensor) -> Tensor:
        """Embeds new nodes (not in the graph) from their raw features alone.

        Follows exactly the path of a node with no edges: input projection, each
        layer's no-message output, head, readouts (for nodes without edges or
        identity). In eval mode the result equals :meth:`forward`'s output for
        isolated nodes with the same features; call ``model.eval()`` first
        (dropout is active in training mode).

        Example:
            >>> model = HeteroAligner({"text": 6}, [], ModelConfig(hidden_dim=8, out_dim=4)).eval()
            >>> model.encode_features("text", torch.randn(3, 6)).shape
            torch.Size([3, 4])

        Shapes:
            - x: ``(num_nodes, in_dims[node_type])``
            - output: ``(num_nodes, out_dim)``
        """
        self._check_input(node_type, x)
        h0 = self._embed_input(node_type, x)  # (num_nodes, hidden)
        h = h0
        for layer, conv in enumerate(self.convs):
            h = self._update(layer, node_type, h, conv.forward_isolated(node_type, h))
        z = {node_type: self._output(node_type, h, h0, x)}
        return self.apply_readouts(z, {node_type: x}, {}, new_nodes=True)[node_type]

    def __repr__(self) -> str:
        cfg = self.config
        readouts = f", readouts={list(self.readouts)}" if len(self.readouts) else ""
        layers = f"conv={cfg.conv!r}, num_layers={cfg.num_layers}" if cfg.num_layers else "num_layers=0"
        if cfg.propagate is not None:
            layers += f", propagate={cfg.propagate['hops']} hops x {cfg.propagate['dim'] or 'all'} components"
        return (
            f"{self.__class__.__name__}({layers}, "
            f"hidden_dim={cfg.hidden_dim}, out_dim={cfg.out_dim}, norm={cfg.norm!r}, head={cfg.head!r}{readouts}, "
            f"node_types={self.node_types}, num_edge_types={len(self.edge_types)})"
        )


_LEGACY_PREFIXES = (
    ("prior.", "head.prior."),
    ("prior_log_scale", "head.log_scale"),
    ("channels.", "readouts.channels.graph_channels."),
)


def _rename_legacy_keys(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
    """Weights saved when the prior and the graph channels were attributes of the model load into their parts."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        rest = key[len(prefix) :]
        for old, new in _LEGACY_PREFIXES:
            if rest.startswith(old) and not rest.startswith(new):
                state_dict[prefix + new + rest[len(old) :]] = state_dict.pop(key)
                break
