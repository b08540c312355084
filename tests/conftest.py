"""Shared fixtures: tiny datasets and tiny models, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Tests run on tiny graphs and models, where intra-op threads cost more than they
# save (and thrash when the machine is busy): one thread is ~10x faster here.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own feature cache; the user's ~/.cache is never touched."""
    cache = tmp_path / "feature-cache"
    monkeypatch.setenv("GRAPHALIGN_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy dataset folder (11 concepts, 32 images, 32 texts); treat as read-only."""
    from graphalign.testing import make_toy_dataset

    return make_toy_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from graphalign.testing import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from graphalign.testing import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def fast_config():
    """A GraphConfig with the dependency-free encoders (no model loading)."""
    from graphalign.features.featurize import GraphConfig

    return GraphConfig(
        text_encoder="hashing-text", text_encoder_kwargs={"dim": 64}, image_encoder="color-histogram", progress=False
    )


@pytest.fixture(scope="session")
def toy_built(tmp_path_factory):
    """The toy graph (6 images per concept) with fast features; do not mutate."""
    from graphalign.features import build_graph
    from graphalign.testing import fast_graph_config, make_toy_graph

    graph = make_toy_graph(tmp_path_factory.mktemp("toy-built"), images_per_concept=6)
    built, _ = build_graph(graph, fast_graph_config())
    return built
