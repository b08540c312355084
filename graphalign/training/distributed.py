"""Data-parallel training with :mod:`torch.distributed` (launched by ``torchrun``).

Every process (rank) holds the whole graph and the same model. At every step
all ranks draw the same *global* batch of supervision pairs (their shuffling
generators share one seed) and each embeds only its shard of it: rows
``tensor_split(batch, world_size)[rank]`` — a neighbour-sampled subgraph around
its pairs in mini-batch mode, or the full graph in full mode. The pairs'
embeddings are then gathered from all ranks, so every rank evaluates the
contrastive loss of the whole global batch (in-batch negatives included), with
gradients flowing only into its own rows. Summing the gradients over ranks
(:meth:`DistributedContext.all_reduce_gradients`) then gives exactly the
gradient of the single-process step on the same global batch, and after the
identical optimiser step on every rank the weights stay equal.

The backend is ``gloo`` on CPU and ``nccl`` on CUDA (one GPU per process,
``cuda:LOCAL_RANK``). :func:`~graphalign.training.fit` uses this module when
``RunConfig.distributed`` is on, or, by default, when it runs under
``torchrun`` with more than one process::

    torchrun --nproc-per-node 2 -m graphalign train GRAPH_DIR -o RUN_DIR --mode minibatch

Example:
    >>> launched_by_torchrun({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"})
    True
    >>> launched_by_torchrun({})
    False
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from graphalign.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["DistributedContext", "launched_by_torchrun", "setup_distributed", "resolve_distributed"]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(hours=2)
"""How long a collective waits, e.g. while rank 0 alone evaluates a large graph."""


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``torchrun`` environment variables (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) are set."""
    environ = os.environ if environ is None else environ
    return all(name in environ for name in _TORCHRUN_VARS)


