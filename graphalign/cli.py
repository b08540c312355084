"""The ``graphalign`` command line: parses arguments and calls the library.

Every user mistake (bad data, unknown name, missing folder) is printed as one
``error: ...`` line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from graphalign.benchmark.defaults import DEFAULT_CONVS, DEFAULT_LOSSES, DEFAULT_SEEDS

__all__ = ["main", "build_parser"]

EXIT_USER_ERROR = 2


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"model": "path"}\'')
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
                raise argparse.ArgumentTypeError(
                    f"{option!r}: expected KEY=VALUE (weight, hops, decay, codes, center=0|1, feature_slice=START-STOP)"
                )
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
                raise argparse.ArgumentTypeError(
                    f"bad graph channel {text!r}: {key}={value!r} is not {expected}"
                ) from None
    try:
        return ChannelConfig.from_dict(spec).to_dict()
    except (ConfigError, TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"bad graph channel {text!r}: {error}") from None


CONFIG_CLASSES: dict[str, tuple[str, str]] = {
    "graph": ("graphalign.features.featurize", "GraphConfig"),
    "model": ("graphalign.nn.hetero_gnn", "ModelConfig"),
    "inherit": ("graphalign.nn.inherit", "InheritConfig"),
    "propagate": ("graphalign.nn.propagate", "PropagationConfig"),
    "exemplars": ("graphalign.nn.exemplars", "ExemplarConfig"),
    "train": ("graphalign.training.trainer", "TrainConfig"),
    "sampler": ("graphalign.training.sampler_config", "FullSampling"),
    "neighbor": ("graphalign.training.sampler_config", "NeighborSampling"),
    "auto": ("graphalign.training.sampler_config", "AutoSampling"),
    "run": ("graphalign.training.trainer", "RunConfig"),
    "split": ("graphalign.data.split", "SplitConfig"),
}
"""The config dataclasses behind the options, imported only when needed (``--help`` or a command)."""

_OPTION_FIELDS: dict[str, tuple[str, str]] = {}
"""``dest`` of each config option -> (config, field); filled by :func:`_option` (the same on every build)."""


def _config_class(config: str) -> type:
    import importlib

    module, name = CONFIG_CLASSES[config]
    return getattr(importlib.import_module(module), name)


def _field_default(config: str, name: str) -> Any:
    """The default of dataclass field ``name`` of ``config`` (``"train"``, ...).

    From :func:`dataclasses.fields` when the config's module is loaded; otherwise
    read from the dataclass's source with :mod:`ast`, so that ``--help`` loads no
    torch (a test checks that both give the same defaults). ``"sampler.name"``: the
    ``name`` entry of the dict-valued field ``sampler``.
    """
    import dataclasses

    name, _, entry = name.partition(".")
    module, class_name = CONFIG_CLASSES[config]
    if module in sys.modules:
        for f in dataclasses.fields(_config_class(config)):
            if f.name == name:
                value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                return value[entry] if entry else value
        raise KeyError(f"{config}.{name}")
    value = _source_defaults(module, class_name)[name]
    return value[entry] if entry else value


def _source_defaults(module: str, class_name: str) -> dict[str, Any]:
    """The literal field defaults of dataclass ``class_name`` in ``module``.

    Read from its source without importing it.
    """
    import ast

    source = Path(__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py").read_text(encoding="utf-8")
    body = ast.parse(source).body
    classes = {n.name: n for n in body if isinstance(n, ast.ClassDef)}
    constants = {  # module-level literals a default factory may copy (``lambda: copy.deepcopy(NAME)``)
        n.target.id: n.value
        for n in body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None
    }
    cls = classes[class_name]
    defaults: dict[str, Any] = {}
    for base in cls.bases:  # fields inherited from a dataclass of the same module come first
        if isinstance(base, ast.Name) and base.id in classes:
            defaults.update(_source_defaults(module, base.id))
    factories = {"dict": dict, "list": list, "tuple": tuple}
    for statement in cls.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value):
            continue
        value = statement.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
            keywords = {k.arg: k.value for k in value.keywords}
            if "default" in keywords:
                value = keywords["default"]
            else:
                factory = keywords["default_factory"]
                if not isinstance(factory, ast.Lambda):
                    defaults[statement.target.id] = factories[factory.id]()  # type: ignore[attr-defined]
                    continue
                produced = factory.body
                if isinstance(produced, ast.Call) and len(produced.args) == 1:  # copy.deepcopy(NAME)
                    produced = produced.args[0]
                if isinstance(produced, ast.Name):
                    produced = constants[produced.id]
                defaults[statement.target.id] = ast.literal_eval(produced)
                continue
        defaults[statement.target.id] = ast.literal_eval(value)
    return defaults


def _option(group: Any, *flags: str, config: str, field: str, **kwargs: Any) -> argparse.Action:
    """Adds an option whose default is the config dataclass's.

    argparse gets ``default=None``: only the values a user gives are passed to the
    config, so the dataclass defaults apply and the CLI cannot disagree with them.
    The help shows the default, read when the help is printed.
    """
    action = group.add_argument(*flags, default=None, **kwargs)
    action.config_field = (config, field)  # type: ignore[attr-defined]
    action.error_key = (CONFIG_CLASSES[config][1], field)  # type: ignore[attr-defined]
    _OPTION_FIELDS[action.dest] = (config, field)
    return action


def _preset_settings(name: str | None) -> dict[str, dict[str, Any]]:
    """The fields preset ``name`` sets, per config (none without a preset: the dataclass defaults)."""
    from graphalign.presets import get_preset

    return get_preset(name).settings if name else {}


def _add_preset_option(parser: argparse.ArgumentParser) -> None:
    from graphalign.presets import DEFAULT_PRESET, PRESETS

    lines = "; ".join(f"{name}: {preset.summary}" for name, preset in PRESETS.items())
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help=f"a named configuration (graphalign.presets); the other options change it. {lines} "
        f"(default: {DEFAULT_PRESET}, the config classes' defaults shown below)",
    )


def _show_default(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value) if value else "{}"
    return "none" if value is None else str(value)


class _HelpFormatter(argparse.HelpFormatter):
    """Appends each option's default to its help; config options read it from the dataclass."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            return text
        config_field = getattr(action, "config_field", None)
        if config_field is not None:
            config, name = config_field
            if config in ("sampler", "neighbor"):  # TrainConfig's default sampler dict, completed by its class
                sampler = _field_default("train", "sampler")
                value = sampler[name] if name in sampler else _field_default(sampler["name"], name)
                shown = f"{_show_default(value)}, TrainConfig.sampler"
            else:
                shown = f"{_show_default(_field_default(config, name))}, {CONFIG_CLASSES[config][1]}.{name}"
            if isinstance(action, (argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
                shown = f"{CONFIG_CLASSES[config][1]}.{name}={_field_default(config, name)}"
        elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._CountAction)):
            return text
        elif action.default is None:
            return text
        else:
            shown = _show_default(action.default)
        return f"{text} (default: {shown.replace('%', '%%')})"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows every option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _bound_option(group: Any, config: str) -> Callable[..., argparse.Action]:
    """:func:`_option` for ``group`` and ``config`` (a call may name another)."""
    return functools.partial(_option, group, config=config)


