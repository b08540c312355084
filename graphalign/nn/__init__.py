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
from graphalign.nn.exemplars import ExemplarConfig, Exemplars
from graphalign.nn.heads import HEADS
from graphalign.nn.hetero_gnn import HeteroAligner, ModelConfig
from graphalign.nn.inherit import InheritConfig, inherit
from graphalign.nn.layers import NORMS, build_activation, build_norm
from graphalign.nn.readouts import READOUTS

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
    "build_activation",
    "build_norm",
    "HEADS",
    "READOUTS",
    "ChannelConfig",
    "GraphChannels",
    "InheritConfig",
    "inherit",
    "ExemplarConfig",
    "Exemplars",
]
