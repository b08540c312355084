from __future__ import annotations

import pytest
import torch

from graphalign.errors import ConfigError
from graphalign.graph.knn import add_knn_edges, knn_pairs


def test_knn_pairs_brute_force():
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    pairs = knn_pairs(x, k=1, batch_size=3)
    assert pairs.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]
    assert knn_pairs(x[:1], k=3).shape == (2, 0)


def test_add_knn_edges_copies_and_adds(toy_built_fast):
    augmented = add_knn_edges(toy_built_fast, "image", k=2)
    added = [e for e in augmented.graph.edges if e.relation == "similar_to"]
    assert len(added) == 2 * 32
    assert all(augmented.graph.node_type(e.head) == augmented.graph.node_type(e.tail) == "image" for e in added)
    assert toy_built_fast.graph.num_edges + len(added) == augmented.graph.num_edges  # the original is untouched
    with pytest.raises(ConfigError, match="already has 'similar_to' edges"):
        add_knn_edges(augmented, "image", k=2)


@pytest.fixture
def toy_built_fast(toy_dataset, fast_config):
    from graphalign.graph.store import build_graph

    return build_graph(toy_dataset, fast_config)[0]
