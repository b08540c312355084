"""The quality benchmark: graphalign's default against non-graph baselines on the same splits.

Methods (all produce one embedding per node, compared by cosine):

* ``no training (ConSE)``: pretrained encoders as they are; an image is the
  probability-weighted mean of the text embeddings of its top-10 ImageNet class
  names, concepts and texts are their text embeddings;
* ``1-NN label transfer``: an image takes the concept of its most similar
  training image (cosine on image features); as a ranking, each concept scores
  the similarity of its most similar training image;
* ``two towers``: the ``towers`` preset (:mod:`graphalign.presets`): one MLP per
  node type, no message passing, on the same features, pairs and loss, with the
  prior head and the prior channel; also its learned part alone;
* ``graphalign (best preset)``: ``ModelConfig()`` trained with ``TrainConfig()``
  on the graph ``graphalign build`` gives (``GraphConfig()``), as
  ``graphalign train`` does with no options;
Every other graphalign row is an ablation and is named ``ablation: ...``:
without each graph channel or any (same weights), with another loss, the
``gnn`` preset (the same parts with 2 GATv2 layers of message passing in
training instead of propagated features) and with another conv, the ``plain``
preset, kNN edges. The report ranks the
graph rows by the selection rule (:func:`selection_scores`: validation MRR
averaged over the headline protocols) and compares the best preset's row with
the best non-graph row on each headline protocol.

Every method sees the same :class:`ProtocolSplit` per seed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.atomic import atomic_write_text
from graphalign.benchmark.defaults import DEFAULT_CONVS, DEFAULT_LOSSES, DEFAULT_SEEDS
from graphalign.benchmark.protocols import ProtocolSplit, Query, check_protocol_graph, make_protocol_split
from graphalign.benchmark.statistics import PairedDifference, paired_relative
from graphalign.data.split import LABEL_FREE_RELATIONS, EdgeSplit
from graphalign.errors import ConfigError
from graphalign.evaluation.evaluator import rank_scored
from graphalign.evaluation.ranking import evaluate_ranking
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig
from graphalign.features.knn import KNN_RELATION, add_knn_edges
from graphalign.features.store import BuiltGraph
from graphalign.graph.convert import edge_index_dict
from graphalign.graph.io import load_dataset
from graphalign.nn.directions import DirectedEmbeddings
from graphalign.nn.hetero_gnn import HeteroAligner, ModelConfig
from graphalign.presets import get_preset
from graphalign.training.trainer import (
    RunConfig,
    TrainConfig,
    directed_embeddings,
    embed_nodes,
    fit,
    message_passing_data,
)

logger = logging.getLogger(__name__)

__all__ = [
    "Method",
    "default_methods",
    "run_benchmark",
    "BenchmarkResult",
    "format_table",
    "write_csv",
    "best_comparison",
    "benchmark_graphs",
    "HEADLINE_PROTOCOLS",
    "SELECTION_PROTOCOLS",
    "selection_scores",
    "trained_method",
    "preset_configs",
    "BEST_ROW",
    "DEFAULT_CHANNEL_NAMES",
]

Embedder = Callable[[BuiltGraph, ProtocolSplit, int], dict[str, torch.Tensor]]


@dataclass
class Method:
    """A named way of embedding every node (trained or not).

    ``features`` names the node features it runs on (a key of the graphs given
    to :func:`run_benchmark`, see :func:`benchmark_graphs`): ``"default"`` (what
    ``graphalign build`` gives), ``"base"`` (the image encoder's own features,
    no added edges), ``"knn"``. A
    method with ``nearest_neighbour`` scores image↔concept pairs by label
    transfer instead of embedding nodes (``embed`` is then unused).
    """

    name: str
    embed: Embedder
    uses_graph: bool = False
    features: str = "base"
    nearest_neighbour: bool = False
    rows: dict[str, bool] | None = None

    def row_names(self) -> dict[str, bool]:
        """The table rows this method fills, with whether each uses the graph.

        ``rows`` set: ``embed`` returns ``{row name: embeddings}``, several rows
        from one training run (e.g. with and without graph channels).
        """
        return self.rows if self.rows is not None else {self.name: self.uses_graph}


def conse_embeddings(built: BuiltGraph, protocol: ProtocolSplit, seed: int) -> dict[str, torch.Tensor]:
    """Pretrained encoders as they are (ConSE for images)."""
    from graphalign.encoders.conse import ConSEImageEncoder

    config = built.graph_config()
    encoder = ConSEImageEncoder(
        text_encoder=config.text_encoder, text_encoder_kwargs=config.text_encoder_kwargs, mode="conse", progress=False
    )
    pretrained = {t: F.normalize(built.features[t], dim=-1) for t in ("concept", "text") if t in built.features}
    return {"image": encoder.from_features(built.features["image"]), **pretrained}


def with_label_free_edges(built: BuiltGraph, split: EdgeSplit) -> EdgeSplit:
    """``split`` plus the graph's label-free (kNN) edges as message passing.

    The protocol split is drawn on the plain graph; kNN edges added to a copy of
    it (:func:`~graphalign.features.knn.add_knn_edges`) carry no label, so every one
    of them, held-out nodes' included, is visible to message passing.
    """
    extra = {
        et: e
        for et, e in edge_index_dict(built.graph, built.index).items()
        if et[1] in LABEL_FREE_RELATIONS and et not in split.edges["message_passing"]
    }
    if not extra:
        return split
    edges = {part: dict(parts) for part, parts in split.edges.items()}
    edges["message_passing"].update(extra)
    return dataclasses.replace(split, edges=edges)


DEFAULT_CHANNEL_NAMES = ("prior", "text", "concept", "hierarchy")
"""Names of the default model's graph channels, in the order of
:data:`~graphalign.nn.hetero_gnn.DEFAULT_READOUTS` (for the leave-one-out rows)."""

BEST_ROW = "graphalign (best preset)"
"""The benchmark's row of the ``best`` preset: ``ModelConfig()`` and ``TrainConfig()``."""
GNN_ROW = "ablation: graphalign (gnn preset)"
"""The row of the ``gnn`` preset: the best preset's parts with GATv2 message passing in training."""


