from __future__ import annotations

import pytest
import torch

from graphalign.benchmark.synthetic import (
    ALIGNED_RELATIONS,
    DEPICTS,
    DESCRIBES,
    IS_A,
    MENTIONS,
    SyntheticConfig,
    make_synthetic_graph,
)
from graphalign.data.split import LABEL_FREE_RELATIONS, SplitConfig
from graphalign.errors import ConfigError

ALIGNED_SPLIT = SplitConfig(align_relations=list(ALIGNED_RELATIONS))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny graphs: one torch thread is faster, and immune to a busy machine's thread contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def graph():
    return make_synthetic_graph(num_nodes=20_000, seed=0)


def test_sizes_types_and_edge_budget(graph):
    assert graph.node_counts() == {"concept": 2000, "image": 6000, "text": 12000}
    assert graph.feature_dims == {"concept": 384, "image": 1280, "text": 384}
    assert all(x.dtype == torch.float32 and torch.isfinite(x).all() for x in graph.features.values())
    assert bool((graph.features["image"] >= 0).all())  # like pooled CNN activations
    assert torch.allclose(graph.features["text"].norm(dim=1), torch.ones(12000), atol=1e-4)
    assert 0.95 * 10 * 20_000 <= graph.num_edges <= 10 * 20_000
    counts = graph.node_counts()
    for (src, rel, dst), edges in graph.edges.items():
        assert edges.dtype == torch.long and edges.shape[0] == 2
        assert 0 <= int(edges[0].min()) and int(edges[0].max()) < counts[src], rel
        assert 0 <= int(edges[1].min()) and int(edges[1].max()) < counts[dst], rel
        key = edges[0] * counts[dst] + edges[1]
        assert key.unique().numel() == key.numel(), f"duplicate {rel} edges"
        if src == dst:
            assert not bool((edges[0] == edges[1]).any()), f"{rel} self-loop"


def test_structure_hierarchy_hubs_and_consistent_links(graph):
    is_a = graph.edges[IS_A]
    assert is_a.size(1) == 1999 and bool((is_a[1] < is_a[0]).all())  # a tree: parent before child
    children = torch.bincount(is_a[1], minlength=2000).float()
    mentions = torch.bincount(graph.edges[MENTIONS][1], minlength=2000).float()
    assert children.max() > 20 * children.mean()  # power-law tails: a few hubs
    assert mentions.max() > 20 * mentions.mean()
    depicted = graph.edges[DEPICTS][1]
    assert torch.equal(depicted, graph.concept_of["image"])
    described = graph.edges[DESCRIBES]
    assert torch.equal(graph.concept_of["text"], depicted[described[1]])
    # Features follow the links: a text is closest to its own concept far more often than chance.
    text, concept = graph.features["text"][:500], graph.features["concept"]
    nearest = (text @ concept.T).argmax(dim=1)
    assert (nearest == graph.concept_of["text"][:500]).float().mean() > 0.5


def test_same_seed_same_graph_and_half_precision():
    a = make_synthetic_graph(num_nodes=500, seed=1)
    b = make_synthetic_graph(SyntheticConfig(num_nodes=500, seed=1))
    c = make_synthetic_graph(num_nodes=500, seed=2)
    assert all(torch.equal(a.edges[et], b.edges[et]) for et in a.edges)
    assert all(torch.equal(a.features[t], b.features[t]) for t in a.features)
    assert not torch.equal(a.features["text"], c.features["text"])
    half = make_synthetic_graph(num_nodes=500, seed=1, dtype="float16")
    assert half.features["image"].dtype == torch.float16
    assert half.nbytes() < 0.6 * a.nbytes()
    with pytest.raises(ConfigError):
        SyntheticConfig(dtype="int8")
    with pytest.raises(ConfigError):
        SyntheticConfig(context_shares={"likes": 1.0})


