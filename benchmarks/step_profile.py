"""Where the time of one training step goes, from 10^4 to 10^6 nodes, for both training modes.

For every size, a fresh child process generates the synthetic graph of
``benchmarks/scale_curve.py`` (same seed, same split: about one supervision edge
per node, ``is_a`` / ``depicts`` / ``describes`` aligned), builds the trainer
of each mode and times the stages of ``--steps`` steps after one warm-up step
(mean seconds per step, summed over the three aligned edge types of a step):

* ``minibatch`` (neighbour-sampled subgraphs: 2-layer R-GCN, hidden 128, out
  64, 1024 pairs per edge type, fan-out 3 then 1): sampling
  (``LinkNeighborLoader``'s sampler), feature gather (the subgraph's rows of
  every feature matrix, in float32), input projection, message passing (the
  layers), head and loss, backward, optimiser;
* ``propagated`` (the ``propagated`` preset's model on the same sizes: no
  layers, features propagated 2 hops without parameters, 128 principal
  components per encoder; same pairs): the one-off propagation (principal
  components and the sparse products, per run, not per step), then per step
  the rows it reads (pairs and their unique nodes), feature gather (own and
  propagated rows), input projection, head and loss, backward, optimiser.

Stages are timed with ``time.perf_counter`` around the same calls the trainer
makes (CPU: no asynchronous kernels to synchronise). The table goes to
``benchmarks/results/step_profile.md`` (and ``.csv``).

Usage::

    python benchmarks/step_profile.py                        # 10^4, 10^5, 10^6 nodes, 3 steps each
    python benchmarks/step_profile.py --sizes 10000 --steps 2
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

STAGES = {
    "minibatch": [
        "sampling",
        "feature gather",
        "input projection",
        "message passing",
        "head + loss",
        "backward",
        "optimiser",
    ],
    "propagated": ["rows", "feature gather", "input projection", "head + loss", "backward", "optimiser"],
}


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self.last
        self.last = now


def _minibatch_step(trainer: Any, clock: _Clock) -> None:
    import torch

    model = trainer.model
    trainer.optimizer.zero_grad(set_to_none=True)
    clock.last = time.perf_counter()
    share = 1.0 / len(trainer.cyclers)
    for edge_type, cycler in trainer.cyclers.items():
        src, _, dst = edge_type
        loader = trainer.loaders[edge_type]
        out = loader.collate_fn(cycler.next_index())
        clock.lap("sampling")
        batch = loader.filter_fn(out)
        x_dict = trainer._inputs(batch.x_dict)
        edges = trainer._isolate(batch.edge_index_dict, batch.n_id_dict)
        clock.lap("feature gather")
        h0 = {t: model._embed_input(t, x) for t, x in x_dict.items()}
        clock.lap("input projection")
        h = h0
        for layer, conv in enumerate(model.convs):
            conv_out = conv(h, edges)
            h = {t: model._update(layer, t, h[t], conv_out[t]) for t in h}
        clock.lap("message passing")
        z = model.apply_readouts({t: model._output(t, h[t], h0[t], x_dict[t]) for t in h}, x_dict, edges)
        local = batch[edge_type].edge_label_index
        ids = torch.stack([batch[src].n_id[local[0]], batch[dst].n_id[local[1]]])
        loss = trainer._pair_loss(z[src], z[dst], local, ids, batch[dst].n_id, shared_graph=False) * share
        clock.lap("head + loss")
        loss.backward()
        clock.lap("backward")
    trainer.optimizer.step()
    clock.lap("optimiser")


def _propagated_step(trainer: Any, clock: _Clock) -> None:
    import torch

    model = trainer.model
    trainer.optimizer.zero_grad(set_to_none=True)
    clock.last = time.perf_counter()
    cut = trainer._isolation_draw()
    drawn = {edge_type: cycler.next() for edge_type, cycler in trainer.cyclers.items()}
    rows: dict[str, list[Any]] = {}
    for (src, _, dst), pairs in drawn.items():
        rows.setdefault(src, []).append(pairs[0])
        rows.setdefault(dst, []).append(pairs[1])
    needed = {t: torch.unique(torch.cat(r)) for t, r in rows.items()}
    clock.lap("rows")
    x_dict = {t: trainer.data[t].x[r].float() for t, r in needed.items()}
    propagated = trainer._propagated_rows(needed, cut)
    clock.lap("feature gather")
    h0 = {t: model._embed_input(t, x, propagated[t]) for t, x in x_dict.items()}
    clock.lap("input projection")
    z = model.apply_readouts({t: model._output(t, h0[t], h0[t], x_dict[t]) for t in h0}, x_dict, {})
    losses = []
    for edge_type, pairs in drawn.items():
        src, _, dst = edge_type
        local = torch.stack([torch.searchsorted(needed[src], pairs[0]), torch.searchsorted(needed[dst], pairs[1])])
        losses.append(trainer._pair_loss(z[src], z[dst], local, pairs, needed[dst], shared_graph=True))
    loss = torch.stack(losses).mean()
    clock.lap("head + loss")
    loss.backward()
    clock.lap("backward")
    trainer.optimizer.step()
    clock.lap("optimiser")


def child(spec: dict[str, Any]) -> None:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    from scale_curve import mode_configs

    from graphalign.benchmark.synthetic import ALIGNED_RELATIONS, make_synthetic_graph
    from graphalign.data import SplitConfig
    from graphalign.training.trainer import _Trainer

    torch.set_num_threads(spec["threads"] or torch.get_num_threads())
    graph = make_synthetic_graph(num_nodes=spec["nodes"], edges_per_node=10.0, seed=0)
    split = graph.split(
        SplitConfig(val_fraction=0.0, test_fraction=0.0, align_relations=list(ALIGNED_RELATIONS)), seed=0
    )
    supervision = sum(int(e.size(1)) for e in split.edges["supervision"].values())
    steps = math.ceil(supervision / (1024 * len(split.edges["supervision"])))
    model, train = mode_configs(spec["mode"], steps, batch_size=1024, hidden_dim=128, out_dim=64, num_neighbors=[3, 1])
    started = time.perf_counter()
    trainer = _Trainer(graph, split, model, train)
    setup = time.perf_counter() - started
    trainer.model.train()
    step = _minibatch_step if spec["mode"] == "minibatch" else _propagated_step
    step(trainer, _Clock())  # warm-up
    clock = _Clock()
    for _ in range(spec["steps"]):
        step(trainer, clock)
    row = {
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "mode": spec["mode"],
        "setup_s": round(setup, 2),
        "steps": spec["steps"],
        **{stage: round(clock.seconds[stage] / spec["steps"], 4) for stage in STAGES[spec["mode"]]},
        "step_s": round(sum(clock.seconds.values()) / spec["steps"], 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": torch.get_num_threads(),
        "date": date.today().isoformat(),
    }
    print("RESULT " + json.dumps(row), flush=True)


def write_outputs(rows: list[dict[str, Any]], out: Path, command: str) -> None:
    fields = ["nodes", "edges", "mode", "setup_s", "steps", "step_s", "peak_rss_mib", "threads", "date"]
    stages = sorted({s for stages in STAGES.values() for s in stages})
    with open(out / "step_profile.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields + stages)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in fields + stages} for r in rows)
    lines = []
    for mode, names in STAGES.items():
        lines += [
            f"**{mode}**",
            "",
            "| nodes | " + " | ".join(names) + " | step | setup (once) | peak RSS |",
            "|---:|" + "---:|" * (len(names) + 3),
        ]
        for r in [r for r in rows if r["mode"] == mode]:
            cells = " | ".join(_share(float(r[s]), float(r["step_s"])) for s in names)
            lines.append(
                f"| {int(r['nodes']):,} | {cells} | {float(r['step_s']):.3f} s | {float(r['setup_s']):.1f} s "
                f"| {float(r['peak_rss_mib']) / 1024:.2f} GiB |"
            )
        lines.append("")
    text = [
        "# Step profile: seconds per stage of one training step",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} when written); {rows[0]['threads']} torch thread(s); "
        f"{date.today().isoformat()}.",
        "",
        "Mean over the timed steps after one warm-up step; each step takes 1024 pairs of each of the 3 aligned "
        "edge types. Cells: seconds (share of the step).",
        "",
        *lines,
    ]
    (out / "step_profile.md").write_text("\n".join(text), encoding="utf-8")
    print("\n".join(lines))


def _share(seconds: float, total: float) -> str:
    return f"{seconds:.3f} ({seconds / total:.0%})" if total else f"{seconds:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="numbers of nodes")
    parser.add_argument("--modes", nargs="+", default=list(STAGES), choices=list(STAGES), help="training modes")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="folder of the table")
    args = parser.parse_args()
    if args.child is not None:
        return child(json.loads(args.child))
    from scale_curve import child_env

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            spec = {"nodes": size, "mode": mode, "steps": args.steps, "threads": args.threads}
            result = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                capture_output=True,
                text=True,
                env=child_env(1 << 20),
            )
            lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
            if result.returncode != 0 or not lines:
                sys.exit(f"{mode} at {size} nodes failed:\n{result.stderr[-3000:]}")
            rows.append(json.loads(lines[-1][len("RESULT ") :]))
            print(f"{mode} at {size:,} nodes: {rows[-1]['step_s']:.3f} s/step", flush=True)
    write_outputs(rows, args.out, "python benchmarks/step_profile.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
