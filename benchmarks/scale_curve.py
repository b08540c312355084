"""Scale curve: one mini-batch training epoch from 10^4 to 10^6 nodes (about 10x edges).

For every size, a fresh child process generates a synthetic graph
(:mod:`graphalign.benchmark.synthetic`: 10% concepts, 30% images, 60% texts,
384/1280-dim features, float32 unless ``--dtype float16``, ``--edges-per-node``
edges per node), splits it
(``is_a``/``depicts``/``describes`` aligned, about one supervision edge per
node; no validation or test edges, so no evaluation is timed), and trains one
mini-batch epoch with :func:`graphalign.training.fit`. An epoch here processes
as many supervision pairs as there are supervision edges: ``steps =
ceil(supervision edges / (batch size x 3 edge types))``. The child reports the
time of each phase and its peak RSS (``getrusage``), and prints progress
every ``--log-every`` steps.

Memory: with glibc's default allocator settings the RSS of a long CPU run
creeps up by tens of MiB per step (measured: 6.1 GiB after 10 steps, 8.3 GiB
after 90 on the 10^6-node graph). That is not a leak (the number of live
objects is constant and the growth stops with the setting below) but heap
fragmentation: glibc raises its mmap threshold up to 32 MiB after large frees,
and the variable-size activations of each sampled subgraph then fragment the
heap. The child therefore runs with ``MALLOC_MMAP_THRESHOLD_=1048576``
(``--mmap-threshold``; 0 restores glibc's dynamic threshold), which returns
every block of 1 MiB or more to the system when it is freed; jemalloc or
tcmalloc (``LD_PRELOAD``) would do as well.

The default model is a 2-layer R-GCN (hidden 128; its messages are means of
source features, so no per-edge activations are kept for the backward pass),
1024 pairs per edge type and step, fan-out 3 then 1 per edge type (12 edge
types with reverses: up to 36 first-hop neighbours per node).

Results are merged by size into ``benchmarks/results/scale_curve.csv`` (a run
with other sizes keeps the rows it does not measure), and the table
(``scale_curve.md``) and the plot (``scale_curve.png``) are redrawn from it.

Usage::

    python benchmarks/scale_curve.py                                  # 10^4, 3x10^4, 10^5 nodes
    nohup nice -n 3 python benchmarks/scale_curve.py --sizes 1000000 --threads 1 > scale_curve_1m.log 2>&1 &
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
from datetime import date
from pathlib import Path
from typing import Any

FIELDS = [
    "nodes",
    "edges",
    "supervision_edges",
    "steps",
    "pairs",
    "graph_mib",
    "generate_s",
    "split_s",
    "setup_s",
    "epoch_s",
    "pairs_per_s",
    "rss_after_graph_mib",
    "peak_rss_mib",
    "conv",
    "hidden_dim",
    "batch_size",
    "num_neighbors",
    "dtype",
    "threads",
    "mmap_threshold",
    "date",
]


REPO = Path(__file__).resolve().parents[1]


def child_env(mmap_threshold: int = 0) -> dict[str, str]:
    """The children import graphalign from this checkout, whatever is installed; with
    ``mmap_threshold``, glibc serves allocations of at least that many bytes with mmap."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if mmap_threshold > 0:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    return env


