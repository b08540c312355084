"""Training: the fit loop, neighbour sampling, checkpoints, trained runs."""

from graphalign.training.run import TrainedRun
from graphalign.training.sampling import TorchNeighborSampler, make_neighbor_sampler
from graphalign.training.trainer import RunConfig, TrainConfig, TrainResult, embed_nodes, fit, upgrade_run_json

__all__ = [
    "fit",
    "embed_nodes",
    "TrainConfig",
    "RunConfig",
    "upgrade_run_json",
    "TrainResult",
    "TrainedRun",
    "TorchNeighborSampler",
    "make_neighbor_sampler",
]