def _add_component_options(
    option: Callable[..., argparse.Action],
    flag: str,
    field: str,
    help: str,
    example: str | None = None,
    kwargs_help: str | None = None,
) -> None:
    """Adds ``flag`` naming a registered component and ``flag-kwargs``, its arguments as JSON."""
    if kwargs_help is None:
        shown = f", e.g. '{example}'" if example else ""
        kwargs_help = f"its arguments as JSON{shown}; a name it does not take is an error that lists the valid ones"
    option(flag, field=field, help=help)
    option(f"{flag}-kwargs", field=f"{field}_kwargs", type=_json_dict, metavar="JSON", help=kwargs_help)


def _add_encoder_options(parser: argparse.ArgumentParser) -> None:
    option = _bound_option(parser.add_argument_group("encoders"), "graph")
    _add_component_options(
        option, "--text-encoder", "text_encoder", "encoder for concepts and texts (see `graphalign ls encoders`)"
    )
    _add_component_options(
        option, "--image-encoder", "image_encoder", "encoder for images (see `graphalign ls encoders`)"
    )
    option(
        "--cache-dir", field="cache_dir", help="feature cache folder (none: $GRAPHALIGN_CACHE or ~/.cache/graphalign)"
    )
    option(
        "--no-cache",
        field="use_cache",
        dest="use_cache",
        action="store_false",
        help="encode everything, do not read or write the cache",
    )
    option("--device", field="device", help="where encoders run: auto, cpu, cuda, cuda:N or mps")
    option(
        "--encode-batch-size",
        field="batch_size",
        dest="batch_size",
        type=int,
        help="encoder batch size (none: each encoder's own)",
    )


def _add_build_command(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="validate a dataset folder, encode its nodes, write a graph folder")
    build.add_argument(
        "data_dir",
        type=Path,
        help="dataset folder with nodes.jsonl and edges.tsv, or a bundled dataset's name (tuxpaint_small)",
    )
    build.add_argument("-o", "--output", type=Path, required=True, help="graph folder to write (new or empty)")
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a graph folder graphalign wrote there (never a folder holding other files)",
    )
    build.add_argument(
        "--allow-outside-root", action="store_true", help="accept image paths outside the dataset folder"
    )
    build.add_argument("--allow-self-loops", action="store_true", help="accept edges from a node to itself")
    build.add_argument(
        "--knn",
        action="append",
        default=[],
        metavar="TYPE:K[:TARGET]",
        help="add label-free similar_to edges from each TYPE node to its K most similar TARGET nodes "
        "(default TARGET: TYPE; across types both must share a feature space, e.g. image:10:concept "
        'with --image-encoder-kwargs \'{"mode": "conse"}\', images as ConSE vectors alone); repeatable',
    )
    build.add_argument(
        "--predictions",
        type=int,
        default=None,
        metavar="K",
        help="label-free predicted_as edges from each image to the concepts its top K ImageNet "
        "classes lead to through WordNet (concepts must be WordNet synsets; images encoded by "
        "efficientnet-lite0 or conse with mode=concat); 0: none (default: GraphConfig.augmenters, "
        "K = 3 where the graph allows)",
    )
    _add_preset_option(build)
    _add_encoder_options(build)


def _add_info_command(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help="node and edge counts by type, feature sizes")
    info.add_argument("graph_dir", type=Path, help="a graph folder written by `graphalign build`")
    info.add_argument("--json", action="store_true", help="print JSON")


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train the aligner on a graph folder; writes a run folder")
    train.add_argument("graph_dir", type=Path, help="a graph folder written by `graphalign build`")
    train.add_argument("-o", "--output", type=Path, required=True, help="run folder to write (new or empty)")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run folder graphalign wrote there (never a folder holding other files)",
    )
    _add_preset_option(train)
    _add_training_options(train)
    train.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    train.add_argument(
        "--distributed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="data-parallel training over torch.distributed (default: on when launched by torchrun "
        "with several processes, e.g. `torchrun --nproc-per-node 2 -m graphalign train ...`)",
    )


def _add_eval_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="evaluate a trained run on its held-out links (metrics table)")
    evaluate.add_argument("run_dir", type=Path, help="a run folder written by `graphalign train`")
    evaluate.add_argument("--part", choices=["test", "val"], default="test", help="which held-out links to rank")
    evaluate.add_argument("--json", action="store_true", help="print JSON")


SERVE_DESCRIPTION = (
    "Serves a run folder: search with a text or an image, node views, the map of the shared space and the run's "
    "evaluation, on a JSON API (OpenAPI page at /docs) and a page at /."
)


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    help_text = "explore a trained run in the browser (the serve extra)"
    serve = commands.add_parser("serve", help=help_text, description=SERVE_DESCRIPTION)
    serve.add_argument("run_dir", type=Path, help="a run folder written by `graphalign train`")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port")


def _add_query_command(commands: argparse._SubParsersAction) -> None:
    query = commands.add_parser("query", help="nearest neighbours of a node, a new text or a new image")
    query.add_argument("run_dir", type=Path, help="a run folder written by `graphalign train`")
    what = query.add_mutually_exclusive_group(required=True)
    what.add_argument("--node", help="a node id of the graph")
    what.add_argument("--text", help="a new text (not in the graph)")
    what.add_argument("--image", type=Path, help="a new image file (not in the graph)")
    query.add_argument(
        "--type",
        choices=["concept", "text", "image"],
        default=None,
        help="rank only nodes of this type (default: concept for --text/--image, all for --node)",
    )
    query.add_argument("-k", type=int, default=10, help="how many results (>= 1)").error_key = ("Aligner", "k")
    query.add_argument(
        "--graph-hops", type=int, default=0, help="with --node: also list graph neighbours within N hops (0: none)"
    ).error_key = ("Aligner", "hops")
    query.add_argument(
        "--index",
        default="exact",
        help=f"vector index backend: one of {', '.join(INDEX_NAMES)} (see `graphalign ls indexes`)",
    )
    query.add_argument("--json", action="store_true", help="print JSON")


def _add_demo_command(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the main job on the bundled dataset: build, train, evaluate, query",
        description="Build, train, evaluate and query on a dataset, with the settings of "
        "`graphalign build` and `graphalign train` (the best preset unless --preset says otherwise).",
    )
    demo.add_argument(
        "--data",
        default=DEMO_DATASET,
        help="dataset folder or bundled dataset name (a bundled one brings its example query images)",
    )
    demo.add_argument("--work-dir", type=Path, default=Path("runs/demo"), help="where the graph and run folders go")
    _add_preset_option(demo)
    _add_training_options(demo)
    _add_encoder_options(demo)


