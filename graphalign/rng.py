"""Random draws on tensors that advance a ``torch.Generator`` by a fixed amount (samplers, synthetic graphs)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["randint_below"]


def randint_below(high: Tensor, generator: torch.Generator) -> Tensor:
    """One uniform integer in ``[0, high[i])`` for every entry of ``high`` (all ``high > 0``).

    Unlike ``torch.randint``, the bound differs per entry; the generator advances
    by one double per entry whatever the bounds.

    Example:
        >>> draws = randint_below(torch.tensor([1, 5, 3]), torch.Generator().manual_seed(0))
        >>> draws[0].item(), bool((draws >= 0).all() and (draws < torch.tensor([1, 5, 3])).all())
        (0, True)

    Shapes:
        ``high``: any shape; the result has the same shape (``long``).
    """
    draw = torch.rand(high.shape, generator=generator, dtype=torch.float64)
    return torch.minimum((draw * high).to(torch.long), high - 1)
