"""Run folders: configs as JSON, weights and training state as safetensors.

A run folder written by :func:`~graphalign.training.trainer.fit` holds::

    .graphalign.json      the marker {"kind": "run", "format": 1} (see graphalign.outputs)
    run.json              model / train / split configs, model input dims and edge types,
                          and the fingerprint of the graph (resuming checks it)
    graph/                the built graph the run was trained on (see BuiltGraph)
    split.safetensors     the edge split (message passing, supervision, val, test)
    model.safetensors     the best weights (by validation MRR)
    checkpoint.safetensors  the last epoch: weights, optimizer, RNG states, and
                          the training state (JSON in the metadata), for resuming
    metrics.json          final validation and test metrics, and the history

Everything is written atomically, and nothing is ever unpickled: tensors come
from safetensors, everything else from JSON. A file of any other kind put in
their place (a ``torch.save`` pickle, say) is refused with a
:class:`~graphalign.errors.CheckpointError` before any of it is interpreted.

A process killed at any moment leaves every file either complete (old or new)
or absent; the only debris is hidden ``.<file>.*.tmp`` files, which the next
write of that file deletes. Resuming from ``checkpoint.safetensors`` continues
exactly where the last completed epoch left off.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graphalign.atomic import (
    atomic_save_safetensors,
    atomic_write_json,
    read_safetensors,
    read_versioned_json,
    remove_temp_files,
)
from graphalign.errors import CheckpointError
from graphalign.features.store import GRAPH_LAYOUT, GRAPH_STAGING_LAYOUT
from graphalign.outputs import OutputLayout, check_output_dir

logger = logging.getLogger(__name__)

__all__ = [
    "RUN_FILE",
    "RUN_LAYOUT",
    "check_run_output",
    "write_run_config",
    "read_run_config",
    "save_weights",
    "load_weights",
    "save_training_checkpoint",
    "load_training_checkpoint",
    "TrainingCheckpoint",
]

RUN_FILE = "run.json"
MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
SPLIT_FILE = "split.safetensors"
METRICS_FILE = "metrics.json"
MAP_FILE = "map.json"
"""The explorer's cached 2-D map of the run (written by :mod:`graphalign.serve.layout`)."""
GRAPH_SUBDIR = "graph"
RUN_FORMAT_VERSION = 1
RUN_LAYOUT = OutputLayout(
    "run",
    files=(RUN_FILE, MODEL_FILE, CHECKPOINT_FILE, SPLIT_FILE, METRICS_FILE, MAP_FILE),
    folders=(
        (GRAPH_SUBDIR, GRAPH_LAYOUT),
        (f".{GRAPH_SUBDIR}.tmp-*", GRAPH_STAGING_LAYOUT),
        (f".{GRAPH_SUBDIR}.old-*", GRAPH_STAGING_LAYOUT),
    ),
    metadata=RUN_FILE,
    metadata_format="graphalign-run",
)
"""What a run folder holds (see :mod:`graphalign.outputs`)."""


def check_run_output(run_dir: str | os.PathLike[str], overwrite: bool = False, resume: bool = False) -> None:
    """Checks, before any work, that :func:`~graphalign.training.trainer.fit` may write ``run_dir``.

    Args:
        run_dir: The run folder.
        overwrite: Replace graphalign's own run folder.
        resume: Continue graphalign's own run there (allowed without ``overwrite``).

    Raises:
        OutputError: See :func:`graphalign.outputs.check_output_dir`.
    """
    check_output_dir(run_dir, RUN_LAYOUT, overwrite=overwrite or resume)


def write_run_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write_json(run_dir / RUN_FILE, {"format": "graphalign-run", "version": RUN_FORMAT_VERSION, **config})


RUN_FIELDS: dict[str, type] = {
    "model": dict,
    "train": dict,
    "split": dict,
    "in_dims": dict,
    "edge_types": list,
    "aligned_edge_types": list,
}
"""Required fields of ``run.json`` and their JSON types."""


def read_run_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads ``run.json`` (JSON only) and checks its fields.

    Raises:
        CheckpointError: If the folder is not a run folder or the file is invalid.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        found = "is a file, not a run folder" if folder.exists() else "no such folder"
        raise CheckpointError(f"{run_dir}: {found}; give a run folder that `graphalign train` wrote")
    path = folder / RUN_FILE
    config = read_versioned_json(
        path,
        "graphalign-run",
        RUN_FORMAT_VERSION,
        f"not a graphalign run folder (no {RUN_FILE}); train one with `graphalign train`",
    )
    for name, kind in RUN_FIELDS.items():
        if not isinstance(config.get(name), kind):
            raise CheckpointError(
                f"{path}: field {name!r} is missing or not a JSON {'object' if kind is dict else 'array'}"
            )
    for name in ("edge_types", "aligned_edge_types"):
        if not all(
            isinstance(e, list) and len(e) == 3 and all(isinstance(part, str) for part in e) for e in config[name]
        ):
            raise CheckpointError(f"{path}: field {name!r} must hold [source, relation, target] string triples")
    return config


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{key}": value.detach().cpu() for key, value in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}


