"""Resuming matches the optimizer state to the parameters by name, not by position."""

from __future__ import annotations

import pytest

from graphalign.errors import CheckpointError
from graphalign.features.store import BuiltGraph
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.training import checkpoint as ckpt
from graphalign.training.trainer import RunConfig, TrainConfig, fit

MODEL = ModelConfig(hidden_dim=16, out_dim=8, head="prior", head_kwargs={"scale": 0.2})


def train(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=32, seed=0, patience=100)


RUN = RunConfig(deterministic=True)


def test_resume_with_the_graph_read_back_from_the_run_folder(toy_built, tmp_path):
    first = fit(toy_built, MODEL, train(1), run_dir=tmp_path / "run", run=RUN)
    loaded = BuiltGraph.load(tmp_path / "run" / ckpt.GRAPH_SUBDIR)  # node types come back in another order
    assert list(loaded.features) != list(toy_built.features)
    resumed = fit(loaded, train_config=train(3), run_dir=tmp_path / "run", resume=True)
    # The parameters are created in another order; the optimizer state still lands on the right ones.
    # (Supervision pairs are drawn per edge type in the graph's order, so the later epochs differ in rounding
    # from a run on the graph in its first order; bit-equal resumes need the same graph object, as the CLI has.)
    assert resumed.history[0] == first.history[0] and len(resumed.history) == 3
    assert resumed.history[-1]["loss"] < resumed.history[0]["loss"]
    assert "image->concept/mrr" in resumed.test_metrics


def test_an_optimizer_state_that_does_not_fit_is_a_checkpoint_error(toy_built, tmp_path):
    fit(toy_built, MODEL, train(1), run_dir=tmp_path / "run", run=RUN)
    path = tmp_path / "run" / ckpt.CHECKPOINT_FILE
    from graphalign.atomic import atomic_save_safetensors, read_safetensors

    tensors, metadata = read_safetensors(path, "checkpoint")
    metadata = {k: v for k, v in metadata.items() if k not in ("param_names", "graphalign.sha256")}
    first = next(k for k in tensors if k.startswith("optim.0."))
    second = next(
        k
        for k in tensors
        if k.startswith("optim.") and tensors[k].dim() > 0 and tensors[k].shape != tensors[first].shape
    )
    tensors[first], tensors[second] = tensors[second], tensors[first]  # a state saved in another parameter order
    atomic_save_safetensors(path, tensors, metadata=metadata)
    with pytest.raises(CheckpointError, match="optimizer state does not fit: the state"):
        fit(toy_built, train_config=train(2), run_dir=tmp_path / "run", resume=True)
