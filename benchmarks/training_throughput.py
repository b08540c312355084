"""Training throughput: graphalign's ``fit`` against a plain PyTorch Geometric loop.

Both sides train the same model on the same synthetic graph
(:mod:`graphalign.benchmark.synthetic`, 384/1280-dim features) with the same
math: per-type input projection + GELU, two residual layers of (root linear +
summed per-edge-type messages → LayerNorm → GELU → dropout), a skip from the
input, a 2-layer head, L2 normalisation; symmetric InfoNCE with a learnable
temperature and in-batch false negatives masked; AdamW, gradient clipping at 1;
one batch of ``--batch-size`` supervision pairs of each aligned edge type
(``is_a``, ``depicts``, ``describes``) per step. Convolutions: GAT
(PyG ``GATConv`` per edge type in a ``HeteroConv``, 4 heads) and R-GCN
(per-edge-type mean with ``torch_geometric.utils.scatter``, then ``W_r``).
Full-batch: one forward over the whole message-passing graph per step.
Mini-batch: PyG ``LinkNeighborLoader`` (one per edge type, shuffled, built
once) with graphalign's ``TorchNeighborSampler`` (this machine has neither
pyg-lib nor torch-sparse; with one of them the plain loop uses PyG's own).

Time (the machine is shared and noisy): for each configuration one child
process builds the graph once, then graphalign's training epoch (the
``_Trainer.train_epoch`` that :func:`~graphalign.training.fit` runs, on the
objects ``fit`` builds) and the plain loop take turns, ``--steps`` steps each,
for ``--blocks`` blocks, the order rotating every block, after one warm-up
block each. The time ratio graphalign / plain is the median of the per-block
ratios of neighbouring blocks (target <= 1.10); throughput is supervision
pairs per second, median over blocks. ``--legacy`` adds graphalign's previous
mini-batch step, which built a new ``LinkNeighborLoader`` at every step and
backpropagated through all edge types' subgraphs at once.

Memory: for each configuration and implementation, ``--repeat`` fresh child
processes run end to end (``fit`` itself for graphalign: setup, ``--steps``
warm-up and ``--steps`` timed steps) and report their peak RSS (``getrusage``)
and setup time; graphalign and plain alternate.

Usage::

    python benchmarks/training_throughput.py [--nodes 10000] [--steps 4] [--blocks 8] [--repeat 1] [--threads 1] \
        [--legacy]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import types
from datetime import date
from pathlib import Path
from typing import Any

CONVS = ("gat", "rgcn")
MODES = ("full", "minibatch")
HEADS = 4


# Children ###################################################################


def _graph_and_split(spec: dict[str, Any]) -> tuple[Any, Any]:
    from graphalign.benchmark.synthetic import ALIGNED_RELATIONS, make_synthetic_graph
    from graphalign.data.split import SplitConfig

    graph = make_synthetic_graph(num_nodes=spec["nodes"], seed=0)
    split = graph.split(
        SplitConfig(val_fraction=0.0, test_fraction=0.0, align_relations=list(ALIGNED_RELATIONS)), seed=0
    )
    return graph, split


def _configs(spec: dict[str, Any], epochs: int = 1) -> tuple[Any, Any]:
    from graphalign.nn import ModelConfig
    from graphalign.training import TrainConfig

    conv_kwargs = {"heads": HEADS} if spec["conv"] == "gat" else {}
    model = ModelConfig(
        conv=spec["conv"],
        conv_kwargs=conv_kwargs,
        hidden_dim=spec["hidden_dim"],
        out_dim=spec["out_dim"],
        num_layers=2,
        propagate=None,
        dropout=0.1,
        head="plain",  # the same network as the plain PyG loop: no propagated features, prior head or readouts
        readouts=[],
    )
    sampler = {"name": spec["mode"], "steps_per_epoch": spec["steps"], "isolate_nodes": 0.0}
    if spec["mode"] != "full":
        sampler["num_neighbors"] = spec["num_neighbors"]
    train = TrainConfig(epochs=epochs, batch_size=spec["batch_size"], sampler=sampler, negatives=0, seed=0)
    return model, train


class GraphalignRunner:
    """graphalign's training epoch on the objects ``fit`` builds (``legacy``: the old mini-batch step)."""

    def __init__(self, graph: Any, split: Any, spec: dict[str, Any], legacy: bool = False) -> None:
        from graphalign.training.trainer import _Trainer

        model, train = _configs(spec)
        self.trainer = _Trainer(graph, split, model, train)
        if legacy:
            self.trainer._minibatch_step = types.MethodType(_legacy_minibatch_step, self.trainer)
        self.epoch = 0

    def train(self, steps: int) -> float:
        self.trainer.steps_per_epoch = steps
        self.epoch += 1
        return self.trainer.train_epoch(self.epoch)


