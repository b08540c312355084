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

import importlib
from typing import TYPE_CHECKING, Any

# Public names are imported on first use (PEP 562), so that `import graphalign`
# and `graphalign --help` do not pay for torch, PyG and transformers up front.
_LAZY: dict[str, str] = {
    "ENCODERS": "graphalign.encoders",
    "Encoder": "graphalign.encoders",
    "FeatureCache": "graphalign.encoders",
    "GraphConfig": "graphalign.features",
    "build_encoder": "graphalign.encoders",
    "CheckpointError": "graphalign.errors",
    "DataFormatError": "graphalign.errors",
    "EncoderError": "graphalign.errors",
    "GraphAlignError": "graphalign.errors",
    "GraphValidationError": "graphalign.errors",
    "RegistryError": "graphalign.errors",
    "DatasetError": "graphalign.errors",
    "datasets": "graphalign.datasets",
    "ConceptNode": "graphalign.graph",
    "Edge": "graphalign.graph",
    "ImageNode": "graphalign.graph",
    "KnowledgeGraph": "graphalign.graph",
    "NodeIndex": "graphalign.graph",
    "TextNode": "graphalign.graph",
    "from_networkx": "graphalign.graph",
    "load_dataset": "graphalign.graph",
    "save_dataset": "graphalign.graph",
    "to_hetero_data": "graphalign.graph",
    "to_networkx": "graphalign.graph",
    "BuiltGraph": "graphalign.features",
    "build_graph": "graphalign.features",
    "LOSSES": "graphalign.losses",
    "InfoNCELoss": "graphalign.losses",
    "TripletMarginLoss": "graphalign.losses",
    "build_loss": "graphalign.losses",
    "CONVS": "graphalign.nn",
    "HeteroAligner": "graphalign.nn",
    "ModelConfig": "graphalign.nn",
    "INDEXES": "graphalign.query",
    "Aligner": "graphalign.query",
    "Neighbor": "graphalign.query",
    "EdgeSplit": "graphalign.data",
    "SplitConfig": "graphalign.data",
    "TrainConfig": "graphalign.training",
    "RunConfig": "graphalign.training",
    "TrainedRun": "graphalign.training",
    "TrainResult": "graphalign.training",
    "fit": "graphalign.training",
    "pipeline": "graphalign.entry",
    "presets": "graphalign.presets",
    "PRESETS": "graphalign.presets",
    "Preset": "graphalign.presets",
    "get_preset": "graphalign.presets",
    "split_graph": "graphalign.data",
}
"""Public name → the module that defines it (a submodule, such as ``datasets``, maps to itself)."""

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from graphalign import datasets, presets
    from graphalign.data import EdgeSplit, SplitConfig, split_graph
    from graphalign.encoders import ENCODERS, Encoder, FeatureCache, build_encoder
    from graphalign.entry import pipeline
    from graphalign.errors import (
        CheckpointError,
        DataFormatError,
        DatasetError,
        EncoderError,
        GraphAlignError,
        GraphValidationError,
        RegistryError,
    )
    from graphalign.features import BuiltGraph, GraphConfig, build_graph
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
    from graphalign.losses import LOSSES, InfoNCELoss, TripletMarginLoss, build_loss
    from graphalign.nn import CONVS, HeteroAligner, ModelConfig
    from graphalign.presets import PRESETS, Preset, get_preset
    from graphalign.query import INDEXES, Aligner, Neighbor
    from graphalign.training import RunConfig, TrainConfig, TrainedRun, TrainResult, fit

__version__ = "0.1.0"
"""The release (the one place it is written: pyproject.toml reads it from here)."""

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
    "RunConfig",
    "SplitConfig",
    "EdgeSplit",
    "split_graph",
    "fit",
    "pipeline",
    "presets",
    "PRESETS",
    "Preset",
    "get_preset",
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
    "DatasetError",
    "datasets",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
        globals()[name] = value  # the next access skips this hook
        return value
    raise AttributeError(f"module 'graphalign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
