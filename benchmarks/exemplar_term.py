"""The parts of the nearest-exemplar term, each fitted on the same trained weights.

For each seed of the quality benchmark's splits (``graphalign bench``), the
script trains the default model (the ``best`` preset) once, then fits the
channel scales and the nearest-exemplar term (:mod:`graphalign.nn.exemplars`)
on the validation links once per variant: off (``exemplar_grid=(0.0,)``,
every offset and transfer 0), the term's two weights alone
(``exemplar_offsets=(0.0,), transfer_grid=(0.0,)``), the weights and the
offset of concepts with training images (``transfer_grid=(0.0,)``), and the
default (weights, offset and the semantic transfer to concepts without
training images). It prints, per seed and as the mean, the fitted setting and
the validation and test MRR of image → concept (a) and zero-shot concepts
(c); with the benchmark's CSV of the same dataset (``graphalign bench``
writes it), also each relative to the best non-graph method of that seed.

Usage::

    python benchmarks/exemplar_term.py data/openclipart-wordnet \\
        --baselines docs/results/quality-openclipart-wordnet.csv     # about 11 min on 2 cores
    python benchmarks/exemplar_term.py tuxpaint_small --seeds 0 1 --epochs 2
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
from pathlib import Path

import torch

from graphalign.benchmark.protocols import make_protocol_split
from graphalign.benchmark.quality import _evaluate, benchmark_graphs, preset_configs, with_label_free_edges
from graphalign.evaluation.evaluator import LinkEvaluator
from graphalign.graph.convert import edge_index_dict
from graphalign.training.calibration import CalibrationConfig, fit_direction_scales, reset_calibration
from graphalign.training.trainer import RunConfig, directed_embeddings, embed_nodes, fit, message_passing_data

VARIANTS = {
    "off": CalibrationConfig(exemplar_grid=(0.0,), exemplar_offsets=(0.0,), transfer_grid=(0.0,)),
    "two weights": CalibrationConfig(exemplar_offsets=(0.0,), transfer_grid=(0.0,)),
    "two weights and the offset": CalibrationConfig(transfer_grid=(0.0,)),
    "weights, offset and transfer (default)": CalibrationConfig(),
}
PROTOCOLS = {
    "val a": "val:image->concept",
    "val c": "val:zero-shot image->concept",
    "a": "a:image->concept",
    "c": "c:zero-shot image->concept",
}
NON_GRAPH = ("no training (ConSE)", "1-NN label transfer", "two towers")
"""Rows of the benchmark that use no graph (their variants, e.g. ``two towers, learned part alone``, too)."""


def best_non_graph(path: Path) -> dict[tuple[str, int], float]:
    """Per (protocol, seed index), the best MRR of the non-graph rows of a benchmark CSV."""
    best: dict[tuple[str, int], float] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["subset"] == "all" and row["method"].startswith(NON_GRAPH):
                key = (row["protocol"], int(row["seed_index"]))
                best[key] = max(best.get(key, 0.0), float(row["mrr"]))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="dataset folder or bundled dataset name (e.g. data/openclipart-wordnet)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the preset's)")
    parser.add_argument("--baselines", type=Path, default=None, help="the benchmark's CSV of this dataset")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    graphs = benchmark_graphs(args.data)
    built = graphs["default"]
    baselines = best_non_graph(args.baselines) if args.baselines else {}
    model_config, train_config = preset_configs("best", {} if args.epochs is None else {"epochs": args.epochs})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for index, seed in enumerate(args.seeds):
        protocol = make_protocol_split(graphs["base"], seed)
        split = with_label_free_edges(built, protocol.split)
        train = dataclasses.replace(train_config, seed=seed)
        model = fit(built, model_config, train, split=split, run=RunConfig(progress=False)).model
        model.eval()
        reset_calibration(model)
        stored = dict(embed_nodes(model, built, split))  # every scale 1, no term: what calibration reads
        features = message_passing_data(built, split, inference=True).x_dict
        evaluator = LinkEvaluator(edge_index_dict(built.graph, built.index), split)
        for name, config in VARIANTS.items():
            fits = fit_direction_scales(model, stored, evaluator, config=config, features=features)
            fitted = next(f for f in fits if f.direction == ("image", "concept"))
            views = directed_embeddings(stored, model.direction_multipliers(), split, model, features)
            row: dict[str, float] = {}
            for key, name_of in PROTOCOLS.items():
                row[key] = _evaluate(protocol.queries[name_of], views, None)["all"]["mrr"]
                if (name_of, index) in baselines:
                    row[f"{key} rel"] = row[key] / baselines[(name_of, index)] - 1
            results[name].append(row)
            setting = (*fitted.exemplar_weights, fitted.exemplar_offset, fitted.exemplar_transfer)
            cells = ", ".join(f"{k} {v:+.1%}" if k.endswith("rel") else f"{k} {v:.4f}" for k, v in row.items())
            print(f"seed {seed}, {name}: weights, offset, transfer {setting}, {cells}", flush=True)

    keys = list(results[next(iter(VARIANTS))][0])
    print(f"\nmean of seeds {args.seeds} (rel: relative to the best non-graph method, seeds won)\n")
    print("| term | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for name, rows in results.items():
        cells = []
        for key in keys:
            values = [row[key] for row in rows]
            mean = sum(values) / len(values)
            won = f" ({sum(v > 0 for v in values)}/{len(values)})" if key.endswith("rel") else ""
            cells.append(f"{mean:+.1%}{won}" if key.endswith("rel") else f"{mean:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
