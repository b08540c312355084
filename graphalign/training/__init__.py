"""Training: the fit loop, neighbour sampling, checkpoints, trained runs."""

from graphalign.training.run import TrainedRun
from graphalign.training.sampling import TorchNeighborSampler, make_neighbor_sampler
from graphalign.training.trainer import TrainConfig, TrainResult, embed_nodes, fit

__all__ = [
    "fit",
    "embed_nodes",
    "TrainConfig",
    "TrainResult",
    "TrainedRun",
    "TorchNeighborSampler",
    "make_neighbor_sampler",
]