def test_split_is_leak_free_and_stratified(graph):
    split = graph.split(ALIGNED_SPLIT, seed=0)
    assert set(split.aligned_edge_types) == {DEPICTS, IS_A, DESCRIBES}
    for node_type, count in (("image", 6000), ("text", 12000)):
        test, val = split.heldout["test"][node_type], split.heldout["val"][node_type]
        assert abs(test.numel() / count - 0.2) < 0.02 and abs(val.numel() / count - 0.1) < 0.02
        assert not set(test.tolist()) & set(val.tolist())
        # Every held-out node is cut off from message passing, in every edge type but label-free ones.
        held = torch.zeros(count, dtype=torch.bool)
        held[torch.cat([test, val])] = True
        for (src, rel, dst), edges in split.edges["message_passing"].items():
            if rel in LABEL_FREE_RELATIONS:
                assert edges.size(1) == graph.edges[(src, rel, dst)].size(1)
                continue
            for side, side_type in ((0, src), (1, dst)):
                if side_type == node_type:
                    assert not bool(held[edges[side]].any())
    # Aligned edges: supervision, val and test partition them; message passing sees only supervision ones.
    for edge_type in split.aligned_edge_types:
        parts = [split.edges[p][edge_type] for p in ("supervision", "val", "test")]
        assert sum(p.size(1) for p in parts) == graph.edges[edge_type].size(1)
        key = lambda e: set((e[0] * 10**6 + e[1]).tolist())
        assert key(split.edges["message_passing"][edge_type]) <= key(parts[0])
    # Stratified by concept: the most depicted concept loses about 30% of its images.
    concept = torch.bincount(graph.concept_of["image"]).argmax()
    of_concept = graph.concept_of["image"] == concept
    held_images = torch.zeros(6000, dtype=torch.bool)
    held_images[torch.cat([split.heldout["test"]["image"], split.heldout["val"]["image"]])] = True
    assert abs(held_images[of_concept].float().mean() - 0.3) < 0.05


def test_to_built_round_trip(tmp_path):
    from graphalign.features.store import BuiltGraph
    from graphalign.graph.convert import edge_index_dict

    graph = make_synthetic_graph(num_nodes=300, seed=0, text_dim=8, image_dim=12)
    built = graph.to_built()
    edges = edge_index_dict(built.graph, built.index)
    assert set(edges) == set(graph.edges)
    assert all(torch.equal(edges[et], graph.edges[et]) for et in edges)
    graph.save(tmp_path / "g")
    loaded = BuiltGraph.load(tmp_path / "g")
    assert torch.equal(loaded.features["image"], graph.features["image"])
    assert loaded.spaces == graph.spaces


@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_fit_trains_on_a_synthetic_graph_without_a_knowledge_graph(mode):
    from graphalign.nn import ModelConfig
    from graphalign.training import TrainConfig, fit

    graph = make_synthetic_graph(num_nodes=400, seed=0, text_dim=16, image_dim=24, dtype="float16")
    config = TrainConfig(
        epochs=4,
        batch_size=64,
        lr=1e-2,
        sampler={"name": mode, **({"num_neighbors": [4, 4]} if mode != "full" else {})},
    )
    result = fit(
        graph,
        ModelConfig(num_layers=2, propagate=None, hidden_dim=16, out_dim=8, conv="rgcn", dropout=0.0),
        config,
        ALIGNED_SPLIT,
    )
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert "image->concept/mrr" in result.test_metrics


def test_a_run_trained_on_a_synthetic_graph_loads_again(tmp_path):
    """Its fingerprint has no node ids (a tensor graph has none); the saved copy loads as a graph with ids,
    and the check of the run's graph accepts it."""
    from graphalign.nn import ModelConfig
    from graphalign.query import Aligner
    from graphalign.training import TrainConfig, fit

    graph = make_synthetic_graph(num_nodes=200, seed=0, text_dim=8, image_dim=12)
    model = ModelConfig(num_layers=0, hidden_dim=16, out_dim=8, dropout=0.0)
    fit(graph, model, TrainConfig(epochs=1, batch_size=64), ALIGNED_SPLIT, run_dir=tmp_path / "run")
    aligner = Aligner.load(tmp_path / "run")
    assert aligner.ids("image") and aligner.neighbors(aligner.ids("image")[0], k=1, type="concept")
