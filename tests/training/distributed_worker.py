"""Worker of ``test_distributed.py``: run under ``torchrun`` (2 CPU processes, gloo).

``python -m torch.distributed.run --standalone --nproc-per-node 2 distributed_worker.py OUT GRAPH_DIR``
trains every case of :data:`CASES` data-parallel and, on rank 0, saves the
final weights to ``OUT/<case>.safetensors``; then it runs ``graphalign train``
on ``GRAPH_DIR`` through the CLI into ``OUT/cli-run``. The test trains the same
cases in one process and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from graphalign.benchmark.synthetic import (
    ALIGNED_RELATIONS,
    SyntheticGraph,
    make_synthetic_graph,
)
from graphalign.data import SplitConfig
from graphalign.nn import ModelConfig
from graphalign.training import RunConfig, TrainConfig, TrainResult, fit

GRAPH = {"num_nodes": 120, "edges_per_node": 4.0, "text_dim": 12, "image_dim": 20, "seed": 0}
SPLIT = SplitConfig(val_fraction=0.0, test_fraction=0.0, align_relations=list(ALIGNED_RELATIONS))

CASES: dict[str, tuple[ModelConfig, TrainConfig]] = {
    # Full mode: every rank embeds the whole graph; exact even with dropout, node
    # isolation and all-node negatives (the same random draws on every rank).
    # (Not GAT: its attention has parameters with ~0 gradients, whose float noise
    # Adam's normalised steps would blow up into visible weight differences.)
    "full": (
        ModelConfig(num_layers=2, propagate=None, hidden_dim=16, out_dim=8, conv="sage", dropout=0.1),
        TrainConfig(epochs=2, batch_size=10, sampler={"name": "full", "isolate_nodes": 0.2}, negatives=-1, lr=1e-2),
    ),
    # Mini-batch mode with whole neighbourhoods: a node's embedding does not depend
    # on which other pairs share its subgraph, so shards give the global batch's numbers.
    "minibatch": (
        ModelConfig(num_layers=2, propagate=None, hidden_dim=16, out_dim=8, conv="rgcn", dropout=0.0),
        # In-batch negatives only: all-node negatives of a sampled subgraph depend on which pairs share it.
        TrainConfig(
            epochs=2, batch_size=10, sampler={"name": "neighbor", "num_neighbors": [-1, -1]}, negatives=0, lr=1e-2
        ),
    ),
    # Row steps of the default model (propagated features, no layers): each rank embeds the rows of
    # its shard of the pairs, and every node of the target type for the all-node negatives.
    "rows": (
        ModelConfig(hidden_dim=16, out_dim=8, dropout=0.0, propagate={"hops": 2, "dim": 8}),
        TrainConfig(epochs=2, batch_size=10, sampler={"name": "full", "isolate_nodes": 0.2}, negatives=-1, lr=1e-2),
    ),
}

CLI_ARGS = [
    "--preset",
    "gnn",
    "--conv",
    "sage",
    "--hidden-dim",
    "16",
    "--out-dim",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "10",
    "--val-fraction",
    "0",
    "--test-fraction",
    "0",
    "--dropout",
    "0",
    "--seed",
    "3",
]


def tiny_graph() -> SyntheticGraph:
    return make_synthetic_graph(**GRAPH)


def run_case(name: str, distributed: bool | None = None, run_dir: Path | None = None) -> TrainResult:
    model_config, train_config = CASES[name]
    run = RunConfig(progress=False, distributed=distributed)
    return fit(tiny_graph(), model_config, train_config, SPLIT, run_dir=run_dir, run=run)


def weights(result: TrainResult) -> dict[str, torch.Tensor]:
    out: dict[str, Any] = {}
    for prefix, module in (("model", result.model), ("loss", result.loss)):
        out.update({f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    return out


def main(out: Path, graph_dir: Path) -> None:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from graphalign.cli import main as cli_main

    for name in CASES:
        result = run_case(name, distributed=True, run_dir=out / f"{name}-run")
        if dist.get_rank() == 0:
            save_file(weights(result), str(out / f"{name}.safetensors"))
            (out / f"{name}.loss").write_text(" ".join(str(h["loss"]) for h in result.history))
    status = cli_main(["-q", "train", str(graph_dir), "-o", str(out / "cli-run"), *CLI_ARGS])  # destroys the group
    sys.exit(status)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
