"""Output heads: from a node's last hidden state (and its raw features) to its unit-norm embedding.

Heads are chosen by name through :data:`HEADS` (``ModelConfig(head=..., head_kwargs=...)``):

* ``plain``: ``normalize(MLP(h))``;
* ``prior``: ``normalize(P x + s · normalize(MLP(h)))``, which keeps the
  pretrained space of the input features as a prior (``P`` a linear map per
  input group, initialised to pass the last ``out_dim`` input features through;
  ``s`` a learned scale starting at ``scale``). Training then starts from the
  pretrained alignment, and the GNN learns a correction to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
from torch_geometric.nn.module_dict import ModuleDict

from graphalign.checks import check_float
from graphalign.registry import Registry

__all__ = ["HEADS", "Head", "ProjectionHead", "PriorHead", "build_head"]


class Head(nn.Module):
    """Base of the output heads: an MLP ``Linear(hidden, hidden) → act → Linear(hidden, out_dim)``.

    The MLP's layers are the head's children ``0``, ``1`` and ``2`` (parameter
    names ``head.0.weight``, ...), as in an ``nn.Sequential``.

    Args:
        group_dims: Raw feature size per input group (node types that share an encoder).
        hidden_dim: Size of the hidden states.
        out_dim: Size of the embedding.
        act: The activation module.
    """

    def __init__(self, group_dims: Mapping[str, int], hidden_dim: int, out_dim: int, act: nn.Module) -> None:
        super().__init__()
        self._add_mlp(hidden_dim, out_dim, act)

    def _add_mlp(self, hidden_dim: int, out_dim: int, act: nn.Module) -> None:
        layers = (("0", nn.Linear(hidden_dim, hidden_dim)), ("1", act), ("2", nn.Linear(hidden_dim, out_dim)))
        for name, layer in layers:
            self.add_module(name, layer)

    def forward(self, h: Tensor) -> Tensor:
        """The MLP. Shapes: ``h`` ``(num_nodes, hidden_dim)`` → ``(num_nodes, out_dim)``."""
        for name in ("0", "1", "2"):
            h = self._modules[name](h)  # type: ignore[misc]
        return h

    @classmethod
    def check_arguments(cls, **kwargs: object) -> None:
        """Checks the values of the head's own arguments (names are checked by the registry).

        Raises:
            ConfigError: On a value out of range.
        """

    def embed(self, h: Tensor, x: Tensor, group: str) -> Tensor:
        """The unit-norm embedding of nodes of one input group.

        Shapes:
            - h: ``(num_nodes, hidden_dim)``
            - x: ``(num_nodes, group_dims[group])``
            - output: ``(num_nodes, out_dim)``
        """
        raise NotImplementedError


HEADS: Registry[Head] = Registry("head")
"""Output heads by name: ``plain`` and ``prior``."""


@HEADS.register("plain")
class ProjectionHead(Head):
    """An MLP on the last hidden state, L2-normalised.

    Example:
        >>> head = ProjectionHead({"text": 6}, hidden_dim=8, out_dim=4, act=nn.GELU())
        >>> head.embed(torch.randn(3, 8), torch.randn(3, 6), "text").shape
        torch.Size([3, 4])
    """

    def embed(self, h: Tensor, x: Tensor, group: str) -> Tensor:
        return F.normalize(self(h), dim=-1)  # (num_nodes, out_dim)


def _pass_through(in_dim: int, out_dim: int) -> nn.Linear:
    """A linear map initialised to copy the last ``min(in_dim, out_dim)`` inputs."""
    linear = nn.Linear(in_dim, out_dim, bias=False)
    with torch.no_grad():
        linear.weight.zero_()
        n = min(in_dim, out_dim)
        linear.weight[:n, in_dim - n :] = torch.eye(n)
    return linear


@HEADS.register("prior")
class PriorHead(Head):
    """The pretrained space as a prior: ``normalize(P x + s · normalize(MLP(h)))``.

    ``P`` (one linear map per input group) starts as a pass-through of the last
    ``out_dim`` input features: with ``conse`` image features and MiniLM text
    features, images and texts start in the text encoder's space.

    Example:
        >>> head = PriorHead({"text": 4}, hidden_dim=8, out_dim=4, act=nn.GELU(), scale=0.2)
        >>> x = torch.randn(3, 4)
        >>> bool(torch.allclose(head.embed(torch.zeros(3, 8), x, "text"), F.normalize(x, dim=-1), atol=0.2))
        True

    Args:
        scale: Initial weight of the GNN term against the prior.
    """

    def __init__(
        self, group_dims: Mapping[str, int], hidden_dim: int, out_dim: int, act: nn.Module, scale: float = 0.2
    ) -> None:
        self.check_arguments(scale=scale)
        nn.Module.__init__(self)
        # The prior is drawn and registered before the MLP: this fixes the parameter order, and with it the
        # random initialisation and the order of sums over parameters (gradient clipping) of every run.
        self.prior = ModuleDict({g: _pass_through(dim, out_dim) for g, dim in group_dims.items()})
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        self._add_mlp(hidden_dim, out_dim, act)

    @classmethod
    def check_arguments(cls, scale: object = 0.2, **kwargs: object) -> None:
        check_float("head prior", "scale", scale, low=0.0, low_open=True)

    def embed(self, h: Tensor, x: Tensor, group: str) -> Tensor:
        prior = F.normalize(self.prior[group](x), dim=-1)  # (num_nodes, out_dim)
        z = prior + self.log_scale.exp() * F.normalize(self(h), dim=-1)
        return F.normalize(z, dim=-1)  # (num_nodes, out_dim)

    def extra_repr(self) -> str:
        return f"scale={self.log_scale.exp().item():.3g}"


def build_head(
    name: str,
    kwargs: Mapping[str, object],
    group_dims: Mapping[str, int],
    hidden_dim: int,
    out_dim: int,
    act: nn.Module,
) -> Head:
    """Builds a registered head (its own arguments in ``kwargs``)."""
    return HEADS.build(
        name, {"group_dims": group_dims, "hidden_dim": hidden_dim, "out_dim": out_dim, "act": act, **kwargs}
    )
