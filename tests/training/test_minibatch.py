"""Mini-batch training: loaders built once, same batches as a per-step loader, exact resume."""

from __future__ import annotations

import pytest
import torch

from graphalign.benchmark.synthetic import ALIGNED_RELATIONS, make_synthetic_graph
from graphalign.data import SplitConfig
from graphalign.nn import ModelConfig
from graphalign.training import TrainConfig, fit
from graphalign.training.trainer import _Trainer

MODEL = ModelConfig(num_layers=2, propagate=None, hidden_dim=16, out_dim=8, conv="sage", dropout=0.1)
SPLIT = SplitConfig(align_relations=list(ALIGNED_RELATIONS))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny graphs: one torch thread is faster, and immune to a busy machine's thread contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def graph():
    return make_synthetic_graph(num_nodes=300, seed=0, text_dim=12, image_dim=20)


def test_loaders_are_built_once_per_edge_type(graph, monkeypatch):
    import torch_geometric.loader

    built = []
    original = torch_geometric.loader.LinkNeighborLoader.__init__

    def counting(self, *args, **kwargs):
        built.append(kwargs.get("edge_label_index"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(torch_geometric.loader.LinkNeighborLoader, "__init__", counting)
    config = TrainConfig(
        epochs=2, batch_size=16, sampler={"name": "minibatch", "num_neighbors": [3, 2], "steps_per_epoch": 3}
    )
    result = fit(graph, MODEL, config, SPLIT)
    assert len(result.history) == 2
    assert len(built) == 3  # one per aligned edge type, not one per step


def test_batches_equal_a_fresh_loader_per_step(graph):
    """The old semantics: a new LinkNeighborLoader over the step's pairs, with the same sampler."""
    from torch_geometric.loader import LinkNeighborLoader

    config = TrainConfig(batch_size=16, sampler={"name": "neighbor", "num_neighbors": [3, 2]}, seed=5)
    trainer = _Trainer(graph, graph.split(SPLIT, seed=5), MODEL, config)
    for edge_type, cycler in trainer.cyclers.items():
        for _ in range(2):
            index = cycler.next_index()
            state = trainer.sampler.generator.get_state()
            ours = trainer.loaders[edge_type](index)
            trainer.sampler.generator.set_state(state)
            pairs = cycler.edges[:, index]
            fresh = next(
                iter(
                    LinkNeighborLoader(
                        trainer.data,
                        num_neighbors=config.sampling.num_neighbors,
                        edge_label_index=(edge_type, pairs),
                        batch_size=pairs.size(1),
                        neighbor_sampler=trainer.sampler,
                    )
                )
            )
            for node_type in fresh.node_types:
                assert torch.equal(ours[node_type].n_id, fresh[node_type].n_id)
                assert torch.equal(ours[node_type].x, fresh[node_type].x)
            for et in fresh.edge_types:
                assert torch.equal(ours[et].edge_index, fresh[et].edge_index), et
            assert torch.equal(ours[edge_type].edge_label_index, fresh[edge_type].edge_label_index)


def test_minibatch_resume_gives_the_same_result(graph, tmp_path):
    """The sampler's generator is checkpointed: resuming draws the same neighbourhoods."""
    config = {
        "batch_size": 16,
        "sampler": {"name": "neighbor", "num_neighbors": [3, 2], "isolate_nodes": 0.2, "steps_per_epoch": 3},
        "seed": 2,
        "negatives": 4,
        "patience": 100,
    }
    straight = fit(graph, MODEL, TrainConfig(epochs=3, **config), SPLIT, run_dir=tmp_path / "straight")
    fit(graph, MODEL, TrainConfig(epochs=2, **config), SPLIT, run_dir=tmp_path / "resumed")
    resumed = fit(graph, None, TrainConfig(epochs=3), run_dir=tmp_path / "resumed", resume=True)
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-6)
    assert resumed.test_metrics == pytest.approx(straight.test_metrics, rel=1e-6)


def test_same_seed_same_minibatch_run(graph):
    config = TrainConfig(
        epochs=2, batch_size=16, sampler={"name": "neighbor", "num_neighbors": [3, 2], "steps_per_epoch": 3}, seed=4
    )
    a = fit(graph, MODEL, config, SPLIT)
    b = fit(graph, MODEL, config, SPLIT)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.test_metrics == b.test_metrics
