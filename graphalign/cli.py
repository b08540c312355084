"""The ``graphalign`` command line: parses arguments and calls the library.

Every user mistake (bad data, unknown name, missing folder) is printed as one
``error: ...`` line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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


def _channel(text: str) -> dict[str, Any]:
    """``--channel``: a JSON object, or ``SOURCES[@RELATIONS][:KEY=VALUE,...]`` such as
    ``image@depicts,is_a:weight=1,hops=3`` (sources and relations comma-separated)."""
    from graphalign.errors import ConfigError
    from graphalign.nn.channels import ChannelConfig

    if text.lstrip().startswith("{"):
        spec = _json_dict(text)
    else:
        head, _, options = text.partition(":")
        sources, _, relations = head.partition("@")
        spec = {"sources": [s for s in sources.split(",") if s]}
        if relations:
            spec["relations"] = [r for r in relations.split(",") if r]
        for option in filter(None, options.split(",")):
            key, eq, value = option.partition("=")
            if not eq:
                raise argparse.ArgumentTypeError(f"{option!r}: expected KEY=VALUE (weight, hops, decay, codes, center=0|1, "
                                                 f"feature_slice=START-STOP)")
            try:
                if key == "feature_slice":
                    spec[key] = [int(v) for v in value.split("-")]
                elif key in ("hops", "codes"):
                    spec[key] = int(value)
                elif key in ("center", "in_loss"):
                    spec[key] = {"1": True, "true": True, "0": False, "false": False}[value.lower()]
                else:
                    spec[key] = float(value)
            except (ValueError, KeyError):
                expected = "0 or 1" if key in ("center", "in_loss") else "a number"
                raise argparse.ArgumentTypeError(f"bad graph channel {text!r}: {key}={value!r} is not {expected}") from None
    try:
        return ChannelConfig.from_dict(spec).to_dict()
    except (ConfigError, TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"bad graph channel {text!r}: {error}") from None


def _add_encoder_options(parser: argparse.ArgumentParser, image_encoder: str = "efficientnet-lite0") -> None:
    group = parser.add_argument_group("encoders")
    group.add_argument("--text-encoder", default="minilm", help="encoder for concepts and texts (see `graphalign ls encoders`)")
    group.add_argument("--text-encoder-kwargs", type=_json_dict, default={}, metavar="JSON", help="its arguments as JSON")
    group.add_argument("--image-encoder", default=image_encoder, help="encoder for images")
    group.add_argument("--image-encoder-kwargs", type=_json_dict, default={}, metavar="JSON", help="its arguments as JSON")
    group.add_argument("--cache-dir", default=None, help="feature cache folder (default: $GRAPHALIGN_CACHE or ~/.cache/graphalign)")
    group.add_argument("--no-cache", action="store_true", help="encode everything, do not read or write the cache")
    group.add_argument("--device", default="auto", help="cpu, cuda or auto")
    group.add_argument("--encode-batch-size", dest="batch_size", type=int, default=None, help="encoder batch size")


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
    build.add_argument("--knn", action="append", default=[], metavar="TYPE:K[:TARGET]",
                       help="add label-free similar_to edges from each TYPE node to its K most similar TARGET nodes "
                            "(default TARGET: TYPE; across types both must share a feature space, e.g. image:10:concept "
                            "with --image-encoder conse); repeatable")
    build.add_argument("--predictions", type=int, default=0, metavar="K",
                       help="add label-free predicted_as edges from each image to the concepts its top K ImageNet "
                            "classes lead to through WordNet (concepts must be WordNet synsets; images encoded by "
                            "efficientnet-lite0 or conse with mode=concat)")
    _add_encoder_options(build)

    info = commands.add_parser("info", help="node and edge counts by type, feature sizes")
    info.add_argument("graph_dir", type=Path, help="a graph folder written by `graphalign build`")
    info.add_argument("--json", action="store_true", help="print JSON")

    train = commands.add_parser("train", help="train the aligner on a graph folder; writes a run folder")
    train.add_argument("graph_dir", type=Path, help="a graph folder written by `graphalign build`")
    train.add_argument("-o", "--output", type=Path, required=True, help="run folder to write")
    _add_training_options(train)
    train.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    train.add_argument("--distributed", action=argparse.BooleanOptionalAction, default=None,
                       help="data-parallel training over torch.distributed (default: on when launched by torchrun "
                            "with several processes, e.g. `torchrun --nproc-per-node 2 -m graphalign train ...`)")

    evaluate = commands.add_parser("eval", help="evaluate a trained run on its held-out links (metrics table)")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--part", choices=["test", "val"], default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON")

    query = commands.add_parser("query", help="nearest neighbours of a node, a new text or a new image")
    query.add_argument("run_dir", type=Path)
    what = query.add_mutually_exclusive_group(required=True)
    what.add_argument("--node", help="a node id of the graph")
    what.add_argument("--text", help="a new text (not in the graph)")
    what.add_argument("--image", type=Path, help="a new image file (not in the graph)")
    query.add_argument("--type", choices=["concept", "text", "image"], default=None,
                       help="rank only nodes of this type (default: concept for --text/--image, all for --node)")
    query.add_argument("-k", type=int, default=10, help="how many results")
    query.add_argument("--graph-hops", type=int, default=0, help="with --node: also list graph neighbours within N hops")
    query.add_argument("--index", default="exact", help="index backend: exact or faiss")
    query.add_argument("--json", action="store_true", help="print JSON")

    demo = commands.add_parser("demo", help="the main job on the bundled dataset: build, train, evaluate, query")
    demo.add_argument("--data", type=Path, default=Path("datasets/tuxpaint_small"), help="dataset folder")
    demo.add_argument("--work-dir", type=Path, default=Path("runs/demo"), help="where the graph and run folders go")
    _add_training_options(demo, epochs=DEMO_EPOCHS, prior=True)
    _add_encoder_options(demo, image_encoder="conse")

    bench = commands.add_parser("bench", help="quality benchmark: graphalign vs. non-graph baselines on the same splits")
    bench.add_argument("data_dir", type=Path, help="dataset folder (e.g. the full Tux Paint + WordNet build)")
    bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench.add_argument("--epochs", type=int, default=40)
    bench.add_argument("--batch-size", type=int, default=256, help="supervision pairs per edge type and step")
    bench.add_argument("--mode", choices=["full", "minibatch"], default="full", help="full-batch or neighbour-sampled training")
    bench.add_argument("--steps-per-epoch", type=int, default=None, help="cap on optimiser steps per epoch (large graphs)")
    bench.add_argument("--eval-every", type=int, default=1, help="validate every N epochs (large graphs)")
    bench.add_argument("--num-neighbors", type=int, nargs="+", default=[15, 10], help="mini-batch fan-out per hop")
    bench.add_argument("--knn", type=int, default=0, metavar="K",
                       help="also graphalign gatv2 + prior + kNN: label-free edges from each image to its K closest concepts")
    bench.add_argument("--plain", dest="plain", action="store_true", default=False,
                       help="also the variants on the default encoders' features without the prior residual")
    bench.add_argument("--no-plain", dest="plain", action="store_false", help=argparse.SUPPRESS)  # the default; kept for old commands
    bench.add_argument("--no-channels", dest="channels", action="store_false",
                       help="skip graphalign gatv2 + prior + graph channels and two towers with the same prior channel "
                            "(both on ConSE + visual image features)")
    bench.add_argument("--inherit", action=argparse.BooleanOptionalAction, default=True,
                       help="graphalign's concepts without images inherit the learned embeddings of their relatives "
                            "with images over is_a / part_of (graphalign.nn.inherit)")
    bench.add_argument("--predictions", type=int, default=3, metavar="K",
                       help="label-free edges from each image to the concepts its top K ImageNet classes lead to "
                            "through WordNet (graphs whose concepts are WordNet synsets; 0: none)")
    bench.add_argument("--channel-weights", type=float, nargs=5, default=[1.0, 1.0, 0.0, 1.0, 0.5],
                       metavar=("PRIOR", "TEXT", "VISUAL", "CONCEPT", "HIERARCHY"),
                       help="weights of the prior, text, visual, concept and hierarchy channels (0 leaves one out)")
    bench.add_argument("--losses", nargs="+", default=["infonce", "triplet"], help="losses of the trained methods")
    bench.add_argument("--convs", nargs="+", default=["gatv2", "rgcn"], help="message-passing layers of the graph methods")
    bench.add_argument("--out", type=Path, default=Path("docs/results"), help="folder for the markdown table and CSV")
    bench.add_argument("--cache-dir", default=None, help="feature cache folder")
    bench.add_argument("--plots", action="store_true", help="also draw t-SNE maps before/after alignment and training curves")

    ls = commands.add_parser("ls", help="list the registered components")
    ls.add_argument("family", nargs="?", default=None, choices=REGISTRY_FAMILIES, help="which family (default: all)")
    return parser


DEMO_EPOCHS = 40


def _add_training_options(parser: argparse.ArgumentParser, epochs: int = 50, prior: bool = False) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--conv", default="gatv2", help="message-passing layer (see `graphalign ls convs`)")
    model.add_argument("--conv-kwargs", type=_json_dict, default={}, metavar="JSON")
    model.add_argument("--layers", type=int, default=2, help="message-passing layers")
    model.add_argument("--hidden-dim", type=int, default=256)
    model.add_argument("--out-dim", type=int, default=384 if prior else 128, help="size of the shared space")
    model.add_argument("--prior-residual", action=argparse.BooleanOptionalAction, default=prior,
                       help="keep the pretrained text space as a prior: output = normalize(P x + s * GNN)")
    model.add_argument("--prior-scale", type=float, default=0.2, help="initial weight of the GNN term against the prior")
    model.add_argument("--dropout", type=float, default=0.1)
    model.add_argument("--edge-dropout", type=float, default=0.0)
    model.add_argument("--channel", dest="channels", type=_channel, action="append", default=[], metavar="SPEC",
                       help="graph channel appended to the embedding (repeatable): JSON or SOURCES[@RELATIONS][:weight=W,hops=H,"
                            "decay=D,feature_slice=A-B], e.g. image@depicts,is_a,part_of (see graphalign.nn.channels)")
    model.add_argument("--inherit", action=argparse.BooleanOptionalAction, default=False,
                       help="concepts without images inherit the learned embeddings of their relatives with images "
                            "over is_a / part_of, after training (graphalign.nn.inherit)")
    model.add_argument("--inherit-weight", type=float, default=1.0, help="weight of the inherited mean")
    model.add_argument("--inherit-hops", type=int, default=3, help="how far inheritance reaches over is_a / part_of")
    opt = parser.add_argument_group("training")
    opt.add_argument("--loss", default="infonce", help="contrastive loss (see `graphalign ls losses`)")
    opt.add_argument("--loss-kwargs", type=_json_dict, default={}, metavar="JSON")
    opt.add_argument("--epochs", type=int, default=epochs)
    opt.add_argument("--batch-size", dest="train_batch_size", type=int, default=256, help="supervision pairs per edge type and step")
    opt.add_argument("--lr", type=float, default=2e-3)
    opt.add_argument("--mode", choices=["full", "minibatch"], default="full")
    opt.add_argument("--num-neighbors", type=int, nargs="+", default=[15, 10], help="mini-batch fan-out per hop")
    opt.add_argument("--negatives", type=int, default=-1 if prior else 0,
                     help="extra negatives per step (-1: all nodes of the target type)")
    opt.add_argument("--steps-per-epoch", type=int, default=None, help="cap on optimiser steps per epoch")
    opt.add_argument("--isolate-nodes", type=float, default=0.0,
                     help="fraction of images/texts cut off from message passing at each step (trains for new nodes)")
    opt.add_argument("--supervise", nargs="+", default=None, metavar="RELATION",
                     help="relations the loss trains on (default: every aligned relation; the rest still pass messages)")
    opt.add_argument("--patience", type=int, default=10)
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--deterministic", action="store_true",
                     help="torch.use_deterministic_algorithms while training: bitwise-equal runs with the same seed")
    opt.add_argument("--val-fraction", type=float, default=0.1)
    opt.add_argument("--test-fraction", type=float, default=0.2)
    opt.add_argument("--no-group-copies", dest="group_copies", action="store_false",
                     help="hold out copies (same text, same image file) one by one instead of together")
    opt.add_argument("--train-device", default="auto", help="cpu, cuda or auto")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def _graph_config(args: argparse.Namespace) -> Any:
    from graphalign.features.featurize import GraphConfig

    return GraphConfig(
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


def _knn_spec(spec: str) -> tuple[str, int, str | None]:
    """``"image:5"`` or ``"image:10:concept"`` → ``(type, k, target type or None)``."""
    from graphalign.errors import ConfigError

    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ConfigError(f"--knn {spec!r}: expected TYPE:K or TYPE:K:TARGET with K >= 1, e.g. image:5 or image:10:concept")
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None


def _cmd_build(args: argparse.Namespace) -> int:
    from graphalign.features.store import build_graph

    config = _graph_config(args)
    start = time.perf_counter()
    built, stats = build_graph(
        args.data_dir, config, allow_outside_root=args.allow_outside_root, allow_self_loops=args.allow_self_loops
    )
    for spec in args.knn:
        from graphalign.features.knn import add_knn_edges

        node_type, k, target_type = _knn_spec(spec)
        built = add_knn_edges(built, node_type, k, target_type=target_type)
    if args.predictions > 0:
        from graphalign.features.wordnet_predictions import add_prediction_edges

        built = add_prediction_edges(built, args.predictions)
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
    from graphalign.features.store import BuiltGraph

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


REGISTRY_FAMILIES = ("convs", "encoders", "indexes", "losses")
"""The families of `graphalign ls` (named here so that building the parser imports no registry)."""


def _registries() -> dict[str, Any]:
    from graphalign.encoders import ENCODERS
    from graphalign.losses import LOSSES
    from graphalign.nn.convs import CONVS
    from graphalign.query.index import INDEXES

    return {"encoders": ENCODERS, "convs": CONVS, "losses": LOSSES, "indexes": INDEXES}


def _configs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.data.split import SplitConfig
    from graphalign.training.trainer import TrainConfig

    model = ModelConfig(
        conv=args.conv, conv_kwargs=args.conv_kwargs, num_layers=args.layers, hidden_dim=args.hidden_dim,
        out_dim=args.out_dim, dropout=args.dropout, edge_dropout=args.edge_dropout,
        prior_residual=args.prior_residual, prior_scale=args.prior_scale, channels=args.channels,
        inherit={"weight": args.inherit_weight, "hops": args.inherit_hops} if args.inherit else None,
    )
    train = TrainConfig(
        loss=args.loss, loss_kwargs=args.loss_kwargs, epochs=args.epochs, batch_size=args.train_batch_size, lr=args.lr,
        mode=args.mode, num_neighbors=args.num_neighbors, negatives=args.negatives, isolate_nodes=args.isolate_nodes,
        steps_per_epoch=args.steps_per_epoch, patience=args.patience, supervise=args.supervise,
        seed=args.seed, device=args.train_device, progress=not args.quiet,
        distributed=getattr(args, "distributed", None), deterministic=args.deterministic,
    )
    split = SplitConfig(val_fraction=args.val_fraction, test_fraction=args.test_fraction, group_copies=args.group_copies)
    return model, train, split


METRIC_COLUMNS = ("mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "count")


def _print_metrics(metrics: dict[str, float], title: str) -> None:
    directions = sorted({key.rsplit("/", 1)[0] for key in metrics if "/" in key})
    rows = []
    for direction in directions:
        values = [metrics.get(f"{direction}/{m}") for m in METRIC_COLUMNS]
        rows.append((direction, *(("-" if v is None else (f"{int(v)}" if m == "count" else f"{v:.3f}")) for v, m in zip(values, METRIC_COLUMNS))))
    print(title)
    _print_table(rows, ("direction", *METRIC_COLUMNS))
    if "mrr" in metrics:
        print(f"mean MRR over directions: {metrics['mrr']:.3f}")


def _cmd_train(args: argparse.Namespace) -> int:
    from graphalign.features.store import BuiltGraph
    from graphalign.training.trainer import fit

    model, train, split = _configs(args)
    built = BuiltGraph.load(args.graph_dir)
    result = fit(built, model, train, split, run_dir=args.output, resume=args.resume)
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:  # under torchrun, rank 0 alone reports (and wrote the run)
        print(f"trained {result.model!r}")
        print(f"best epoch {result.best_epoch} of {len(result.history)}; run saved to {args.output}")
        _print_metrics(result.test_metrics, "test metrics (filtered ranking, held-out links):")
    if distributed:
        dist.destroy_process_group()
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from graphalign.evaluation.evaluator import LinkEvaluator
    from graphalign.graph.convert import edge_index_dict
    from graphalign.training.run import TrainedRun

    run = TrainedRun.load(args.run_dir)
    evaluator = LinkEvaluator(edge_index_dict(run.built.graph, run.built.index), run.split)
    metrics = evaluator.evaluate(run.embeddings(), part=args.part)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics, f"{args.part} metrics of {args.run_dir} (filtered ranking):")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from graphalign.query.aligner import Aligner

    aligner = Aligner.load(args.run_dir, index=args.index)
    if args.node is not None:
        results = aligner.neighbors(args.node, k=args.k, type=args.type)
        header = f"nearest to {args.node} ({aligner.graph.display_name(args.node)})"
    else:
        node_type = args.type or "concept"
        results = aligner.search(text=args.text, image=args.image, k=args.k, type=node_type)
        header = f"nearest {node_type} nodes to the new {'text ' + repr(args.text) if args.text else 'image ' + str(args.image)}"
    graph = aligner.graph_neighbors(args.node, hops=args.graph_hops) if args.node and args.graph_hops else []
    if args.json:
        from dataclasses import asdict

        print(json.dumps({"neighbors": [asdict(r) for r in results], "graph_neighbors": [asdict(g) for g in graph]}, indent=2))
        return 0
    print(header)
    _print_table([(str(i + 1), f"{r.score:.3f}", r.type, r.id, r.label) for i, r in enumerate(results)], ("#", "score", "type", "id", "label"))
    if graph:
        print(f"\ngraph neighbours within {args.graph_hops} hop(s):")
        _print_table([(str(g.hops), g.relation if g.direction == "out" else f"<-{g.relation}", g.type, g.id, g.label) for g in graph],
                     ("hops", "relation", "type", "id", "label"))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from graphalign.demo import run_demo
    from graphalign.errors import GraphAlignError

    if not args.data.is_dir():
        raise GraphAlignError(f"{args.data}: dataset folder not found (run the demo from the repository root, or pass --data)")
    images = sorted(Path("examples/queries").glob("*.png")) if Path("examples/queries").is_dir() else []
    model, train, split = _configs(args)
    report = run_demo(args.data, args.work_dir, _graph_config(args), model, train, split, example_images=images)
    nodes = report.counts["nodes"]
    print(f"graph: {nodes['concept']} concepts, {nodes['image']} images, {nodes['text']} texts, "
          f"{sum(report.counts['edges'].values())} edges ({args.data})")
    print(f"build: {report.build_seconds:.1f}s ({report.items_encoded} items encoded, {report.items_cached} from cache)")
    print(f"train: {report.train_seconds:.1f}s, best epoch {report.best_epoch} of {report.epochs_run} ({args.conv}, {args.loss})")
    print()
    _print_metrics(report.test_metrics, "held-out test links (filtered ranking against all nodes of the target type):")
    print()
    for direction, chance in report.chance.items():
        mrr = report.test_metrics.get(f"{direction}/mrr")
        if mrr is not None:
            print(f"{direction}: MRR {mrr:.3f} vs. {chance:.3f} for a random ranking ({mrr / chance:.1f}x)")
    print()
    for example in report.examples:
        print(example.query)
        if example.expected:
            print(f"  true: {'; '.join(example.expected)}")
        for rank, answer in enumerate(example.answers, start=1):
            print(f"  {rank}. {answer.score:.3f}  {answer.label} ({answer.id})")
    print(f"\ngraph: {report.graph_dir}  run: {report.run_dir}")
    print(f'try: graphalign query {report.run_dir} --text "a red kangaroo" --type image')
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import datetime
    import platform

    from graphalign.benchmark.quality import (
        HEADLINE_PROTOCOLS,
        benchmark_graphs,
        best_comparison,
        default_methods,
        format_table,
        run_benchmark,
        write_csv,
    )
    from graphalign.features.featurize import GraphConfig

    started = time.perf_counter()
    graphs = benchmark_graphs(args.data_dir, GraphConfig(cache_dir=args.cache_dir, progress=not args.quiet), knn=args.knn,
                              predictions=args.predictions)
    report = (lambda line: print(line, file=sys.stderr)) if not args.quiet else None
    methods = default_methods(epochs=args.epochs, batch_size=args.batch_size, mode=args.mode, steps_per_epoch=args.steps_per_epoch,
                              knn=args.knn, plain=args.plain, eval_every=args.eval_every, num_neighbors=args.num_neighbors,
                              channels=args.channels, losses=tuple(args.losses), convs=tuple(args.convs),
                              channel_weights=tuple(args.channel_weights), inherit=args.inherit)
    result = run_benchmark(graphs, methods, seeds=tuple(args.seeds), progress=report)
    name = args.data_dir.resolve().name
    lines = [
        f"# Quality benchmark on `{name}`",
        "",
        f"`graphalign bench {args.data_dir} --seeds {' '.join(map(str, args.seeds))} --epochs {args.epochs} "
        f"--batch-size {args.batch_size} --mode {args.mode}"
        f"{'' if args.steps_per_epoch is None else f' --steps-per-epoch {args.steps_per_epoch}'}"
        f"{'' if args.eval_every == 1 else f' --eval-every {args.eval_every}'}"
        f"{'' if args.num_neighbors == [15, 10] else ' --num-neighbors ' + ' '.join(map(str, args.num_neighbors))}"
        f"{'' if args.knn == 0 else f' --knn {args.knn}'}{' --plain' if args.plain else ''}"
        f"{'' if args.channels else ' --no-channels'}{'' if args.inherit else ' --no-inherit'}"
        f"{'' if args.predictions == 3 else f' --predictions {args.predictions}'}"
        f"{'' if args.channel_weights == [1.0, 1.0, 0.0, 1.0, 0.5] else ' --channel-weights ' + ' '.join(f'{w:g}' for w in args.channel_weights)}"
        f"{'' if args.losses == ['infonce', 'triplet'] else ' --losses ' + ' '.join(args.losses)}"
        f"{'' if args.convs == ['gatv2', 'rgcn'] else ' --convs ' + ' '.join(args.convs)}` "
        f"on {datetime.date.today()}, {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"{time.perf_counter() - started:.0f}s in all. Filtered MRR / Hits@k against all nodes of the target type, "
        f"mean ± std over {len(args.seeds)} seeds.",
        "",
        "## Headline protocols (MRR)",
        "",
    ]
    counts = result.counts[0]
    lines.append("held-out pairs (seed 0): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines += ["", format_table(result, metrics=("mrr",)), ""]
    lines += ["## Best graph method vs. best non-graph method", "",
              "| protocol | best graph | MRR | best non-graph | MRR | relative | per seed | +10% beyond spread |",
              "|---|---|---:|---|---:|---:|---|---|"]
    for row in best_comparison(result, HEADLINE_PROTOCOLS):
        lines.append(f"| {row['protocol']} | {row['graph']} | {row['graph_mrr'][0]:.3f} ± {row['graph_mrr'][1]:.3f} | "
                     f"{row['baseline']} | {row['baseline_mrr'][0]:.3f} ± {row['baseline_mrr'][1]:.3f} | {row['relative']:+.1%} | "
                     f"{', '.join(f'{r:+.1%}' for r in row['per_seed'])} | {'yes' if row['target_met'] else 'no'} |")
    for subset, title in (("seen", "image->concept, concepts with training images"), ("unseen", "image->concept, concepts without training images"),
                          ("no_letters", "without letter / sign-language stamps")):
        lines += ["", f"## {title} (MRR)", "", format_table(result, metrics=("mrr",), subset=subset)]
    lines += ["", "## All metrics", "", format_table(result, metrics=("mrr", "hits@1", "hits@10")), ""]
    if args.plots:
        from graphalign.benchmark.quality import make_plots

        paths = make_plots(graphs, args.out, name, epochs=args.epochs)
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in paths] + [""]
    text = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"quality-{name}.md").write_text(text + "\n", encoding="utf-8")
    write_csv(result, args.out / f"quality-{name}.csv")
    print(text)
    print(f"\nwrote {args.out / f'quality-{name}.md'} and .csv")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    for family, registry in _registries().items():
        if args.family in (None, family):
            print(f"{family}: {', '.join(registry.names())}")
    return 0


COMMANDS = {
    "build": _cmd_build,
    "info": _cmd_info,
    "train": _cmd_train,
    "eval": _cmd_eval,
    "query": _cmd_query,
    "demo": _cmd_demo,
    "bench": _cmd_bench,
    "ls": _cmd_ls,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status (callable from tests)."""
    from graphalign.errors import GraphAlignError

    import warnings

    warnings.filterwarnings("ignore", message=".*torch.jit.script.*is deprecated", category=FutureWarning)
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
