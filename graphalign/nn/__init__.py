"""Neural network parts: heterogeneous message-passing layers and the aligner model."""

from __future__ import annotations

from graphalign.nn.channels import ChannelConfig, GraphChannels
from graphalign.nn.convs import (
    CONVS,
    GATLayer,
    GATv2Layer,
    HeteroLayer,
    HGTLayer,
    RGCNLayer,
    SAGELayer,
)
from graphalign.nn.hetero_gnn import ACTIVATIONS, NORMS, HeteroAligner, ModelConfig
from graphalign.nn.inherit import InheritConfig, inherit

__all__ = [
    "CONVS",
    "HeteroLayer",
    "GATLayer",
    "GATv2Layer",
    "SAGELayer",
    "RGCNLayer",
    "HGTLayer",
    "ModelConfig",
    "HeteroAligner",
    "NORMS",
    "ACTIVATIONS",
    "ChannelConfig",
    "GraphChannels",
    "InheritConfig",
    "inherit",
]