def readout_variants(
    model: HeteroAligner,
    x_dict: dict[str, torch.Tensor],
    edge_index_dict: dict[Any, torch.Tensor],
    name: str,
    variants: dict[str, tuple[bool | list[int] | str, bool]],
    split: EdgeSplit,
) -> dict[str, dict[str, torch.Tensor]]:
    """Rows from one trained model with readouts composed differently: message passing runs once.

    ``name`` is the model as trained (every readout, each direction with its
    fitted channel scales, and its exemplar term); each variant keeps every
    readout but the channels, and of the channels all with every scale 1
    (``True``), none (``False``) or those whose indices in the configured list it
    lists (a channel the graph cannot have, e.g. of texts in a graph without
    texts, is left out of the model and of the list); ``"views"``
    is the model as trained without its exemplar term. ``split`` says which candidates the graph links (the views of
    :mod:`graphalign.nn.directions`).
    """
    learned = model(x_dict, edge_index_dict, readouts=False)
    for readout_name, readout in model.readouts.items():
        if readout_name != "channels":
            learned = readout(learned, x_dict, edge_index_dict)
    channels = model.readouts["channels"]
    unscaled = channels(learned, x_dict, edge_index_dict)
    rows = {name: directed_embeddings(unscaled, model.direction_multipliers(), split, model, x_dict)}
    for row, (select, _) in variants.items():
        if select == "views":
            rows[row] = directed_embeddings(unscaled, model.direction_multipliers(), split)
        elif select is True:
            rows[row] = unscaled
        else:
            if isinstance(select, list):  # configured positions -> the model's channels
                configured = channels.graph_channels.configured
                select = [configured.index(i) for i in select if i in configured]
            rows[row] = learned if select is False else channels(learned, x_dict, edge_index_dict, select=select)
    return rows


