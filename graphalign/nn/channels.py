"""Graph channels: parameter-free propagation of input features, appended to the embedding.

A *channel* is a feature space owned by some node types (its ``sources``, e.g.
images and their EfficientNet features). Every source node takes its own
centred, L2-normalised feature; every other node takes the mean of its
neighbours' channel vectors over the message-passing edges, filled hop by hop
(a node keeps the value of the first hop that reaches it) and damped by
``decay`` per hop; nodes that no hop reaches get zeros. The
:class:`~graphalign.nn.hetero_gnn.HeteroAligner` appends ``weight * channel``
to its learned embedding before the final L2 normalisation, so cosine
similarity becomes ``learned similarity + weight² * channel similarity`` (up
to normalisation).

What this adds is what a learned layer finds hard to keep: with an image
channel, a concept becomes the mean of its images (a prototype), so an image
scores high against the concept whose images it resembles; a concept without
images inherits the prototype of its ``is_a`` neighbours; with a text channel,
an image becomes the mean of its descriptions. Like label propagation (or the
"smooth" step of Correct & Smooth), it reads only the edges given to the
forward pass, so held-out edges cannot leak into it.

Centring: source features are centred by their mean before normalisation (raw
CNN features are all positive, so uncentred cosines of unrelated images are
high). The mean is a buffer, accumulated over training forward passes like
BatchNorm's running mean with ``momentum=None`` (:meth:`GraphChannels.observe`);
evaluation uses the buffer.

Training: channels have no parameters. By default (``in_loss=False``) a
channel is appended in evaluation mode only, so the learned part is trained as
without it and the channel is added on top, like a post-processing step;
validation (early stopping), test metrics and queries all see it. With
``in_loss=True`` it is also part of the embedding the loss sees, and the
learned part is trained to complement it.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphalign.errors import ConfigError, check_config_keys
from graphalign.nn.spread import relation_of, spread
from graphalign.typing import NODE_TYPES, EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = ["ChannelConfig", "GraphChannels", "absent_relations"]


@dataclass
class ChannelConfig:
    """One graph channel (see the module docstring).

    Example:
        >>> ChannelConfig.from_dict({"sources": ["image"], "weight": 1.0, "relations": ["depicts", "is_a"]}).hops
        3

    Args:
        sources: Node types that own the channel; they must share a feature size.
        weight: Factor on the channel before it is appended to the embedding.
        hops: How far the channel spreads from its sources.
        decay: Damping per hop (a node filled at hop ``k`` gets ``decay**k`` times
            its neighbours' mean).
        relations: Relations to propagate over, matching an edge type's relation
            with or without its ``rev_`` prefix (default: every edge type).
        feature_slice: ``[start, stop)`` of the source features to use (default:
            all); a negative ``start`` with ``stop`` 0 takes the last ``-start``
            features (e.g. ``[-384, 0]``: the ConSE text vector at the end of
            ``concat`` image features, and all of a 384-d text feature);
            ``"shared"``: the last ``n`` features of every source, ``n`` the
            smallest source feature size (the pretrained shared space that
            ``concat`` image features end with, whatever its size).
        center: Centre source features by their running mean (see the module
            docstring); off keeps the pretrained geometry as it is (e.g. a
            channel that carries a pretrained shared space with ``hops=0``).
        in_loss: Also append the channel in training mode, so the loss sees it
            (default: evaluation mode only; see the module docstring).
        codes: With ``codes > 0``, an *identity channel*: every source node
            carries a fixed pseudo-random unit code of this size instead of its
            features (the same for the same node row, run after run), and a
            reached node the normalised mean of its neighbours' codes (``decay``
            does not apply). Its cosine with a source is then high exactly for
            the sources it is linked to, e.g. images linked to concepts by
            :func:`~graphalign.features.wordnet_predictions.add_prediction_edges`.
            New nodes (:meth:`~graphalign.nn.hetero_gnn.HeteroAligner.encode_features`)
            have no identity and get zeros.
    """

    sources: list[NodeType]
    weight: float = 1.0
    hops: int = 3
    decay: float = 0.8
    relations: list[str] | None = None
    feature_slice: list[int] | str | None = None
    center: bool = True
    in_loss: bool = False
    codes: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            self.sources = [self.sources]
        if not self.sources:
            raise ConfigError("a graph channel needs at least one source node type")
        if self.weight < 0 or self.hops < 0 or not 0.0 < self.decay <= 1.0:
            raise ConfigError(
                f"channel weight and hops must be >= 0 and decay in (0, 1], "
                f"got {self.weight}, {self.hops}, {self.decay}"
            )
        if self.codes < 0 or (self.codes and (self.feature_slice is not None or self.in_loss)):
            raise ConfigError(
                f"codes must be >= 0, and an identity channel (codes > 0) reads no features (no feature_slice) "
                f"and is appended in evaluation only (no in_loss: mini-batch rows are not node identities), "
                f"got codes={self.codes}, feature_slice={self.feature_slice}, in_loss={self.in_loss}"
            )
        if self.feature_slice == "shared":
            return
        if isinstance(self.feature_slice, str):
            raise ConfigError(f"feature_slice must be [start, stop), [-n, 0] or 'shared', got {self.feature_slice!r}")
        if self.feature_slice is not None:
            self.feature_slice = list(self.feature_slice)
            valid = len(self.feature_slice) == 2 and (
                0 <= self.feature_slice[0] < self.feature_slice[1]
                or (self.feature_slice[0] < 0 and self.feature_slice[1] == 0)
            )
            if not valid:
                raise ConfigError(
                    f"feature_slice must be [start, stop) with 0 <= start < stop, or [-n, 0] for the last n "
                    f"features, got {self.feature_slice}"
                )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelConfig:
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on unknown keys."""
        check_config_keys(cls, data, "graph channel")
        return cls(**data)


