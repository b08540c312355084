"""Tiny heterogeneous graphs and a pure-PyTorch neighbour sampler for the nn tests."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch_geometric.typing
from torch_geometric.data import HeteroData
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler

IN_DIMS = {"concept": 12, "text": 10, "image": 20}
HIDDEN = 8


def make_tiny_graph(seed: int = 0) -> HeteroData:
    """6 concepts, 5 texts, 7 images; random features from ``seed``.

    - ``text`` receives no edge type (only ``text -> image`` edges, no reverse);
    - ``image`` 6 and ``concept`` 5 have no edge at all.
    """
    g = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["concept"].x = torch.randn(6, IN_DIMS["concept"], generator=g)
    data["text"].x = torch.randn(5, IN_DIMS["text"], generator=g)
    data["image"].x = torch.randn(7, IN_DIMS["image"], generator=g)
    depicts = torch.tensor([[0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 3, 3]])  # image -> concept
    data["image", "depicts", "concept"].edge_index = depicts
    data["concept", "rev_depicts", "image"].edge_index = depicts.flip(0)
    data["text", "describes", "image"].edge_index = torch.tensor([[0, 1, 2, 3, 4], [0, 1, 2, 2, 5]])
    is_a = torch.tensor([[0, 1, 4], [2, 2, 3]])  # concept -> concept
    data["concept", "is_a", "concept"].edge_index = is_a
    data["concept", "rev_is_a", "concept"].edge_index = is_a.flip(0)
    return data


@pytest.fixture
def tiny_graph() -> HeteroData:
    return make_tiny_graph()


class PurePythonNeighborSampler(NeighborSampler):
    """A :class:`NeighborSampler` whose sampling runs in plain Python/PyTorch.

    PyG's sampler needs ``pyg-lib`` or ``torch-sparse``, which graphalign does not
    require. This one takes the *first* ``k`` neighbours of each frontier node per
    edge type and hop (``-1``: all), which is enough to drive the real
    ``NeighborLoader`` / ``LinkNeighborLoader`` machinery on tiny graphs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "without pyg-lib is deprecated"
            super().__init__(*args, **kwargs)

    def _sample(self, seed: Any, seed_time: Any = None, **kwargs: Any) -> HeteroSamplerOutput:
        assert isinstance(seed, dict), "only heterogeneous sampling is implemented"
        num_neighbors = self.num_neighbors.get_mapped_values(self.edge_types)
        nodes: dict[str, list[int]] = {t: [] for t in self.node_types}
        local: dict[str, dict[int, int]] = {t: {} for t in self.node_types}

        def add(node_type: str, node: int) -> bool:
            if node in local[node_type]:
                return False
            local[node_type][node] = len(nodes[node_type])
            nodes[node_type].append(node)
            return True

        frontier: dict[str, list[int]] = {t: [] for t in self.node_types}
        for node_type, ids in seed.items():
            frontier[node_type] = [v for v in ids.tolist() if add(node_type, v)]
        rows: dict[tuple[str, str, str], list[int]] = {et: [] for et in self.edge_types}
        cols: dict[tuple[str, str, str], list[int]] = {et: [] for et in self.edge_types}
        edges: dict[tuple[str, str, str], list[int]] = {et: [] for et in self.edge_types}
        for hop in range(self.num_neighbors.num_hops):
            new_frontier: dict[str, list[int]] = {t: [] for t in self.node_types}
            for edge_type in self.edge_types:
                src, _, dst = edge_type
                rel = self.to_rel_type[edge_type]
                colptr, row = self.colptr_dict[rel], self.row_dict[rel]
                k = num_neighbors[rel][hop]
                for v in frontier[dst]:
                    start, end = int(colptr[v]), int(colptr[v + 1])
                    end = end if k < 0 else min(end, start + k)
                    for pos in range(start, end):
                        u = int(row[pos])
                        if add(src, u):
                            new_frontier[src].append(u)
                        rows[edge_type].append(local[src][u])
                        cols[edge_type].append(local[dst][v])
                        edges[edge_type].append(pos)
            frontier = new_frontier

        def as_tensor(values: list[int]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.long)

        return HeteroSamplerOutput(
            node={t: as_tensor(v) for t, v in nodes.items()},
            row={et: as_tensor(v) for et, v in rows.items()},
            col={et: as_tensor(v) for et, v in cols.items()},
            edge={et: as_tensor(v) for et, v in edges.items()},
            batch=None,
        )


HAS_SAMPLING_BACKEND = torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE


@pytest.fixture
def make_sampler() -> Callable[..., NeighborSampler | None]:
    """``make_sampler(data, num_neighbors)``: PyG's own sampler if a backend is
    installed (return ``None``, the loader builds it), else the pure-Python one."""

    def build(data: HeteroData, num_neighbors: list[int]) -> NeighborSampler | None:
        if HAS_SAMPLING_BACKEND:
            return None
        return PurePythonNeighborSampler(data, num_neighbors)

    return build
