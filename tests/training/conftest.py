from __future__ import annotations

import pytest

from graphalign.encoders.featurize import GraphConfig
from graphalign.graph.store import build_graph
from graphalign.testing import make_toy_graph

FAST_GRAPH = GraphConfig(text_encoder="hashing-text", text_encoder_kwargs={"dim": 64}, image_encoder="color-histogram",
                         progress=False, use_cache=False)


@pytest.fixture(scope="session")
def toy_built(tmp_path_factory):
    """The toy graph (6 images per concept) with fast features; do not mutate."""
    graph = make_toy_graph(tmp_path_factory.mktemp("toy-built"), images_per_concept=6)
    built, _ = build_graph(graph, FAST_GRAPH)
    return built