def trained_method(
    name: str,
    model: ModelConfig,
    train: TrainConfig,
    features: str = "default",
    uses_graph: bool | None = None,
    variants: dict[str, tuple[bool | list[int] | str, bool]] | None = None,
    run: RunConfig | None = None,
) -> Method:
    """A method that trains ``model`` with ``train`` on the graph ``features``.

    Args:
        run: Runtime settings of training (the progress bar is always off).
        variants: More rows from the same trained model: ``row name → (channels,
            uses graph)``, where ``channels`` is ``False`` (the model without its
            channels readout), the indices of the graph channels to keep, or
            ``"views"`` (the model as trained without its exemplar term;
            :func:`readout_variants`).
    """

    def embed(built: BuiltGraph, protocol: ProtocolSplit, seed: int) -> Any:
        config = dataclasses.replace(train, seed=seed)
        split = with_label_free_edges(built, protocol.split)
        settings = dataclasses.replace(run or RunConfig(), progress=False)
        result = fit(built, model, config, split=split, run=settings)
        if not variants:
            return embed_nodes(result.model, built, split)
        result.model.eval()
        data = message_passing_data(built, split, inference=True)
        with torch.no_grad():
            return readout_variants(result.model, data.x_dict, data.edge_index_dict, name, variants, split)

    if uses_graph is None:
        channels = (model.readout("channels") or {}).get("channels", [])
        uses_graph = model.num_layers > 0 or model.propagate is not None or any(c["hops"] > 0 for c in channels)
    rows = None if not variants else {**{row: graph for row, (_, graph) in variants.items()}, name: uses_graph}
    return Method(name, embed, uses_graph=uses_graph, features=features, rows=rows)


def preset_configs(preset: str, train: dict[str, Any] | None = None, **model: Any) -> tuple[ModelConfig, TrainConfig]:
    """The ``preset``'s model (``model`` fields changed) and training (``train`` fields changed;
    a ``sampler`` dict is merged into the preset's, keeping its name unless it gives one)."""
    _, model_config, train_config, _ = get_preset(preset).configs(model=model)
    changes = dict(train or {})
    if "sampler" in changes:
        changes["sampler"] = {**train_config.sampler, **changes["sampler"]}
    return model_config, dataclasses.replace(train_config, **changes) if changes else train_config


