"""Loading a trained run folder: graph, split, model, and embeddings."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graphalign.device import resolve_device
from graphalign.features.store import BuiltGraph
from graphalign.losses import build_loss
from graphalign.nn.hetero_gnn import HeteroAligner, ModelConfig
from graphalign.training import checkpoint as ckpt
from graphalign.data.split import EdgeSplit, SplitConfig
from graphalign.training.trainer import TrainConfig, _load_split, message_passing_data
from graphalign.typing import NodeType

logger = logging.getLogger(__name__)

__all__ = ["TrainedRun"]


@dataclass
class TrainedRun:
    """A trained run loaded from its folder (no pickle: JSON and safetensors only).

    Example:
        >>> run = TrainedRun.load("runs/demo")  # doctest: +SKIP
        >>> run.embeddings()["image"].shape  # doctest: +SKIP
        torch.Size([300, 128])

    Attributes:
        run_dir: The folder.
        built: The graph the model was trained on.
        split: The edge split.
        model: The best model, in eval mode.
        loss: The loss module (holds the learned temperature).
        config: The content of ``run.json``.
    """

    run_dir: Path
    built: BuiltGraph
    split: EdgeSplit
    model: HeteroAligner
    loss: nn.Module
    config: dict[str, Any]

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], device: str | None = "cpu") -> TrainedRun:
        """Loads a run folder written by :func:`~graphalign.training.trainer.fit`.

        Raises:
            CheckpointError: If anything is missing or does not fit.
        """
        run_dir = Path(run_dir)
        config = ckpt.read_run_config(run_dir)
        built = BuiltGraph.load(run_dir / ckpt.GRAPH_SUBDIR)
        split = _load_split(run_dir, config)
        edge_types = [tuple(e) for e in config["edge_types"]]
        model = HeteroAligner(
            config["in_dims"], edge_types, ModelConfig.from_dict(config["model"]), input_groups=config.get("input_groups")  # type: ignore[arg-type]
        )
        train = TrainConfig.from_dict(config["train"])
        loss = build_loss(train.loss, train.loss_kwargs)
        ckpt.load_weights(run_dir / ckpt.MODEL_FILE, {"model": model, "loss": loss})
        model = model.to(resolve_device(device)).eval()
        return cls(run_dir=run_dir, built=built, split=split, model=model, loss=loss, config=config)

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config["train"])

    @property
    def split_config(self) -> SplitConfig:
        return SplitConfig.from_dict(self.config["split"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @cached_property
    def _message_passing(self) -> Any:
        return message_passing_data(self.built, self.split, inference=True).to(self.device)

    @torch.no_grad()
    def embeddings(self) -> dict[NodeType, torch.Tensor]:
        """Shared-space embedding of every node, computed with every training
        edge (held-out links stay hidden; :meth:`EdgeSplit.inference_edges`). Cached."""
        if not hasattr(self, "_embeddings"):
            data = self._message_passing
            z = self.model(data.x_dict, data.edge_index_dict)
            self._embeddings = {t: v.cpu() for t, v in z.items()}
        return self._embeddings

    def metrics(self) -> dict[str, Any]:
        """The ``metrics.json`` written at the end of training."""
        path = self.run_dir / ckpt.METRICS_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
