"""Building a graph: validate the records, encode every node, add label-free edges.

The one walk from a dataset to a :class:`~graphalign.features.store.BuiltGraph`:
records (:func:`~graphalign.graph.io.load_dataset`, or a
:class:`~graphalign.graph.knowledge_graph.KnowledgeGraph` built in Python) →
features from the encoders (:func:`~graphalign.features.featurize.featurize`,
cached) → the edges of ``GraphConfig.augmenters``
(:mod:`graphalign.features.augment`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from graphalign.errors import ConfigError, DataFormatError
from graphalign.features.augment import NearestNeighbours, build_augmenters
from graphalign.features.featurize import MODALITY_OF, FeatureStats, GraphConfig, featurize
from graphalign.features.knn import check_one_space
from graphalign.features.store import GRAPH_META, BuiltGraph
from graphalign.graph.io import load_dataset
from graphalign.graph.knowledge_graph import KnowledgeGraph

__all__ = ["build_graph"]


def build_graph(
    source: str | os.PathLike[str] | KnowledgeGraph,
    config: GraphConfig | None = None,
    *,
    allow_outside_root: bool = False,
    allow_self_loops: bool = False,
) -> tuple[BuiltGraph, FeatureStats]:
    """Validates a dataset, encodes every node (through the feature cache) and adds the augmenters' edges.

    Args:
        source: A dataset folder, a bundled dataset's name (``"tuxpaint_small"``) or an
            in-memory :class:`KnowledgeGraph`.
        config: Encoders, cache and device (default :class:`GraphConfig`).
        allow_outside_root: Accept image paths outside the dataset folder.
        allow_self_loops: Accept self-loop edges.

    Returns:
        The built graph and how many items were encoded vs. taken from the cache.

    Raises:
        GraphValidationError: For invalid data (naming file and line, or id).
        DataFormatError: On a built graph folder (it holds ``graph.json``: load it with
            :meth:`BuiltGraph.load`) or a folder that is not there.
        ConfigError: On a ``source`` or ``config`` of another type.
        EncoderError: If an item cannot be encoded.
    """
    if config is not None and not isinstance(config, GraphConfig):
        if not isinstance(config, Mapping):
            raise ConfigError(f"config must be a GraphConfig (or a dict of its fields), got {type(config).__name__}")
        config = GraphConfig.from_dict(dict(config))
    config = config or GraphConfig()
    if isinstance(source, KnowledgeGraph):
        graph = source
        graph.validate(check_images=True)
    elif not isinstance(source, (str, os.PathLike)):
        raise ConfigError(
            f"build_graph reads a dataset folder, a bundled dataset's name or a KnowledgeGraph, got "
            f"{type(source).__name__}"
        )
    elif (Path(source) / GRAPH_META).is_file():
        raise DataFormatError(
            f"{source}: a built graph folder (it holds {GRAPH_META}), not a dataset folder: load it with "
            f"ga.BuiltGraph.load({os.fspath(source)!r}) and train on that",
            path=os.fspath(source),
        )
    else:
        graph = load_dataset(source, allow_outside_root=allow_outside_root, allow_self_loops=allow_self_loops)
    augmenters = build_augmenters(config.augmenters)  # a bad augmenter fails before any encoding
    crossing = [(a.node_type, a.target_type) for a in augmenters if isinstance(a, NearestNeighbours)]
    crossing = [(source, target) for source, target in crossing if source != target]
    if crossing:  # kNN edges across types need one feature space: known from the encoders, before encoding
        spaces = {t: config.build_encoder(MODALITY_OF[t]).feature_space for pair in crossing for t in pair}
        for source, target in crossing:
            check_one_space(source, target, spaces)
    features, stats, identities = featurize(graph, config)
    built = BuiltGraph(
        graph=graph, features=features, config=config.to_dict(), encoders=identities, spaces=stats.spaces
    )
    built.hetero_data  # noqa: B018 - validates shapes and finiteness now, not later
    for augmenter in augmenters:
        built = augmenter(built)
    return built, stats
