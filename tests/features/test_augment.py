"""Edge augmenters chosen by name in GraphConfig.augmenters, applied by build_graph."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from graphalign.errors import ConfigError
from graphalign.features.augment import AUGMENTERS, augment
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig


def test_default_graph_config_adds_imagenet_wordnet_edges() -> None:
    assert GraphConfig().augmenters == [{"name": "imagenet_wordnet", "k": 3}]
    assert set(AUGMENTERS.main_names()) == {"imagenet_wordnet", "knn"}


def test_build_applies_augmenters_in_order(toy_dataset, fast_config) -> None:
    config = dataclasses.replace(fast_config, augmenters=[{"name": "knn", "node_type": "image", "k": 2}])
    built, _ = build_graph(toy_dataset, config)
    plain, _ = build_graph(toy_dataset, dataclasses.replace(fast_config, augmenters=[]))
    added = [e for e in built.graph.edges if e.relation == "similar_to"]
    assert len(added) == 2 * plain.index.num_nodes("image")
    assert built.graph.num_edges == plain.graph.num_edges + len(added)
    assert built.config["augmenters"] == config.augmenters  # the graph folder records them


def test_imagenet_wordnet_leaves_a_graph_without_wordnet_concepts_as_it_is(toy_dataset, fast_config, caplog) -> None:
    """The default augmenter adds nothing (one log line) where the graph cannot have its edges; asked for, it fails."""
    plain, _ = build_graph(toy_dataset, dataclasses.replace(fast_config, augmenters=[]))
    with caplog.at_level(logging.INFO, logger="graphalign.features.augment"):
        same = augment(plain, [{"name": "imagenet_wordnet", "k": 3}])
    assert same is plain and "no ImageNet -> WordNet edges" in caplog.text
    with pytest.raises(ConfigError, match="WordNet"):
        augment(plain, [{"name": "imagenet_wordnet", "k": 3, "required": True}])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"k": 3}, "'name'"),
        ({"name": "knnn"}, "knn"),
        ({"name": "knn", "k": 0}, "k must be an integer >= 1"),
        ({"name": "imagenet_wordnet", "top": 3}, "top"),
    ],
)
def test_bad_augmenters_fail_before_any_encoding(toy_dataset, fast_config, spec, message) -> None:
    config = dataclasses.replace(fast_config, augmenters=[spec])
    with pytest.raises(Exception, match=message) as raised:
        build_graph(toy_dataset, config)
    assert isinstance(raised.value, ConfigError) or "RegistryError" in type(raised.value).__name__
    with pytest.raises(ConfigError, match="list of dicts"):
        GraphConfig(augmenters={"name": "knn"})  # type: ignore[arg-type]
