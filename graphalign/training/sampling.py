"""Vectorised neighbour sampling in plain PyTorch.

PyG's :class:`~torch_geometric.sampler.NeighborSampler` delegates the actual
sampling to ``pyg-lib`` or ``torch-sparse``; graphalign requires neither.
:class:`TorchNeighborSampler` keeps everything the base class builds (the CSC
structures ``colptr``/``row`` per edge type and the edge permutation ``perm``)
and replaces only ``_sample`` with a fully vectorised PyTorch implementation,
so it drops into :class:`~torch_geometric.loader.NeighborLoader` and
:class:`~torch_geometric.loader.LinkNeighborLoader` through their
``neighbor_sampler=`` argument. :func:`make_neighbor_sampler` picks PyG's own
sampler when a backend is installed and this one otherwise.

How a hop is sampled (per edge type, for all frontier nodes at once):

* ``k == -1`` or ``degree <= k``: every neighbour is taken;
* ``k < degree <= 4k``: each candidate gets a distinct random key (a random
  permutation), one ``argsort`` of ``segment * n + key`` groups candidates by
  frontier node in random order, and the first ``k`` of each group are kept;
* ``degree > 4k`` (hubs): ``k`` positions are drawn uniformly, duplicates inside
  a node are found by sorting and redrawn until none is left (only nodes that
  had a duplicate are re-checked). Work and memory stay ``O(k)`` per node
  whatever the hub's degree.

Both branches give a uniformly random ``k``-subset (the redraw process is
invariant under relabelling the neighbours). Sampling a hop costs
``O(m log m)`` with ``m <= 4 * (number of sampled edges)``; de-duplicating its
new nodes sorts them together with the nodes sampled so far.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
import torch_geometric.typing
from torch import Tensor
from torch.utils.data import get_worker_info
from torch_geometric.data import Data, HeteroData
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler, SamplerOutput
from torch_geometric.sampler.base import SubgraphType
from torch_geometric.sampler.neighbor_sampler import NumNeighborsType

from graphalign.rng import randint_below
from graphalign.typing import EdgeType, NodeType

logger = logging.getLogger(__name__)

__all__ = ["TorchNeighborSampler", "make_neighbor_sampler", "has_sampling_backend", "sample_hops"]

_SORT_RATIO = 4
"""Nodes with ``k < degree <= _SORT_RATIO * k`` are subsampled by sorting random
keys over all their neighbours; larger degrees use draw-and-redraw."""

_HOMO_NODE: NodeType = "__node__"
_HOMO_EDGE: EdgeType = (_HOMO_NODE, "__to__", _HOMO_NODE)


def has_sampling_backend() -> bool:
    """Whether PyG can sample natively (``pyg-lib`` or ``torch-sparse`` installed).

    Example:
        >>> isinstance(has_sampling_backend(), bool)
        True
    """
    return bool(torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE)


# Vectorised building blocks ##################################################


def _segment_arange(counts: Tensor) -> tuple[Tensor, Tensor]:
    """Segment id and rank inside the segment for ``counts[i]`` slots per segment.

    ``counts = [2, 0, 3]`` gives ``seg = [0, 0, 2, 2, 2]``, ``rank = [0, 1, 0, 1, 2]``.
    """
    counts = counts.to(torch.long)
    seg = torch.repeat_interleave(torch.arange(counts.numel()), counts)  # (total,)
    offset = torch.cumsum(counts, 0) - counts  # (segments,) exclusive prefix sum
    rank = torch.arange(seg.numel()) - offset[seg]  # (total,)
    return seg, rank


def _choose_by_sorting(deg: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``k`` distinct offsets in ``[0, deg[i])`` per node, node after node.

    Every candidate of every node gets a distinct random key; sorting
    ``segment * total + key`` shuffles each node's candidates in place (segments
    keep their slots), so the first ``k`` slots of each segment are a uniform
    ``k``-subset.
    """
    cseg, crank = _segment_arange(deg)  # (total,) each
    total = crank.numel()
    key = cseg * total + torch.randperm(total, generator=generator)
    order = torch.argsort(key)
    return crank[order][crank < k]  # (num_nodes * k,)


