r"""Input features propagated over the graph without parameters, once (SIGN-style inputs).

Message passing learns from what a node's neighbours carry. The part of that
which needs no parameters can be computed once for the whole graph, so that
training then reads one row per node instead of a sampled neighbourhood (SIGN,
Frasca et al. 2020; SeHGNN, Yang et al. 2023 for heterogeneous graphs). Each
input group's features (one encoder's space, e.g. MiniLM for concepts and
texts) are centred and projected to ``dim`` dimensions by their principal
components (fitted once on the training graph's features); every node gets
its own projection in its group's slot and zeros in the others:

.. math::
    \mathbf{p}^{(0)}_i = [\,0, \dots, \mathbf{U}_{g(i)}^\top(\mathbf{x}_i - \boldsymbol{\mu}_{g(i)}), \dots, 0\,],
    \qquad
    \mathbf{p}^{(k)}_i = \frac{1}{|\mathcal{N}(i)|} \sum_{j \in \mathcal{N}(i)} \mathbf{p}^{(k-1)}_j

over the incoming edges of every edge type. The model reads
:math:`[\mathbf{p}^{(1)}_i, \dots, \mathbf{p}^{(K)}_i]` beside the node's own
features (:class:`~graphalign.nn.hetero_gnn.HeteroAligner` with
``ModelConfig.propagate``). A hop is one sparse product per edge type:
time and memory linear in nodes + edges, whatever the size of a node's
neighbourhood. A node without edges gets zeros, as a brand-new node does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from graphalign.checks import check_int, plain_numbers
from graphalign.errors import ConfigError, check_config_keys
from graphalign.typing import EdgeType, NodeType

__all__ = ["PropagationConfig", "FeaturePropagation"]

_FIT_ROWS = 50_000
"""Most rows per input group that the principal components are fitted on (a seeded sample)."""


@dataclass(frozen=True)
class PropagationConfig:
    """How input features are propagated (:class:`FeaturePropagation`).

    Args:
        hops: Number of hops ``K``.
        dim: Dimensions kept per input group (principal components); ``0``
            keeps each group's features whole (no projection).
    """

    hops: int = 2
    dim: int = 128

    def __post_init__(self) -> None:
        plain_numbers(self)  # NumPy scalars as Python numbers (JSON, and the checks below)
        check_int("PropagationConfig", "hops", self.hops, low=1, high=8)
        check_int("PropagationConfig", "dim", self.dim, low=0, high=1 << 14)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropagationConfig:
        check_config_keys(cls, data, "ModelConfig.propagate")
        return cls(**data)


class FeaturePropagation(nn.Module):
    """Projects each input group's features and propagates them ``hops`` times (see the module docstring).

    The projections are buffers (saved with the model's weights): :meth:`fit`
    sets them from a graph's features before training.

    Example:
        >>> prop = FeaturePropagation({"a": 4, "b": 6}, {"a": "a", "b": "b"}, PropagationConfig(hops=2, dim=2))
        >>> x = {"a": torch.randn(3, 4), "b": torch.randn(5, 6)}
        >>> prop.fit(x)
        >>> edges = {("a", "to", "b"): torch.tensor([[0, 1], [0, 0]])}
        >>> prop(x, edges)["b"].shape, prop.out_dim
        (torch.Size([5, 8]), 8)

    Args:
        in_dims: Feature size per node type.
        input_groups: Input group per node type (types of one group share a space).
        config: Hops and kept dimensions.

    Shapes:
        - output[t]: ``(num_nodes_t, hops * block_dim)``, ``block_dim`` the sum of the groups' kept dimensions
    """

    def __init__(
        self, in_dims: Mapping[NodeType, int], input_groups: Mapping[NodeType, str], config: PropagationConfig
    ) -> None:
        super().__init__()
        self.config = config
        self.input_groups = {t: input_groups.get(t, t) for t in in_dims}
        group_dims: dict[str, int] = {}
        for t, group in self.input_groups.items():
            if group_dims.setdefault(group, in_dims[t]) != in_dims[t]:
                raise ConfigError(f"input group {group!r} mixes feature sizes {group_dims[group]} and {in_dims[t]}")
        self.groups = sorted(group_dims)
        self.kept = {g: min(config.dim, d) if config.dim else d for g, d in group_dims.items()}
        self.offsets: dict[str, int] = {}
        offset = 0
        for group in self.groups:
            self.offsets[group] = offset
            offset += self.kept[group]
        self.block_dim = offset
        for index, group in enumerate(self.groups):
            self.register_buffer(f"mean{index}", torch.zeros(group_dims[group]))
            self.register_buffer(f"basis{index}", torch.eye(group_dims[group])[:, : self.kept[group]].contiguous())

    @property
    def out_dim(self) -> int:
        """Size of a node's propagated features: ``hops`` blocks of ``block_dim``."""
        return self.config.hops * self.block_dim

    def _basis(self, group: str) -> tuple[Tensor, Tensor]:
        index = self.groups.index(group)
        return getattr(self, f"mean{index}"), getattr(self, f"basis{index}")

    @torch.no_grad()
    def fit(self, x_dict: Mapping[NodeType, Tensor], seed: int = 0) -> None:
        """Centres and principal components of each group, from (a seeded sample of) its rows.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, in_dims[t])``
        """
        generator = torch.Generator().manual_seed(seed)
        for group in self.groups:
            rows = [x for t, x in x_dict.items() if self.input_groups.get(t) == group and x.size(0)]
            if not rows:
                continue
            sample = torch.cat([_sample(x, _FIT_ROWS, generator) for x in rows]).float().cpu()
            sample = _sample(sample, _FIT_ROWS, generator)
            mean, basis = self._basis(group)
            mean.copy_(sample.mean(0))
            if self.config.dim and self.kept[group] < sample.size(1):
                # principal directions (randomised SVD, seeded; the global random stream is left as it was)
                kept = self.kept[group]
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    _, _, v = torch.svd_lowrank(sample - mean, q=min(kept + 16, *sample.shape), niter=4)
                components = v[:, :kept]  # (d, <= kept): fewer when the group has fewer rows
                basis.zero_()
                basis[:, : components.size(1)] = components

    def project(self, node_type: NodeType, x: Tensor) -> Tensor:
        """A node's own block (hop 0): its projected features in its group's slot, zeros elsewhere.

        Shapes:
            - x: ``(num_nodes, in_dims[node_type])``; output: ``(num_nodes, block_dim)``
        """
        group = self.input_groups[node_type]
        mean, basis = self._basis(group)
        out = x.new_zeros(x.size(0), self.block_dim, dtype=torch.float32)
        start = self.offsets[group]
        out[:, start : start + self.kept[group]] = _centred_product(x, mean, basis)
        return out

    @torch.no_grad()
    def forward(
        self, x_dict: Mapping[NodeType, Tensor], edge_index_dict: Mapping[EdgeType, Tensor]
    ) -> dict[NodeType, Tensor]:
        """The ``hops`` propagated blocks of every node of ``x_dict``, over ``edge_index_dict``.

        Shapes:
            - x_dict[t]: ``(num_nodes_t, in_dims[t])``; edge_index_dict[(s, r, t)]: ``(2, E)``
            - output[t]: ``(num_nodes_t, out_dim)``
        """
        sizes = {t: x.size(0) for t, x in x_dict.items()}
        adjacency = _mean_adjacency(edge_index_dict, sizes)
        width = self.block_dim
        out = {t: x.new_zeros(x.size(0), self.out_dim, dtype=torch.float32) for t, x in x_dict.items()}
        # Columns propagate independently: one group's slot at a time, in chunks, so that
        # only a few columns of each hop are alive beside the output.
        for group in self.groups:
            mean, basis = self._basis(group)
            for first in range(0, self.kept[group], _COLUMNS):
                columns = slice(first, min(first + _COLUMNS, self.kept[group]))
                part = basis[:, columns]
                block = {  # hop 0, (N_t, c)
                    t: _centred_product(x, mean, part) for t, x in x_dict.items() if self.input_groups[t] == group
                }
                for hop in range(self.config.hops):
                    nxt: dict[NodeType, Tensor] = {}
                    for (src, dst), matrix in adjacency.items():
                        if src in block:
                            product = torch.sparse.mm(matrix.to(block[src].device), block[src])  # (N_dst, c)
                            nxt[dst] = product if dst not in nxt else nxt[dst].add_(product)
                    block = nxt
                    start = hop * width + self.offsets[group]
                    for t, values in block.items():
                        out[t][:, start + columns.start : start + columns.stop] = values
        return out


_COLUMNS = 64
"""Columns of one group's slot propagated at once by :meth:`FeaturePropagation.forward`."""
_ROWS = 1 << 16
"""Rows of features read at once by :func:`_centred_product` (no float32 copy of a half-precision matrix)."""


def _centred_product(x: Tensor, mean: Tensor, matrix: Tensor) -> Tensor:
    """``(x - mean) @ matrix`` in float32, ``_ROWS`` rows at a time, without a centred copy of ``x``.

    Shapes:
        - x: ``(N, d)``; mean: ``(d,)``; matrix: ``(d, c)``; output: ``(N, c)``
    """
    out = torch.empty(x.size(0), matrix.size(1), device=x.device)
    shift = mean @ matrix  # (c,)
    for first in range(0, x.size(0), _ROWS):
        rows = slice(first, first + _ROWS)
        torch.sub(x[rows].float() @ matrix, shift, out=out[rows])
    return out


def _sample(x: Tensor, count: int, generator: torch.Generator) -> Tensor:
    if x.size(0) <= count:
        return x
    return x[torch.randperm(x.size(0), generator=generator)[:count]]


def _mean_adjacency(
    edge_index_dict: Mapping[EdgeType, Tensor], sizes: Mapping[NodeType, int]
) -> dict[tuple[NodeType, NodeType], Tensor]:
    """Per (source type, target type), the sparse ``(N_dst, N_src)`` matrix of the mean over
    each target's incoming edges of every edge type (rows of a node without edges are empty)."""
    degree = {t: torch.zeros(n) for t, n in sizes.items()}
    kept = {}
    for (src, _, dst), edge_index in edge_index_dict.items():
        if src in sizes and dst in sizes and edge_index.numel():
            edge_index = edge_index.cpu()
            kept.setdefault((src, dst), []).append(edge_index)
            degree[dst] += torch.bincount(edge_index[1], minlength=sizes[dst]).float()
    out = {}
    for (src, dst), parts in kept.items():
        edge_index = torch.cat(parts, dim=1)
        values = 1.0 / degree[dst][edge_index[1]]
        matrix = torch.sparse_coo_tensor(
            edge_index.flip(0), values, (sizes[dst], sizes[src]), check_invariants=True
        )  # checked once here: indices in range
        out[(src, dst)] = matrix.coalesce()
    return out
