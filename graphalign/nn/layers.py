"""Activations (resolved by PyG's ``activation_resolver``) and normalisation layers by name.

* :func:`build_activation`: any activation that
  :func:`torch_geometric.nn.resolver.activation_resolver` knows (``gelu``,
  ``relu``, ``silu``, ``elu``, ``tanh``, ...);
* :data:`NORMS`: ``layer`` (torch's ``LayerNorm`` over each node's features),
  ``batch`` (batch norm that falls back to its running statistics for a batch of
  one row, which per-type mini-batches meet), ``none``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

import graphalign._pyg  # noqa: F401  (before PyG: imports it without its FutureWarning)

# isort: split
from torch_geometric.nn.resolver import activation_resolver

from graphalign.errors import ConfigError
from graphalign.registry import Registry

__all__ = ["NORMS", "build_activation", "build_norm", "check_activation"]


def build_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (case-insensitive), e.g. ``gelu``.

    Example:
        >>> build_activation("gelu")
        GELU(approximate='none')

    Raises:
        ConfigError: If PyG's resolver knows no activation of that name.
    """
    try:
        return activation_resolver(name)
    except ValueError:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of gelu, relu, silu, elu, tanh (or another torch.nn activation)"
        ) from None


def check_activation(name: str) -> None:
    """Raises :class:`ConfigError` if ``name`` is no activation (builds nothing with parameters)."""
    build_activation(name)


NORMS: Registry[nn.Module] = Registry("norm")
"""Normalisation layers by name, built with :func:`build_norm`."""


@NORMS.register("layer")
def _layer_norm(num_features: int) -> nn.Module:
    """Layer normalisation of each node's features (torch's ``LayerNorm``).

    PyG's ``normalization_resolver("layer_norm", mode="node")`` computes the same
    function, but training with it rounds differently, so runs trained with
    torch's layer keep their numbers.
    """
    return nn.LayerNorm(num_features)


@NORMS.register("batch")
class BatchNorm(nn.BatchNorm1d):
    """Batch normalisation that uses its running statistics for batches of fewer than 2 rows."""

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.size(0) < 2:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


@NORMS.register("none")
def _no_norm(num_features: int) -> nn.Module:
    """No normalisation."""
    return nn.Identity()


def build_norm(name: str, num_features: int) -> nn.Module:
    """The normalisation layer ``name`` (one of :data:`NORMS`) for ``num_features`` features."""
    return NORMS.build(name, {"num_features": num_features})
