"""graphalign: graph-based multimodal knowledge alignment.

Build a heterogeneous graph of concepts, texts and images, give every node a
feature from a pretrained encoder, train GNN message passing with a contrastive
objective so that linked nodes meet in one shared space, and query it.

Example:
    >>> import graphalign as ga
    >>> kg = ga.KnowledgeGraph()
    >>> kg.add_concept("dog", name="dog")
    >>> kg.add_text("t1", text="A dog on a sofa.")
    >>> kg.add_edge("t1", "describes", "dog")
    >>> kg
    KnowledgeGraph(concept=1, text=1, image=0, edges=1)
"""

from graphalign.encoders import ENCODERS, Encoder, FeatureCache, GraphConfig, build_encoder
from graphalign.errors import (
    CheckpointError,
    DataFormatError,
    EncoderError,
    GraphAlignError,
    GraphValidationError,
    RegistryError,
)
from graphalign.graph import (
    ConceptNode,
    Edge,
    ImageNode,
    KnowledgeGraph,
    NodeIndex,
    TextNode,
    from_networkx,
    load_dataset,
    save_dataset,
    to_hetero_data,
    to_networkx,
)
from graphalign.graph.store import BuiltGraph, build_graph
from graphalign.losses import LOSSES, InfoNCELoss, TripletMarginLoss, build_loss
from graphalign.nn import CONVS, HeteroAligner, ModelConfig
from graphalign.query import INDEXES, Aligner, Neighbor
from graphalign.training import EdgeSplit, SplitConfig, TrainConfig, TrainedRun, TrainResult, fit, split_graph

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "KnowledgeGraph",
    "ConceptNode",
    "TextNode",
    "ImageNode",
    "Edge",
    "NodeIndex",
    "load_dataset",
    "save_dataset",
    "to_hetero_data",
    "to_networkx",
    "from_networkx",
    "BuiltGraph",
    "build_graph",
    "GraphConfig",
    "ENCODERS",
    "Encoder",
    "build_encoder",
    "FeatureCache",
    "ModelConfig",
    "HeteroAligner",
    "CONVS",
    "LOSSES",
    "InfoNCELoss",
    "TripletMarginLoss",
    "build_loss",
    "TrainConfig",
    "SplitConfig",
    "EdgeSplit",
    "split_graph",
    "fit",
    "TrainResult",
    "TrainedRun",
    "Aligner",
    "Neighbor",
    "INDEXES",
    "GraphAlignError",
    "GraphValidationError",
    "DataFormatError",
    "EncoderError",
    "CheckpointError",
    "RegistryError",
]
