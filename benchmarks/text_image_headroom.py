"""How far could concept knowledge lift text -> image retrieval? (protocol b of the quality benchmark)

The graph knows which concept every training image depicts, and a description
names its concept, so what a graph can add to a text -> image ranking is, at
most, to push down every image of another concept. This script measures that
ceiling: for each trained embedding of the benchmark (same splits, seeds and
presets as ``graphalign bench``; each in the view of the text -> image
direction), text -> image MRR as the benchmark reports it, and the same
ranking with an *oracle* that drops every image sharing no concept with the
target (what a perfect concept classifier added to that embedding could
reach). The images left are variants of the target's concept (colour, pose,
filled or outline), which only the encoders' features tell apart.

Usage::

    python benchmarks/text_image_headroom.py data/tuxpaint-wordnet   # the full graph, about 16 min on 2 cores

Prints a markdown table; the last line compares the best oracle MRR with
1.1 x the best non-graph MRR (the quality target on this protocol).
"""

from __future__ import annotations

import argparse
import logging

import torch
import torch.nn.functional as F

from graphalign.benchmark.protocols import make_protocol_split
from graphalign.benchmark.quality import benchmark_graphs, default_methods
from graphalign.evaluation.ranking import evaluate_ranking
from graphalign.graph.convert import edge_index_dict
from graphalign.nn.directions import DirectedEmbeddings

PROTOCOL = "b:text->image"


def headroom(
    scores: torch.Tensor, targets: torch.Tensor, known: torch.Tensor, same_concept: torch.Tensor
) -> tuple[float, float]:
    """MRR of ``scores`` (queries x images), filtered by ``known`` (query row, image) pairs, and with the oracle.

    Shapes:
        - scores: ``(Q, I)``; targets: ``(Q,)``; known: ``(K, 2)`` rows of (query row, image);
          same_concept: ``(I, I)`` bool.
    """
    rows = torch.arange(scores.size(0))
    eye = torch.eye(scores.size(1))
    plain = evaluate_ranking(scores, eye, rows, targets, known_pairs=known, similarity="dot")["mrr"]
    oracle = scores.masked_fill(
        ~same_concept[targets], -1e4
    )  # below any cosine (finite: the ranking multiplies by an identity)
    return plain, evaluate_ranking(oracle, eye, rows, targets, known_pairs=known, similarity="dot")["mrr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="dataset folder (e.g. data/tuxpaint-wordnet)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: each preset's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    graphs = benchmark_graphs(args.data)
    base = graphs["base"]
    depicts = edge_index_dict(base.graph, base.index)[("image", "depicts", "concept")]
    n_images, n_concepts = base.index.num_nodes("image"), base.index.num_nodes("concept")
    membership = torch.zeros(n_images, n_concepts)
    membership[depicts[0], depicts[1]] = 1.0
    same_concept = (membership @ membership.T) > 0
    methods = [
        m
        for m in default_methods(
            {} if args.epochs is None else {"epochs": args.epochs}, losses=("infonce",), convs=("gatv2",)
        )
        if m.rows
    ]
    results: dict[str, list[tuple[float, float]]] = {}
    graph_rows = {row for method in methods for row, graph in method.row_names().items() if graph}
    for seed in args.seeds:
        protocol = make_protocol_split(base, seed)
        query = protocol.queries[PROTOCOL]
        # known pairs are (text row, image): re-index them to the query rows
        position = {int(t): i for i, t in enumerate(query.pairs[0].tolist())}
        known = torch.tensor(
            [[position[int(t)], int(i)] for t, i in query.known.t().tolist() if int(t) in position], dtype=torch.long
        ).reshape(-1, 2)
        for method in methods:
            for row, emb in method.embed(graphs[method.features], protocol, seed).items():
                texts, images = (
                    emb.pair("text", "image") if isinstance(emb, DirectedEmbeddings) else (emb["text"], emb["image"])
                )
                q = F.normalize(texts, dim=-1)[query.pairs[0]]
                scores = q @ F.normalize(images, dim=-1).T
                results.setdefault(row, []).append(headroom(scores, query.pairs[1], known, same_concept))
        print(f"seed {seed} done", flush=True)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    print(f"\n{PROTOCOL} MRR, mean over seeds {args.seeds} (oracle: images of other concepts removed)\n")
    print("| method | uses graph | MRR | oracle MRR | per seed (MRR / oracle) |\n|---|---|---:|---:|---|")
    for row, runs in results.items():
        seeds = ", ".join(f"{p:.3f} / {o:.3f}" for p, o in runs)
        print(
            f"| {row} | {'yes' if row in graph_rows else 'no'} | {mean([p for p, _ in runs]):.3f} | "
            f"{mean([o for _, o in runs]):.3f} | {seeds} |"
        )
    best_other = max(mean([p for p, _ in runs]) for row, runs in results.items() if row not in graph_rows)
    best_oracle = max(mean([o for _, o in runs]) for runs in results.values())
    print(
        f"\nbest non-graph MRR {best_other:.3f}; the target (+10%) needs {1.1 * best_other:.3f}; "
        f"best oracle MRR of any embedding {best_oracle:.3f}"
    )


if __name__ == "__main__":
    main()