def _add_bench_command(commands: argparse._SubParsersAction) -> None:
    from graphalign.presets import DEFAULT_PRESET, preset_names

    bench = commands.add_parser(
        "bench",
        help="quality benchmark: graphalign's default vs. non-graph baselines on the same splits",
        description="Trains the best preset (what `graphalign train` gives with no options), the towers "
        "preset and the ablations on the same protocol splits per seed, and writes a Markdown report and a CSV. "
        "The schedule options change every trained method; without them each runs as its preset says.",
    )
    bench.add_argument("data_dir", type=Path, help="dataset folder or bundled dataset name")
    bench.add_argument(
        "--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), help="seeds of the splits and the training runs"
    )
    schedule = bench.add_argument_group("schedule of every trained method (default: each preset's)")
    schedule.add_argument("--epochs", type=int, default=None, help="maximum epochs")
    schedule.add_argument("--batch-size", type=int, default=None, help="supervision pairs per edge type and step")
    schedule.add_argument(
        "--mode", choices=["auto", "full", "neighbor", "minibatch"], default=None, help="sampler of the graph methods"
    )
    schedule.add_argument("--steps-per-epoch", type=int, default=None, help="cap on optimiser steps per epoch")
    schedule.add_argument("--eval-every", type=int, default=None, help="validate every N epochs")
    schedule.add_argument("--num-neighbors", type=int, nargs="+", default=None, help="fan-out per hop when sampling")
    rows = bench.add_argument_group("rows")
    rows.add_argument(
        "--losses",
        nargs="+",
        default=list(DEFAULT_LOSSES),
        help="losses of the trained methods (the best preset's own gives its row; others, e.g. triplet, "
        "add ablation rows)",
    )
    rows.add_argument(
        "--convs",
        nargs="+",
        default=list(DEFAULT_CONVS),
        help="also the gnn preset (message passing in training) with these layers: gatv2, its own, gives "
        "its row, a candidate of the selection rule; others, e.g. rgcn, ablation rows (none by default)",
    )
    rows.add_argument(
        "--plain", action="store_true", help="also the plain preset and two towers on the image encoder's features"
    )
    rows.add_argument(
        "--knn", action="store_true", help="also the best preset with edges from each image to its 10 closest concepts"
    )
    rows.add_argument(
        "--presets",
        nargs="+",
        default=[],
        choices=[name for name in preset_names() if name not in (DEFAULT_PRESET, "gnn", "towers")],
        metavar="PRESET",
        help="also these presets as rows, e.g. fast",
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=Path("docs/results"),
        help="folder for the markdown report and CSV (a report of an earlier run there is replaced; "
        "another file of the same name is refused)",
    )
    bench.add_argument("--cache-dir", default=None, help="feature cache folder")
    bench.add_argument(
        "--plots", action="store_true", help="also draw t-SNE maps before/after alignment and training curves"
    )