def resolve_distributed(flag: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to train data-parallel: ``flag`` if given, else whether this runs
    under ``torchrun`` (or an initialised process group) with more than one process.

    Example:
        >>> resolve_distributed(None, {})
        False
        >>> resolve_distributed(None, {"RANK": "1", "WORLD_SIZE": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"})
        False
    """
    if flag is not None:
        return flag
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    environ = os.environ if environ is None else environ
    return launched_by_torchrun(environ) and int(environ["WORLD_SIZE"]) > 1


@dataclass(frozen=True)
class DistributedContext:
    """The process's place in the group, and the collectives the trainer needs.

    Example:
        >>> ctx = setup_distributed("cpu")  # under torchrun  # doctest: +SKIP
        >>> ctx.rank, ctx.world_size, ctx.backend  # doctest: +SKIP
        (0, 2, 'gloo')

    Attributes:
        rank: Global rank of this process.
        world_size: Number of processes.
        local_rank: Rank on this machine (selects the GPU).
        backend: ``"gloo"`` or ``"nccl"``.
        device: Where this rank computes.
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder and logs progress."""
        return self.rank == 0

    def shard(self, tensor: Tensor, dim: int = -1) -> Tensor:
        """This rank's contiguous part of ``tensor`` along ``dim`` (``tensor_split``:
        sizes differ by at most one)."""
        return torch.tensor_split(tensor, self.world_size, dim=dim)[self.rank]

    def all_gather(self, tensor: Tensor, dim: int = 0) -> Tensor:
        """Concatenates ``tensor`` of every rank along ``dim`` (sizes may differ along ``dim``).

        The result is differentiable with respect to this rank's part only (the
        other parts are received copies), which is what makes summed gradients
        exact (see the module docstring).

        Shapes:
            - tensor: ``(..., n_rank, ...)`` with ``n_rank`` at ``dim``
            - output: ``(..., sum of n_rank, ...)``
        """
        dim = dim % tensor.dim()
        size = torch.tensor([tensor.size(dim)], device=self.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size)
        counts = [int(s) for s in sizes]
        longest = max(counts)
        padded = tensor.detach()
        if tensor.size(dim) < longest:
            pad_shape = list(tensor.shape)
            pad_shape[dim] = longest - tensor.size(dim)
            padded = torch.cat([padded, padded.new_zeros(pad_shape)], dim=dim)
        buffers = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(buffers, padded.contiguous())
        parts = [buffer.narrow(dim, 0, count) for buffer, count in zip(buffers, counts)]
        parts[self.rank] = tensor
        return torch.cat(parts, dim=dim)

    def replicated(self, tensor: Tensor) -> Tensor:
        """``tensor`` with its gradient divided by the world size.

        For values every rank computes identically (e.g. full-graph negatives):
        their gradient is counted once per rank in the sum over ranks.
        """
        return tensor.detach() + (tensor - tensor.detach()) / self.world_size

    def all_reduce_gradients(self, summed: Iterable[nn.Parameter], averaged: Iterable[nn.Parameter] = ()) -> None:
        """Sums the gradients of ``summed`` over ranks and averages those of ``averaged``.

        Model parameters are summed (each rank's gradient covers its own rows of
        the global batch); parameters of the loss itself (the temperature), whose
        gradient every rank computes whole, are averaged. A parameter without a
        gradient on every rank keeps ``grad = None`` (as in one process, so
        AdamW skips it); one with a gradient on some ranks gets zeros elsewhere.
        One flat ``all_reduce`` per call.
        """
        summed, averaged = list(summed), list(averaged)
        params = summed + averaged
        if not params:
            return
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
            + [
                torch.tensor(
                    [float(p.grad is not None) for p in params], device=params[0].device, dtype=params[0].dtype
                )
            ]
        )
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        has_grad = flat[-len(params) :] > 0
        offset = 0
        for index, p in enumerate(params):
            n = p.numel()
            if bool(has_grad[index]):
                grad = flat[offset : offset + n].view_as(p)
                if index >= len(summed):
                    grad = grad / self.world_size
                p.grad = grad.clone()
            offset += n

    def broadcast_parameters(self, modules: Sequence[nn.Module]) -> None:
        """Copies rank 0's parameters and buffers to every rank."""
        for module in modules:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (any picklable value) on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device if self.backend == "nccl" else None)
        return box[0]

    def all_gather_states(self, state: Tensor) -> list[Tensor]:
        """A byte tensor of equal size on every rank (e.g. an RNG state), from every rank."""
        local = state.to(self.device)
        out = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(out, local)
        return [s.cpu() for s in out]

    def barrier(self) -> None:
        dist.barrier()


def setup_distributed(device: str = "auto", backend: str | None = None) -> DistributedContext:
    """Joins (or creates, from the ``torchrun`` environment) the default process group.

    Args:
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``; with
            CUDA each process uses ``cuda:LOCAL_RANK``.
        backend: ``"gloo"`` or ``"nccl"``; default ``nccl`` for CUDA, else ``gloo``.

    Returns:
        This process's context. A group this function creates waits up to
        :data:`TIMEOUT` in every collective.

    Raises:
        ConfigError: If torch.distributed is unavailable or no process group can
            be set up (not launched by ``torchrun`` and none initialised).
    """
    if not dist.is_available():
        raise ConfigError("torch.distributed is not available in this PyTorch build")
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available")
        torch_device = torch.device(
            "cuda", local_rank if device in ("auto", "cuda") else torch.device(device).index or 0
        )
        torch.cuda.set_device(torch_device)
    else:
        torch_device = torch.device("cpu")
    if not dist.is_initialized():
        if not launched_by_torchrun():
            raise ConfigError(
                "distributed training needs a process group: launch with `torchrun --nproc-per-node N ...` "
                "or call torch.distributed.init_process_group first"
            )
        dist.init_process_group(
            backend=backend or ("nccl" if use_cuda else "gloo"),
            timeout=TIMEOUT,
            device_id=torch_device if use_cuda else None,
        )
    context = DistributedContext(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=local_rank,
        backend=str(dist.get_backend()),
        device=torch_device,
    )
    logger.info(
        "distributed: rank %d of %d (%s on %s)", context.rank, context.world_size, context.backend, torch_device
    )
    return context
