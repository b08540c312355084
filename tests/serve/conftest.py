"""A trained toy run for the explorer's tests (fast encoders, a few epochs)."""

from __future__ import annotations

import pytest

from graphalign.data.split import SplitConfig
from graphalign.features import build_graph
from graphalign.nn import ModelConfig
from graphalign.testing import fast_graph_config, make_toy_graph
from graphalign.training.trainer import RunConfig, TrainConfig, fit

ODD_ID = "c:odd #1&a+b%41/c: d"
"""A concept whose id needs encoding in a URL (``#``, ``&``, ``+``, an escape-like ``%41``, ``/``, ``:``, spaces)."""


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory):
    """A run folder trained on the toy graph (images on disk, held-out images in the split) and the odd concept."""
    root = tmp_path_factory.mktemp("serve")
    graph = make_toy_graph(root / "data", images_per_concept=4)
    graph.add_concept(ODD_ID, name="odd one", description="a concept with an awkward id")
    graph.add_edge(ODD_ID, "is_a", "c:animal")
    built, _ = build_graph(graph, fast_graph_config())
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


@pytest.fixture(scope="session")
def odd_id() -> str:
    """The id of the toy run's concept with URL-unsafe characters."""
    return ODD_ID