def _choose_by_rejection(deg: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``k`` distinct offsets in ``[0, deg[i])`` per node for ``deg >> k``.

    Draws ``k`` offsets per node with replacement, then repeatedly redraws the
    duplicated ones (found by sorting ``node * max_degree + offset``). Only nodes
    that just had a redraw are checked again.
    """
    num = deg.numel()
    seg = torch.arange(num).repeat_interleave(k)  # (num * k,)
    high = deg[seg]
    picks = randint_below(high, generator)
    stride = int(deg.max()) + 1
    slots = torch.arange(num * k)
    while slots.numel() > 0:
        key = seg[slots] * stride + picks[slots]
        sorted_key, order = torch.sort(key)
        duplicate = sorted_key[1:] == sorted_key[:-1]
        redo = slots[order[1:][duplicate]]
        if redo.numel() == 0:
            break
        picks[redo] = randint_below(high[redo], generator)
        nodes = torch.unique(seg[redo])
        slots = (nodes.view(-1, 1) * k + torch.arange(k)).view(-1)
    return picks


def _choose_without_replacement(deg: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``k`` distinct uniform offsets in ``[0, deg[i])`` per node (all ``deg > k``)."""
    out = torch.empty(deg.numel(), k, dtype=torch.long)
    dense = deg <= _SORT_RATIO * k
    if bool(dense.any()):
        out[dense] = _choose_by_sorting(deg[dense], k, generator).view(-1, k)
    if not bool(dense.all()):
        out[~dense] = _choose_by_rejection(deg[~dense], k, generator).view(-1, k)
    return out.view(-1)


def _sample_positions(
    start: Tensor, deg: Tensor, k: int, replace: bool, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Sample neighbour positions for frontier nodes whose neighbours sit at
    ``start[i] : start[i] + deg[i]`` of a CSC ``row`` array.

    Returns:
        ``(seg, pos)``: for every sampled edge, the index of its frontier node
        (non-decreasing) and its position in the CSC arrays.
    """
    if k < 0:
        count = deg
    elif replace:
        count = torch.where(deg > 0, k, 0)
    else:
        count = deg.clamp(max=k)
    seg, rank = _segment_arange(count)
    if k < 0:
        pick = rank
    elif replace:
        pick = randint_below(deg[seg], generator)
    else:
        pick = rank
        big = deg > k
        if bool(big.any()):
            pick = rank.clone()
            pick[big[seg]] = _choose_without_replacement(deg[big], k, generator)
    return seg, start[seg] + pick


def _register_nodes(known: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
    """Local indices of ``candidates`` given the already sampled ``known`` nodes.

    A node already in ``known`` keeps its first position; unseen nodes are
    appended once each, in order of first appearance in ``candidates``.

    Returns:
        ``(local, new_nodes)``: the local index of every candidate, and the
        global ids of the newly appended nodes.
    """
    if candidates.numel() == 0:
        return candidates.new_empty(0), candidates.new_empty(0)
    num_known = known.numel()
    values = torch.cat([known, candidates])
    uniq, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((uniq.numel(),), values.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(values.numel()), reduce="amin")
    is_new = first >= num_known
    new_first = first[is_new]  # (num_new,) in ``uniq`` order
    order = torch.argsort(new_first)  # discovery order
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    local_of_uniq = first  # known nodes: position of first occurrence = local id
    local_of_uniq[is_new] = num_known + rank
    return local_of_uniq[inverse[num_known:]], values[new_first[order]]


def _unique_in_order(seed: Tensor) -> Tensor:
    """Positions of the first occurrence of each distinct value, in order."""
    uniq, inverse = torch.unique(seed, return_inverse=True)
    if uniq.numel() == seed.numel():
        return torch.arange(seed.numel())
    first = torch.full((uniq.numel(),), seed.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(seed.numel()), reduce="amin")
    return torch.sort(first).values


def sample_hops(
    seed: dict[NodeType, Tensor],
    node_types: list[NodeType],
    edge_types: list[EdgeType],
    csc: dict[EdgeType, tuple[Tensor, Tensor]],
    num_neighbors: dict[EdgeType, list[int]],
    replace: bool = False,
    generator: torch.Generator | None = None,
) -> HeteroSamplerOutput:
    """Multi-hop directional neighbour sampling on CSC adjacency, vectorised.

    In hop ``h`` every node discovered in hop ``h - 1`` (the seeds for
    ``h = 0``) samples up to ``num_neighbors[edge_type][h]`` incoming edges of
    every edge type that ends at its type. Seeds come first in their given
    order (kept verbatim, so ``node[:len(seed)] == seed``); every other node
    appears once per type, in discovery order.

    Example:
        >>> colptr, row = torch.tensor([0, 2, 3, 3]), torch.tensor([1, 2, 0])
        >>> et = ("a", "to", "a")
        >>> out = sample_hops({"a": torch.tensor([0])}, ["a"], [et], {et: (colptr, row)}, {et: [-1]})
        >>> out.node["a"].tolist(), out.edge[et].tolist()
        ([0, 1, 2], [0, 1])

    Args:
        seed: Seed node ids per node type.
        node_types: All node types.
        edge_types: All edge types ``(src, rel, dst)``.
        csc: ``(colptr, row)`` per edge type: the sources of edges into ``dst``
            node ``v`` are ``row[colptr[v]:colptr[v + 1]]``.
        num_neighbors: Fan-out per edge type and hop (``-1``: all neighbours).
        replace: Sample with replacement.
        generator: Source of randomness.

    Returns:
        The sampled subgraph; ``edge`` holds positions in the CSC ``row`` arrays,
        ``num_sampled_nodes``/``num_sampled_edges`` the counts per hop.
    """
    generator = generator if generator is not None else torch.Generator()
    num_hops = max((len(v) for v in num_neighbors.values()), default=0)
    hops = _Hops(seed, node_types, edge_types)
    for hop in range(num_hops):
        sources = hops.sample_edges({et: num_neighbors[et][hop] for et in edge_types}, csc, replace, generator)
        hops.add_sources(sources)
    return hops.output()


class _Hops:
    """What :func:`sample_hops` has sampled so far: nodes per type (seeds first), the
    frontier of the last hop, and the sampled edges per edge type and hop."""

    def __init__(self, seed: dict[NodeType, Tensor], node_types: list[NodeType], edge_types: list[EdgeType]) -> None:
        self.node_types, self.edge_types = node_types, edge_types
        self.empty = empty = torch.empty(0, dtype=torch.long)
        self.nodes: dict[NodeType, Tensor] = {t: empty for t in node_types}
        # (global ids, local ids) of the nodes that sample in the next hop
        self.frontier: dict[NodeType, tuple[Tensor, Tensor]] = {t: (empty, empty) for t in node_types}
        self.num_sampled_nodes: dict[NodeType, list[int]] = {t: [0] for t in node_types}
        for node_type, ids in seed.items():
            ids = ids.to(torch.long).view(-1)
            self.nodes[node_type] = ids
            first = _unique_in_order(ids)
            self.frontier[node_type] = (ids[first], first)
            self.num_sampled_nodes[node_type] = [ids.numel()]
        self.rows: dict[EdgeType, list[Tensor]] = {et: [] for et in edge_types}
        self.cols: dict[EdgeType, list[Tensor]] = {et: [] for et in edge_types}
        self.edges: dict[EdgeType, list[Tensor]] = {et: [] for et in edge_types}
        self.num_sampled_edges: dict[EdgeType, list[int]] = {et: [] for et in edge_types}

    def sample_edges(
        self,
        fan_out: dict[EdgeType, int],
        csc: dict[EdgeType, tuple[Tensor, Tensor]],
        replace: bool,
        generator: torch.Generator,
    ) -> dict[NodeType, list[tuple[EdgeType, Tensor]]]:
        """Samples up to ``fan_out[edge_type]`` edges into every frontier node, per edge type.

        Returns:
            The global ids of the sampled edges' sources, per source node type and edge type.
        """
        sources: dict[NodeType, list[tuple[EdgeType, Tensor]]] = {t: [] for t in self.node_types}
        for edge_type in self.edge_types:
            src, _, dst = edge_type
            colptr, row = csc[edge_type]
            frontier_global, frontier_local = self.frontier[dst]
            k = fan_out[edge_type]
            if frontier_global.numel() == 0 or k == 0:
                self.num_sampled_edges[edge_type].append(0)
                continue
            start = colptr[frontier_global].to(torch.long)
            deg = colptr[frontier_global + 1].to(torch.long) - start
            seg, pos = _sample_positions(start, deg, k, replace, generator)
            self.cols[edge_type].append(frontier_local[seg])
            self.edges[edge_type].append(pos)
            self.num_sampled_edges[edge_type].append(pos.numel())
            sources[src].append((edge_type, row[pos].to(torch.long)))
        return sources

    def add_sources(self, sources: dict[NodeType, list[tuple[EdgeType, Tensor]]]) -> None:
        """De-duplicates the sources per node type; the new ones form the next frontier."""
        for node_type in self.node_types:
            found = sources[node_type]
            candidates = torch.cat([ids for _, ids in found]) if found else self.empty
            local, new_nodes = _register_nodes(self.nodes[node_type], candidates)
            for (edge_type, _), part in zip(found, torch.split(local, [ids.numel() for _, ids in found])):
                self.rows[edge_type].append(part)
            num_known = self.nodes[node_type].numel()
            self.nodes[node_type] = torch.cat([self.nodes[node_type], new_nodes])
            self.frontier[node_type] = (new_nodes, torch.arange(num_known, num_known + new_nodes.numel()))
            self.num_sampled_nodes[node_type].append(new_nodes.numel())

    def _join(self, parts: list[Tensor]) -> Tensor:
        return torch.cat(parts) if parts else self.empty

    def output(self) -> HeteroSamplerOutput:
        return HeteroSamplerOutput(
            node=self.nodes,
            row={et: self._join(self.rows[et]) for et in self.edge_types},
            col={et: self._join(self.cols[et]) for et in self.edge_types},
            edge={et: self._join(self.edges[et]) for et in self.edge_types},
            batch=None,
            num_sampled_nodes=self.num_sampled_nodes,
            num_sampled_edges=self.num_sampled_edges,
        )


# The sampler #################################################################


class TorchNeighborSampler(NeighborSampler):
    r"""A :class:`~torch_geometric.sampler.NeighborSampler` that samples with
    vectorised PyTorch ops instead of ``pyg-lib``/``torch-sparse``.

    Uniform sampling of up to ``k`` neighbours per frontier node, edge type and
    hop, without replacement (``replace=True``: with replacement; ``k = -1``:
    all neighbours). Seeds come first in their given order; every other node
    appears once per node type, in discovery order; edges are grouped by hop,
    and ``num_sampled_nodes``/``num_sampled_edges`` are filled, so
    ``trim_to_layer`` works. ``edge`` holds positions in the CSC arrays, which
    the loaders map to original edge ids through :attr:`edge_permutation`
    (``e_id = perm[edge]``), exactly as for PyG's own samplers. Homogeneous
    :class:`~torch_geometric.data.Data` is supported too.

    Randomness comes from a private :class:`torch.Generator` seeded with
    ``seed``: the same seed gives the same batches (with ``seed=None`` it is
    seeded from OS entropy). With ``num_workers > 0`` every worker process would
    otherwise inherit the *same* generator state and draw identical streams, so
    on its first batch in a worker the generator is re-seeded from
    ``(seed, worker id)`` (``seed=None``: from the worker's own torch seed).
    Non-persistent workers restart from that state every epoch; pass
    ``persistent_workers=True`` to get fresh draws each epoch. Negative edges of
    :class:`~torch_geometric.loader.LinkNeighborLoader` are drawn by PyG from
    the global torch RNG, not from this generator.

    Not supported (:class:`NotImplementedError`): temporal or weighted
    sampling, ``disjoint=True``, ``subgraph_type="induced"`` and
    ``sample_direction="backward"``.

    Example:
        >>> from torch_geometric.data import HeteroData
        >>> from torch_geometric.loader import NeighborLoader
        >>> data = HeteroData()
        >>> data["image"].x = torch.randn(4, 3)
        >>> data["concept"].x = torch.randn(2, 3)
        >>> ei = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
        >>> data["image", "depicts", "concept"].edge_index = ei
        >>> data["concept", "rev_depicts", "image"].edge_index = ei.flip(0)
        >>> sampler = TorchNeighborSampler(data, [1, 1], seed=0)
        >>> loader = NeighborLoader(data, [1, 1], input_nodes="concept", batch_size=2,
        ...                         neighbor_sampler=sampler)
        >>> batch = next(iter(loader))
        >>> batch["concept"].n_id.tolist()
        [0, 1]
        >>> batch["image", "depicts", "concept"].edge_index.size(1)
        2

    Args:
        data: The graph (:class:`~torch_geometric.data.HeteroData` or
            :class:`~torch_geometric.data.Data`).
        num_neighbors: Fan-out per hop (a list), or per edge type (a dict).
        seed: Seed of the sampler's random generator.
        **kwargs: Passed on to :class:`~torch_geometric.sampler.NeighborSampler`
            (``replace``, ``subgraph_type``, ``is_sorted``, ``share_memory``).
    """

    def __init__(
        self,
        data: Data | HeteroData,
        num_neighbors: NumNeighborsType,
        *,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        unsupported = {
            "time_attr": kwargs.get("time_attr") is not None,
            "weight_attr": kwargs.get("weight_attr") is not None,
            "disjoint": bool(kwargs.get("disjoint", False)),
            "sample_direction": kwargs.get("sample_direction", "forward") != "forward",
        }
        for name, is_set in unsupported.items():
            if is_set:
                raise NotImplementedError(f"{type(self).__name__} does not support {name}={kwargs[name]!r}")
        with warnings.catch_warnings():
            # The base class warns that sampling "without a 'pyg-lib' installation is deprecated".
            warnings.filterwarnings("ignore", message=".*without a 'pyg-lib' installation", category=UserWarning)
            super().__init__(data, num_neighbors, **kwargs)
        if self.subgraph_type == SubgraphType.induced:
            raise NotImplementedError(f"{type(self).__name__} does not support subgraph_type='induced'")
        self.seed = seed
        self._generator = torch.Generator()
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(seed)
        self._generator_worker: int | None = None

    @property
    def generator(self) -> torch.Generator:
        """The private random generator (its state is what a checkpoint must save)."""
        return self._generator

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_neighbors={self.num_neighbors.values}, "
            f"replace={self.replace}, seed={self.seed})"
        )

    def _sync_worker_generator(self) -> None:
        """Give each data-loader worker process its own random stream."""
        info = get_worker_info()
        worker = None if info is None else info.id
        if info is None or worker == self._generator_worker:
            return
        self._generator_worker = worker
        if self.seed is None:
            worker_seed = info.seed
        else:
            import numpy as np

            worker_seed = int(np.random.SeedSequence(self.seed, spawn_key=(worker,)).generate_state(1, np.uint64)[0])
        self._generator.manual_seed(worker_seed)

    def _sample(
        self,
        seed: Tensor | dict[NodeType, Tensor],
        seed_time: Tensor | dict[NodeType, Tensor] | None = None,
        **kwargs: Any,
    ) -> SamplerOutput | HeteroSamplerOutput:
        """Sample the multi-hop neighbourhood of ``seed`` (see the class docstring)."""
        if seed_time is not None:
            raise NotImplementedError(f"{type(self).__name__} does not support temporal sampling")
        self._sync_worker_generator()
        if isinstance(seed, dict):
            num_neighbors = self.num_neighbors.get_mapped_values(self.edge_types)
            return sample_hops(
                seed,
                list(self.node_types),
                list(self.edge_types),
                {
                    et: (self.colptr_dict[self.to_rel_type[et]], self.row_dict[self.to_rel_type[et]])
                    for et in self.edge_types
                },
                {et: list(num_neighbors[self.to_rel_type[et]]) for et in self.edge_types},
                replace=self.replace,
                generator=self._generator,
            )
        out = sample_hops(
            {_HOMO_NODE: seed},
            [_HOMO_NODE],
            [_HOMO_EDGE],
            {_HOMO_EDGE: (self.colptr, self.row)},
            {_HOMO_EDGE: list(self.num_neighbors.get_mapped_values())},
            replace=self.replace,
            generator=self._generator,
        )
        return SamplerOutput(
            node=out.node[_HOMO_NODE],
            row=out.row[_HOMO_EDGE],
            col=out.col[_HOMO_EDGE],
            edge=out.edge[_HOMO_EDGE],
            batch=None,
            num_sampled_nodes=out.num_sampled_nodes[_HOMO_NODE],
            num_sampled_edges=out.num_sampled_edges[_HOMO_EDGE],
        )


def make_neighbor_sampler(
    data: Data | HeteroData,
    num_neighbors: NumNeighborsType,
    seed: int | None = None,
    **kwargs: Any,
) -> NeighborSampler:
    """PyG's :class:`~torch_geometric.sampler.NeighborSampler` when ``pyg-lib``
    or ``torch-sparse`` is installed, else a :class:`TorchNeighborSampler`.

    PyG's native samplers draw from torch's global RNG, so with a backend
    ``seed`` cannot be honoured per sampler (a warning is logged; seed torch
    globally instead).

    Example:
        >>> from torch_geometric.data import Data
        >>> data = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
        >>> sampler = make_neighbor_sampler(data, [2], seed=0)
        >>> isinstance(sampler, NeighborSampler)
        True

    Args:
        data: The graph.
        num_neighbors: Fan-out per hop, or per edge type.
        seed: Seed of the :class:`TorchNeighborSampler`'s generator.
        **kwargs: Passed on to the sampler's constructor.

    Returns:
        A sampler for ``NeighborLoader(..., neighbor_sampler=...)`` and
        ``LinkNeighborLoader(..., neighbor_sampler=...)``.
    """
    if has_sampling_backend():
        if seed is not None:
            logger.warning("seed=%s is ignored by PyG's native NeighborSampler; use torch.manual_seed", seed)
        return NeighborSampler(data, num_neighbors, **kwargs)
    return TorchNeighborSampler(data, num_neighbors, seed=seed, **kwargs)