def _legacy_minibatch_step(self: Any, epoch: int) -> Any:
    """graphalign's mini-batch step before this benchmark: a new loader at every step
    (and one backward through all edge types' subgraphs at once)."""
    import torch
    from torch_geometric.loader import LinkNeighborLoader

    losses = []
    for edge_type, cycler in self.cyclers.items():
        pairs = cycler.next()
        loader = LinkNeighborLoader(
            self.data,
            num_neighbors=self.sampling.num_neighbors,
            edge_label_index=(edge_type, pairs),
            batch_size=pairs.size(1),
            shuffle=False,
            neighbor_sampler=self.sampler,
        )
        batch = next(iter(loader)).to(self.device)
        z = self.model(batch.x_dict, self._isolate(batch.edge_index_dict, batch.n_id_dict))
        src, _, dst = edge_type
        local = batch[edge_type].edge_label_index
        ids = torch.stack([batch[src].n_id[local[0]], batch[dst].n_id[local[1]]])
        losses.append(self._pair_loss(z[src], z[dst], local, ids, batch[dst].n_id, shared_graph=False))
    loss = torch.stack(losses).mean()
    self._backward(loss, epoch)
    return loss.detach()


class PlainRunner:
    """The same training written as a plain PyG loop (no graphalign training or model code)."""

    def __init__(self, graph: Any, split: Any, spec: dict[str, Any]) -> None:
        import torch
        import torch.nn.functional as F
        from torch import nn
        from torch_geometric.data import HeteroData
        from torch_geometric.loader import LinkNeighborLoader
        from torch_geometric.nn import GATConv, HeteroConv
        from torch_geometric.utils import scatter

        from graphalign.graph.convert import reverse_edge_type

        torch.manual_seed(0)
        h, out_dim = spec["hidden_dim"], spec["out_dim"]
        data = HeteroData()
        for node_type, x in graph.features.items():
            data[node_type].x = x.float()
        for edge_type, edge_index in split.edges["message_passing"].items():
            data[edge_type].edge_index = edge_index
            data[reverse_edge_type(edge_type)].edge_index = edge_index.flip(0)
        edge_types = list(data.edge_types)
        node_types = list(graph.features)
        groups = graph.spaces

        class RGCN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.weight = nn.Parameter(torch.empty(len(edge_types), h, h))
                for w in self.weight:
                    nn.init.xavier_uniform_(w)

            def forward(self, x: dict, edges: dict) -> dict:
                out: dict = {}
                for r, et in enumerate(edge_types):
                    if et not in edges:
                        continue
                    src, _, dst = et
                    mean = scatter(x[src][edges[et][0]], edges[et][1], dim=0, dim_size=x[dst].size(0), reduce="mean")
                    out[dst] = out[dst] + mean @ self.weight[r] if dst in out else mean @ self.weight[r]
                return out

        class Plain(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                dims = {groups[t]: graph.features[t].size(1) for t in node_types}
                self.inp = nn.ModuleDict({g: nn.Sequential(nn.Linear(d, h), nn.GELU()) for g, d in dims.items()})
                self.msg, self.root, self.norm = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
                for _ in range(2):
                    if spec["conv"] == "gat":
                        self.msg.append(
                            HeteroConv(
                                {
                                    et: GATConv(
                                        h if et[0] == et[2] else (h, h),
                                        h // HEADS,
                                        heads=HEADS,
                                        add_self_loops=False,
                                        bias=False,
                                    )
                                    for et in edge_types
                                },
                                aggr="sum",
                            )
                        )
                    else:
                        self.msg.append(RGCN())
                    self.root.append(nn.ModuleDict({t: nn.Linear(h, h) for t in node_types}))
                    self.norm.append(nn.ModuleDict({t: nn.LayerNorm(h) for t in node_types}))
                self.head = nn.Sequential(nn.Linear(h, h), nn.GELU(), nn.Linear(h, out_dim))

            def forward(self, x: dict, edges: dict) -> dict:
                h0 = {t: self.inp[groups[t]](v) for t, v in x.items()}
                hs = h0
                for msg, root, norm in zip(self.msg, self.root, self.norm):
                    m = msg(hs, edges)
                    upd = {t: root[t](v) + m[t] if t in m else root[t](v) for t, v in hs.items()}
                    hs = {t: hs[t] + F.dropout(F.gelu(norm[t](upd[t])), 0.1, self.training) for t in hs}
                return {t: F.normalize(self.head(hs[t] + h0[t]), dim=-1) for t in hs}

        self.model = model = Plain()
        self.log_scale = log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.params = [*model.parameters(), log_scale]
        self.optimizer = torch.optim.AdamW(self.params, lr=2e-3, weight_decay=1e-4)

        def info_nce(a: torch.Tensor, p: torch.Tensor, a_ids: torch.Tensor, p_ids: torch.Tensor) -> torch.Tensor:
            logits = log_scale.clamp(max=math.log(100.0)).exp() * a @ p.T
            same = (a_ids[:, None] == a_ids[None, :]) | (p_ids[:, None] == p_ids[None, :])
            logits = logits.masked_fill(same & ~torch.eye(len(a), dtype=torch.bool), float("-inf"))
            target = torch.arange(len(a))
            return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))

        supervised = {et: e for et, e in split.edges["supervision"].items() if e.size(1)}
        batch_size = spec["batch_size"]
        if spec["mode"] == "minibatch":
            from graphalign.training.sampling import (
                TorchNeighborSampler,
                has_sampling_backend,
            )

            sampler = None if has_sampling_backend() else TorchNeighborSampler(data, spec["num_neighbors"], seed=0)
            loaders = {
                et: LinkNeighborLoader(
                    data,
                    spec["num_neighbors"],
                    edge_label_index=(et, e),
                    batch_size=batch_size,
                    shuffle=True,
                    neighbor_sampler=sampler,
                )
                for et, e in supervised.items()
            }
            iterators = {et: iter(loader) for et, loader in loaders.items()}

            def next_batch(et: tuple) -> Any:
                try:
                    return next(iterators[et])
                except StopIteration:
                    iterators[et] = iter(loaders[et])
                    return next(iterators[et])

            def step_loss() -> torch.Tensor:
                losses = []
                for et in supervised:
                    batch = next_batch(et)
                    z = model(batch.x_dict, batch.edge_index_dict)
                    src, _, dst = et
                    local = batch[et].edge_label_index
                    a_ids, p_ids = batch[src].n_id[local[0]], batch[dst].n_id[local[1]]
                    losses.append(info_nce(z[src][local[0]], z[dst][local[1]], a_ids, p_ids))
                return torch.stack(losses).mean()
        else:
            orders = {et: torch.randperm(e.size(1)) for et, e in supervised.items()}
            position = dict.fromkeys(supervised, 0)

            def step_loss() -> torch.Tensor:
                z = model(data.x_dict, data.edge_index_dict)
                losses = []
                for et, edges in supervised.items():
                    if position[et] >= edges.size(1):
                        orders[et], position[et] = torch.randperm(edges.size(1)), 0
                    pairs = edges[:, orders[et][position[et] : position[et] + batch_size]]
                    position[et] += batch_size
                    src, _, dst = et
                    losses.append(info_nce(z[src][pairs[0]], z[dst][pairs[1]], pairs[0], pairs[1]))
                return torch.stack(losses).mean()

        self.step_loss = step_loss

    def train(self, steps: int) -> float:
        import torch

        self.model.train()
        total = 0.0
        for _ in range(steps):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.step_loss()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.optimizer.step()
            total += float(loss.detach())
        return total / steps


