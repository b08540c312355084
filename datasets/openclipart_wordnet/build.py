#!/usr/bin/env python3
"""Builds the Open Clip Art x WordNet 3.0 dataset folder: the ``openclipart_wordnet`` recipe.

The recipe lives in the package (:mod:`graphalign.datasets.openclipart_wordnet`);
this script is its command line. Sources: the Debian packages
``openclipart-svg`` and ``wordnet-base``
(``apt-get install -y openclipart-svg wordnet-base libcairo2``).

Usage::

    python datasets/openclipart_wordnet/build.py --out DIR            # every drawing the recipe keeps
    python datasets/openclipart_wordnet/build.py --out DIR --small    # about 300 drawings, 128 px
    python datasets/openclipart_wordnet/build.py --links              # print every drawing's link

The same build from the graphalign command line:
``graphalign dataset build openclipart_wordnet -o DIR [--kwargs '{"small": true}']``.
Rebuilding gives byte-identical files.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphalign.datasets import openclipart_wordnet as recipe
from graphalign.datasets.recipe import run_build_command


def _print_stats(out: Path, stats: dict[str, Any], seconds: float) -> None:
    def counts(name: str) -> str:
        return ", ".join(f"{k}={v}" for k, v in stats[name].items())

    print(f"wrote {out} in {seconds:.0f} s")
    print(f"  drawings (images): {stats['images']}  concepts: {stats['concepts']}  texts: {stats['texts']}")
    print(f"  texts by field: {counts('texts_by_field')}")
    print(f"  edges: {counts('edges')}")
    print(f"  links: {stats['links']}  kinds: {stats['kinds']}")
    print(f"  dropped drawings: {counts('dropped')}")
    print(f"  ignored metadata: {counts('ignored')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_build_command(argv, __doc__.split("\n\n")[0], recipe.build, recipe.link_lines, _print_stats)


if __name__ == "__main__":
    sys.exit(main())
