"""A trained toy run for the explorer's tests (fast encoders, a few epochs)."""

from __future__ import annotations

import pytest

from graphalign.data.split import SplitConfig
from graphalign.features import build_graph
from graphalign.nn import ModelConfig
from graphalign.testing import fast_graph_config, make_toy_graph
from graphalign.training.trainer import RunConfig, TrainConfig, fit


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory):
    """A run folder trained on the toy graph (images on disk, held-out images in the split)."""
    root = tmp_path_factory.mktemp("serve")
    built, _ = build_graph(make_toy_graph(root / "data", images_per_concept=4), fast_graph_config())
    run_dir = root / "run"
    model = ModelConfig(num_layers=2, propagate=None, hidden_dim=32, out_dim=16, conv="sage")
    fit(
        built,
        model,
        TrainConfig(epochs=3, batch_size=32),
        SplitConfig(),
        run_dir=run_dir,
        run=RunConfig(progress=False),
    )
    return run_dir
