"""The sampler part of TrainConfig: ``auto`` decides from the graph trained on."""

from __future__ import annotations

import logging

import pytest

from graphalign.errors import ConfigError
from graphalign.nn import ModelConfig
from graphalign.training import TrainConfig, fit
from graphalign.training.sampler_config import AutoSampling, FullSampling, NeighborSampling, resolve_sampling


def test_auto_is_whole_graph_on_small_graphs_and_sampled_on_large_ones() -> None:
    auto = AutoSampling(steps_per_epoch=10, isolate_nodes=0.3)
    small, large = auto.resolve(20_000), auto.resolve(20_001)
    assert type(small) is FullSampling and not small.samples_neighbors
    assert isinstance(large, NeighborSampling) and large.num_neighbors == [10, 5]
    for sampling in (small, large):  # the shared settings carry over
        assert (sampling.steps_per_epoch, sampling.isolate_nodes) == (10, 0.3)
    neighbor = NeighborSampling()
    assert resolve_sampling(neighbor, 10**9) is neighbor  # a named sampler is kept as it is
    with pytest.raises(ConfigError, match="max_full_edges"):
        AutoSampling(max_full_edges=-1)


def test_default_training_uses_auto(toy_built, caplog) -> None:
    assert TrainConfig().sampler["name"] == "auto"
    assert TrainConfig().sampler["steps_per_epoch"] == 10 and TrainConfig().sampler["isolate_nodes"] == 0.3
    gnn = ModelConfig(num_layers=2, propagate=None, hidden_dim=16)  # message passing in training
    with caplog.at_level(logging.INFO, logger="graphalign.training.trainer"):
        fit(toy_built, gnn, TrainConfig(epochs=1))
        assert "sampler auto: whole-graph steps" in caplog.text
        large = TrainConfig(epochs=1, sampler={"name": "auto", "max_full_edges": 0})  # every graph is "large"
        result = fit(toy_built, gnn, large)
    assert "sampler auto: neighbour-sampled steps" in caplog.text
    assert result.history and result.train_config.sampler["name"] == "auto"


def test_auto_gives_row_steps_to_a_model_that_passes_no_messages(toy_built, caplog) -> None:
    auto = AutoSampling(steps_per_epoch=7, isolate_nodes=0.2)
    rows = resolve_sampling(auto, 10**9, passes_messages=False)
    assert type(rows) is FullSampling and (rows.steps_per_epoch, rows.isolate_nodes) == (7, 0.2)
    large = TrainConfig(epochs=1, sampler={"name": "auto", "max_full_edges": 0})  # every graph is "large"
    propagated = ModelConfig(num_layers=0, hidden_dim=16, propagate={"hops": 1, "dim": 8})
    with caplog.at_level(logging.INFO, logger="graphalign.training.trainer"):
        fit(toy_built, propagated, large)
    assert "sampler auto: row steps: the model passes no messages in training" in caplog.text
