"""Training: leakage-free splits, the fit loop, checkpoints, trained runs."""

from graphalign.training.run import TrainedRun
from graphalign.training.sampling import TorchNeighborSampler, make_neighbor_sampler
from graphalign.training.split import EdgeSplit, SplitConfig, split_graph
from graphalign.training.trainer import TrainConfig, TrainResult, fit

__all__ = ["fit", "TrainConfig", "TrainResult", "SplitConfig", "EdgeSplit", "split_graph", "TrainedRun", "TorchNeighborSampler", "make_neighbor_sampler"]
