"""The featurised graph: records given their encoders' features, stored as graph folders.

This layer sits above both :mod:`graphalign.graph` (records) and
:mod:`graphalign.encoders` (pretrained encoders): it runs the encoders over a
graph's nodes (:func:`featurize`), keeps the result as a :class:`BuiltGraph`
(``HeteroData`` + node index + records) and adds label-free edges computed from
features (kNN, ImageNet → WordNet predictions).
"""

from graphalign.features.augment import AUGMENTERS
from graphalign.features.build import build_graph
from graphalign.features.featurize import FeatureStats, GraphConfig, featurize
from graphalign.features.store import BuiltGraph

__all__ = ["GraphConfig", "FeatureStats", "featurize", "BuiltGraph", "build_graph", "AUGMENTERS"]
