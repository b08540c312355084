"""Training on propagated features (the ``propagated`` preset): no leakage, rows only, reproducible."""

from __future__ import annotations

import torch

from graphalign.data.split import SplitConfig, split_graph
from graphalign.nn import ModelConfig
from graphalign.nn.propagate import FeaturePropagation, PropagationConfig
from graphalign.training.trainer import RunConfig, TrainConfig, _Trainer, embed_nodes, fit
from tests.training.test_trainer import noise_graph

PROPAGATED = ModelConfig(hidden_dim=32, out_dim=16, num_layers=0, dropout=0.0, head="plain", readouts=[])


def _noise_mrr(isolate_heldout: bool) -> float:
    split = SplitConfig(
        val_fraction=0.1, test_fraction=0.3, align_relations=["depicts"], isolate_heldout=isolate_heldout
    )
    model = ModelConfig(**{**PROPAGATED.to_dict(), "propagate": {"hops": 2, "dim": 0}})
    config = TrainConfig(epochs=60, batch_size=32, patience=100, sampler={"name": "full"}, seed=0)
    return fit(noise_graph(), model, config, split).test_metrics["image->concept/mrr"]


def test_no_leakage_through_propagated_features():
    chance = sum(1 / r for r in range(1, 21)) / 20
    assert _noise_mrr(isolate_heldout=False) > 0.9  # control: a held-out 'tagged' edge is read
    assert _noise_mrr(isolate_heldout=True) < chance + 0.2


def test_training_propagates_over_message_passing_edges_and_evaluation_over_training_edges(toy_built):
    split = split_graph(toy_built.graph, seed=0)
    model = ModelConfig(**{**PROPAGATED.to_dict(), "propagate": {"hops": 2, "dim": 8}})
    trainer = _Trainer(toy_built, split, model, TrainConfig(sampler={"name": "full"}, seed=0))
    assert not trainer._passes_messages() and trainer.sampler is None  # rows steps, no sampled subgraphs
    x_dict = {t: x.float() for t, x in toy_built.features.items()}
    reference = FeaturePropagation(trainer.model.in_dims, trainer.model.input_groups, PropagationConfig(2, 8))
    reference.load_state_dict(trainer.model.propagation.state_dict())
    mp, inference = reference(x_dict, split.message_passing_edges()), reference(x_dict, split.inference_edges())
    for node_type in x_dict:
        torch.testing.assert_close(trainer.propagated[node_type], mp[node_type])
        torch.testing.assert_close(trainer.inference_propagated[node_type], inference[node_type])
    held = split.heldout["test"]["image"]
    assert torch.count_nonzero(trainer.inference_propagated["image"][held]) == 0  # held-out images: no edges


def test_propagated_training_is_reproducible_and_embeds_every_node(toy_built):
    model = ModelConfig(num_layers=0, hidden_dim=32, propagate={"hops": 2, "dim": 16})
    config = TrainConfig(epochs=3, sampler={"name": "full", "steps_per_epoch": 3}, seed=5)
    run = RunConfig(progress=False)
    a, b = fit(toy_built, model, config, run=run), fit(toy_built, model, config, run=run)
    assert a.test_metrics == b.test_metrics and a.test_metrics["image->concept/mrr"] > 0
    z = embed_nodes(a.model, toy_built, a.split)
    for node_type, x in toy_built.features.items():
        assert z[node_type].shape[0] == x.size(0) and torch.isfinite(z[node_type]).all()
