"""Query latency: exact and approximate neighbour search over stored embeddings.

For each collection size (default 10^5; ``--sizes 100000 1000000`` adds 10^6),
builds graphalign's vector indexes (``graphalign.query.index``: ``exact``,
``faiss`` HNSW and IVF, and ``usearch`` HNSW when it is installed, with their
defaults) over clustered synthetic embeddings
(384-d by default: a mixture of gaussians of uneven sizes and spreads in a
64-d latent space, lifted to 384-d with isotropic noise and L2-normalised, so
that neighbours are meaningful and recall is not trivial), then measures, with
every method interleaved round by round (in a random order):

* p50/p99 latency of one query and of a batch of 64 queries, as the
  :class:`~graphalign.query.Aligner` calls ``index.search``;
* recall@10 of the approximate indexes against exact search, with a sweep of
  ``ef_search`` / ``nprobe`` (the default is marked);
* for exact search, GB/s of the embedding matrix scanned per second, next to
  the memory bandwidth measured in the same rounds (``torch.sum`` over the same
  matrix: read; ``copy_`` into a buffer of its size: read + write), and a bare
  ``torch`` matmul + top-k over the same vectors held as an ``(n, d)`` matrix
  as the reference for graphalign's exact index.

Writes ``benchmarks/results/query_latency.{md,csv}``.

Usage::

    python benchmarks/query_latency.py                                # 10^5 vectors (a few minutes)
    python benchmarks/query_latency.py --sizes 100000 1000000         # adds 10^6 (HNSW builds: tens of minutes
                                                                      # on 2 cores)
    python benchmarks/query_latency.py --sizes 1000000 --approximate ivf --name query_latency_1e6  # 10^6 without HNSW
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _common import interleaved, load_average, markdown_table, percentile, report_header, write_results

RECALL_TARGET = 0.95
K = 10
BATCH = 64
BARE_SINGLE = "bare torch, (n, d) matrix: mv + topk"
BARE_BATCH = "bare torch, (n, d) matrix: matmul + topk"
SWEEPS = {
    "hnsw": ("ef_search", [16, 32, 64, 128, 256]),
    "ivf": ("nprobe", [8, 32, 64, 128, 256, 512]),
    "usearch": ("expansion_search", [16, 32, 64, 128, 256]),
}


def clustered_embeddings(
    dim: int, clusters: int, latent: int, seed: int, noise: float = 0.3
) -> Callable[[int], torch.Tensor]:
    """A sampler of normalised vectors from a fixed mixture of gaussians.

    Cluster ``c`` has weight ``(c + 1) ** -0.5`` and spread in ``[0.6, 1.2]``; points
    are ``lift(centre + spread * z) + noise * e``, L2-normalised.
    """
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, latent, generator=generator)  # (C, latent)
    spreads = 0.6 + 0.6 * torch.rand(clusters, generator=generator)  # (C,)
    weights = torch.arange(1, clusters + 1, dtype=torch.float).pow(-0.5)
    lift = torch.randn(latent, dim, generator=generator) / latent**0.5  # (latent, dim)

    def draw(n: int) -> torch.Tensor:
        out = torch.empty(n, dim)
        for start in range(0, n, 65_536):
            m = min(65_536, n - start)
            labels = torch.multinomial(weights, m, replacement=True, generator=generator)  # (m,)
            z = centres[labels] + spreads[labels, None] * torch.randn(m, latent, generator=generator)  # (m, latent)
            out[start : start + m] = F.normalize(z @ lift + noise * torch.randn(m, dim, generator=generator), dim=-1)
        return out

    return draw


def recall_at_k(truth: torch.Tensor, found: torch.Tensor) -> float:
    """Mean fraction of the true top-k found (order ignored)."""
    hits = sum(len(set(t.tolist()) & set(f.tolist())) for t, f in zip(truth, found))
    return hits / truth.numel()


def timed(function: Callable[..., object], *args: object) -> float:
    """Seconds that ``function(*args)`` takes."""
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def bench_size(n: int, args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Builds the indexes over ``n`` vectors and measures them; returns (rows, sweep rows)."""
    from graphalign.query.index import ExactIndex, build_index

    clusters = args.clusters or max(10, n // 100)
    draw = clustered_embeddings(args.dim, clusters, args.latent, args.seed)
    started = time.perf_counter()
    vectors, queries = draw(n), draw(args.queries)  # (n, d), (Q, d)
    log(f"n={n}: {clusters} clusters, data in {time.perf_counter() - started:.1f} s")

    indexes: dict[str, object] = {}
    build: dict[str, float] = {}
    exact = ExactIndex()
    build["exact"] = timed(exact.add, vectors)
    indexes["exact"] = exact
    for kind in args.approximate:
        index = build_index("usearch") if kind == "usearch" else build_index("faiss", {"kind": kind})
        build[kind] = timed(index.add, vectors)
        indexes[kind] = index
        log(f"n={n}: {kind} built in {build[kind]:.1f} s ({index!r})")
    del vectors
    matrix = exact.vectors  # (n, d) float32, a view of the (d, n) matrix that exact search scans
    natural = matrix.contiguous()  # (n, d) row-major: how a bare torch loop would hold the embeddings
    nbytes = matrix.numel() * matrix.element_size()

    truth = exact.search(queries, K)[1]
    recall = {
        name: (1.0 if name == "exact" else recall_at_k(truth, index.search(queries, K)[1]))
        for name, index in indexes.items()
    }

    sweep_rows = []
    for name, index in indexes.items():
        if name not in SWEEPS:
            continue
        parameter, values = SWEEPS[name]
        default = getattr(index, parameter)
        for value in sorted(set(values) | {default}):
            index.set_search_params(**{parameter: value})
            found = index.search(queries, K)[1]
            seconds = statistics.median(timed(index.search, queries, K) for _ in range(3))
            sweep_rows.append(
                {
                    "section": "sweep",
                    "n": n,
                    "method": METHOD_NAMES[name],
                    "parameter": parameter,
                    "value": value,
                    "default": value == default,
                    "recall_at_10": round(recall_at_k(truth, found), 4),
                    "ms_per_query_batched": round(1e3 * seconds / queries.size(0), 4),
                }
            )
        index.set_search_params(**{parameter: default})

    # ---------------------------------------------------------------- latency, interleaved
    buffer = torch.empty_like(matrix)
    single = {name: (lambda q, index=index: index.search(q, K)) for name, index in indexes.items()}
    single[BARE_SINGLE] = lambda q: torch.topk(natural @ q[0], K)
    single["memory read: torch.sum"] = lambda q: matrix.sum()
    single["memory copy: copy_"] = lambda q, buffer=buffer: buffer.copy_(matrix)
    rounds = args.rounds or min(300, max(30, int(3e7 // n)))
    for run in single.values():  # warm-up
        run(queries[:1])
    single_times = interleaved(single, [queries[i % len(queries)][None] for i in range(rounds)])
    del buffer
    batched = {name: (lambda q, index=index: index.search(q, K)) for name, index in indexes.items()}
    batched[BARE_BATCH] = lambda q: torch.topk(q @ natural.T, K, dim=1)
    batch_rounds = args.batch_rounds or min(30, max(10, int(3e6 // n)))
    starts = [(i * BATCH) % (len(queries) - BATCH + 1) for i in range(batch_rounds)]
    for run in batched.values():
        run(queries[:BATCH])
    batch_times = interleaved(batched, [queries[s : s + BATCH] for s in starts])
    log(f"n={n}: {rounds} single-query rounds, {batch_rounds} batch rounds")

    read_p50 = percentile(single_times["memory read: torch.sum"], 50)
    exact_p50 = percentile(single_times["exact"], 50)
    rows = []
    for name in single:
        one = single_times[name]
        p50 = percentile(one, 50)
        row = {
            "section": "latency",
            "n": n,
            "dim": args.dim,
            "method": METHOD_NAMES.get(name, name),
            "settings": settings(indexes.get(name)),
            "build_s": round(build[name], 2) if name in build else "",
            "recall_at_10": round(recall[name], 4) if name in recall else "",
            "p50_ms": round(1e3 * p50, 3),
            "p99_ms": round(1e3 * percentile(one, 99), 3),
            "speedup_vs_exact": round(exact_p50 / p50, 2),
            "batch64_p50_ms": "",
            "batch64_p99_ms": "",
            "gb_per_s": "",
            "vs_memory_read": "",
            "rounds": len(one),
        }
        batch_name = {BARE_SINGLE: BARE_BATCH}.get(name, name)
        if batch_name in batch_times:
            row["batch64_p50_ms"] = round(1e3 * percentile(batch_times[batch_name], 50), 3)
            row["batch64_p99_ms"] = round(1e3 * percentile(batch_times[batch_name], 99), 3)
        scanned = {
            "exact": nbytes,
            BARE_SINGLE: nbytes,
            "memory read: torch.sum": nbytes,
            "memory copy: copy_": 2 * nbytes,
        }
        if name in scanned:
            row["gb_per_s"] = round(scanned[name] / p50 / 1e9, 2)
            row["vs_memory_read"] = round(scanned[name] / p50 / (nbytes / read_p50), 2)
        rows.append(row)
    return rows, sweep_rows


METHOD_NAMES = {
    "exact": "graphalign exact",
    "hnsw": "graphalign faiss hnsw",
    "ivf": "graphalign faiss ivf",
    "usearch": "graphalign usearch (hnsw)",
}


APPROXIMATE_NAMES = {METHOD_NAMES[kind] for kind in ("hnsw", "ivf", "usearch")}


def settings(index: object) -> str:
    if index is None:
        return ""
    names = {
        "exact": ("block_size", "query_batch"),
        "hnsw": ("m", "ef_construction", "ef_search"),
        "ivf": ("nlist", "nprobe"),
        "usearch": ("connectivity", "expansion_add", "expansion_search"),
    }
    kind = getattr(index, "kind", "usearch" if hasattr(index, "expansion_search") else "exact")
    return ", ".join(f"{key}={getattr(index, key)}" for key in names[kind])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def render(rows: list[dict], sweep_rows: list[dict], args: argparse.Namespace, load_before: str) -> str:
    table = []
    for r in rows:
        approximate = r["method"] in APPROXIMATE_NAMES
        met = ("yes" if r["recall_at_10"] >= RECALL_TARGET else "**no**") if approximate else ""
        table.append(
            [
                f"{r['n']:,}",
                r["method"],
                r["settings"],
                r["build_s"],
                r["recall_at_10"],
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{r['speedup_vs_exact']:.2f}",
                r["batch64_p50_ms"] if r["batch64_p50_ms"] == "" else f"{r['batch64_p50_ms']:.1f}",
                r["batch64_p99_ms"] if r["batch64_p99_ms"] == "" else f"{r['batch64_p99_ms']:.1f}",
                r["gb_per_s"],
                r["vs_memory_read"],
                met,
            ]
        )
    sweep = [
        [
            f"{r['n']:,}",
            r["method"],
            f"{r['parameter']}={r['value']}" + (" (default)" if r["default"] else ""),
            f"{r['recall_at_10']:.4f}",
            f"{r['ms_per_query_batched']:.3f}",
        ]
        for r in sweep_rows
    ]
    headers = [
        "vectors",
        "method",
        "settings",
        "build (s)",
        "recall@10",
        "1 query p50 (ms)",
        "p99 (ms)",
        "exact p50 / p50",
        f"{BATCH} queries p50 (ms)",
        "p99 (ms)",
        "GB/s scanned (1 query)",
        "/ memory read",
        f"recall >= {RECALL_TARGET}",
    ]
    parts = [
        report_header("Query latency", load_before),
        f"{args.dim}-d normalised embeddings from a mixture of gaussians ({args.latent}-d latent space, "
        f"{'one cluster per 100 vectors' if not args.clusters else f'{args.clusters} clusters'}), "
        f"{args.queries} held-out queries from the same mixture, k = {K}. "
        "Latencies are of `index.search` (what `Aligner` calls), every method timed in the same rounds, "
        "in a random order.\n",
        markdown_table(headers, table, [False, False, False] + [True] * 9 + [False]),
        "",
        "GB/s scanned: bytes of the float32 embedding matrix divided by the one-query p50 "
        "(copy: bytes read + written); "
        "'/ memory read' compares it with `torch.sum` over the same matrix in the same rounds.",
        "",
        f"## Recall vs. search breadth (all {args.queries} queries in one batch)\n",
        markdown_table(
            ["vectors", "index", "setting", "recall@10", "ms per query"], sweep, [False, False, False, True, True]
        ),
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="collection sizes (default 100000)")
    parser.add_argument("--dim", type=int, default=384, help="embedding size")
    parser.add_argument("--latent", type=int, default=64, help="dimension of the latent mixture")
    parser.add_argument("--clusters", type=int, default=None, help="mixture components (default: one per 100 vectors)")
    parser.add_argument("--queries", type=int, default=256, help="held-out queries (recall; cycled for latency)")
    parser.add_argument(
        "--approximate",
        nargs="*",
        default=None,
        choices=["hnsw", "ivf", "usearch"],
        help="approximate indexes next to exact search (default: faiss hnsw and ivf, and usearch if installed)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="single-query rounds (default: 300 at 10^5, 30 at 10^6)"
    )
    parser.add_argument("--batch-rounds", type=int, default=None, help="batch rounds (default: 30 at 10^5, 10 at 10^6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--name", default="query_latency", help="results file name, without .md/.csv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.approximate is None:
        args.approximate = ["hnsw", "ivf"]
        if importlib.util.find_spec("usearch") is not None:
            args.approximate.append("usearch")
        else:
            log("usearch is not installed (pip install usearch): measuring faiss only")
    load_before = load_average()
    rows, sweep_rows = [], []
    for n in args.sizes:
        size_rows, size_sweep = bench_size(n, args)
        rows += size_rows
        sweep_rows += size_sweep
    markdown = render(rows, sweep_rows, args, load_before)
    print(markdown)
    from pathlib import Path

    md_path, csv_path = write_results(args.name, markdown, rows + sweep_rows, *([Path(args.out)] if args.out else []))
    log(f"wrote {md_path} and {csv_path}")


if __name__ == "__main__":
    main()