def _rss_mib() -> float:
    """Current resident set size."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _log_progress(steps: int, every: int) -> None:
    """Prints step count, elapsed time and memory every ``every`` steps (wraps the trainer's step)."""
    from graphalign.training.trainer import _Trainer

    step = _Trainer._minibatch_step
    state = {"done": 0, "started": 0.0}

    def logged(self: Any, epoch: int) -> Any:
        if state["done"] == 0:
            state["started"] = time.perf_counter()
        loss = step(self, epoch)
        state["done"] += 1
        if state["done"] % every == 0 or state["done"] == steps:
            elapsed = time.perf_counter() - state["started"]
            print(
                f"  step {state['done']}/{steps}: {elapsed:.0f}s, {elapsed / state['done']:.1f}s/step, "
                f"loss {float(loss):.3f}, RSS {_rss_mib():.0f} MiB, peak "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
                flush=True,
            )
        return loss

    _Trainer._minibatch_step = logged


def child(spec: dict[str, Any]) -> None:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    from graphalign.benchmark.synthetic import ALIGNED_RELATIONS, make_synthetic_graph
    from graphalign.data import SplitConfig
    from graphalign.nn import ModelConfig
    from graphalign.training import RunConfig, TrainConfig, fit

    started = time.perf_counter()
    graph = make_synthetic_graph(
        num_nodes=spec["nodes"], edges_per_node=spec["edges_per_node"], dtype=spec["dtype"], seed=0
    )
    generated = time.perf_counter()
    split = graph.split(
        SplitConfig(val_fraction=0.0, test_fraction=0.0, align_relations=list(ALIGNED_RELATIONS)), seed=0
    )
    split_done = time.perf_counter()
    rss_graph = _rss_mib()
    supervision = sum(int(e.size(1)) for e in split.edges["supervision"].values())
    types = len(split.edges["supervision"])
    steps = math.ceil(supervision / (spec["batch_size"] * types))
    print(
        f"graph {graph!r}: {graph.nbytes() / 2**20:.0f} MiB, generated in {generated - started:.1f}s, "
        f"split in {split_done - generated:.1f}s; {supervision} supervision edges -> {steps} steps; "
        f"RSS {rss_graph:.0f} MiB",
        flush=True,
    )
    conv_kwargs = {"heads": 4} if spec["conv"] in ("gat", "gatv2") else {}
    model = ModelConfig(  # message passing alone: plain head, no readouts
        conv=spec["conv"],
        conv_kwargs=conv_kwargs,
        hidden_dim=spec["hidden_dim"],
        out_dim=spec["out_dim"],
        num_layers=2,
        head="plain",
        readouts=[],
    )
    train = TrainConfig(
        epochs=1,
        batch_size=spec["batch_size"],
        sampler={"name": "neighbor", "num_neighbors": spec["num_neighbors"], "steps_per_epoch": steps},
        negatives=0,
        seed=0,
    )
    run = RunConfig(progress=spec.get("progress", False), distributed=False, deterministic=False)
    _log_progress(steps, spec["log_every"])
    fit_started = time.perf_counter()
    result = fit(graph, model, train, split=split, run=run)
    fit_total = time.perf_counter() - fit_started
    epoch = result.history[0]["seconds"]
    out = {
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "supervision_edges": supervision,
        "steps": steps,
        "pairs": steps * spec["batch_size"] * types,
        "graph_mib": round(graph.nbytes() / 2**20, 1),
        "generate_s": round(generated - started, 2),
        "split_s": round(split_done - generated, 2),
        "setup_s": round(fit_total - epoch, 2),
        "epoch_s": round(epoch, 2),
        "pairs_per_s": round(steps * spec["batch_size"] * types / epoch, 1),
        "rss_after_graph_mib": round(rss_graph, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "conv": spec["conv"],
        "hidden_dim": spec["hidden_dim"],
        "batch_size": spec["batch_size"],
        "num_neighbors": " ".join(map(str, spec["num_neighbors"])),
        "dtype": spec["dtype"],
        "mmap_threshold": spec.get("mmap_threshold", 0),
        "threads": spec.get("threads") or torch.get_num_threads(),
        "date": date.today().isoformat(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_outputs(rows: list[dict[str, Any]], out: Path, command: str) -> None:
    rows = sorted(rows, key=lambda r: int(r["nodes"]))
    with open(out / "scale_curve.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)
    gib = 2**10
    lines = [
        (
            "| nodes | edges | supervision edges | steps | epoch | pairs/s | setup (sampler, loaders) "
            "| generate + split | graph tensors | peak RSS | settings |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['nodes']):,} | {int(r['edges']):,} | {int(r['supervision_edges']):,} | {int(r['steps']):,} "
            f"| {float(r['epoch_s']):,.0f} s | {float(r['pairs_per_s']):,.0f} | {float(r['setup_s']):.1f} s "
            f"| {float(r['generate_s']) + float(r['split_s']):.1f} s | {float(r['graph_mib']) / gib:.2f} GiB "
            f"| {float(r['peak_rss_mib']) / gib:.2f} GiB "
            f"| {r['conv']}, hidden {r['hidden_dim']}, batch {r['batch_size']}, "
            f"fan-out {r['num_neighbors']}, {r.get('dtype') or 'float32'}, {r['threads']} thread(s), "
            f"mmap threshold {_threshold(r.get('mmap_threshold'))} |"
        )
    text = [
        "# Scale curve: one mini-batch epoch",
        "",
        f"Latest command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {_memory_gib():.0f} GiB (CPU training; shared, "
        f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} when written); rows dated by run "
        f"({', '.join(sorted({r['date'] for r in rows}))}).",
        "",
        (
            "Model: 2 layers, out 64; batch = supervision pairs per aligned edge type (3 types) and step; fan-out per "
            "hop and edge type (see the settings column). One epoch = as many supervision pairs as supervision edges."
        ),
        "",
        "\n".join(lines),
        "",
        "![scale curve](scale_curve.png)",
        "",
    ]
    (out / "scale_curve.md").write_text("\n".join(text), encoding="utf-8")
    plot(rows, out / "scale_curve.png")
    print("\n".join(lines))


def _threshold(value: Any) -> str:
    value = int(value or 0)
    return "glibc default" if value <= 0 else f"{value / 2**20:g} MiB"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = [int(r["nodes"]) for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.loglog(nodes, [float(r["epoch_s"]) for r in rows], "o-", label="epoch")
    left.loglog(
        nodes,
        [float(r["setup_s"]) + float(r["generate_s"]) + float(r["split_s"]) for r in rows],
        "s--",
        label="generate + split + setup",
    )
    left.set_xlabel("nodes (about 10x edges)")
    left.set_ylabel("seconds")
    left.set_title("one mini-batch epoch")
    left.legend()
    right.loglog(nodes, [float(r["peak_rss_mib"]) / 1024 for r in rows], "o-", label="peak RSS")
    right.loglog(nodes, [float(r["graph_mib"]) / 1024 for r in rows], "s--", label="graph tensors")
    right.axhline(8, color="grey", linestyle=":", label="8 GiB target")
    right.set_xlabel("nodes (about 10x edges)")
    right.set_ylabel("GiB")
    right.set_title("memory")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000], help="numbers of nodes")
    parser.add_argument("--edges-per-node", type=float, default=10.0)
    parser.add_argument("--conv", default="rgcn", help="message-passing layer (rgcn: no per-edge activations)")
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--out-dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1024, help="supervision pairs per edge type and step")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[3, 1], help="fan-out per hop and edge type")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="feature storage")
    parser.add_argument("--log-every", type=int, default=20, help="print progress every N steps")
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=1 << 20,
        help="MALLOC_MMAP_THRESHOLD_ of the child in bytes (0: glibc's default, see the module docstring)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--progress", action="store_true", help="progress bar in the child (stderr)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/scale_curve.py " + " ".join(sys.argv[1:])
    for size in args.sizes:
        spec = {
            "nodes": size,
            "edges_per_node": args.edges_per_node,
            "conv": args.conv,
            "hidden_dim": args.hidden_dim,
            "out_dim": args.out_dim,
            "batch_size": args.batch_size,
            "num_neighbors": args.num_neighbors,
            "threads": args.threads,
            "progress": args.progress,
            "dtype": args.dtype,
            "log_every": args.log_every,
            "mmap_threshold": args.mmap_threshold,
        }
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(args.mmap_threshold),
        )
        result = None
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
        if process.wait() != 0 or result is None:
            sys.exit(f"size {size}: the child failed (exit status {process.returncode})")
        print(f"size {size}: {time.perf_counter() - started:.0f}s in all", flush=True)
        rows = [r for r in read_rows(args.out / "scale_curve.csv") if int(r["nodes"]) != result["nodes"]] + [result]
        write_outputs(rows, args.out, command)  # re-read first: another run may have added sizes meanwhile
    print(f"\nwrote {args.out / 'scale_curve.md'}, .csv and .png")


if __name__ == "__main__":
    main()
