#!/usr/bin/env python3
"""Writes ``graphalign/encoders/data/imagenet_wordnet.tsv``: the WordNet 3.0
hypernyms of each ImageNet-1k class.

The 1000 classes of ImageNet-1k classifiers (torchvision's and Google's
EfficientNet checkpoints, in logit order) are WordNet 3.0 noun synsets
(``n`` + 8-digit offset). The table lists, for each class, every synset on its
hypernym paths (``@`` and ``@i`` pointers) with its distance in hops, the class
itself at 0, so that graphalign can map a classifier's predictions onto the
concepts of any graph whose concepts are WordNet synsets
(:mod:`graphalign.features.wordnet_predictions`).

Inputs: the WordNet database of the ``wordnet-base`` Debian package, and the
list of the 1000 class synsets in logit order (one ``nXXXXXXXX`` per line, e.g.
``timm/data/_info/imagenet_synsets.txt`` from the timm package, Apache-2.0)::

    python datasets/tuxpaint_wordnet/imagenet_wordnet.py --synsets imagenet_synsets.txt

Rebuilding gives a byte-identical file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphalign.datasets.tuxpaint_wordnet import WORDNET_DIR, WordNet, system_path

OUT = Path(__file__).resolve().parents[2] / "graphalign" / "encoders" / "data" / "imagenet_wordnet.tsv"
HEADER = """\
# The WordNet 3.0 hypernyms of the 1000 ImageNet-1k classes, in logit order.
# Columns: class index, class synset (n + WordNet 3.0 noun offset), then
# OFFSET:DISTANCE for the class itself (distance 0) and every synset on its
# hypernym paths (@ and @i pointers), nearest first.
# Derived from WordNet 3.0 (Princeton University; WordNet 3.0 license in
# graphalign/datasets/data/tuxpaint_small/LICENSE-wordnet.txt) and the ImageNet class synset
# list of timm (Apache-2.0), by datasets/tuxpaint_wordnet/imagenet_wordnet.py.
"""


def hypernym_distances(wordnet: WordNet, offset: str) -> dict[str, int]:
    """Every synset on the hypernym paths of ``offset`` with its shortest distance (itself at 0)."""
    distances = {offset: 0}
    frontier = [offset]
    while frontier:
        following = []
        for current in frontier:
            for parent in wordnet.hypernyms(current):
                if parent not in distances:
                    distances[parent] = distances[current] + 1
                    following.append(parent)
        frontier = following
    return distances


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--synsets", type=Path, required=True, help="the 1000 class synsets in logit order, one per line"
    )
    parser.add_argument("--wordnet", type=Path, default=system_path(WORDNET_DIR), help="WordNet 3.0 dict folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    synsets = [line.strip() for line in args.synsets.read_text().splitlines() if line.strip()]
    if len(synsets) != 1000 or not all(s.startswith("n") and len(s) == 9 for s in synsets):
        raise SystemExit(f"{args.synsets}: expected 1000 lines like n01440764, got {len(synsets)}")
    wordnet = WordNet(args.wordnet)
    lines = [HEADER]
    for index, synset in enumerate(synsets):
        distances = hypernym_distances(wordnet, synset[1:])
        ordered = sorted(distances.items(), key=lambda item: (item[1], item[0]))
        lines.append(f"{index}\t{synset}\t" + " ".join(f"{offset}:{distance}" for offset, distance in ordered) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(lines), encoding="utf-8")
    print(f"wrote {args.out} ({len(synsets)} classes)")


if __name__ == "__main__":
    main()
