#!/usr/bin/env python3
"""Builds the Tux Paint stamps x WordNet 3.0 dataset folder: the ``tuxpaint_wordnet`` recipe.

The recipe lives in the package (:mod:`graphalign.datasets.tuxpaint_wordnet`);
this script is its command line. Sources: the Debian packages
``tuxpaint-stamps-default`` and ``wordnet-base``
(``apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2``).

Usage::

    python datasets/tuxpaint_wordnet/build.py --out DIR            # all stamps
    python datasets/tuxpaint_wordnet/build.py --out DIR --small    # ~300 stamps (the bundled tuxpaint_small)
    python datasets/tuxpaint_wordnet/build.py --links              # print links

The same build from the graphalign command line:
``graphalign dataset build tuxpaint_wordnet -o DIR [--kwargs '{"small": true}']``.
Rebuilding gives byte-identical files.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphalign.datasets import tuxpaint_wordnet as recipe
from graphalign.datasets.recipe import run_build_command


def _print_stats(out: Path, stats: dict[str, Any], seconds: float) -> None:
    print(f"wrote {out}")
    print(f"  concepts: {stats['concepts']}  images: {stats['images']}  texts: {stats['texts']}")
    print("  texts by language: " + ", ".join(f"{k}={v}" for k, v in stats["texts_by_language"].items()))
    print("  edges: " + ", ".join(f"{k}={v}" for k, v in stats["edges"].items()))
    print(f"  links: {stats['links']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    return run_build_command(argv, __doc__.split("\n\n")[0], recipe.build, recipe.link_lines, _print_stats)


if __name__ == "__main__":
    sys.exit(main())
