"""Options of the vector indexes: growth of the exact index, checks, faiss search breadth."""

from __future__ import annotations

import sys

import pytest
import torch

from graphalign.errors import GraphAlignError
from graphalign.query.index import INDEXES, ExactIndex, FaissIndex, UsearchIndex, build_index


def _brute_force(queries: torch.Tensor, vectors: torch.Tensor, k: int) -> torch.Tensor:
    scores = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(vectors, dim=-1).T
    return torch.topk(scores, k, dim=1).indices


def test_exact_index_grows_one_transposed_matrix():
    g = torch.Generator().manual_seed(0)
    vectors = torch.randn(50, 8, generator=g)
    index = ExactIndex(block_size=16)
    for start in range(0, 50, 7):  # many small adds
        index.add(vectors[start : start + 7])
    assert len(index) == 50 and index.dim == 8
    stored = index.vectors
    assert stored.shape == (50, 8) and stored.dtype == torch.float32
    assert stored.stride(0) == 1  # stored as (d, N): one vector is one column
    assert torch.allclose(stored, torch.nn.functional.normalize(vectors, dim=-1))
    queries = torch.randn(5, 8, generator=g)
    assert torch.equal(index.search(queries, 5)[1], _brute_force(queries, vectors, 5))


def test_exact_single_query_single_block_matches_blocks():
    g = torch.Generator().manual_seed(2)
    vectors, query = torch.randn(200, 12, generator=g), torch.randn(1, 12, generator=g)
    one_block, many_blocks = ExactIndex(), ExactIndex(block_size=9)
    one_block.add(vectors)
    many_blocks.add(vectors)
    (s1, i1), (s2, i2) = one_block.search(query, 10), many_blocks.search(query, 10)
    assert torch.equal(i1, i2) and torch.allclose(s1, s2, atol=1e-6)


def test_exact_index_edge_cases():
    index = ExactIndex()
    scores, indices = index.search(torch.ones(2, 3), k=5)  # empty index
    assert scores.shape == (2, 0) and indices.shape == (2, 0)
    index.add(torch.eye(3))
    assert index.search(torch.ones(1, 3), k=0)[1].shape == (1, 0)
    assert index.search(torch.empty(0, 3), k=2)[1].shape == (0, 2)
    with pytest.raises(GraphAlignError, match="dimension 4"):
        index.add(torch.ones(1, 4))
    with pytest.raises(GraphAlignError, match="dimension 2"):
        index.search(torch.ones(1, 2), k=1)
    with pytest.raises(GraphAlignError, match="2-d"):
        index.search(torch.ones(3), k=1)
    with pytest.raises(GraphAlignError, match="positive"):
        ExactIndex(block_size=0)
    assert "n=3" in repr(index) and "dim=3" in repr(index)


@pytest.fixture
def clustered() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(20, 16, generator=g)
    vectors = centres.repeat(100, 1) + 0.5 * torch.randn(2000, 16, generator=g)
    return vectors, centres + 0.5 * torch.randn(20, 16, generator=g)


@pytest.mark.parametrize(
    ("kind", "parameter", "faiss_name"), [("hnsw", "ef_search", "efSearch"), ("ivf", "nprobe", "nprobe")]
)
def test_faiss_search_params_change_the_built_index(clustered, kind, parameter, faiss_name):
    pytest.importorskip("faiss", reason="faiss-cpu is in the dev extras; install graphalign[faiss]")
    vectors, queries = clustered
    index = build_index("faiss", {"kind": kind, "nlist": 16})
    index.add(vectors)
    index.set_search_params(**{parameter: 1})
    native = index._index.hnsw if kind == "hnsw" else index._index
    assert getattr(native, faiss_name) == 1 and getattr(index, parameter) == 1
    narrow = index.search(queries, 10)[1]
    index.set_search_params(**{parameter: 64})
    assert getattr(native, faiss_name) == 64
    wide = index.search(queries, 10)[1]
    truth = _brute_force(queries, vectors, 10)

    def recall(found: torch.Tensor) -> float:
        return sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(truth, found)) / truth.numel()

    assert recall(wide) >= recall(narrow) and recall(wide) >= 0.95
    assert kind in repr(index) and f"{parameter}=64" in repr(index)


def test_faiss_params_before_build_and_checks():
    pytest.importorskip("faiss", reason="faiss-cpu is in the dev extras; install graphalign[faiss]")
    index = FaissIndex("hnsw")
    index.set_search_params(ef_search=7)  # nothing built yet: used when it is
    index.add(torch.eye(4))
    assert index._index.hnsw.efSearch == 7
    with pytest.raises(GraphAlignError, match="dimension 3"):
        index.add(torch.ones(2, 3))
    assert index.search(torch.eye(4)[:2], 0)[1].shape == (2, 0)


OPTIONAL = {"faiss": "faiss", "usearch": "usearch"}
"""The module each optional index backend needs."""


@pytest.mark.parametrize("name", INDEXES.names())
def test_every_registered_index_finds_the_exact_neighbours(clustered, name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name], reason=f"optional backend {name}")
    vectors, queries = clustered
    index = build_index(name)
    index.add(vectors[:1500])
    index.add(vectors[1500:])  # two additions: row numbers continue
    assert len(index) == 2000
    scores, found = index.search(queries, 10)
    assert found.shape == scores.shape == (20, 10) and found.dtype == torch.long
    truth = _brute_force(queries, vectors, 10)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(truth, found)) / truth.numel()
    assert recall >= 0.95
    assert (scores[:, :-1] >= scores[:, 1:] - 1e-5).all()  # best first
    expected = (
        torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(vectors, dim=-1).T
    ).gather(1, found)
    assert torch.allclose(scores, expected, atol=1e-4)  # scores are cosine similarities


def test_usearch_search_breadth_and_missing_package(monkeypatch):
    pytest.importorskip("usearch", reason="optional backend usearch")
    index = UsearchIndex(expansion_search=8)
    index.add(torch.eye(4))
    index.set_search_params(expansion_search=32)
    assert index._index.expansion_search == 32 and "expansion_search=32" in repr(index)
    scores, found = index.search(torch.eye(4)[:1], 2)  # one query: usearch answers 1-d, we keep (1, k)
    assert found.shape == (1, 2) and found[0, 0].item() == 0 and scores[0, 0].item() == pytest.approx(1.0)
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    with pytest.raises(GraphAlignError, match=r"pip install graphalign\[usearch\]"):
        build_index("usearch")
