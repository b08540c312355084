"""One view per direction against a view per candidate state, on the same trained weights.

For each seed of the quality benchmark's splits (``graphalign bench``), the
script trains the default model (the ``best`` preset) once, then fits the
per-direction channel scales on the validation links twice: one view per
direction (``CalibrationConfig(by_state=False)``), and a view for linked and
one for new candidates (the default, :mod:`graphalign.nn.directions`). It
prints validation and test MRR of the four headline protocols for both, per
seed and as the mean; validation MRR averaged over the protocols is what the
selection rule reads. Both rank without the nearest-exemplar term
(:mod:`graphalign.nn.exemplars`): the rows compare the views alone.

Usage::

    python benchmarks/calibration_views.py data/openclipart-wordnet   # about 5 min on 2 cores
    python benchmarks/calibration_views.py tuxpaint_small --seeds 0 1 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import torch

from graphalign.benchmark.protocols import make_protocol_split
from graphalign.benchmark.quality import (
    HEADLINE_PROTOCOLS,
    SELECTION_PROTOCOLS,
    _evaluate,
    benchmark_graphs,
    preset_configs,
    with_label_free_edges,
)
from graphalign.evaluation.evaluator import LinkEvaluator
from graphalign.graph.convert import edge_index_dict
from graphalign.training.calibration import CalibrationConfig, fit_direction_scales, reset_calibration
from graphalign.training.trainer import RunConfig, directed_embeddings, embed_nodes, fit

VARIANTS = {"one view per direction": False, "a view per candidate state": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="dataset folder or bundled dataset name (e.g. data/openclipart-wordnet)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the preset's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    graphs = benchmark_graphs(args.data)
    built = graphs["default"]
    model_config, train_config = preset_configs("best", {} if args.epochs is None else {"epochs": args.epochs})
    protocols = [*(SELECTION_PROTOCOLS[p] for p in HEADLINE_PROTOCOLS), *HEADLINE_PROTOCOLS]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for seed in args.seeds:
        protocol = make_protocol_split(graphs["base"], seed)
        split = with_label_free_edges(built, protocol.split)
        train = dataclasses.replace(train_config, seed=seed)
        trained = fit(built, model_config, train, split=split, run=RunConfig(progress=False))
        model = trained.model
        reset_calibration(model)
        stored = dict(embed_nodes(model, built, split))  # every scale 1: the scales are views of these
        evaluator = LinkEvaluator(edge_index_dict(built.graph, built.index), split)
        for name, by_state in VARIANTS.items():
            fit_direction_scales(model, stored, evaluator, config=CalibrationConfig(by_state=by_state))
            views = directed_embeddings(stored, model.direction_multipliers(), split)
            row = {}
            for name_of in protocols:
                if name_of in protocol.queries:
                    metrics = _evaluate(protocol.queries[name_of], views, None).get("all")
                    if metrics is not None:
                        row[name_of] = metrics["mrr"]
            results[name].append(row)
            print(f"seed {seed}, {name}: " + ", ".join(f"{p} {v:.3f}" for p, v in row.items()), flush=True)

    present = [p for p in protocols if all(p in row for rows in results.values() for row in rows)]
    print(f"\nMRR, mean of seeds {args.seeds}\n")
    print("| calibration | validation mean | " + " | ".join(present) + " |")
    print("|---|---:|" + "---:|" * len(present))
    for name, rows in results.items():
        mean = {p: sum(row[p] for row in rows) / len(rows) for p in present}
        val = [mean[p] for p in present if p.startswith("val:")]
        cells = " | ".join(f"{mean[p]:.3f}" for p in present)
        print(f"| {name} | {sum(val) / max(1, len(val)):.3f} | {cells} |")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