def _add_export_command(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="write a run's embeddings: node ids, types, labels and vectors")
    export.add_argument("run_dir", type=Path, help="a run folder written by `graphalign train`")
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="FILE.npz (NumPy: ids, types, labels, vectors) or FILE.tsv (TensorBoard Embedding Projector: "
        "FILE.tsv with the vectors and FILE-metadata.tsv with id, type, label)",
    )
    export.add_argument(
        "--type",
        dest="types",
        action="append",
        choices=["concept", "text", "image"],
        default=None,
        help="node type to export (repeatable; default: all)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _add_dataset_command(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser("dataset", help="named datasets: print a bundled one's folder, write one by name")
    dataset_actions = dataset.add_subparsers(dest="dataset_action", metavar="ACTION", required=True)
    dataset_path = dataset_actions.add_parser(
        "path", help="print the folder of a bundled dataset (see `graphalign ls datasets`)"
    )
    dataset_path.add_argument("name", help="a bundled dataset's name, e.g. tuxpaint_small")
    dataset_build = dataset_actions.add_parser(
        "build", help="write a named dataset folder: run its recipe, or copy a bundled one"
    )
    dataset_build.add_argument("name", help="a dataset name, e.g. tuxpaint_wordnet (see `graphalign ls datasets`)")
    dataset_build.add_argument("-o", "--output", type=Path, required=True, help="dataset folder to write")
    dataset_build.add_argument(
        "--kwargs",
        type=_json_dict,
        default={},
        metavar="JSON",
        help="the dataset's arguments as JSON, e.g. '{\"small\": true}' for tuxpaint_wordnet",
    )


def _add_ls_command(commands: argparse._SubParsersAction) -> None:
    ls = commands.add_parser("ls", help="list the registered components")
    ls.add_argument("family", nargs="?", default=None, choices=REGISTRY_FAMILIES, help="which family (default: all)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphalign", description="Graph-based multimodal knowledge alignment.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no log messages but errors (results still print)",
    )
    parser.add_argument("--version", action="version", version=f"graphalign {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_build_command(commands)
    _add_info_command(commands)
    _add_train_command(commands)
    _add_eval_command(commands)
    _add_query_command(commands)
    _add_demo_command(commands)
    _add_bench_command(commands)
    _add_export_command(commands)
    _add_dataset_command(commands)
    _add_ls_command(commands)
    _add_serve_command(commands)
    _accept_global_options_after_the_command(commands)
    return parser


def _accept_global_options_after_the_command(commands: Any) -> None:
    """``-q`` and ``-v`` after the command too (``graphalign train GRAPH -o RUN -q``). Given there, they replace
    the value given before it (``SUPPRESS``: a command that leaves them out keeps that value)."""
    for command in {id(p): p for p in commands.choices.values()}.values():
        group = command.add_argument_group("output (also before the command)")
        group.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output")
        group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="less output")
        for action in command._actions:  # nested commands (dataset build, ...)
            if isinstance(action, argparse._SubParsersAction):
                _accept_global_options_after_the_command(action)


DEMO_DATASET = "tuxpaint_small"


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    model = _add_model_options(parser)
    _add_readout_options(model)
    training = _add_loss_options(parser)
    _add_sampler_options(training)
    _add_run_options(training)
    _add_split_options(training)


def _add_model_options(parser: argparse.ArgumentParser) -> Any:
    """Adds the group ``model`` with the options of ``ModelConfig``; returns the group."""
    group = parser.add_argument_group("model")
    option = _bound_option(group, "model")
    _add_component_options(
        option, "--conv", "conv", "message-passing layer (see `graphalign ls convs`)", example='{"heads": 4}'
    )
    option("--layers", field="num_layers", dest="layers", type=int, help="message-passing layers (0: a per-type MLP)")
    option("--hidden-dim", field="hidden_dim", type=int, help="width of the message-passing layers")
    option("--out-dim", field="out_dim", type=int, help="size of the shared space")
    _add_component_options(
        option,
        "--head",
        "head",
        "output head (see `graphalign ls heads`); prior keeps the pretrained space: normalize(P x + s * GNN)",
        kwargs_help="its arguments as JSON, e.g. '{\"scale\": 0.2}' (prior: initial weight s of the GNN term)",
    )
    group.add_argument(
        "--no-propagate",
        action="store_true",
        help="no propagated input features (graphalign.nn.propagate; default: 2 hops, 128 components)",
    )
    propagate = _bound_option(group, "propagate")
    propagate("--propagate-hops", field="hops", type=int, help="hops of the propagated input features")
    propagate("--propagate-dim", field="dim", type=int, help="principal components kept per encoder (0: all)")
    group.add_argument(
        "--no-exemplars",
        action="store_true",
        help="no nearest-exemplar term in image -> concept rankings (graphalign.nn.exemplars; default: on, "
        "weighted on the validation links)",
    )
    exemplars = _bound_option(group, "exemplars")
    exemplars(
        "--exemplar-hops",
        field="hops",
        type=int,
        help="how far a concept without images borrows its relatives' exemplars",
    )
    exemplars(
        "--transfer-top",
        field="top",
        type=int,
        help="how many linked concepts, the image's best, the semantic transfer to a concept without images "
        "averages over",
    )
    exemplars(
        "--transfer-temperature",
        field="temperature",
        type=float,
        help="softmax temperature over those concepts' scores",
    )
    option("--dropout", field="dropout", type=float, help="dropout after each layer, in [0, 1)")
    option(
        "--edge-dropout",
        field="edge_dropout",
        type=float,
        help="probability of dropping each message-passing edge while training, in [0, 1)",
    )
    return group


def _add_readout_options(group: Any) -> None:
    """Adds the readouts applied after training: graph channels and inheritance."""
    group.add_argument(
        "--channel",
        dest="channels",
        type=_channel,
        action="append",
        default=[],
        metavar="SPEC",
        help="graph channel of the channels readout (repeatable; the channels given replace the default "
        "ones): JSON or SOURCES[@RELATIONS][:weight=W,hops=H,decay=D,feature_slice=A-B,center=0|1,codes=N,"
        "in_loss=0|1], e.g. image@depicts,is_a,part_of (see graphalign.nn.channels; default: "
        "graphalign.nn.hetero_gnn.DEFAULT_READOUTS)",
    )
    group.add_argument("--no-channels", action="store_true", help="no channels readout (the learned embedding alone)")
    group.add_argument(
        "--inherit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="concepts without images inherit the learned embeddings of their relatives with images "
        "over is_a / part_of, after training (graphalign.nn.inherit; default: on)",
    )
    option = _bound_option(group, "inherit")
    option("--inherit-weight", field="weight", type=float, help="weight of the inherited mean")
    option("--inherit-hops", field="hops", type=int, help="how far inheritance reaches over is_a / part_of")


def _add_loss_options(parser: argparse.ArgumentParser) -> Any:
    """Adds the group ``training`` with the loss and optimiser options; returns the group."""
    group = parser.add_argument_group("training")
    option = _bound_option(group, "train")
    _add_component_options(
        option, "--loss", "loss", "contrastive loss (see `graphalign ls losses`)", example='{"temperature": 0.05}'
    )
    option("--epochs", field="epochs", type=int, help="maximum number of epochs")
    option(
        "--batch-size",
        field="batch_size",
        dest="train_batch_size",
        type=int,
        help="supervision pairs per edge type and step",
    )
    option("--lr", field="lr", type=float, help="AdamW learning rate (> 0)")
    return group


def _add_sampler_options(group: Any) -> None:
    """Adds the sampler's options (errors name the sampler's fields as keys of ``TrainConfig.sampler``)."""
    option = _bound_option(group, "train")

    def sampler_option(*flags: str, config: str = "sampler", field: str, **kwargs: Any) -> None:
        action = option(*flags, config=config, field=field, **kwargs)
        action.error_key = ("TrainConfig.sampler", field)  # type: ignore[attr-defined]

    option(
        "--mode",
        field="sampler.name",
        choices=["auto", "full", "neighbor", "minibatch"],
        help="sampler: full-graph, neighbour-sampled (neighbor, alias minibatch), or auto: full-graph "
        "up to 20,000 message-passing edges, neighbour-sampled above",
    )
    sampler_option(
        "--num-neighbors",
        config="neighbor",
        field="num_neighbors",
        type=int,
        nargs="+",
        help="with neighbour sampling: fan-out per hop (-1: all)",
    )
    option(
        "--negatives",
        field="negatives",
        type=int,
        help="extra negatives per step (0: in-batch only, -1: all nodes of the target type)",
    )
    sampler_option(
        "--steps-per-epoch", field="steps_per_epoch", type=int, help="cap on optimiser steps per epoch (none: one pass)"
    )
    sampler_option(
        "--isolate-nodes",
        field="isolate_nodes",
        type=float,
        help="fraction of images/texts cut off from message passing at each step (trains for new nodes), in [0, 1)",
    )


def _add_run_options(group: Any) -> None:
    """Adds what is supervised, when training stops, the seed and where it runs."""
    option = _bound_option(group, "train")
    option(
        "--supervise",
        config="split",
        field="supervise",
        nargs="+",
        metavar="RELATION",
        help="relations the loss trains on (none: every aligned relation; the rest still pass messages)",
    )
    option(
        "--patience",
        field="patience",
        type=int,
        help="stop after this many evaluations without a better validation MRR",
    )
    option("--seed", field="seed", type=int, help="seed of the split, the initialisation, shuffling and sampling")
    option(
        "--deterministic",
        config="run",
        field="deterministic",
        action=argparse.BooleanOptionalAction,
        help="torch.use_deterministic_algorithms while training: bitwise-equal runs with the same seed",
    )
    option(
        "--train-device",
        config="run",
        field="device",
        dest="train_device",
        help="where training runs: auto, cpu, cuda, cuda:N or mps",
    )


def _add_split_options(group: Any) -> None:
    """Adds the options of the held-out split."""
    option = _bound_option(group, "split")
    option(
        "--val-fraction",
        field="val_fraction",
        type=float,
        help="fraction of images/texts held out for validation, in [0, 1)",
    )
    option(
        "--test-fraction",
        field="test_fraction",
        type=float,
        help="fraction of images/texts held out for testing, in [0, 1)",
    )
    option(
        "--no-group-copies",
        field="group_copies",
        dest="group_copies",
        action="store_false",
        help="hold out copies (same text, same image file) one by one instead of together",
    )


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def _given(args: argparse.Namespace, config: str) -> dict[str, Any]:
    """The ``config`` fields set by ``--preset`` or given as options; the rest keep their defaults."""
    values = copy.deepcopy(_preset_settings(getattr(args, "preset", None)).get(config, {}))
    for dest, (owner, name) in _OPTION_FIELDS.items():
        if owner == config and getattr(args, dest, None) is not None:
            values[name] = getattr(args, dest)
    return values


def _graph_config(args: argparse.Namespace) -> Any:
    from graphalign.features.featurize import GraphConfig

    return GraphConfig(**_given(args, "graph"), progress=not args.quiet)


def _knn_spec(spec: str) -> tuple[str, int, str | None]:
    """``"image:5"`` or ``"image:10:concept"`` → ``(type, k, target type or None)``."""
    from graphalign.errors import ConfigError

    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ConfigError(
            f"--knn {spec!r}: expected TYPE:K or TYPE:K:TARGET with K >= 1, e.g. image:5 or image:10:concept"
        )
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None


def _cmd_build(args: argparse.Namespace) -> int:
    from graphalign.features.build import build_graph
    from graphalign.features.featurize import GraphConfig
    from graphalign.features.store import check_graph_output

    if args.predictions is not None:
        _check_flags(args, {"--predictions": ("predictions", 0)})
    for spec in args.knn:
        _knn_spec(spec)  # a bad spec fails before any encoding
    check_graph_output(args.output, args.overwrite)  # before any encoding
    settings = _given(args, "graph")
    settings["augmenters"] = _augmenters(args, settings.get("augmenters", _field_default("graph", "augmenters")))
    config = GraphConfig(**settings, progress=not args.quiet)
    start = time.perf_counter()
    built, stats = build_graph(
        args.data_dir, config, allow_outside_root=args.allow_outside_root, allow_self_loops=args.allow_self_loops
    )
    built.save(args.output, overwrite=args.overwrite)
    elapsed = time.perf_counter() - start
    cached = sum(stats.cached.values())
    print(f"built {built.graph!r} in {elapsed:.1f}s: {stats.total_encoded} items encoded, {cached} from cache")
    print(f"wrote {args.output}")
    return 0


def _augmenters(args: argparse.Namespace, augmenters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``augmenters`` (the preset's or the default) as ``--predictions`` and ``--knn`` change them."""
    specs = [dict(spec) for spec in augmenters]
    if args.predictions is not None:
        specs = [spec for spec in specs if spec.get("name") != "imagenet_wordnet"]
        if args.predictions > 0:  # asked for: a graph that cannot have them is an error
            specs.append({"name": "imagenet_wordnet", "k": args.predictions, "required": True})
    for spec in args.knn:
        node_type, k, target_type = _knn_spec(spec)
        specs.append({"name": "knn", "node_type": node_type, "k": k, "target_type": target_type})
    return specs


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: 2 for East Asian wide and full-width characters."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _print_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(row, widths)).rstrip())


def _cmd_info(args: argparse.Namespace) -> int:
    from graphalign.features.store import BuiltGraph

    built = BuiltGraph.load(args.graph_dir)
    summary = built.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    dims = summary["feature_dims"]
    _print_table(
        [(t, str(n), str(dims.get(t, "-"))) for t, n in summary["nodes"].items()], ("node type", "nodes", "feature dim")
    )
    print()
    _print_table([(et, str(n)) for et, n in summary["edges"].items()], ("edge type (src|relation|dst)", "edges"))
    print()
    for modality, identity in summary["encoders"].items():
        name = summary["encoder_names"].get(modality)
        print(f"{modality} encoder: {name} (cache identity {identity})" if name else f"{modality} encoder: {identity}")
    return 0


INDEX_NAMES = ("exact", "faiss", "usearch")
"""The names of :data:`graphalign.query.index.INDEXES`, for ``query --help`` without importing torch (a test
checks that they are the registry's)."""

REGISTRY_FAMILIES = (
    "augmenters",
    "convs",
    "datasets",
    "encoders",
    "heads",
    "indexes",
    "losses",
    "presets",
    "readouts",
    "samplers",
)
"""The families of `graphalign ls` (named here so that building the parser imports no registry)."""


def _registries() -> dict[str, Any]:
    from graphalign.datasets import DATASETS
    from graphalign.encoders import ENCODERS
    from graphalign.features.augment import AUGMENTERS
    from graphalign.losses import LOSSES
    from graphalign.nn.convs import CONVS
    from graphalign.nn.heads import HEADS
    from graphalign.nn.readouts import READOUTS
    from graphalign.query.index import INDEXES
    from graphalign.training.sampler_config import SAMPLERS

    return {
        "presets": _PresetListing(),
        "datasets": DATASETS,
        "encoders": ENCODERS,
        "augmenters": AUGMENTERS,
        "convs": CONVS,
        "heads": HEADS,
        "readouts": READOUTS,
        "losses": LOSSES,
        "samplers": SAMPLERS,
        "indexes": INDEXES,
    }


class _PresetListing:
    """The presets of :mod:`graphalign.presets`, listed by `graphalign ls` like a registry."""

    def main_names(self) -> list[str]:
        from graphalign.presets import preset_names

        return preset_names()

    def requires(self, name: str) -> None:
        return None

    def aliases(self, name: str) -> list[str]:
        return []

    def summary(self, name: str) -> str:
        from graphalign.presets import get_preset

        return get_preset(name).summary

    def get(self, name: str) -> Any:
        from graphalign.presets import get_preset

        return get_preset(name)


def _configs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """ModelConfig, TrainConfig, SplitConfig and RunConfig from ``--preset`` and the options (the
    dataclass defaults otherwise); the sampler options fill :attr:`TrainConfig.sampler`."""
    model = _given(args, "model")
    model["readouts"] = _readouts(args, model.get("readouts", _field_default("model", "readouts")))
    for part in ("propagate", "exemplars"):  # --no-PART switches it off; its options update the preset's
        options = _given(args, part)
        if getattr(args, f"no_{part}", False):
            model[part] = None
        elif options:
            model[part] = {**(model.get(part, _field_default("model", part)) or {}), **options}
    train = _given(args, "train")
    name = train.pop("sampler.name", None)
    sampling = {**_given(args, "sampler"), **_given(args, "neighbor")}
    if name is not None or sampling:
        sampler = dict(train.get("sampler", _field_default("train", "sampler")))
        if name is not None and name != sampler["name"]:
            sampler = {k: v for k, v in sampler.items() if k in _SHARED_SAMPLER_KEYS}
        train["sampler"] = {**sampler, "name": name or sampler["name"], **sampling}
    run = _given(args, "run")
    run["progress"] = not args.quiet
    if getattr(args, "distributed", None) is not None:
        run["distributed"] = args.distributed
    model_config = _config_class("model")(**model)  # validates --conv-kwargs first
    given = [flag for flag, dest in (("--conv", "conv"), ("--conv-kwargs", "conv_kwargs")) if getattr(args, dest, None)]
    from graphalign.presets import DEFAULT_PRESET, get_preset

    get_preset(getattr(args, "preset", None) or DEFAULT_PRESET).require_layers(
        model_config, given, "add --layers N, or use --preset gnn"
    )
    return (
        model_config,
        _config_class("train")(**train),
        _config_class("split")(**_given(args, "split")),
        _config_class("run")(**run),
    )


_SHARED_SAMPLER_KEYS = ("steps_per_epoch", "isolate_nodes", "isolate_types")
"""Sampler arguments every sampler takes (kept when ``--mode`` names another sampler)."""


def _readouts(args: argparse.Namespace, readouts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``readouts`` (the preset's or the default) as ``--inherit``/``--no-inherit``, ``--inherit-*``,
    ``--channel`` and ``--no-channels`` change them; the order stays."""
    by_name = {spec["name"]: dict(spec) for spec in readouts}
    inherit = _given(args, "inherit")
    if args.inherit is False:
        by_name.pop("inherit", None)
    elif args.inherit or inherit:
        by_name["inherit"] = {**by_name.get("inherit", {"name": "inherit"}), **inherit}
    if args.no_channels:
        by_name.pop("channels", None)
    elif args.channels:
        by_name["channels"] = {"name": "channels", "channels": args.channels}
    return list(by_name.values())


METRIC_COLUMNS = ("mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "count")


def _print_metrics(metrics: dict[str, float], title: str) -> None:
    directions = sorted({key.rsplit("/", 1)[0] for key in metrics if "/" in key})
    rows = []
    for direction in directions:
        values = [metrics.get(f"{direction}/{m}") for m in METRIC_COLUMNS]
        rows.append(
            (
                direction,
                *(
                    ("-" if v is None else (f"{int(v)}" if m == "count" else f"{v:.3f}"))
                    for v, m in zip(values, METRIC_COLUMNS)
                ),
            )
        )
    print(title)
    if not rows:
        print("  none: the split held out no links for this part (a graph with few images or texts)")
        return
    _print_table(rows, ("direction", *METRIC_COLUMNS))
    if "mrr" in metrics:
        print(f"mean MRR over directions: {metrics['mrr']:.3f}")


def _check_channel_relations(channels: list[dict[str, Any]] | None, built: Any) -> None:
    """Refuses a ``--channel`` that names a relation the graph does not have (every one in one report)."""
    from graphalign.errors import ConfigError
    from graphalign.graph.convert import forward_relation
    from graphalign.nn.channels import absent_relations
    from graphalign.training.trainer import model_edge_types

    edge_types = model_edge_types(built)
    problems = [
        f"--channel {i + 1}: relation {relation!r} is not in the graph"
        for i, absent, _ in absent_relations(channels or [], edge_types)
        for relation in absent
    ]
    if problems:
        present = sorted({forward_relation(edge_type[1]) for edge_type in edge_types})
        raise ConfigError("\n".join(problems) + f"\nthe graph's relations: {', '.join(present) or 'none'}")


def _cmd_train(args: argparse.Namespace) -> int:
    from graphalign.features.store import BuiltGraph
    from graphalign.training.checkpoint import check_run_output
    from graphalign.training.trainer import fit

    model, train, split, run = _configs(args)
    check_run_output(args.output, overwrite=args.overwrite, resume=args.resume)  # before loading and training
    built = BuiltGraph.load(args.graph_dir)
    _check_channel_relations(args.channels, built)
    from graphalign.training.checkpoint import CHECKPOINT_FILE

    resuming = args.resume and (args.output / CHECKPOINT_FILE).is_file()
    if resuming:  # the run keeps its own settings (the note below names those given); epochs may rise
        from graphalign.training.trainer import TrainConfig

        result = fit(
            built, None, TrainConfig(epochs=train.epochs), None, args.output, True, overwrite=args.overwrite, run=run
        )
    else:  # a new run, also where --resume finds no checkpoint yet
        result = fit(
            built, model, train, split, run_dir=args.output, resume=args.resume, overwrite=args.overwrite, run=run
        )
    import torch.distributed as dist

    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:  # under torchrun, rank 0 alone reports (and wrote the run)
        if resuming:
            bare = _configs(build_parser().parse_args(["train", str(args.graph_dir), "-o", str(args.output)]))
            _note_kept_settings(
                {"model": model, "train": train, "split": split}, dict(zip(("model", "train", "split"), bare)), result
            )
        print(f"trained {result.model!r}")
        print(
            f"best epoch {result.best_epoch} of {len(result.history)}"
            f"{_early_stop_note(len(result.history), result.train_config or train)}"
            f"{_untrained_note(result.best_epoch, result.val_metrics)}; run saved to {args.output}"
        )
        if result.channel_scales:
            scales = "; ".join(
                f"{direction} {', '.join(f'{v:g}' for v in fit['scales'])}"
                + (
                    f" (new candidates {', '.join(f'{v:g}' for v in fit['new_scales'])})"
                    if fit.get("new_scales", fit["scales"]) != fit["scales"]
                    else ""
                )
                for direction, fit in result.channel_scales.items()
            )
            print(f"graph channel scales fitted on the validation links (one per channel): {scales}")
            for direction, fit in result.channel_scales.items():
                if "exemplar_weights" in fit:
                    linked, new = fit["exemplar_weights"]
                    offset = fit.get("exemplar_offset", 0.0)
                    transfer = fit.get("exemplar_transfer", 0.0)
                    state = (
                        f"weights {linked:g} (linked concepts), {new:g} (new ones), offset {offset:g} (linked "
                        f"concepts), semantic transfer {transfer:g} (new ones)"
                        if linked or new or offset or transfer
                        else "off"
                    )
                    print(f"nearest-exemplar term of {direction}: {state}")
        _print_metrics(result.test_metrics, "test metrics (filtered ranking, held-out links):")
    if distributed:
        dist.destroy_process_group()
    return 0


def _note_kept_settings(given: dict[str, Any], bare: dict[str, Any], result: Any) -> None:
    """Says which settings given beside ``--resume`` (those that differ from ``bare``, the configs of no
    options) the resumed run did not take: it keeps its own."""
    kept = {"model": result.model_config, "train": result.train_config, "split": result.split_config}
    ignored = []
    for part, config in given.items():
        if kept[part] is None:
            continue
        ours, theirs, default = kept[part].to_dict(), config.to_dict(), bare[part].to_dict()
        ignored += [
            f"{part}.{key} {theirs[key]!r} (the run keeps {ours[key]!r})"
            for key in sorted(ours)
            if key in theirs and theirs[key] != ours[key] and theirs[key] != default.get(key)
        ]
    if ignored:
        print(f"note: a resumed run keeps its own settings; not applied: {'; '.join(ignored)}", file=sys.stderr)


def _untrained_note(best_epoch: int, val_metrics: dict[str, float]) -> str:
    """Says so when the kept weights are the untrained model's (no epoch beat it on validation links)."""
    if best_epoch != 0 or not val_metrics:
        return ""
    return " (the untrained model: no epoch improved its validation MRR; train longer or with another --lr)"


def _early_stop_note(epochs_run: int, train: Any) -> str:
    """`` (early stopping: ...)`` when training ended before its epoch budget."""
    if epochs_run >= train.epochs:
        return ""
    return (
        f" (early stopping after {epochs_run} of {train.epochs} epochs: validation MRR did not improve "
        f"for {train.patience} evaluations)"
    )


def _cmd_eval(args: argparse.Namespace) -> int:
    from graphalign.errors import GraphAlignError
    from graphalign.evaluation.evaluator import LinkEvaluator
    from graphalign.graph.convert import edge_index_dict
    from graphalign.training.run import TrainedRun

    run = TrainedRun.load(args.run_dir)
    if run.split.counts()[args.part] == 0:
        option = "--val-fraction" if args.part == "val" else "--test-fraction"
        raise GraphAlignError(
            f"{args.run_dir}: its split holds no {args.part} links (too few images and texts to hold "
            f"any out), so there is nothing to evaluate; train on more data or with a larger {option}"
        )
    evaluator = LinkEvaluator(edge_index_dict(run.built.graph, run.built.index), run.split)
    metrics = evaluator.evaluate(run.embeddings(), part=args.part)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics, f"{args.part} metrics of {args.run_dir} (filtered ranking):")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from graphalign.errors import ConfigError
    from graphalign.query.aligner import Aligner

    if args.graph_hops and args.node is None:  # before loading anything
        raise ConfigError("--graph-hops lists the graph neighbours of a --node; a new text or image has none")
    aligner = Aligner.load(args.run_dir, index=args.index)
    if args.node is not None:
        results = aligner.neighbors(args.node, k=args.k, type=args.type)
        header = f"nearest to {args.node} ({aligner.graph.display_name(args.node)})"
    else:
        node_type = args.type or ("concept" if "concept" in aligner.embeddings else None)
        results = aligner.search(text=args.text, image=args.image, k=args.k, type=node_type)
        header = (
            f"nearest {node_type + ' ' if node_type else ''}nodes to the new "
            f"{'text ' + repr(args.text) if args.text else 'image ' + str(args.image)}"
        )
    graph = aligner.graph_neighbors(args.node, hops=args.graph_hops) if args.node and args.graph_hops else []
    if args.json:
        from dataclasses import asdict

        print(
            json.dumps(
                {"neighbors": [asdict(r) for r in results], "graph_neighbors": [asdict(g) for g in graph]}, indent=2
            )
        )
        return 0
    print(header)
    _print_table(
        [(str(i + 1), f"{r.score:.3f}", r.type, r.id, r.label) for i, r in enumerate(results)],
        ("#", "score", "type", "id", "label"),
    )
    if graph:
        print(f"\ngraph neighbours within {args.graph_hops} hop(s):")
        _print_table(
            [
                (str(g.hops), g.relation if g.direction == "out" else f"<-{g.relation}", g.type, g.id, g.label)
                for g in graph
            ],
            ("hops", "relation", "type", "id", "label"),
        )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from graphalign.demo import run_demo

    model, train, split, run = _configs(args)
    report = run_demo(args.data, args.work_dir, _graph_config(args), model, train, split, run)
    nodes = report.counts["nodes"]
    print(
        f"graph: {nodes['concept']} concepts, {nodes['image']} images, {nodes['text']} texts, "
        f"{sum(report.counts['edges'].values())} edges ({args.data})"
    )
    print(
        f"build: {report.build_seconds:.1f}s ({report.items_encoded} items encoded, {report.items_cached} from cache)"
    )
    preset = f"{args.preset or 'best'} preset{' + options' if _options_given(args) else ''}"
    readouts = " + ".join(r["name"] for r in model.readouts) or "no readouts"
    if model.exemplars is not None:
        readouts += ", exemplar term"
    layers = f"{model.num_layers} {model.conv} layers" if model.num_layers else "no layers"
    if model.propagate is not None:
        layers += f", features propagated {model.propagate['hops']} hops"
    print(
        f"train: {report.train_seconds:.1f}s, best epoch {report.best_epoch} of {report.epochs_run}"
        f"{_early_stop_note(report.epochs_run, train)} ({preset}: {layers}, {model.head} head, {readouts}, "
        f"{train.loss})"
    )
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
    print(f'explore it in the browser: graphalign serve {report.run_dir}   (needs: pip install "graphalign[serve]")')
    return 0


def _options_given(args: argparse.Namespace) -> bool:
    """Whether any config option was given (beside ``--preset``)."""
    given = any(getattr(args, dest, None) is not None for dest in _OPTION_FIELDS)
    return (
        given
        or bool(getattr(args, "channels", None))
        or bool(getattr(args, "no_channels", False))
        or (getattr(args, "inherit", None) is not None)
    )


def _check_flags(args: argparse.Namespace, flags: dict[str, tuple[str, int]]) -> None:
    """Each ``flag: (dest, lowest)``: the value (or each value of a list) must be an integer >= lowest."""
    from graphalign.errors import ConfigError

    for flag, (dest, lowest) in flags.items():
        value = getattr(args, dest)
        for item in value if isinstance(value, list) else [value]:
            if item is not None and item < lowest:
                raise ConfigError(f"{flag} must be an integer >= {lowest}, got {item}")


def _check_bench_args(args: argparse.Namespace) -> None:
    """Rejects bad `graphalign bench` values before any encoding."""
    from graphalign.errors import ConfigError

    _check_flags(
        args,
        {
            "--epochs": ("epochs", 1),
            "--batch-size": ("batch_size", 1),
            "--steps-per-epoch": ("steps_per_epoch", 1),
            "--eval-every": ("eval_every", 1),
            "--seeds": ("seeds", 0),
            "--num-neighbors": ("num_neighbors", -1),
        },
    )
    if args.num_neighbors is not None and 0 in args.num_neighbors:
        raise ConfigError(f"--num-neighbors takes fan-outs >= 1 or -1 (all), got {args.num_neighbors}")
    if len(set(args.seeds)) != len(args.seeds):
        raise ConfigError(f"--seeds must be distinct (a seed given twice is one run counted twice), got {args.seeds}")
    for family, names in (("losses", args.losses), ("convs", args.convs)):
        for name in names:
            _registries()[family].get(name)  # an unknown name fails before any encoding


def _bench_schedule(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields the schedule options change (a ``sampler`` dict for the sampler's)."""
    train: dict[str, Any] = {}
    for flag, key in (("epochs", "epochs"), ("batch_size", "batch_size"), ("eval_every", "eval_every")):
        if getattr(args, flag) is not None:
            train[key] = getattr(args, flag)
    sampler = {
        key: value
        for key, value in (
            ("name", args.mode),
            ("steps_per_epoch", args.steps_per_epoch),
            ("num_neighbors", args.num_neighbors),
        )
        if value is not None
    }
    if sampler:
        train["sampler"] = sampler
    return train


def _bench_command(args: argparse.Namespace) -> str:
    """The `graphalign bench` command line of ``args``, with the options that differ from their defaults."""
    parts = [f"graphalign bench {args.data_dir}"]
    if args.seeds != list(DEFAULT_SEEDS):
        parts.append("--seeds " + " ".join(map(str, args.seeds)))
    for flag in ("epochs", "batch_size", "mode", "steps_per_epoch", "eval_every"):
        if getattr(args, flag) is not None:
            parts.append(f"--{flag.replace('_', '-')} {getattr(args, flag)}")
    if args.num_neighbors is not None:
        parts.append("--num-neighbors " + " ".join(map(str, args.num_neighbors)))
    if args.losses != list(DEFAULT_LOSSES):
        parts.append("--losses " + " ".join(args.losses))
    if args.convs != list(DEFAULT_CONVS):
        parts.append("--convs " + " ".join(args.convs))
    if args.presets:
        parts.append("--presets " + " ".join(args.presets))
    parts += [flag for flag, on in (("--plain", args.plain), ("--knn", args.knn), ("--plots", args.plots)) if on]
    return " ".join(parts)


def _check_bench_outputs(out: Path, name: str, plots: bool) -> None:
    """Refuses, before any work, a file in ``out`` that the benchmark would replace but did not write."""
    from graphalign.benchmark.plots import is_plot
    from graphalign.benchmark.quality import is_results_csv
    from graphalign.benchmark.report import is_report
    from graphalign.errors import OutputError
    from graphalign.outputs import check_own_file

    files = [(f"quality-{name}.md", is_report), (f"quality-{name}.csv", is_results_csv)]
    if plots:
        files += [(f"{stem}.png", is_plot) for stem in (f"map-{name}-before", f"map-{name}-after", f"curves-{name}")]
    problems = []
    for file_name, written_here in files:
        try:
            check_own_file(out / file_name, written_here, "graphalign bench")
        except OutputError as error:
            problems.append(str(error))
    if problems:
        raise OutputError("\n".join(problems))


def _cmd_bench(args: argparse.Namespace) -> int:
    from graphalign.benchmark.quality import benchmark_graphs, default_methods, run_benchmark, write_csv
    from graphalign.benchmark.report import render_report
    from graphalign.features.featurize import GraphConfig

    _check_bench_args(args)
    name = args.data_dir.resolve().name
    _check_bench_outputs(args.out, name, args.plots)  # before any work: never replaces a file it did not write
    started = time.perf_counter()
    graphs = benchmark_graphs(args.data_dir, GraphConfig(cache_dir=args.cache_dir, progress=not args.quiet), args.knn)
    report = (lambda line: print(line, file=sys.stderr)) if not args.quiet else None
    schedule = _bench_schedule(args)
    methods = default_methods(
        schedule,
        convs=tuple(args.convs),
        losses=tuple(args.losses),
        plain=args.plain,
        knn=args.knn,
        presets=tuple(args.presets),
    )
    result = run_benchmark(graphs, methods, seeds=tuple(args.seeds), progress=report)
    seconds = time.perf_counter() - started
    plots = None
    if args.plots:
        from graphalign.benchmark.quality import make_plots

        plots = make_plots(graphs, args.out, name, schedule)
    text = render_report(result, name, _bench_command(args), seconds, len(args.seeds), plots=plots)
    from graphalign.atomic import atomic_write_text

    atomic_write_text(args.out / f"quality-{name}.md", text + "\n")  # creates the folder
    write_csv(result, args.out / f"quality-{name}.csv")
    print(text)
    print(f"\nwrote {args.out / f'quality-{name}.md'} and .csv")
    return 0


def _defaults() -> dict[str, dict[str, str]]:
    """The default of each family, read from the configs: name -> what it is the default for."""
    from graphalign.features.featurize import GraphConfig
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.presets import DEFAULT_PRESET
    from graphalign.training.trainer import TrainConfig

    graph, model, train = GraphConfig(), ModelConfig(), TrainConfig()
    return {
        "presets": {DEFAULT_PRESET: "default"},
        "encoders": {graph.text_encoder: "default text encoder", graph.image_encoder: "default image encoder"},
        "augmenters": {spec["name"]: "default" for spec in graph.augmenters},
        "convs": {model.conv: "default"},
        "heads": {model.head: "default"},
        "readouts": {spec["name"]: "default" for spec in model.readouts},
        "losses": {train.loss: "default"},
        "samplers": {train.sampler["name"]: "default"},
        "indexes": {"exact": "default"},
        "datasets": {DEMO_DATASET: "default of demo"},
    }


def _cmd_ls(args: argparse.Namespace) -> int:
    defaults = _defaults()
    for family, registry in _registries().items():
        if args.family not in (None, family):
            continue
        print(f"{family}:")
        rows = []
        for name in registry.main_names():
            notes = [
                defaults[family].get(name),
                (f"needs {registry.requires(name)}" if registry.requires(name) else None),
                (f"alias {', '.join(registry.aliases(name))}" if registry.aliases(name) else None),
            ]
            rows.append((f"  {name}", "; ".join(n for n in notes if n), registry.summary(name)))
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        for name, notes, summary in rows:
            print(f"{name.ljust(widths[0])}  {notes.ljust(widths[1])}  {summary}".rstrip())
    return 0


def _cmd_dataset(args: argparse.Namespace) -> int:
    from graphalign import datasets

    if args.dataset_action == "path":
        print(datasets.path(args.name))
        return 0
    start = time.perf_counter()
    out = datasets.build(args.name, args.output, **args.kwargs)
    print(f"wrote {args.name} to {out} in {time.perf_counter() - start:.1f}s")
    print(f"next: graphalign build {out} -o GRAPH_DIR")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from graphalign.query.aligner import Aligner

    aligner = Aligner.load(args.run_dir)
    written = aligner.export(args.output, types=args.types, overwrite=args.overwrite)
    counts = {t: len(aligner.node_index.ids[t]) for t in (args.types or aligner.embeddings)}
    print(
        f"exported {sum(counts.values())} vectors ({', '.join(f'{n} {t}' for t, n in counts.items())}) "
        f"of dimension {next(iter(aligner.embeddings.values())).size(1)}"
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _version() -> str:
    from graphalign import __version__

    return __version__


def _cmd_serve(args: argparse.Namespace) -> int:
    from graphalign.errors import GraphAlignError
    from graphalign.serve import Explorer, create_app

    _check_port(args.port)
    _check_port_free(args.host, args.port)  # before loading the run: one error line, not a server's traceback
    explorer = Explorer.load(args.run_dir)
    app = create_app(explorer)  # says which extra to install when FastAPI is missing
    try:
        import uvicorn
    except ImportError as error:
        raise GraphAlignError('graphalign serve needs the serve extra: pip install "graphalign[serve]"') from error

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach this address can query the run", file=sys.stderr)
    missing, images = explorer.missing_image_files()
    if missing:
        print(
            f"warning: {missing} of {images} image files checked are not in {explorer.aligner.graph.root} (the dataset "
            "folder the run was built from; moved?): their thumbnails will be missing",
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address in a URL
    print(f"graphalign explorer of {args.run_dir}: http://{host}:{args.port}/  (API: /openapi.json; Ctrl-C stops)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_port(port: int) -> None:
    from graphalign.errors import ConfigError

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")


def _check_port_free(host: str, port: int) -> None:
    """Refuses an address that cannot be bound now (a port in use, a host not of this machine)."""
    import errno
    import socket

    from graphalign.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ConfigError(f"--host {host}: not an address of this machine ({error})") from error
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port is free
        try:
            probe.bind(address)
        except OSError as error:
            reason = (
                "is in use; choose another --port"
                if error.errno == errno.EADDRINUSE
                else f"cannot be bound ({error.strerror})"
            )
            raise ConfigError(f"{host}:{port} {reason}") from error


COMMANDS = {
    "build": _cmd_build,
    "info": _cmd_info,
    "train": _cmd_train,
    "eval": _cmd_eval,
    "query": _cmd_query,
    "demo": _cmd_demo,
    "bench": _cmd_bench,
    "export": _cmd_export,
    "dataset": _cmd_dataset,
    "ls": _cmd_ls,
    "serve": _cmd_serve,
}


def _flag_of(parser: argparse.ArgumentParser, command: str, error: Exception) -> str | None:
    """The option of ``command`` that set the config value a :class:`ConfigError` is about, if any."""
    owner, key = getattr(error, "config", None), getattr(error, "key", None)
    if owner is None or key is None:
        return None
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    command_parser = subparsers.choices.get(command) if subparsers is not None else None
    for action in command_parser._actions if command_parser is not None else []:
        if getattr(action, "error_key", None) == (owner, key):
            return "/".join(action.option_strings)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status (callable from tests)."""
    import warnings

    from graphalign.errors import GraphAlignError

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
        flag = _flag_of(parser, args.command, error)
        print(f"error: {flag + ': ' if flag else ''}{error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:  # e.g. an output folder that cannot be written
        print(f"error: {error.filename + ': ' if error.filename else ''}{error.strerror or error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print(f"error: out of memory while running `graphalign {args.command}`", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
