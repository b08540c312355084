"""The ``graphalign`` command line: parses arguments and calls the library.

Every user mistake (bad data, unknown name, missing folder) is printed as one
``error: ...`` line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

EXIT_USER_ERROR = 2


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"model\": \"path\"}'")
    return value


def _add_encoder_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("encoders")
    group.add_argument("--text-encoder", default="minilm", help="encoder for concepts and texts (see `graphalign ls encoders`)")
    group.add_argument("--text-encoder-kwargs", type=_json_dict, default={}, metavar="JSON", help="its arguments as JSON")
    group.add_argument("--image-encoder", default="efficientnet-lite0", help="encoder for images")
    group.add_argument("--image-encoder-kwargs", type=_json_dict, default={}, metavar="JSON", help="its arguments as JSON")
    group.add_argument("--cache-dir", default=None, help="feature cache folder (default: $GRAPHALIGN_CACHE or ~/.cache/graphalign)")
    group.add_argument("--no-cache", action="store_true", help="encode everything, do not read or write the cache")
    group.add_argument("--device", default="auto", help="cpu, cuda or auto")
    group.add_argument("--batch-size", type=int, default=None, help="encoder batch size")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphalign", description="Graph-based multimodal knowledge alignment.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = commands.add_parser("build", help="validate a dataset folder, encode its nodes, write a graph folder")
    build.add_argument("data_dir", type=Path, help="dataset folder with nodes.jsonl and edges.tsv")
    build.add_argument("-o", "--output", type=Path, required=True, help="graph folder to write")
    build.add_argument("--allow-outside-root", action="store_true", help="accept image paths outside the dataset folder")
    build.add_argument("--allow-self-loops", action="store_true", help="accept edges from a node to itself")
    _add_encoder_options(build)

    info = commands.add_parser("info", help="node and edge counts by type, feature sizes")
    info.add_argument("graph_dir", type=Path, help="a graph folder written by `graphalign build`")
    info.add_argument("--json", action="store_true", help="print JSON")

    ls = commands.add_parser("ls", help="list the registered components")
    ls.add_argument("family", nargs="?", default=None, choices=["encoders"], help="which family (default: all)")
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def _cmd_build(args: argparse.Namespace) -> int:
    from graphalign.encoders.featurize import GraphConfig
    from graphalign.graph.store import build_graph

    config = GraphConfig(
        text_encoder=args.text_encoder,
        text_encoder_kwargs=args.text_encoder_kwargs,
        image_encoder=args.image_encoder,
        image_encoder_kwargs=args.image_encoder_kwargs,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    start = time.perf_counter()
    built, stats = build_graph(
        args.data_dir, config, allow_outside_root=args.allow_outside_root, allow_self_loops=args.allow_self_loops
    )
    built.save(args.output)
    elapsed = time.perf_counter() - start
    cached = sum(stats.cached.values())
    print(f"built {built.graph!r} in {elapsed:.1f}s: {stats.total_encoded} items encoded, {cached} from cache")
    print(f"wrote {args.output}")
    return 0


def _print_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _cmd_info(args: argparse.Namespace) -> int:
    from graphalign.graph.store import BuiltGraph

    built = BuiltGraph.load(args.graph_dir)
    summary = built.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    dims = summary["feature_dims"]
    _print_table([(t, str(n), str(dims.get(t, "-"))) for t, n in summary["nodes"].items()], ("node type", "nodes", "feature dim"))
    print()
    _print_table([(et, str(n)) for et, n in summary["edges"].items()], ("edge type (src|relation|dst)", "edges"))
    print()
    for modality, identity in summary["encoders"].items():
        print(f"{modality} encoder: {identity}")
    return 0


def _registries() -> dict[str, Any]:
    from graphalign.encoders import ENCODERS

    return {"encoders": ENCODERS}


def _cmd_ls(args: argparse.Namespace) -> int:
    for family, registry in _registries().items():
        if args.family in (None, family):
            print(f"{family}: {', '.join(registry.names())}")
    return 0


COMMANDS = {"build": _cmd_build, "info": _cmd_info, "ls": _cmd_ls}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status (callable from tests)."""
    from graphalign.errors import GraphAlignError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    _setup_logging(args.verbose, args.quiet)
    try:
        return COMMANDS[args.command](args)
    except GraphAlignError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
