"""Explorer latency: concurrent clients against a live ``graphalign serve`` beside the same calls in-process.

Starts the explorer of RUN_DIR (uvicorn, in this process, on a free port of
127.0.0.1), warms it up (one call of each kind: the encoders and indexes load
on the first), then for each kind of request, text search (``/api/search``),
image upload search (``/api/search/image``) and node views (``/api/node`` +
``/api/neighbors``), and for each number of concurrent clients in
``--clients`` (default 1, then 4), runs that many clients for ``--requests``
requests each against the server and the same calls on
:class:`~graphalign.serve.Explorer` in-process from as many threads. Prints p50
/ p95 latency, requests per second and two overhead ratios at the same
concurrency (server p50 / in-process p50; in-process requests/s / server
requests/s: with several clients the explorer's lock serves in-process threads
unevenly, so their p50 says less than the throughput) as a Markdown table, and
writes it to ``benchmarks/results/serve_latency.{md,csv}``. On 2 cores, 4
clients queue: their latency shows the wait, their requests/s the throughput.

Usage::

    python benchmarks/serve_latency.py RUN_DIR                 # e.g. a run of the full Tux Paint graph
    python benchmarks/serve_latency.py RUN_DIR --clients 1 8 --requests 50
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import socket
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

from graphalign.serve import Explorer, create_app

RESULTS = Path(__file__).resolve().parent / "results"
QUERIES = ["a red bird", "a cat sleeping", "a big truck", "a musical instrument", "a flower", "a boat on the sea"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _png(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (96, 96), tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def _concurrent(call: Callable[[httpx.Client, int], None], base: str, clients: int, requests: int) -> tuple:
    def worker(client_index: int) -> list[float]:
        times = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(requests):
                started = time.perf_counter()
                call(client, client_index * requests + i)
                times.append(time.perf_counter() - started)
        return times

    return _timed_pool(worker, clients)


def _in_process(call: Callable[[int], object], clients: int, requests: int) -> tuple:
    def worker(client_index: int) -> list[float]:
        times = []
        for i in range(requests):
            started = time.perf_counter()
            call(client_index * requests + i)
            times.append(time.perf_counter() - started)
        return times

    return _timed_pool(worker, clients)


def _timed_pool(worker: Callable[[int], list[float]], clients: int) -> tuple:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for part in pool.map(worker, range(clients)) for t in part]
    return times, len(times) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="numbers of concurrent clients")
    parser.add_argument("--requests", type=int, default=25, help="requests per client and kind")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for serve_latency.{md,csv}")
    args = parser.parse_args()

    explorer = Explorer.load(args.run_dir)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(explorer), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ids = [i for t in explorer.types for i in explorer.aligner.ids(t)]
    rng = random.Random(0)
    node_ids = [rng.choice(ids) for _ in range(max(args.clients) * args.requests)]

    def check(response: httpx.Response) -> None:
        response.raise_for_status()

    kinds = {
        "text search": (
            lambda c, i: check(c.get("/api/search", params={"text": QUERIES[i % len(QUERIES)]})),
            lambda i: explorer.search_text(QUERIES[i % len(QUERIES)]),
        ),
        "image upload search": (
            lambda c, i: check(c.post("/api/search/image", files={"file": ("q.png", _png(i), "image/png")})),
            lambda i: explorer.search_image(Image.open(io.BytesIO(_png(i))).convert("RGB")),
        ),
        "node view": (
            lambda c, i: [check(c.get(p, params={"id": node_ids[i]})) for p in ("/api/node", "/api/neighbors")],
            lambda i: (explorer.node(node_ids[i]), explorer.neighbors(node_ids[i])),
        ),
    }
    rows = []
    with httpx.Client(base_url=base, timeout=120) as warm:
        for served, _ in kinds.values():
            served(warm, 0)
    for clients in args.clients:
        for name, (served, direct) in kinds.items():
            times, rps = _concurrent(served, base, clients, args.requests)
            local, local_rps = _in_process(direct, clients, args.requests)
            p50, p95 = _percentiles(times)
            local_p50, local_p95 = _percentiles(local)
            rows.append(
                [
                    name,
                    str(clients),
                    f"{p50:.1f}",
                    f"{p95:.1f}",
                    f"{rps:.1f}",
                    f"{local_p50:.1f}",
                    f"{local_p95:.1f}",
                    f"{local_rps:.1f}",
                    f"{p50 / local_p50:.2f}",
                    f"{local_rps / rps:.2f}",
                ]
            )
    server.should_exit = True
    header = [
        "request",
        "clients",
        "p50 ms",
        "p95 ms",
        "requests/s",
        "in-process p50 ms",
        "in-process p95 ms",
        "in-process requests/s",
        "overhead (p50)",
        "overhead (requests/s)",
    ]
    total = sum(len(explorer.aligner.ids(t)) for t in explorer.types)
    lines = [
        f"{args.requests} requests per client and kind; {total:,} nodes",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve_latency.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(args.out / "serve_latency.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


if __name__ == "__main__":
    main()
