"""Tiny heterogeneous graphs and a pure-PyTorch neighbour sampler for the nn tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.sampler import NeighborSampler

from graphalign.training.sampling import make_neighbor_sampler

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


@pytest.fixture
def make_sampler() -> Callable[..., NeighborSampler | None]:
    """``make_sampler(data, num_neighbors)``: graphalign's sampler factory (PyG's own
    sampler if pyg-lib/torch-sparse is installed, else the pure-torch one)."""

    def build(data: HeteroData, num_neighbors: list[int]) -> NeighborSampler:
        return make_neighbor_sampler(data, num_neighbors, seed=0)

    return build
