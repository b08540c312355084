from __future__ import annotations

import dataclasses

import pytest
import torch

from graphalign.errors import ConfigError
from graphalign.features.knn import add_knn_edges, knn_pairs


def test_knn_pairs_brute_force():
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    pairs = knn_pairs(x, k=1, batch_size=3)
    assert pairs.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]
    assert knn_pairs(x[:1], k=3).shape == (2, 0)


def test_add_knn_edges_copies_and_adds(toy_built_fast):
    augmented = add_knn_edges(toy_built_fast, "image", k=2)
    added = [e for e in augmented.graph.edges if e.relation == "similar_to"]
    assert len(added) == 2 * 32
    assert all(augmented.graph.node_type(e.head) == augmented.graph.node_type(e.tail) == "image" for e in added)
    assert toy_built_fast.graph.num_edges + len(added) == augmented.graph.num_edges  # the original is untouched
    with pytest.raises(ConfigError, match="already has 'similar_to' edges"):
        add_knn_edges(augmented, "image", k=2)


@pytest.fixture
def toy_built_fast(toy_dataset, fast_config):
    from graphalign.features.build import build_graph

    return build_graph(toy_dataset, fast_config)[0]


def test_knn_pairs_across_two_sets():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[0.0, 2.0], [3.0, 0.1], [1.0, 1.0]])
    assert knn_pairs(x, k=2, y=y).tolist() == [[0, 0, 1, 1], [1, 2, 0, 2]]
    with pytest.raises(ConfigError, match=r"shape \(M, 2\)"):
        knn_pairs(x, k=1, y=torch.zeros(3, 5))


def test_cross_type_knn_edges_need_one_feature_space(toy_built_fast):
    with pytest.raises(ConfigError, match="need features in one space"):
        add_knn_edges(toy_built_fast, "image", k=2, target_type="concept")
    # Images as vectors in the concepts' space (as ConSE image features are).
    concepts = toy_built_fast.features["concept"]
    images = concepts[torch.arange(toy_built_fast.features["image"].size(0)) % concepts.size(0)]
    shared = dataclasses.replace(
        toy_built_fast,
        features={**toy_built_fast.features, "image": images},
        spaces={**toy_built_fast.spaces, "image": "shared", "concept": "shared"},
    )
    augmented = add_knn_edges(shared, "image", k=1, target_type="concept")
    added = [e for e in augmented.graph.edges if e.relation == "similar_to"]
    assert len(added) == images.size(0)
    ids = shared.index.ids
    # Each image is linked to the concept whose feature it copies (cosine 1).
    expected = {(ids["image"][i], ids["concept"][i % concepts.size(0)]) for i in range(images.size(0))}
    assert {(e.head, e.tail) for e in added} == expected
    with pytest.raises(ConfigError, match="already has 'similar_to' edges from 'image' to 'concept'"):
        add_knn_edges(augmented, "image", k=1, target_type="concept")
    assert add_knn_edges(augmented, "image", k=1).graph.num_edges == augmented.graph.num_edges + images.size(0)


def test_knn_edges_are_label_free_in_the_split(toy_built_fast):
    from graphalign.data.split import SplitConfig, is_aligned, split_graph

    assert not is_aligned(("image", "similar_to", "concept"), None)
    assert is_aligned(("image", "depicts", "concept"), None)
    augmented = add_knn_edges(toy_built_fast, "image", k=2)
    split = split_graph(augmented.graph, SplitConfig(), seed=0)
    knn = ("image", "similar_to", "image")
    assert knn not in split.edges["supervision"]
    assert split.edges["message_passing"][knn].size(1) == 2 * 32  # held-out images keep theirs


def test_knn_across_spaces_is_refused_before_anything_is_encoded(toy_dataset, tmp_path):
    from graphalign.features.build import build_graph
    from graphalign.features.featurize import GraphConfig

    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 16},
        image_encoder="color-histogram",
        cache_dir=str(tmp_path / "cache"),
        augmenters=[{"name": "knn", "node_type": "image", "k": 2, "target_type": "concept"}],
    )
    with pytest.raises(ConfigError, match="kNN edges from 'image' to 'concept' need features in one space"):
        build_graph(toy_dataset, config)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))


def test_a_misspelled_knn_node_type_is_a_config_error():
    from graphalign.features.augment import build_augmenters

    with pytest.raises(ConfigError, match="augmenter knn: node_type must be one of concept, text, image, got 'imgae'"):
        build_augmenters([{"name": "knn", "node_type": "imgae", "k": 2, "target_type": "concept"}])
    with pytest.raises(ConfigError, match="target_type must be one of concept, text, image, got 'concpet'"):
        build_augmenters([{"name": "knn", "node_type": "image", "k": 2, "target_type": "concpet"}])
