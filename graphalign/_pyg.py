"""PyTorch Geometric, imported once with its import-time deprecation warning silenced.

When it is imported, PyG scripts two of its named tuples with ``torch.jit.script``,
which recent torch releases report as a ``FutureWarning`` on every import. Every
graphalign module imports PyG through this module first, so users of graphalign
never see that warning. The filter is scoped to this one import
(``warnings.catch_warnings``): calls of ``torch.jit.script`` in the user's own code
still warn.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    import torch_geometric  # noqa: F401

__all__: list[str] = []
