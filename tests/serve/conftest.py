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
HUB_ID = "c:breed"
HUB_KINDS, HUB_TEXTS = 48, 12
"""The hub's kinds (concepts, ``is_a`` it, with long names) and texts (``describes`` it)."""


def add_hub(graph) -> None:
    """A concept with 61 neighbours: its parent ``c:dog``, :data:`HUB_KINDS` kinds and :data:`HUB_TEXTS` texts."""
    graph.add_concept(HUB_ID, name="dog breed", description="a breed of dog")
    graph.add_edge(HUB_ID, "is_a", "c:dog")
    for k in range(HUB_KINDS):
        kind = f"c:breed:{k}"
        graph.add_concept(kind, name=f"hound kind {k} of the long-named northern hill breeds", description="a hound")
        graph.add_edge(kind, "is_a", HUB_ID)
    for k in range(HUB_TEXTS):
        graph.add_text(f"t:breed:{k}", text=f"a photo of a dog of breed {k}", language="en")
        graph.add_edge(f"t:breed:{k}", "describes", HUB_ID)


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory):
    """A run folder trained on the toy graph (images on disk, held-out images in the split), the odd concept
    and a hub (:func:`add_hub`)."""
    root = tmp_path_factory.mktemp("serve")
    graph = make_toy_graph(root / "data", images_per_concept=4)
    graph.add_concept(ODD_ID, name="odd one", description="a concept with an awkward id")
    graph.add_edge(ODD_ID, "is_a", "c:animal")
    add_hub(graph)
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


@pytest.fixture(scope="session")
def hub_id() -> str:
    """The id of the toy run's hub: a concept with 61 neighbours."""
    return HUB_ID
