"""Edge augmenters: label-free edges computed from a built graph's features, chosen by name.

``GraphConfig(augmenters=[{"name": ..., **kwargs}, ...])`` lists them; the
build applies them in order after encoding (:func:`augment`):

* ``imagenet_wordnet``: each image to the concepts its top ``k`` ImageNet
  classes lead to through the WordNet hierarchy
  (:func:`~graphalign.features.wordnet_predictions.add_prediction_edges`);
* ``knn``: each node of a type to its ``k`` nearest nodes of a type by feature
  cosine (:func:`~graphalign.features.knn.add_knn_edges`).

Their edges use no label (:data:`LABEL_FREE_RELATIONS`): the split never
supervises them and held-out nodes keep them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from graphalign.errors import ConfigError
from graphalign.features.knn import KNN_RELATION, add_knn_edges
from graphalign.features.store import BuiltGraph
from graphalign.features.wordnet_predictions import PREDICTION_RELATION, add_prediction_edges
from graphalign.registry import Registry
from graphalign.typing import NODE_TYPES, NodeType

logger = logging.getLogger(__name__)

__all__ = ["AUGMENTERS", "LABEL_FREE_RELATIONS", "augment", "build_augmenters", "ImageNetWordNet", "NearestNeighbours"]

LABEL_FREE_RELATIONS: tuple[str, ...] = (KNN_RELATION, PREDICTION_RELATION)
"""The relations of the augmenters' edges, computed from features alone: never
supervision, and kept for held-out nodes (they carry no label)."""

AUGMENTERS: Registry[Any] = Registry("augmenter")
"""Edge augmenters by name: ``imagenet_wordnet`` and ``knn``."""


@AUGMENTERS.register("imagenet_wordnet")
class ImageNetWordNet:
    """Edges from each image to the concepts its top ``k`` ImageNet classes lead to through WordNet.

    Example:
        >>> ImageNetWordNet(k=3).k
        3

    Args:
        k: ImageNet classes per image.
        required: Raise when the graph cannot have these edges (its concepts
            carry no WordNet 3.0 offset, or its image encoder has no ImageNet
            classifier); by default the graph is left as it is, with a log line.
    """

    def __init__(self, k: int = 3, required: bool = False) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"augmenter imagenet_wordnet: k must be an integer >= 1, got {k!r}")
        self.k, self.required = k, bool(required)

    def __call__(self, built: BuiltGraph) -> BuiltGraph:
        try:
            return add_prediction_edges(built, self.k, PREDICTION_RELATION)
        except ConfigError as error:
            if self.required:
                raise
            logger.info("no ImageNet -> WordNet edges: %s", error)
            return built


@AUGMENTERS.register("knn")
class NearestNeighbours:
    """Edges from each node of ``node_type`` to its ``k`` nearest nodes of ``target_type`` by feature cosine.

    Example:
        >>> NearestNeighbours(node_type="image", k=5).target_type
        'image'

    Args:
        node_type: Where the edges start.
        k: Neighbours per node.
        target_type: Where they end (default: ``node_type``); its features must
            be in the same space.
    """

    def __init__(self, node_type: NodeType = "image", k: int = 5, target_type: NodeType | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"augmenter knn: k must be an integer >= 1, got {k!r}")
        for name, value in (("node_type", node_type), ("target_type", target_type or node_type)):
            if value not in NODE_TYPES:
                raise ConfigError(f"augmenter knn: {name} must be one of {', '.join(NODE_TYPES)}, got {value!r}")
        self.node_type, self.k, self.target_type = node_type, k, target_type or node_type

    def __call__(self, built: BuiltGraph) -> BuiltGraph:
        return add_knn_edges(built, self.node_type, self.k, KNN_RELATION, target_type=self.target_type)


def build_augmenters(specs: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The augmenters of ``specs`` (``{"name": ..., **kwargs}`` each), checked before any encoding.

    Raises:
        ConfigError: On a spec without a name, an unknown name or argument, or a bad value.
    """
    augmenters = []
    for spec in specs:
        name, kwargs = AUGMENTERS.split_spec(spec, "GraphConfig.augmenters")
        try:
            augmenters.append(AUGMENTERS.build(name, kwargs))
        except (ConfigError, TypeError) as error:
            raise ConfigError(f"GraphConfig.augmenters: {error}", config="GraphConfig", key="augmenters") from None
    return augmenters


def augment(built: BuiltGraph, specs: Sequence[Mapping[str, Any]]) -> BuiltGraph:
    """``built`` with the edges of every augmenter of ``specs``, applied in order."""
    for augmenter in build_augmenters(specs):
        built = augmenter(built)
    return built
