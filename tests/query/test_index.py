from __future__ import annotations

import pytest
import torch

from graphalign.errors import GraphAlignError
from graphalign.query.index import INDEXES, ExactIndex, build_index


def brute_force(queries, vectors, k):
    scores = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(vectors, dim=-1).T
    return torch.topk(scores, k, dim=1)


@pytest.mark.parametrize("block_size", [7, 1000])
def test_exact_index_matches_brute_force_across_blocks(block_size):
    g = torch.Generator().manual_seed(0)
    vectors, queries = torch.randn(300, 16, generator=g), torch.randn(20, 16, generator=g)
    index = ExactIndex(block_size=block_size, query_batch=6)
    index.add(vectors[:100])
    index.add(vectors[100:])
    scores, indices = index.search(queries, k=10)
    expected = brute_force(queries, vectors, 10)
    assert torch.equal(indices, expected.indices)
    assert torch.allclose(scores, expected.values, atol=1e-6)
    assert len(index) == 300


def test_k_larger_than_collection():
    index = ExactIndex()
    index.add(torch.eye(3))
    scores, indices = index.search(torch.ones(1, 3), k=10)
    assert indices.shape == (1, 3)


def test_registry_and_faiss_extra_message():
    assert set(INDEXES.names()) >= {"exact", "faiss"}
    try:
        import faiss  # noqa: F401
    except ImportError:
        with pytest.raises(GraphAlignError, match=r"pip install 'graphalign\[faiss\]'"):
            build_index("faiss")
    else:
        index = build_index("faiss", {"kind": "flat"})
        index.add(torch.eye(4))
        assert index.search(torch.eye(4)[:1], 2)[1][0, 0].item() == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_faiss_backends_agree_with_exact(kind):
    pytest.importorskip("faiss", reason="faiss-cpu is in the dev extras; install graphalign[faiss]")
    g = torch.Generator().manual_seed(1)
    vectors, queries = torch.randn(2000, 32, generator=g), torch.randn(50, 32, generator=g)
    exact = ExactIndex()
    exact.add(vectors)
    approx = build_index("faiss", {"kind": kind, "nlist": 16, "nprobe": 16})
    approx.add(vectors)
    _, want = exact.search(queries, 10)
    scores, got = approx.search(queries, 10)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(want, got)) / want.numel()
    assert recall >= (0.999 if kind == "flat" else 0.9)
    assert (scores[:, :-1] >= scores[:, 1:] - 1e-6).all()  # best first


def test_numpy_vectors_and_queries_are_taken_and_other_types_named():
    import numpy as np

    vectors = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    index = ExactIndex()
    index.add(vectors)
    reference = ExactIndex()
    reference.add(torch.from_numpy(vectors))
    scores, indices = index.search(vectors[:3], 4)
    expected_scores, expected_indices = reference.search(torch.from_numpy(vectors[:3]), 4)
    assert torch.equal(indices, expected_indices) and torch.allclose(scores, expected_scores)
    assert indices[:, 0].tolist() == [0, 1, 2]  # each vector is its own nearest
    with pytest.raises(GraphAlignError, match="queries must be a torch.Tensor or a NumPy array"):
        index.search([[0.0] * 8], 2)