def default_methods(
    train: dict[str, Any] | None = None,
    convs: tuple[str, ...] = DEFAULT_CONVS,
    losses: tuple[str, ...] = DEFAULT_LOSSES,
    plain: bool = False,
    knn: bool = False,
    presets: tuple[str, ...] = (),
) -> list[Method]:
    """The methods of the benchmark table, composed from presets (:mod:`graphalign.presets`).

    ``graphalign (best preset)`` is ``ModelConfig()`` trained with
    ``TrainConfig()``, as ``graphalign train`` does with no options; ``two
    towers`` is the ``towers`` preset. Every other graphalign row is an
    ablation and says so: the best preset without each of its graph channels
    and without any (its learned part alone, same weights), with the other
    ``losses``, and the ``gnn`` preset (message passing in training) with each
    of ``convs``.

    Args:
        train: :class:`TrainConfig` fields changed for every trained method
            (e.g. ``{"epochs": 1}``; a ``sampler`` dict is merged into each
            preset's sampler).
        convs: Message-passing layers of the gnn preset's rows (``gatv2``, its
            own, gives its row; others, e.g. ``rgcn``, ablation rows).
        losses: Losses of the graphalign rows (``infonce``, the default, gives
            the best preset's row; others, e.g. ``triplet``, ablation rows).
        plain: Also the ``plain`` preset (message passing on EfficientNet
            features alone, no prior) and two towers on the same features.
        knn: Also the best preset on the graph with label-free edges from each
            image to its 10 closest concepts (graph ``"knn"`` of :func:`benchmark_graphs`).
        presets: Also these presets (:mod:`graphalign.presets`), each as a row
            ``graphalign (NAME preset)`` with its learned part alone and without
            fitted channel scales.
    """
    default_model, default_train = ModelConfig(), TrainConfig()
    methods = [
        Method("no training (ConSE)", conse_embeddings),
        Method("1-NN label transfer", lambda b, p, s: {}, nearest_neighbour=True),
    ]
    run = RunConfig(progress=False)
    for loss in losses:
        model, towers = preset_configs("towers", {**(train or {}), "loss": loss})
        suffix = "" if loss == default_train.loss else f" ({loss})"
        methods.append(
            trained_method(
                f"two towers{suffix}",
                model,
                towers,
                uses_graph=False,
                variants={
                    f"two towers{suffix}, learned part alone": (False, False),
                    f"two towers{suffix}, channel scales not fitted": (True, False),
                },
                run=run,
            )
        )
    for loss in losses:
        model, config = preset_configs("best", {**(train or {}), "loss": loss})
        name = BEST_ROW if loss == default_train.loss else f"ablation: graphalign ({loss})"
        methods.append(_with_ablation_rows(name, model, config, run))
    for conv in convs:
        for loss in losses:
            model, config = preset_configs("gnn", {**(train or {}), "loss": loss}, conv=conv)
            default = (conv, loss) == (default_model.conv, default_train.loss)
            name = GNN_ROW if default else f"ablation: graphalign (gnn preset, {conv}, {loss})"
            methods.append(_with_two_variants(name, model, config, run))
    if plain:
        model, config = preset_configs("plain", train)
        methods.append(trained_method("ablation: graphalign (plain preset)", model, config, "base", run=run))
        towers, towers_train = preset_configs("towers", train, **get_preset("plain").fields("model"))
        methods.append(trained_method("two towers (plain)", towers, towers_train, "base", uses_graph=False, run=run))
    for preset in presets:
        model, config = preset_configs(preset, train)
        methods.append(_with_two_variants(f"graphalign ({preset} preset)", model, config, run))
    if knn:
        model, config = preset_configs("best", train)
        methods.append(trained_method("ablation: graphalign + kNN image->concept edges", model, config, "knn", run=run))
    return methods


def _with_two_variants(name: str, model: ModelConfig, train: TrainConfig, run: RunConfig) -> Method:
    """``name`` and, from the same weights, its learned part alone and its rows without fitted scales."""
    variants = {f"{name}, learned part alone": (False, True), f"{name}, channel scales not fitted": (True, True)}
    return trained_method(name, model, train, variants=variants, run=run)


def _with_ablation_rows(name: str, model: ModelConfig, train: TrainConfig, run: RunConfig) -> Method:
    """``name`` and, from the same weights, its leave-one-out channel rows and its learned part alone."""
    prefix = "ablation: graphalign" if name == BEST_ROW else name
    variants: dict[str, tuple[bool | list[int] | str, bool]] = {
        f"{prefix}, learned part alone": (False, True),
        f"{prefix}, channel scales not fitted": (True, True),
    }
    if model.exemplars is not None:
        variants[f"{prefix}, no exemplar term"] = ("views", True)
    channels = (model.readout("channels") or {}).get("channels", [])
    names = (
        DEFAULT_CHANNEL_NAMES if len(channels) == len(DEFAULT_CHANNEL_NAMES) else tuple(map(str, range(len(channels))))
    )
    for dropped in names if len(names) > 1 else ():
        kept = [i for i, n in enumerate(names) if n != dropped]
        variants[f"{prefix}, no {dropped} channel"] = (kept, True)
    return trained_method(name, model, train, uses_graph=True, variants=variants, run=run)


def _nearest_neighbour_scores(built: BuiltGraph, protocol: ProtocolSplit, query: Query) -> torch.Tensor | None:
    """1-NN label transfer as scores: concept c scores max cosine to c's training images."""
    if (query.query_type, query.cand_type) not in (("image", "concept"), ("concept", "image")):
        return None
    x = F.normalize(built.features["image"], dim=-1)
    train = protocol.split.edges["supervision"].get(("image", "depicts", "concept"))
    if train is None or train.size(1) == 0:
        return None
    n_concepts = built.index.num_nodes("concept")
    sims = x @ x[train[0]].T  # (images, train pairs)
    scores = torch.full((x.size(0), n_concepts), -2.0)
    scores.scatter_reduce_(1, train[1].expand(x.size(0), -1), sims, reduce="amax")
    return scores if query.query_type == "image" else scores.T


