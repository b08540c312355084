"""Queries on a trained run: shared-space neighbours, graph neighbours, zero-shot search."""

from graphalign.query.aligner import Aligner, GraphNeighbor, Neighbor
from graphalign.query.index import INDEXES, ExactIndex, FaissIndex, UsearchIndex, VectorIndex, build_index

__all__ = [
    "Aligner",
    "Neighbor",
    "GraphNeighbor",
    "VectorIndex",
    "ExactIndex",
    "FaissIndex",
    "UsearchIndex",
    "INDEXES",
    "build_index",
]
