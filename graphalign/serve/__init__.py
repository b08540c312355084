"""The explorer: ``graphalign serve RUN_DIR`` shows a trained run in the browser (the ``serve`` extra).

:class:`Explorer` is what the page shows, as JSON-ready dicts (the same calls as
:class:`~graphalign.query.Aligner`); :func:`create_app` serves it with FastAPI
(imported when called, with a message naming the extra when it is missing).
"""

from __future__ import annotations

from graphalign.serve.app import create_app
from graphalign.serve.explorer import Explorer, NodeNotFound
from graphalign.serve.layout import compute_map, load_or_compute_map

__all__ = ["Explorer", "NodeNotFound", "compute_map", "load_or_compute_map", "create_app"]