def _evaluate(
    query: Query, embeddings: dict[str, torch.Tensor] | None, scores: torch.Tensor | None
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    if query.pairs.size(1) == 0 or (
        embeddings is not None and not {query.query_type, query.cand_type} <= embeddings.keys()
    ):
        return results  # nothing to rank (e.g. a graph without texts)
    subsets = {"all": torch.ones(query.pairs.size(1), dtype=torch.bool), **query.groups}
    term = embeddings.term(query.query_type, query.cand_type) if isinstance(embeddings, DirectedEmbeddings) else None
    if term is not None:  # a score that is not a dot product: the views plus the term
        assert isinstance(embeddings, DirectedEmbeddings)
        for subset, mask in subsets.items():
            if int(mask.sum()):
                results[subset] = rank_scored(
                    embeddings, query.query_type, query.cand_type, query.pairs[:, mask], query.known
                )
        return results
    if isinstance(embeddings, DirectedEmbeddings):  # each direction in its own view
        queries, candidates = embeddings.pair(query.query_type, query.cand_type)
    elif embeddings is not None:
        queries, candidates = embeddings[query.query_type], embeddings[query.cand_type]
    for subset, mask in subsets.items():
        if int(mask.sum()) == 0:
            continue
        pairs = query.pairs[:, mask]
        if scores is not None:  # a method that scores directly
            q, c = scores, torch.eye(scores.size(1))
            metrics = evaluate_ranking(q, c, pairs[0], pairs[1], known_pairs=query.known.t(), similarity="dot")
        else:
            metrics = evaluate_ranking(
                queries,
                candidates,
                pairs[0],
                pairs[1],
                known_pairs=query.known.t(),
            )
        results[subset] = metrics
    return results


@dataclass
class BenchmarkResult:
    """``rows[(method, protocol, subset)] = list of metric dicts, one per seed``."""

    rows: dict[tuple[str, str, str], list[dict[str, float]]] = field(default_factory=dict)
    graph_methods: set[str] = field(default_factory=set)
    headline: str | None = None
    """The graph row compared with the baselines (:data:`BEST_ROW` when it ran; else the best graph row)."""
    seconds: dict[str, float] = field(default_factory=dict)
    counts: list[dict[str, int]] = field(default_factory=list)
    """Per seed, in the order of :attr:`seeds`: the held-out pairs of each protocol."""
    seeds: list[int] = field(default_factory=list)

    def summary(self, metric: str) -> dict[tuple[str, str, str], tuple[float, float]]:
        out = {}
        for key, runs in self.rows.items():
            values = [r[metric] for r in runs]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) if len(values) > 1 else 0.0
            out[key] = (mean, std)
        return out