def child_time(spec: dict[str, Any]) -> dict[str, Any]:
    """Interleaved blocks of steps of every implementation in one process."""
    graph, split = _graph_and_split(spec)
    runners: dict[str, Any] = {
        "graphalign": GraphalignRunner(graph, split, spec),
        "plain": PlainRunner(graph, split, spec),
    }
    if spec.get("legacy") and spec["mode"] == "minibatch":
        runners["legacy"] = GraphalignRunner(graph, split, spec, legacy=True)
    names = list(runners)
    for name in names:  # warm-up
        runners[name].train(spec["steps"])
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for block in range(spec["blocks"]):
        order = names[block % len(names) :] + names[: block % len(names)]
        for name in order:
            started = time.perf_counter()
            runners[name].train(spec["steps"])
            seconds[name].append(time.perf_counter() - started)
    return {"seconds": seconds, "types": len(split.edges["supervision"])}


def child_memory(spec: dict[str, Any]) -> dict[str, Any]:
    """One implementation end to end in a fresh process: setup, warm-up and timed steps, peak RSS."""
    graph, split = _graph_and_split(spec)
    started = time.perf_counter()
    if spec["impl"] == "graphalign":
        from graphalign.training import RunConfig, fit

        model, train = _configs(spec, epochs=2)
        result = fit(
            graph, model, train, split=split, run=RunConfig(progress=False, distributed=False, deterministic=False)
        )
        setup = time.perf_counter() - started - sum(h["seconds"] for h in result.history)
    else:
        runner = PlainRunner(graph, split, spec)
        setup = time.perf_counter() - started
        runner.train(spec["steps"])
        runner.train(spec["steps"])
    return {"setup_s": setup, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(spec: dict[str, Any]) -> None:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    out = child_time(spec) if spec["task"] == "time" else child_memory(spec)
    print("RESULT " + json.dumps(out), flush=True)


# Parent: run the children, write the tables ##################################


REPO = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """The children import graphalign from this checkout, whatever is installed."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=child_env(),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"child failed: {spec}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _quartiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[0]:.2f}–{q[2]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000, help="synthetic graph size (about 10 edges per node)")
    parser.add_argument("--steps", type=int, default=4, help="steps per block (and per warm-up)")
    parser.add_argument("--blocks", type=int, default=8, help="timed blocks per implementation")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per implementation for peak RSS")
    parser.add_argument("--batch-size", type=int, default=256, help="supervision pairs per edge type and step")
    parser.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 5], help="mini-batch fan-out per hop")
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--out-dim", type=int, default=64)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--convs", nargs="+", default=list(CONVS), choices=CONVS)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process (default: torch's)")
    parser.add_argument("--legacy", action="store_true", help="also time the old mini-batch step")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    base = {
        "nodes": args.nodes,
        "steps": args.steps,
        "blocks": args.blocks,
        "batch_size": args.batch_size,
        "num_neighbors": args.num_neighbors,
        "hidden_dim": args.hidden_dim,
        "out_dim": args.out_dim,
        "threads": args.threads,
        "legacy": args.legacy,
    }
    configs = [(mode, conv) for mode in args.modes for conv in args.convs]
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for mode, conv in configs:
        spec = {**base, "mode": mode, "conv": conv}
        timing = run_child({**spec, "task": "time"})
        pairs = args.steps * args.batch_size * timing["types"]
        seconds = timing["seconds"]
        for name, values in seconds.items():
            rows += [
                {
                    "mode": mode,
                    "conv": conv,
                    "kind": "block",
                    "impl": name,
                    "index": i,
                    "seconds": v,
                    "pairs": pairs,
                    "peak_rss_mib": "",
                }
                for i, v in enumerate(values)
            ]
        ratios = [g / p for g, p in zip(seconds["graphalign"], seconds["plain"])]
        memory: dict[str, list[dict[str, float]]] = {"graphalign": [], "plain": []}
        for rep in range(args.repeat):
            for impl in ["graphalign", "plain"] if rep % 2 == 0 else ["plain", "graphalign"]:
                result = run_child({**spec, "task": "memory", "impl": impl})
                memory[impl].append(result)
                rows.append(
                    {
                        "mode": mode,
                        "conv": conv,
                        "kind": "process",
                        "impl": impl,
                        "index": rep,
                        "seconds": result["setup_s"],
                        "pairs": "",
                        "peak_rss_mib": result["peak_rss_mib"],
                    }
                )
        entry = {
            "mode": mode,
            "conv": conv,
            "graphalign": pairs / statistics.median(seconds["graphalign"]),
            "plain": pairs / statistics.median(seconds["plain"]),
            "ratio": statistics.median(ratios),
            "spread": _quartiles(ratios),
            "legacy": (
                statistics.median([g / p for g, p in zip(seconds["legacy"], seconds["plain"])])
                if "legacy" in seconds
                else None
            ),
            "rss_graphalign": statistics.median(m["peak_rss_mib"] for m in memory["graphalign"]),
            "rss_plain": statistics.median(m["peak_rss_mib"] for m in memory["plain"]),
            "setup_graphalign": statistics.median(m["setup_s"] for m in memory["graphalign"]),
            "setup_plain": statistics.median(m["setup_s"] for m in memory["plain"]),
        }
        summary.append(entry)
        print(
            f"{mode:9s} {conv:4s} graphalign {entry['graphalign']:7.0f} pairs/s, plain {entry['plain']:7.0f} pairs/s, "
            f"ratio {entry['ratio']:.3f} ({entry['spread']}), peak RSS {entry['rss_graphalign']:.0f} / "
            f"{entry['rss_plain']:.0f} MiB",
            flush=True,
        )

    header = [
        "mode",
        "conv",
        "graphalign pairs/s",
        "plain pairs/s",
        "time ratio graphalign/plain (median)",
        "per-block ratio, quartiles",
        "graphalign peak RSS",
        "plain peak RSS",
        "setup graphalign / plain",
    ]
    if args.legacy:
        header.insert(6, "old mini-batch step / plain")
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for e in summary:
        cells = [
            e["mode"],
            e["conv"],
            f"{e['graphalign']:,.0f}",
            f"{e['plain']:,.0f}",
            f"**{e['ratio']:.3f}**",
            e["spread"],
            f"{e['rss_graphalign']:,.0f} MiB",
            f"{e['rss_plain']:,.0f} MiB",
            f"{e['setup_graphalign']:.2f} s / {e['setup_plain']:.2f} s",
        ]
        if args.legacy:
            cells.insert(6, f"{e['legacy']:.3f}" if e["legacy"] is not None else "–")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    command = "python benchmarks/training_throughput.py " + " ".join(sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, {_memory_gib():.0f} GiB (CPU training)"
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "training_throughput.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = [
        "# Training throughput: graphalign vs. a plain PyG loop",
        "",
        f"Command: `{command}`  ",
        (
            f"Machine: {machine}; {date.today().isoformat()}; shared, load average at the end "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}."
        ),
        "",
        (
            f"Synthetic graph of {args.nodes:,} nodes (about 10 edges per node; features 384/1280), hidden "
            f"{args.hidden_dim}, out {args.out_dim}, 2 layers, "
            f"batch {args.batch_size} pairs x 3 aligned edge types per "
            f"step, fan-out {args.num_neighbors}. Time: {args.blocks} interleaved blocks of {args.steps} steps per "
            f"implementation in one process; peak RSS and setup: medians of {args.repeat} fresh processes each."
        ),
        "",
        table,
        "",
        "Raw numbers: `training_throughput.csv` (`block` rows: seconds per block; `process` rows: setup seconds "
        "and peak RSS of one end-to-end process).",
        "",
    ]
    (args.out / "training_throughput.md").write_text("\n".join(text), encoding="utf-8")
    print(f"\nwrote {args.out / 'training_throughput.md'} and .csv")


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


if __name__ == "__main__":
    main()
