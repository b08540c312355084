"""Readouts: parameter-free steps applied to the embeddings after message passing and the head.

Readouts are chosen by name through :data:`READOUTS`; a model applies those of
``ModelConfig(readouts=[{"name": ..., **kwargs}, ...])`` in order:

* ``channels`` (:class:`ChannelsReadout`): graph channels, parameter-free
  propagations of input features appended to the embedding
  (:mod:`graphalign.nn.channels`);
* ``inherit`` (:class:`InheritReadout`): nodes without evidence of their own
  move towards the learned embeddings of their relatives, in evaluation mode
  (:mod:`graphalign.nn.inherit`).

A readout reads only the edges it is given, so held-out edges cannot leak into
it; :meth:`Readout.forward` with ``new_nodes=True`` places nodes that are not in
the graph (zero-shot queries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphalign.checks import check_bool
from graphalign.errors import ConfigError
from graphalign.nn.channels import ChannelConfig, GraphChannels, normalize_
from graphalign.nn.directions import LINKED, NEW, Direction
from graphalign.nn.inherit import InheritConfig, inherit
from graphalign.registry import Registry
from graphalign.typing import EdgeType, NodeType

__all__ = ["READOUTS", "Readout", "ChannelsReadout", "InheritReadout", "build_readouts"]


class Readout(nn.Module):
    """Base of the readouts: ``forward(z, x_dict, edge_index_dict, new_nodes) -> z``."""

    extra_dim: int = 0
    """How many dimensions it appends to the embedding (in evaluation mode)."""
    train_extra_dim: int = 0
    """How many of them it appends in training mode too (the embedding the loss sees)."""

    def direction_scales(self) -> dict[Direction, Tensor]:
        """``(2, extra_dim)`` scales of what it appends (rows: the views of linked and new candidates), per
        direction whose scales are not all 1 (:mod:`graphalign.nn.directions`); none by default."""
        return {}

    def forward(
        self,
        z: dict[NodeType, Tensor],
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        new_nodes: bool = False,
    ) -> dict[NodeType, Tensor]:
        """The embeddings after this step.

        Args:
            z: Unit-norm embeddings per node type.
            x_dict: The raw input features of the same nodes.
            edge_index_dict: The message-passing edges among them.
            new_nodes: The rows are nodes outside the graph (no edges, no identity).

        Shapes:
            - z[t]: ``(num_nodes_t, d)``
            - output[t]: ``(num_nodes_t, d + extra_dim)``, unit norm
        """
        raise NotImplementedError


READOUTS: Registry[Readout] = Registry("readout")
"""Readouts by name: ``channels`` and ``inherit``."""


@READOUTS.register("channels")
class ChannelsReadout(Readout):
    """Appends graph channels: parameter-free propagations of input features over the graph.

    See :mod:`graphalign.nn.channels`; the embedding is L2-normalised again after.

    In training mode only the channels with ``in_loss`` are appended (and the
    source features update the channels' running centres); in evaluation mode
    all of them, or those in ``select``. Its ``scales`` buffer holds one
    scale per direction (query type, candidate type), candidate state (linked
    or new) and channel, fitted on validation links after training
    (:mod:`graphalign.nn.directions`).

    Example:
        >>> readout = ChannelsReadout({"image": 6, "concept": 4}, channels=[{"sources": ["image"]}])
        >>> readout.extra_dim
        6

    Args:
        in_dims: Raw input feature size per node type.
        channels: :class:`~graphalign.nn.channels.ChannelConfig` dicts.
        calibrate: Fit the per-direction scales on validation links after training
            (:mod:`graphalign.training.calibration`); ``False`` keeps them all 1.
    """

    def __init__(
        self,
        in_dims: Mapping[NodeType, int],
        channels: Sequence[Mapping[str, Any] | ChannelConfig],
        calibrate: bool = True,
    ) -> None:
        super().__init__()
        self.calibrate = bool(check_bool("readout 'channels'", "calibrate", calibrate))
        if not channels:
            raise ConfigError("readout 'channels' needs at least one channel")
        self.graph_channels = GraphChannels(in_dims, channels)
        self.extra_dim = self.graph_channels.dim
        self.train_extra_dim = sum(self.graph_channels.dims[i] for i in self.graph_channels.in_loss)
        self.node_types: list[NodeType] = sorted(in_dims)
        num_types = len(self.node_types)
        # one scale per (query type, candidate type), candidate state (linked, new) and channel;
        # 1 until fitted on validation links
        self.register_buffer("scales", torch.ones(num_types, num_types, 2, len(self.graph_channels.dims)))
        self.register_load_state_dict_pre_hook(_scales_default)

    def _direction_index(self, direction: Direction) -> tuple[int, int]:
        query_type, cand_type = direction
        if query_type not in self.node_types or cand_type not in self.node_types:
            raise ConfigError(f"unknown direction {query_type!r} -> {cand_type!r}; node types: {self.node_types}")
        return self.node_types.index(query_type), self.node_types.index(cand_type)

    def get_scales(self, direction: Direction, state: int = LINKED) -> list[float]:
        """The scale of each channel for queries of ``direction``, in the view of candidates of ``state``
        (:data:`~graphalign.nn.directions.LINKED` or :data:`~graphalign.nn.directions.NEW`)."""
        return [float(v) for v in self.scales[(*self._direction_index(direction), _state(state))]]

    def set_scales(self, direction: Direction, values: Sequence[float], state: int | None = None) -> None:
        """Sets the scale of each channel for queries of ``direction`` (see :mod:`graphalign.nn.directions`),
        in the view of candidates of ``state`` (``None``: both views).

        Raises:
            ConfigError: On an unknown node type or state, a wrong number of values or a negative one.
        """
        index = self._direction_index(direction)
        if len(values) != self.scales.size(-1) or any(v < 0 for v in values):
            raise ConfigError(f"give {self.scales.size(-1)} scales >= 0 (one per channel), got {list(values)}")
        states = [LINKED, NEW] if state is None else [_state(state)]
        for row in states:
            self.scales[(*index, row)] = torch.tensor([float(v) for v in values], dtype=self.scales.dtype)

    def direction_scales(self) -> dict[Direction, Tensor]:
        """Per direction whose scales are not all 1, the ``(2, extra_dim)`` scale of each appended dimension
        (row 0: the view of linked candidates, row 1: of new ones)."""
        sizes = torch.tensor(self.graph_channels.dims)
        return {
            (q, c): torch.repeat_interleave(self.scales[i, j].cpu(), sizes, dim=-1)
            for i, q in enumerate(self.node_types)
            for j, c in enumerate(self.node_types)
            if not bool((self.scales[i, j] == 1).all())
        }

    def forward(
        self,
        z: dict[NodeType, Tensor],
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        new_nodes: bool = False,
        select: Sequence[int] | None = None,
    ) -> dict[NodeType, Tensor]:
        channels = self.graph_channels
        if self.training:
            channels.observe(x_dict)
        only = list(select) if select is not None else None
        if self.training:
            only = [i for i in channels.in_loss if only is None or i in only]
        if only == []:
            return z
        if torch.is_grad_enabled() or any(v.dtype != torch.float32 for v in z.values()):
            values = channels(x_dict, edge_index_dict, only=only, new_nodes=new_nodes)
            return {t: F.normalize(torch.cat([v, values[t].to(v.dtype)], dim=-1), dim=-1) for t, v in z.items()}
        # without autograd: one buffer per type, the channels written into it and normalised in place
        # (the same values as above, without three temporaries of the full width)
        width = sum(channels.dims[i] for i in (only if only is not None else range(len(channels.dims))))
        out = {t: v.new_empty(v.size(0), v.size(1) + width) for t, v in z.items()}
        for t, v in z.items():
            out[t][:, : v.size(1)] = v
        channels(
            x_dict,
            edge_index_dict,
            only=only,
            new_nodes=new_nodes,
            out={t: o[:, z[t].size(1) :] for t, o in out.items()},
        )
        return {t: normalize_(o) for t, o in out.items()}

    def config(self) -> list[dict[str, Any]]:
        """The channel configurations, as dicts."""
        return [c.to_dict() for c in self.graph_channels.channels]


def _state(state: int) -> int:
    if state not in (LINKED, NEW):
        raise ConfigError(f"a candidate state is {LINKED} (linked) or {NEW} (new), got {state!r}")
    return state


def _scales_default(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
    """Weights saved before per-direction scales existed load with every scale 1; those saved with one
    view per direction load it for linked and new candidates alike."""
    key = prefix + "scales"
    if key not in state_dict:
        state_dict[key] = torch.ones_like(module.scales)
    elif state_dict[key].dim() == 3:
        state_dict[key] = state_dict[key].unsqueeze(2).repeat(1, 1, 2, 1)


@READOUTS.register("inherit")
class InheritReadout(Readout):
    """Moves nodes without evidence of their own towards their relatives' learned embeddings.

    Evaluation mode only (see :mod:`graphalign.nn.inherit`); the arguments are
    those of :class:`~graphalign.nn.inherit.InheritConfig`.

    Example:
        >>> InheritReadout({"concept": 4}, weight=0.5).config.weight
        0.5
    """

    def __init__(
        self,
        in_dims: Mapping[NodeType, int],
        node_type: NodeType = "concept",
        anchors: Sequence[str] = ("depicts",),
        relations: Sequence[str] = ("is_a", "part_of"),
        hops: int = 3,
        weight: float = 1.0,
        decay: float = 1.0,
    ) -> None:
        super().__init__()
        self.config = InheritConfig(node_type, list(anchors), list(relations), hops, weight, decay)

    def forward(
        self,
        z: dict[NodeType, Tensor],
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        new_nodes: bool = False,
    ) -> dict[NodeType, Tensor]:
        if self.training or new_nodes:  # new nodes have no relatives
            return z
        return inherit(z, edge_index_dict, self.config)


def build_readouts(specs: Sequence[Mapping[str, Any]], in_dims: Mapping[NodeType, int]) -> nn.ModuleDict:
    """The readouts of ``ModelConfig.readouts``, in order, keyed by name.

    Raises:
        ConfigError: On an unknown name, a spec without ``name``, or a name given twice.
    """
    modules: dict[str, Readout] = {}
    for spec in specs:
        kwargs = dict(spec)
        name = kwargs.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"a readout needs a 'name' (one of {', '.join(READOUTS.main_names())}), got {spec!r}")
        if name in modules:
            raise ConfigError(f"readout {name!r} is given twice; give one with all its settings")
        modules[name] = READOUTS.build(name, {"in_dims": in_dims, **kwargs})
    return nn.ModuleDict(modules)