def save_weights(path: Path, modules: dict[str, nn.Module], metadata: dict[str, str] | None = None) -> None:
    """Saves several modules' state dicts into one safetensors file (``name.`` prefixes)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update(_prefixed(f"{name}.", module.state_dict()))
    remove_temp_files(path)  # debris of a killed earlier write; one trainer writes a run folder at a time
    atomic_save_safetensors(path, tensors, metadata=metadata)


def load_weights(path: Path, modules: dict[str, nn.Module]) -> dict[str, str]:
    """Loads weights saved by :func:`save_weights` (strict); returns the metadata.

    Raises:
        CheckpointError: If the file is missing, corrupt or does not fit the modules.
    """
    tensors, metadata = read_safetensors(path, "weights")
    for name, module in modules.items():
        try:
            module.load_state_dict(_unprefixed(f"{name}.", tensors), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{path}: weights do not fit the {name}: {error}") from error
    return metadata


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{index}.{key}"] = tensor.detach().cpu()
    return tensors, state["param_groups"]


def _parameter_names(modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer) -> list[str]:
    """The name of each optimizer parameter, in the optimizer's order (``model.head.0.weight``, ...)."""
    names = {id(p): f"{name}.{key}" for name, module in modules.items() for key, p in module.named_parameters()}
    return [names.get(id(p), f"#{i}") for i, p in enumerate(q for g in optimizer.param_groups for q in g["params"])]


def _restore_optimizer(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    param_groups: list[dict[str, Any]],
    saved_names: list[str] | None,
    names: list[str],
) -> None:
    """Loads the optimizer state, matched to the parameters by name (by position in files without names)."""
    saved: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _unprefixed("optim.", tensors).items():
        index, name = key.split(".", 1)
        saved.setdefault(int(index), {})[name] = value
    if saved_names is not None:
        if sorted(saved_names) != sorted(names):
            missing, extra = sorted(set(names) - set(saved_names)), sorted(set(saved_names) - set(names))
            raise ValueError(f"parameters differ (not in the checkpoint: {missing[:3]}; only there: {extra[:3]})")
        position = {name: i for i, name in enumerate(saved_names)}
        saved = {i: saved[position[name]] for i, name in enumerate(names) if position[name] in saved}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, values in saved.items():
        for key, value in values.items():
            if value.dim() > 0 and value.shape != params[index].shape:
                raise ValueError(
                    f"the state {key!r} of {names[index]} has shape {tuple(value.shape)}, "
                    f"the parameter {tuple(params[index].shape)}"
                )
    optimizer.load_state_dict({"state": saved, "param_groups": param_groups})


@dataclass
class TrainingCheckpoint:
    """What :func:`load_training_checkpoint` restores besides the modules."""

    state: dict[str, Any]
    rng: dict[str, torch.Tensor]


def save_training_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    rng: dict[str, torch.Tensor],
) -> None:
    """Saves weights, optimizer state, RNG states and a JSON training state in ONE
    atomically written file, so the pieces can never disagree after a crash."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update(_prefixed(f"{name}.", module.state_dict()))
    optim_tensors, param_groups = _optimizer_tensors(optimizer)
    tensors.update(optim_tensors)
    tensors.update({f"rng.{key}": value for key, value in rng.items()})
    metadata = {
        "state": json.dumps(state),
        "param_groups": json.dumps(param_groups),
        "param_names": json.dumps(_parameter_names(modules, optimizer)),
    }
    remove_temp_files(path)  # debris of a write killed in an earlier run
    atomic_save_safetensors(path, tensors, metadata=metadata)


def load_training_checkpoint(
    path: Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer
) -> TrainingCheckpoint:
    """Restores modules and optimizer from :func:`save_training_checkpoint`.

    Raises:
        CheckpointError: If the file is missing, corrupt or does not fit.
    """
    tensors, metadata = read_safetensors(path, "training checkpoint")
    try:
        state = json.loads(metadata["state"])
        param_groups = json.loads(metadata["param_groups"])
    except (KeyError, ValueError, RecursionError) as error:
        raise CheckpointError(
            f"{path}: checkpoint metadata is missing or invalid ({type(error).__name__}: {error})"
        ) from error
    if not (
        isinstance(state, dict)
        and isinstance(state.get("epoch"), int)
        and isinstance(state.get("history"), list)
        and isinstance(state.get("best"), dict)
        and isinstance(param_groups, list)
    ):
        raise CheckpointError(f"{path}: checkpoint metadata does not hold a training state (epoch, history, best)")
    for name, module in modules.items():
        try:
            module.load_state_dict(_unprefixed(f"{name}.", tensors), strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{path}: weights do not fit the {name}: {error}") from error
    try:
        saved_names = json.loads(metadata["param_names"]) if "param_names" in metadata else None
        _restore_optimizer(optimizer, tensors, param_groups, saved_names, _parameter_names(modules, optimizer))
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise CheckpointError(f"{path}: optimizer state does not fit: {error}") from error
    return TrainingCheckpoint(state=state, rng=_unprefixed("rng.", tensors))
