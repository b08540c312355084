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

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from graphalign.datasets import tuxpaint_wordnet as recipe
from graphalign.errors import GraphAlignError


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output dataset folder")
    parser.add_argument("--small", action="store_true", help="build the small bundled subset")
    parser.add_argument("--stamps-dir", type=Path, default=None, help=f"default: /{recipe.STAMPS_DIR}")
    parser.add_argument("--wordnet-dir", type=Path, default=None, help=f"default: /{recipe.WORDNET_DIR}")
    parser.add_argument("--overrides", type=Path, default=recipe.DEFAULT_OVERRIDES, help="hand-checked sense overrides")
    parser.add_argument("--jobs", type=int, default=None, help="image worker processes (default: CPUs, max 8)")
    parser.add_argument("--links", action="store_true", help="print every stamp's link and exit")
    parser.add_argument("--no-overrides", action="store_true", help="with --links: show the automatic links only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        if args.links:
            overrides = None if args.no_overrides else args.overrides
            print("\n".join(recipe.link_lines(args.stamps_dir, args.wordnet_dir, overrides)))
            return 0
        if args.out is None:
            parser.error("--out is required (unless --links)")
        stats = recipe.build(
            args.out,
            small=args.small,
            stamps_dir=args.stamps_dir,
            wordnet_dir=args.wordnet_dir,
            overrides_path=args.overrides,
            jobs=args.jobs,
        )
    except GraphAlignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    by_language = stats["texts_by_language"]
    assert isinstance(by_language, dict)
    print(f"wrote {args.out}")
    print(f"  concepts: {stats['concepts']}  images: {stats['images']}  texts: {stats['texts']}")
    print("  texts by language: " + ", ".join(f"{k}={v}" for k, v in by_language.items()))
    print("  edges: " + ", ".join(f"{k}={v}" for k, v in stats["edges"].items()))  # type: ignore[union-attr]
    print(f"  links: {stats['links']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
