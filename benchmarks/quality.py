"""Quality benchmark: graphalign vs. ConSE, 1-NN and two towers on the same splits.

Same as ``graphalign bench``; writes ``docs/results/quality-<dataset>.md`` and ``.csv``.

Usage::

    python benchmarks/quality.py tuxpaint_small                     # bundled data, a few minutes
    python benchmarks/quality.py data/tuxpaint-wordnet --seeds 0 1 2 # the full graph (after the recipe)
"""

from __future__ import annotations

import sys

from graphalign.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