def run_benchmark(
    graphs: dict[str, BuiltGraph],
    methods: list[Method] | None = None,
    seeds: tuple[int, ...] = DEFAULT_SEEDS,
    progress: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    """Runs every method on every seed's protocol split.

    Args:
        graphs: The same graph with different node features, by name (``"base"``
            is required; the split is drawn on it).
        methods: The methods (default :func:`default_methods`).
        seeds: One protocol split and one training seed each.
        progress: Called with one line per finished method.

    Raises:
        ConfigError: On a seed given twice (one run would count as two).
        GraphValidationError: On a graph without ``image depicts concept`` edges.
    """
    if len(set(seeds)) != len(tuple(seeds)):
        raise ConfigError(f"seeds must be distinct (a seed given twice is one run counted twice), got {list(seeds)}")
    methods = methods or default_methods()
    built = graphs["base"]
    graph_rows = {row for m in methods for row, graph in m.row_names().items() if graph}
    result = BenchmarkResult(graph_methods=graph_rows, headline=BEST_ROW if BEST_ROW in graph_rows else None)
    for seed in seeds:
        protocol = make_protocol_split(built, seed)
        result.counts.append(protocol.counts)
        result.seeds.append(seed)
        for method in methods:
            started = time.perf_counter()
            graph = graphs[method.features]
            output = None if method.nearest_neighbour else method.embed(graph, protocol, seed)
            by_row = {method.name: output} if method.rows is None else output
            for row, embeddings in by_row.items():
                for name, query in protocol.queries.items():
                    scores = _nearest_neighbour_scores(built, protocol, query) if embeddings is None else None
                    if embeddings is None and scores is None:
                        continue
                    for subset, metrics in _evaluate(query, embeddings, scores).items():
                        result.rows.setdefault((row, name, subset), []).append(metrics)
            elapsed = time.perf_counter() - started
            result.seconds[method.name] = result.seconds.get(method.name, 0.0) + elapsed
            if progress:
                progress(f"seed {seed}: {method.name} ({elapsed:.1f}s)")
    return result


def format_table(
    result: BenchmarkResult, metrics: tuple[str, ...] = ("mrr", "hits@1", "hits@10"), subset: str = "all"
) -> str:
    """A markdown table: one row per method, one column group per protocol (validation queries left out)."""
    protocols = sorted({p for (_, p, s) in result.rows if s == subset and not p.startswith("val:")})
    methods = list(dict.fromkeys(m for (m, _, _) in result.rows))
    summaries = {metric: result.summary(metric) for metric in metrics}
    header = "| method | " + " | ".join(f"{p} {m}" for p in protocols for m in metrics) + " |"
    lines = [header, "|---|" + "---:|" * (len(protocols) * len(metrics))]
    for method in methods:
        cells = []
        for protocol in protocols:
            for metric in metrics:
                value = summaries[metric].get((method, protocol, subset))
                runs = len(result.rows.get((method, protocol, subset), ()))
                cells.append("-" if value is None else format_mean_std(value, runs))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_mean_std(value: tuple[float, float], runs: int) -> str:
    """``mean ± std`` to three places; the mean alone over one run, which has no spread.

    Example:
        >>> format_mean_std((0.31234, 0.0205), 5), format_mean_std((0.31234, 0.0), 1)
        ('0.312 ± 0.021', '0.312')
    """
    return f"{value[0]:.3f}" if runs < 2 else f"{value[0]:.3f} ± {value[1]:.3f}"


CSV_COLUMNS = ("method", "protocol", "subset", "seed_index", "mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "count")
"""The columns of :func:`write_csv`'s file."""


def is_results_csv(path: Path) -> bool:
    """Whether the file at ``path`` is one that :func:`write_csv` wrote (its header line)."""
    header = ",".join(CSV_COLUMNS).encode()
    with open(path, "rb") as handle:
        return handle.read(len(header) + 2).rstrip(b"\r\n") == header


def write_csv(result: BenchmarkResult, path: Path) -> None:
    """One row per (method, protocol, subset, seed) with every metric, written atomically."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for (method, protocol, subset), runs in result.rows.items():
        for index, metrics in enumerate(runs):
            writer.writerow(
                [
                    method,
                    protocol,
                    subset,
                    index,
                    *(f"{metrics[k]:.6f}" for k in ("mrr", "hits@1", "hits@3", "hits@10", "mean_rank")),
                    int(metrics["count"]),
                ]
            )
    atomic_write_text(path, handle.getvalue())


def best_comparison(result: BenchmarkResult, protocols: list[str], subset: str = "all") -> list[dict[str, Any]]:
    """Per protocol: graphalign's headline row (:attr:`BenchmarkResult.headline`; without one, the
    best graph row of each protocol) vs. the best non-graph method (mean MRR).

    ``difference``: the paired per-seed relative differences (same split for
    both methods) with their mean, 95% t interval and seeds won
    (:func:`~graphalign.benchmark.statistics.paired_relative`); ``target_met``:
    whether the protocol's :data:`TARGETS` holds.
    """
    summary = result.summary("mrr")
    rows = []
    for protocol in protocols:
        entries = {(m): v for (m, p, s), v in summary.items() if p == protocol and s == subset}
        graph = {m: v for m, v in entries.items() if m in result.graph_methods}
        other = {m: v for m, v in entries.items() if m not in result.graph_methods}
        if not graph or not other:
            continue
        bg = result.headline if result.headline in graph else max(graph, key=lambda m: graph[m][0])
        bo = max(other, key=lambda m: other[m][0])
        difference = paired_relative(
            [g["mrr"] for g in result.rows[(bg, protocol, subset)]],
            [o["mrr"] for o in result.rows[(bo, protocol, subset)]],
        )
        target = TARGETS.get(protocol, Target(0.10, True))
        rows.append(
            {
                "protocol": protocol,
                "graph": bg,
                "graph_mrr": graph[bg],
                "baseline": bo,
                "baseline_mrr": other[bo],
                "difference": difference,
                "target": target,
                "target_met": target.met(difference),
            }
        )
    return rows


@dataclass(frozen=True)
class Target:
    """What graphalign must show on a protocol against the best non-graph method.

    Args:
        mean_at_least: Least mean of the paired per-seed relative differences.
        significant: Also the 95% interval above zero and every seed positive.
    """

    mean_at_least: float
    significant: bool = False

    def met(self, difference: PairedDifference) -> bool:
        """Whether ``difference`` meets the target."""
        if difference.mean < self.mean_at_least - 1e-9:  # a mean of exactly the target meets it
            return False
        if not self.significant:
            return True
        # One seed has no interval, so it cannot show one above zero.
        above_zero = difference.low is not None and difference.low > 0
        return above_zero and difference.every_seed_positive

    def format_mean(self, difference: PairedDifference) -> str:
        """The mean relative difference to one decimal place, or to as many more (up to four) as it takes
        not to print the target's own value for a mean that differs from it (``-2.01%`` beside ``>= -2%``)."""
        for places in (1, 2, 3, 4):
            shown = f"{difference.mean:+.{places}%}"
            if shown != f"{self.mean_at_least:+.{places}%}" or abs(difference.mean - self.mean_at_least) <= 1e-9:
                return shown
        return shown

    def __str__(self) -> str:
        if self.significant:
            return f"{self.mean_at_least:+.0%}, interval > 0, every seed"
        return f">= {self.mean_at_least:+.0%}"


HEADLINE_PROTOCOLS = ["a:image->concept", "a:concept->image", "c:zero-shot image->concept", "b:text->image"]
"""The protocols on which graphalign must beat the best non-graph method."""

TARGETS = {
    "a:image->concept": Target(-0.02),
    "a:concept->image": Target(0.10, significant=True),
    "c:zero-shot image->concept": Target(0.10, significant=True),
    "b:text->image": Target(-0.02),
}
"""Per headline protocol, what graphalign's default must show against the best non-graph method:
+10% with the interval above zero and every seed positive where the graph carries the answer (concepts
without training images, images of a concept); not worse than -2% on the other two."""

SELECTION_PROTOCOLS = {
    "a:image->concept": "val:image->concept",
    "a:concept->image": "val:concept->image",
    "c:zero-shot image->concept": "val:zero-shot image->concept",
    "b:text->image": "val:text->image",
}
"""Each headline protocol's validation query: the selection rule reads these only."""


def selection_scores(result: BenchmarkResult) -> list[tuple[str, float, dict[str, float]]]:
    """The selection rule: graph methods ranked by validation MRR averaged over the headline protocols.

    Each method's score is the mean over seeds of the mean over
    :data:`SELECTION_PROTOCOLS` of its validation MRR (queries drawn like the
    protocol's test queries, from links that are neither trained on nor
    tested); test links take no part. A protocol without validation queries
    on a dataset (e.g. no English descriptions) is left out of the mean, for
    every method alike.

    Returns:
        ``(method, score, {headline protocol: validation MRR})``, best first.
    """
    summary = result.summary("mrr")
    present = [val for val in SELECTION_PROTOCOLS.values() if any(p == val for (_, p, _) in summary)]
    ranked = []
    for method in sorted(result.graph_methods):
        per_protocol = {
            headline: summary[(method, val, "all")][0]
            for headline, val in SELECTION_PROTOCOLS.items()
            if (method, val, "all") in summary
        }
        if per_protocol and len(per_protocol) == len(present):
            ranked.append((method, sum(per_protocol.values()) / len(per_protocol), per_protocol))
    return sorted(ranked, key=lambda entry: -entry[1])


def benchmark_graphs(
    data_dir: str | Path, config: GraphConfig | None = None, knn: bool = False
) -> dict[str, BuiltGraph]:
    """The dataset with the node features the methods run on.

    ``"default"``: built with ``config`` (default ``GraphConfig()``: what
    ``graphalign build`` gives: ConSE + EfficientNet image features and ImageNet →
    WordNet edges); ``"base"``: the same encoders with the image encoder's own
    features and no added edges (``image_encoder="efficientnet-lite0"``): ConSE
    and 1-NN read it, and the protocol split is drawn on it; with ``knn``, also
    ``"knn"``: ``"default"`` plus label-free edges from each image to its 10
    closest concepts.
    """
    config = config or GraphConfig(progress=False)
    base_config = dataclasses.replace(
        config, image_encoder="efficientnet-lite0", image_encoder_kwargs={}, augmenters=[]
    )
    graph = load_dataset(data_dir)  # loaded once, and checked before anything is encoded
    check_protocol_graph(Counter(map(graph.edge_type, graph.edges)))
    graphs = {"base": build_graph(graph, base_config)[0], "default": build_graph(graph, config)[0]}
    if knn:
        graphs["knn"] = _with_knn_concept_edges(graphs["default"], data_dir, config)
    return graphs


def _with_knn_concept_edges(built: BuiltGraph, data_dir: str | Path, config: GraphConfig) -> BuiltGraph:
    """``built`` plus edges from each image to its 10 closest concepts by the cosine of their ConSE vectors
    (the image features' text-space part, found on a ``mode="conse"`` build of the same data)."""
    if config.image_encoder != "conse":
        raise ConfigError(f"kNN image -> concept edges need the conse image encoder, not {config.image_encoder!r}")
    kwargs = {**config.image_encoder_kwargs, "mode": "conse"}
    conse, _ = build_graph(data_dir, dataclasses.replace(config, image_encoder_kwargs=kwargs, augmenters=[]))
    knn = add_knn_edges(conse, "image", 10, target_type="concept")
    return built.with_edges([(e.head, e.relation, e.tail) for e in knn.graph.edges if e.relation == KNN_RELATION])


def make_plots(
    graphs: dict[str, BuiltGraph], out: Path, name: str, train: dict[str, Any] | None = None, seed: int = 0
) -> list[Path]:
    """The 2-D map before (pretrained, ConSE) and after alignment (the best preset), and training curves
    of the best preset and the towers (``train``: :class:`TrainConfig` fields changed, as for
    :func:`default_methods`)."""
    from graphalign.benchmark.plots import plot_space_map, plot_training_curves

    protocol = make_protocol_split(graphs["base"], seed)
    before = conse_embeddings(graphs["base"], protocol, seed)
    histories = {}
    after = None
    split = with_label_free_edges(graphs["default"], protocol.split)
    for label, preset in (("graphalign (best preset)", "best"), ("two towers", "towers")):
        model, config = preset_configs(preset, {**(train or {}), "seed": seed})
        result = fit(graphs["default"], model, config, split=split, run=RunConfig(progress=False))
        histories[label] = result.history
        if after is None:
            after = embed_nodes(result.model, graphs["default"], split)
    return [
        plot_space_map(
            graphs["base"], before, out / f"map-{name}-before.png", "images before alignment (ConSE, pretrained)", seed
        ),
        plot_space_map(
            graphs["base"],
            after,
            out / f"map-{name}-after.png",
            "images after alignment (graphalign, best preset)",
            seed,
        ),
        plot_training_curves(histories, out / f"curves-{name}.png"),
    ]
