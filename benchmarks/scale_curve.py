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
    "mode",
    "supervision_edges",
    "steps",
    "steps_timed",
    "pairs",
    "graph_mib",
    "generate_s",
    "split_s",
    "setup_s",
    "epoch_s",
    "embed_s",
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

    state = {"done": 0, "started": 0.0}

    def wrap(step: Any) -> Any:
        def logged(self: Any, epoch: int) -> Any:
            if state["done"] == 0:
                state["started"] = time.perf_counter()
            loss = step(self, epoch)
            state["done"] += 1
            if state["done"] % every == 0 or state["done"] == steps:
                elapsed = time.perf_counter() - state["started"]
                print(
                    f"  step {state['done']}/{steps}: {elapsed:.0f}s, {elapsed / state['done']:.2f}s/step, "
                    f"loss {float(loss):.3f}, RSS {_rss_mib():.0f} MiB, peak "
                    f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
                    flush=True,
                )
            return loss

        return logged

    _Trainer._minibatch_step = wrap(_Trainer._minibatch_step)
    _Trainer._full_step = wrap(_Trainer._full_step)


MODES = ("minibatch", "propagated")
"""``minibatch``: message passing on neighbour-sampled subgraphs; ``propagated``: the ``propagated``
preset's design (features propagated once without parameters, an MLP per type on rows)."""


def mode_configs(
    mode: str,
    steps: int,
    batch_size: int,
    hidden_dim: int,
    out_dim: int,
    num_neighbors: list[int],
    conv: str = "rgcn",
) -> tuple[Any, Any]:
    """The model and training of ``mode`` for one epoch of ``steps`` steps (plain head, no readouts,
    in-batch negatives: the cost of the part that learns from the graph)."""
    from graphalign.nn import ModelConfig
    from graphalign.training import TrainConfig

    common = {"hidden_dim": hidden_dim, "out_dim": out_dim, "head": "plain", "readouts": []}
    if mode == "minibatch":
        conv_kwargs = {"heads": 4} if conv in ("gat", "gatv2") else {}
        model = ModelConfig(conv=conv, conv_kwargs=conv_kwargs, num_layers=2, **common)
        sampler = {"name": "neighbor", "num_neighbors": num_neighbors, "steps_per_epoch": steps}
    elif mode == "propagated":
        model = ModelConfig(num_layers=0, propagate={"hops": 2, "dim": 128}, **common)
        sampler = {"name": "full", "steps_per_epoch": steps}
    else:
        raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    return model, TrainConfig(epochs=1, batch_size=batch_size, sampler=sampler, negatives=0, seed=0)