def absent_relations(
    channels: Sequence[ChannelConfig | Mapping[str, Any]], edge_types: Collection[EdgeType]
) -> list[tuple[int, list[str], bool]]:
    """The relations each channel names that none of ``edge_types`` has (with or without ``rev_``).

    Returns:
        ``(channel index, absent relations, whether none of its relations is present)`` for each
        channel with an absent relation.
    """
    present = {relation_of(edge_type) for edge_type in edge_types}
    out = []
    for i, channel in enumerate(channels):
        named = channel.relations if isinstance(channel, ChannelConfig) else channel.get("relations")
        absent = sorted(set(named or []) - present)
        if absent:
            out.append((i, absent, len(absent) == len(set(named or []))))
    return out


def normalize_(x: Tensor) -> Tensor:
    """``F.normalize(x, dim=-1)`` in place, for tensors without autograd: the same bits, without a second
    tensor of ``x``'s size.

    Shapes:
        x: ``(num_rows, dim)``, normalised row by row.
    """
    return x.div_(torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min_(1e-12))


def _present_sources(i: int, channel: ChannelConfig, in_dims: Mapping[NodeType, int]) -> ChannelConfig | None:
    """``channel`` with only the source types the graph has; ``None`` (left out) when it has none of them.

    Raises:
        ConfigError: On a source that is not a node type of graphalign's schema.
    """
    unknown = [s for s in channel.sources if s not in NODE_TYPES and s not in in_dims]
    if unknown:
        raise ConfigError(f"graph channel {i}: unknown source node type {unknown[0]!r}; node types: {sorted(in_dims)}")
    sources = [s for s in channel.sources if s in in_dims]
    if not sources:
        logger.info("graph channel %d left out: the graph has no %s nodes", i, " or ".join(channel.sources))
        return None
    return channel if sources == channel.sources else dataclasses.replace(channel, sources=sources)


