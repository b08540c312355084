"""Building the heterogeneous graph: records, builder, on-disk format, conversions."""

from graphalign.graph.convert import NodeIndex, from_networkx, reverse_edge_type, to_hetero_data, to_networkx
from graphalign.graph.io import load_dataset, save_dataset
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import ConceptNode, Edge, ImageNode, Node, TextNode

__all__ = [
    "KnowledgeGraph",
    "Node",
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
    "reverse_edge_type",
]