def child(spec: dict[str, Any]) -> None:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    from graphalign.benchmark.synthetic import ALIGNED_RELATIONS, make_synthetic_graph
    from graphalign.data import SplitConfig
    from graphalign.training import RunConfig, fit
    from graphalign.training.trainer import embed_nodes

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
    timed = min(steps, spec["max_steps"]) if spec.get("max_steps") else steps
    model, train = mode_configs(
        spec["mode"],
        timed,
        batch_size=spec["batch_size"],
        hidden_dim=spec["hidden_dim"],
        out_dim=spec["out_dim"],
        num_neighbors=spec["num_neighbors"],
        conv=spec["conv"],
    )
    run = RunConfig(progress=spec.get("progress", False), distributed=False, deterministic=False)
    _log_progress(timed, spec["log_every"])
    fit_started = time.perf_counter()
    result = fit(graph, model, train, split=split, run=run)
    fit_total = time.perf_counter() - fit_started
    timed_epoch = result.history[0]["seconds"]
    epoch = timed_epoch * steps / timed  # extrapolated when only some steps were run
    embed_s = None
    if spec.get("embed"):
        embed_started = time.perf_counter()
        embeddings = embed_nodes(result.model, graph, split)
        embed_s = round(time.perf_counter() - embed_started, 2)
        print(f"embedded {sum(z.size(0) for z in embeddings.values())} nodes in {embed_s}s", flush=True)
    out = {
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "mode": spec["mode"],
        "supervision_edges": supervision,
        "steps": steps,
        "steps_timed": timed,
        "pairs": steps * spec["batch_size"] * types,
        "graph_mib": round(graph.nbytes() / 2**20, 1),
        "generate_s": round(generated - started, 2),
        "split_s": round(split_done - generated, 2),
        "setup_s": round(fit_total - timed_epoch, 2),
        "embed_s": "" if embed_s is None else embed_s,
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


def _mode(row: dict[str, Any]) -> str:
    return row.get("mode") or "minibatch"  # rows written before the propagated mode existed


def write_outputs(rows: list[dict[str, Any]], out: Path, command: str) -> None:
    rows = sorted(rows, key=lambda r: (int(r["nodes"]), MODES.index(_mode(r))))
    with open(out / "scale_curve.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({**{k: r.get(k, "") for k in FIELDS}, "mode": _mode(r)} for r in rows)
    gib = 2**10
    lines = [
        (
            "| nodes | edges | mode | steps | epoch | pairs/s | embed all nodes | setup | generate + split "
            "| peak RSS | settings | date |"
        ),
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        steps, timed = int(r["steps"]), int(r.get("steps_timed") or r["steps"])
        epoch = f"{float(r['epoch_s']):,.0f} s" + (f" (from {timed} steps)" if timed < steps else "")
        embed = f"{float(r['embed_s']):,.1f} s" if r.get("embed_s") not in (None, "") else "-"
        settings = (
            f"{r['conv']}, 2 layers, fan-out {r['num_neighbors']}"
            if _mode(r) == "minibatch"
            else "no layers, 2 hops x 128 components"
        )
        lines.append(
            f"| {int(r['nodes']):,} | {int(r['edges']):,} | {_mode(r)} | {steps:,} | {epoch} "
            f"| {float(r['pairs_per_s']):,.0f} | {embed} | {float(r['setup_s']):.1f} s "
            f"| {float(r['generate_s']) + float(r['split_s']):.1f} s | {float(r['peak_rss_mib']) / gib:.2f} GiB "
            f"| {settings}, hidden {r['hidden_dim']}, batch {r['batch_size']}, {r.get('dtype') or 'float32'}, "
            f"{r['threads']} thread(s), mmap threshold {_threshold(r.get('mmap_threshold'))} | {r['date']} |"
        )
    ratios = ["| nodes | epoch: minibatch / propagated | pairs/s: propagated / minibatch |", "|---:|---:|---:|"]
    by_size: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_size.setdefault(int(r["nodes"]), {})[_mode(r)] = r
    for nodes, modes in by_size.items():
        if len(modes) == len(MODES):
            old, new = modes["minibatch"], modes["propagated"]
            ratios.append(
                f"| {nodes:,} | {float(old['epoch_s']) / float(new['epoch_s']):,.1f}x "
                f"| {float(new['pairs_per_s']) / float(old['pairs_per_s']):,.1f}x |"
            )
    text = [
        "# Scale curve: one training epoch, two modes",
        "",
        f"Latest command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {_memory_gib():.0f} GiB (CPU training; "
        f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} when written); rows dated by run.",
        "",
        (
            "Both modes: hidden 128, out 64, plain head, in-batch negatives; batch = supervision pairs per aligned "
            "edge type (3 types) and step; one epoch = as many supervision pairs as supervision edges. "
            "`minibatch`: message passing on neighbour-sampled subgraphs. `propagated`: features propagated 2 hops "
            "once without parameters (its time is in setup), an MLP per type on rows. Embed all nodes: "
            '`embed_nodes` over the whole graph after training. An epoch "from N steps" is the time of N steps '
            "scaled to the epoch's steps."
        ),
        "",
        "\n".join(lines),
        "",
        "\n".join(ratios),
        "",
        "![scale curve](scale_curve.png)",
        "",
    ]
    (out / "scale_curve.md").write_text("\n".join(text), encoding="utf-8")
    plot(rows, out / "scale_curve.png")
    print("\n".join(lines + [""] + ratios))


def _threshold(value: Any) -> str:
    value = int(value or 0)
    return "glibc default" if value <= 0 else f"{value / 2**20:g} MiB"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for mode, marker in zip(MODES, "os"):
        picked = [r for r in rows if _mode(r) == mode]
        if not picked:
            continue
        nodes = [int(r["nodes"]) for r in picked]
        left.loglog(nodes, [float(r["epoch_s"]) for r in picked], marker + "-", label=f"{mode}: epoch")
        right.loglog(nodes, [float(r["peak_rss_mib"]) / 1024 for r in picked], marker + "-", label=f"{mode}")
    left.set_xlabel("nodes (about 10x edges)")
    left.set_ylabel("seconds")
    left.set_title("one training epoch")
    left.legend()
    right.axhline(8, color="grey", linestyle=":", label="8 GiB target")
    right.set_xlabel("nodes (about 10x edges)")
    right.set_ylabel("GiB")
    right.set_title("peak RSS")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def _run_child(spec: dict[str, Any], mmap_threshold: int) -> dict[str, Any]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(mmap_threshold),
    )
    result = None
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if process.wait() != 0 or result is None:
        sys.exit(f"{spec['mode']} at {spec['nodes']} nodes: the child failed (exit status {process.returncode})")
    print(f"{spec['mode']} at {spec['nodes']} nodes: {time.perf_counter() - started:.0f}s in all", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000], help="numbers of nodes")
    parser.add_argument("--edges-per-node", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="training modes, side by side")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="run at most this many steps of the minibatch mode and scale its time to the epoch",
    )
    parser.add_argument(
        "--embed-up-to",
        type=int,
        default=100_000,
        help="also time embedding all nodes after training for the minibatch mode up to this many nodes "
        "(the propagated mode: always)",
    )
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
        for mode in args.modes:
            spec = {
                "nodes": size,
                "mode": mode,
                "max_steps": args.max_steps if mode == "minibatch" else None,
                "embed": mode == "propagated" or size <= args.embed_up_to,
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
            result = _run_child(spec, args.mmap_threshold)
            rows = [
                r
                for r in read_rows(args.out / "scale_curve.csv")
                if (int(r["nodes"]), _mode(r)) != (result["nodes"], mode)
            ] + [result]
            write_outputs(rows, args.out, command)  # re-read first: another run may have added rows meanwhile
    print(f"\nwrote {args.out / 'scale_curve.md'}, .csv and .png")


if __name__ == "__main__":
    main()