def _resolve_shared(i: int, channel: ChannelConfig, in_dims: Mapping[NodeType, int]) -> ChannelConfig:
    """``channel`` with ``feature_slice="shared"`` made concrete: the last ``n`` features, ``n`` the
    smallest feature size of its sources."""
    if channel.feature_slice != "shared":
        return channel
    unknown = [s for s in channel.sources if s not in in_dims]
    if unknown:
        raise ConfigError(f"graph channel {i}: unknown source node type {unknown[0]!r}; node types: {sorted(in_dims)}")
    return dataclasses.replace(channel, feature_slice=[-min(in_dims[s] for s in channel.sources), 0])


class GraphChannels(nn.Module):
    """All channels of a model: ``forward`` returns the concatenated, weighted channels per node type.

    A source type the graph lacks is dropped from a channel, and a channel with
    none of its sources in the graph is left out (a log line says so), so one
    model configuration fits graphs with and without, say, texts.

    Args:
        in_dims: Raw input feature size per node type.
        channels: The channel configurations.
    """

    def __init__(self, in_dims: Mapping[NodeType, int], channels: Sequence[ChannelConfig | Mapping[str, Any]]) -> None:
        super().__init__()
        configs = [c if isinstance(c, ChannelConfig) else ChannelConfig.from_dict(c) for c in channels]
        present = [_present_sources(i, c, in_dims) for i, c in enumerate(configs)]
        self.channels = [_resolve_shared(i, c, in_dims) for i, c in enumerate(present) if c is not None]
        self.configured = [i for i, c in enumerate(present) if c is not None]
        """The position of each channel in the configured list (channels of absent node types are left out)."""
        self.dims: list[int] = []
        for i, channel in enumerate(self.channels):
            sizes = set()
            for source in channel.sources:
                if source not in in_dims:
                    raise ConfigError(
                        f"graph channel {i}: unknown source node type {source!r}; node types: {sorted(in_dims)}"
                    )
                size = channel.codes or in_dims[source]
                if channel.feature_slice is not None:
                    start, stop = channel.feature_slice
                    if stop > size or -start > size:
                        raise ConfigError(
                            f"graph channel {i}: feature_slice {channel.feature_slice} "
                            f"exceeds {source!r} features ({size})"
                        )
                    size = stop - start if start >= 0 else -start
                sizes.add(size)
            if len(sizes) != 1:
                raise ConfigError(
                    f"graph channel {i}: sources {channel.sources} have different feature sizes {sorted(sizes)}"
                )
            dim = sizes.pop()
            self.dims.append(dim)
            self.register_buffer(f"center_{i}", torch.zeros(dim))
            self.register_buffer(f"seen_{i}", torch.zeros((), dtype=torch.long))

    @property
    def dim(self) -> int:
        """Total size of the appended channels."""
        return sum(self.dims)

    def _source_features(self, i: int, x: Tensor) -> Tensor:
        channel = self.channels[i]
        if channel.feature_slice is not None:
            start, stop = channel.feature_slice
            x = x[:, start:] if start < 0 else x[:, start:stop]
        return x.float()

    @torch.no_grad()
    def observe(self, x_dict: Mapping[NodeType, Tensor]) -> None:
        """Adds the source features of one training pass to the running centres."""
        for i, channel in enumerate(self.channels):
            rows = [self._source_features(i, x_dict[t]) for t in channel.sources if t in x_dict]
            rows = torch.cat(rows) if rows else None
            if not channel.center or channel.codes or rows is None or rows.size(0) == 0:
                continue
            center: Tensor = getattr(self, f"center_{i}")
            seen: Tensor = getattr(self, f"seen_{i}")
            n = int(seen)  # cumulative mean over training passes (BatchNorm's momentum=None)
            center.mul_(n / (n + rows.size(0))).add_(rows.sum(0) / (n + rows.size(0)))
            seen.add_(rows.size(0))

    @property
    def in_loss(self) -> list[int]:
        """Indices of the channels appended in training mode too."""
        return [i for i, c in enumerate(self.channels) if c.in_loss]

    def _codes(self, i: int, node_type: NodeType, num_nodes: int, device: torch.device) -> Tensor:
        """The fixed unit codes of the first ``num_nodes`` rows of a source type (seeded by channel and type)."""
        generator = torch.Generator().manual_seed(zlib.crc32(f"graphalign-channel-{i}:{node_type}".encode()))
        return F.normalize(torch.randn(num_nodes, self.dims[i], generator=generator), dim=-1).to(device)

    def _centered(self, i: int, x_dict: Mapping[NodeType, Tensor]) -> dict[NodeType, Tensor]:
        if self.channels[i].codes:
            return {
                t: self._codes(i, t, x_dict[t].size(0), x_dict[t].device)
                for t in self.channels[i].sources
                if t in x_dict
            }
        feats = {t: self._source_features(i, x_dict[t]) for t in self.channels[i].sources if t in x_dict}
        if not self.channels[i].center:
            return {t: F.normalize(x, dim=-1) for t, x in feats.items()}
        center: Tensor = getattr(self, f"center_{i}")
        return {t: normalize_(x - center) for t, x in feats.items()}

    def _propagate(
        self,
        i: int,
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        new_nodes: bool = False,
    ) -> dict[NodeType, Tensor]:
        channel = self.channels[i]
        dim = self.dims[i]
        values = {t: x.new_zeros(x.size(0), dim, dtype=torch.float32) for t, x in x_dict.items()}
        filled = {t: torch.zeros(x.size(0), dtype=torch.bool, device=x.device) for t, x in x_dict.items()}
        if new_nodes and channel.codes:
            return values  # new nodes have no identity
        for t, v in self._centered(i, x_dict).items():
            values[t] = v
            filled[t][:] = True
        edges = [
            (et, ei)
            for et, ei in edge_index_dict.items()
            if et[0] in values
            and et[2] in values
            and (channel.relations is None or relation_of(et) in channel.relations)
        ]
        values = spread(values, filled, edges, channel.hops, channel.decay)[0]
        return {t: F.normalize(v, dim=-1) for t, v in values.items()} if channel.codes else values

    def forward(
        self,
        x_dict: Mapping[NodeType, Tensor],
        edge_index_dict: Mapping[EdgeType, Tensor],
        only: Sequence[int] | None = None,
        new_nodes: bool = False,
        out: Mapping[NodeType, Tensor] | None = None,
    ) -> dict[NodeType, Tensor]:
        """The weighted channels of every node, concatenated.

        Args:
            x_dict: Raw input features per node type.
            edge_index_dict: The message-passing edges.
            only: Indices of the channels to compute (default: all).
            new_nodes: ``x_dict`` holds nodes that are not in the graph (rows are no
                node identities): identity channels give them zeros.
            out: Tensors to write the result into (e.g. column slices of a larger buffer), for
                some of ``x_dict``'s types (``None``: new ones for all); the result has the types
                of ``out``.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, in_dims[t])``
            - edge_index_dict[(s, r, t)]: ``(2, num_edges)``
            - output[t], out[t]: ``(num_nodes_t, dim)`` (``dim`` over the channels of ``only``)
        """
        chosen = [i for i in range(len(self.channels)) if only is None or i in only]
        if out is None:
            width = sum(self.dims[i] for i in chosen)
            out = {t: x.new_empty(x.size(0), width, dtype=torch.float32) for t, x in x_dict.items()}
        start = 0
        with torch.no_grad():  # the channels carry no gradient
            for i in chosen:
                values = self._propagate(i, x_dict, edge_index_dict, new_nodes)
                for t, o in out.items():
                    torch.mul(values[t], self.channels[i].weight, out=o[:, start : start + self.dims[i]])
                start += self.dims[i]
        return dict(out)
