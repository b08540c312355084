"""The quality benchmark: graphalign against non-graph baselines on the same splits.

Methods (all produce one embedding per node, compared by cosine):

* ``no training (ConSE)``: pretrained encoders as they are; an image is the
  probability-weighted mean of the text embeddings of its top-10 ImageNet class
  names, concepts and texts are their text embeddings;
* ``1-NN label transfer``: an image takes the concept of its most similar
  training image (cosine on image features); as a ranking, each concept scores
  the similarity of its most similar training image;
* ``two towers``: one MLP per node type on the same features, trained on the
  same training pairs with the same loss (graphalign's model with 0 layers);
* ``graphalign``: the heterogeneous GNN (GAT / R-GCN, InfoNCE / triplet).

``+ prior``: on ConSE + EfficientNet features (graph ``"conse+visual"``) with
the prior residual (the output starts from the pretrained text space).
``+ channels``: with graph channels (:mod:`graphalign.nn.channels`): the
pretrained shared space kept as a frozen *prior channel* next to the learned
embedding, and a text channel (images carry the mean of their descriptions);
the two towers get the same prior channel (it uses no edge). One training run
gives the rows with and without the channels. graphalign also gets a
concept channel (images carry the text vector of the concept they depict) and
a hierarchy channel (images score the concepts their ImageNet predictions lead
to through WordNet, :mod:`graphalign.features.wordnet_predictions`), each also
left out in turn. graphalign's concepts without
images inherit the learned embeddings of their relatives with images
(:mod:`graphalign.nn.inherit`; ``--no-inherit`` turns it off). ``--plain``
adds both model kinds on the default encoders' features without the prior.

Every method sees the same :class:`ProtocolSplit` per seed.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.benchmark.protocols import ProtocolSplit, Query, make_protocol_split
from graphalign.data.split import LABEL_FREE_RELATIONS, EdgeSplit
from graphalign.errors import ConfigError
from graphalign.evaluation.ranking import evaluate_ranking
from graphalign.features.store import BuiltGraph
from graphalign.features.wordnet_predictions import (
    PREDICTION_RELATION,
    add_prediction_edges,
)
from graphalign.graph.convert import edge_index_dict
from graphalign.nn.hetero_gnn import HeteroAligner, ModelConfig
from graphalign.training.sampler_config import SAMPLERS, NeighborSampling
from graphalign.training.trainer import RunConfig, TrainConfig, embed_nodes, fit, message_passing_data

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
    "bench_channels",
    "CHANNEL_NAMES",
    "trained_method",
]

Embedder = Callable[[BuiltGraph, ProtocolSplit, int], dict[str, torch.Tensor]]


@dataclass
class Method:
    """A named way of embedding every node (trained or not).

    ``features`` names the node features it runs on (a key of the graphs given
    to :func:`run_benchmark`, see :func:`benchmark_graphs`): ``"base"`` (the
    default encoders), ``"conse+visual"`` (images as EfficientNet features
    followed by their ConSE vector in the text space), ``"conse"``. A
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
        text_encoder=config.text_encoder, text_encoder_kwargs=config.text_encoder_kwargs, progress=False
    )
    return {
        "image": encoder.from_features(built.features["image"]),
        "concept": F.normalize(built.features["concept"], dim=-1),
        "text": F.normalize(built.features["text"], dim=-1),
    }


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


CHANNEL_NAMES = ("prior", "text", "visual", "concept", "hierarchy")
"""The benchmark's graph channels, in the order :func:`bench_channels` appends them."""


def bench_channels(
    built: BuiltGraph,
    prior: float = 1.0,
    text: float = 1.0,
    visual: float = 0.0,
    concept: float = 0.0,
    hierarchy: float = 0.0,
) -> list[dict[str, Any]]:
    """The benchmark's graph channels for a graph with ConSE ``concat`` image features.

    Channels with weight 0 are left out; the others come in the order of
    :data:`CHANNEL_NAMES`.

    Args:
        built: The graph (its text feature size locates the ConSE part of the image features).
        prior: Weight of the *prior channel*: the pretrained shared space as it
            is (the ConSE vector of images, the text feature of texts and
            concepts; no propagation, so it uses no edge).
        text: Weight of the text channel: images carry the mean of their
            descriptions (one hop over ``describes``).
        visual: Weight of the visual channel: concepts carry the mean visual
            feature of their images, spread over ``is_a`` / ``part_of``.
        concept: Weight of the concept channel: images carry the text feature
            of the concept they depict (one hop over ``depicts``), texts and
            concepts their own; a text query then finds the images of the
            concept it names.
        hierarchy: Weight of the hierarchy channel: an identity channel
            (``codes``) over the label-free ``predicted_as`` edges of
            :func:`~graphalign.features.wordnet_predictions.add_prediction_edges`:
            an image scores high against the concepts its ImageNet predictions
            lead to through the WordNet hierarchy (zeros where the graph has no
            such edges).
    """
    text_dim = built.features["text"].size(1)
    visual_dim = built.features["image"].size(1) - text_dim
    weights = dict(zip(CHANNEL_NAMES, (prior, text, visual, concept, hierarchy)))
    channels = [_bench_channel(name, weight, text_dim, visual_dim) for name, weight in weights.items()]
    return [channel for channel in channels if channel is not None]


def _bench_channel(name: str, weight: float, text_dim: int, visual_dim: int) -> dict[str, Any] | None:
    """The channel ``name`` of :func:`bench_channels` with ``weight``; ``None`` where it is left out
    (weight 0, or the visual channel of image features that are all ConSE)."""
    if not weight > 0:
        return None
    if name == "prior":
        return {
            "sources": ["image", "concept", "text"],
            "weight": weight,
            "hops": 0,
            "center": False,
            "feature_slice": [-text_dim, 0],
        }
    if name == "text":
        return {"sources": ["text"], "weight": weight, "relations": ["describes"], "hops": 1, "decay": 1.0}
    if name == "visual":
        if visual_dim <= 0:
            return None
        return {
            "sources": ["image"],
            "weight": weight,
            "relations": ["depicts", "is_a", "part_of"],
            "hops": 3,
            "decay": 0.8,
            "feature_slice": [0, visual_dim],
        }
    if name == "concept":
        return {
            "sources": ["concept", "text"],
            "weight": weight,
            "relations": ["depicts"],
            "hops": 1,
            "decay": 1.0,
            "center": False,
        }
    return {  # hierarchy
        "sources": ["concept"],
        "weight": weight,
        "relations": [PREDICTION_RELATION],
        "hops": 1,
        "center": False,
        "codes": 256,
    }


def channels_readout(built: BuiltGraph, *weights: float) -> dict[str, Any]:
    """The benchmark's graph channels (:func:`bench_channels`) as a ``channels`` readout."""
    return {"name": "channels", "channels": bench_channels(built, *weights)}


def with_readout(model: ModelConfig, readout: dict[str, Any]) -> ModelConfig:
    """``model`` with one more readout, applied after its own."""
    return dataclasses.replace(model, readouts=[*model.readouts, readout])


def readout_variants(
    model: HeteroAligner,
    x_dict: dict[str, torch.Tensor],
    edge_index_dict: dict[Any, torch.Tensor],
    name: str,
    variants: dict[str, tuple[bool | list[int], bool]],
) -> dict[str, dict[str, torch.Tensor]]:
    """Rows from one trained model with readouts composed differently: message passing runs once.

    ``name`` is the model as trained (every readout); each variant keeps every
    readout but the channels, and of the channels none (``False``) or those whose
    indices it lists.
    """
    learned = model(x_dict, edge_index_dict, readouts=False)
    for readout_name, readout in model.readouts.items():
        if readout_name != "channels":
            learned = readout(learned, x_dict, edge_index_dict)
    channels = model.readouts["channels"]
    rows = {name: channels(learned, x_dict, edge_index_dict)}
    for row, (select, _) in variants.items():
        rows[row] = learned if select is False else channels(learned, x_dict, edge_index_dict, select=select)
    return rows


def trained_method(
    name: str,
    model: ModelConfig | Callable[[BuiltGraph], ModelConfig],
    train: TrainConfig,
    features: str = "base",
    uses_graph: bool | None = None,
    variants: dict[str, tuple[bool | list[int], bool]] | None = None,
    run: RunConfig | None = None,
) -> Method:
    """A method that trains ``model`` (or ``model(built)``, for settings that depend on the graph) with ``train``.

    Args:
        run: Runtime settings of training (the progress bar is always off).
        variants: More rows from the same trained model: ``row name → (channels,
            uses graph)``, where ``channels`` is ``False`` (the model without its
            channels readout) or the indices of the graph channels to keep
            (:func:`readout_variants`).
    """

    def embed(built: BuiltGraph, protocol: ProtocolSplit, seed: int) -> Any:
        config = dataclasses.replace(train, seed=seed)
        split = with_label_free_edges(built, protocol.split)
        settings = dataclasses.replace(run or RunConfig(), progress=False)
        result = fit(built, model(built) if callable(model) else model, config, split=split, run=settings)
        if not variants:
            return embed_nodes(result.model, built, split)
        result.model.eval()
        data = message_passing_data(built, split, inference=True)
        with torch.no_grad():
            return readout_variants(result.model, data.x_dict, data.edge_index_dict, name, variants)

    if uses_graph is None:
        channels = [] if callable(model) else (model.readout("channels") or {}).get("channels", [])
        uses_graph = callable(model) or model.num_layers > 0 or any(c["hops"] > 0 for c in channels)
    rows = None if not variants else {**{row: graph for row, (_, graph) in variants.items()}, name: uses_graph}
    return Method(name, embed, uses_graph=uses_graph, features=features, rows=rows)


def default_methods(
    epochs: int = 40,
    batch_size: int = 256,
    mode: str = "full",
    steps_per_epoch: int | None = None,
    knn: int = 0,
    plain: bool = False,
    eval_every: int = 1,
    num_neighbors: list[int] | None = None,
    patience: int = 8,
    channels: bool = True,
    losses: tuple[str, ...] = ("infonce", "triplet"),
    convs: tuple[str, ...] = ("gatv2", "rgcn"),
    channel_weights: tuple[float, ...] = (1.0, 1.0, 0.0, 1.0, 0.5),
    inherit: bool = True,
) -> list[Method]:
    """The methods of the benchmark table (training settings shared by all trained ones).

    Every trained ``+ prior`` method runs on ConSE + EfficientNet features
    (graph ``"conse+visual"``) with the prior residual. With ``channels``, one
    training run gives two rows: the model with its graph channels, and its
    learned part alone (same weights, early-stopped on the validation MRR with
    the channels), and with more than two channels also without each one.

    Args:
        epochs, batch_size, mode, steps_per_epoch, eval_every, num_neighbors, patience:
            :class:`TrainConfig` settings of every trained method.
        knn: With ``k > 0``, also graphalign GATv2 + prior on the graph with
            label-free ``similar_to`` edges from each image to the ``k`` concepts
            closest to its ConSE vector (features ``"conse+knn"``, see
            :func:`benchmark_graphs`).
        plain: Also the variants on the default encoders' features without the
            prior residual (graph ``"base"``).
        channels: Graph channels (:func:`bench_channels`): graphalign + prior +
            channels, and the two towers + prior with the same prior channel
            (which uses no edge), each also reported without them.
        losses, convs: The losses and message-passing layers to run.
        channel_weights: Weights of the prior, text, visual, concept and hierarchy
            channels (:func:`bench_channels`; the towers get the prior channel alone). With
            more than two channels, graphalign is also reported without each
            channel (leave-one-out rows from the same run).
        inherit: graphalign's concepts without images inherit the learned
            embeddings of their relatives with images over ``is_a`` / ``part_of``
            (:mod:`graphalign.nn.inherit`; evaluation only, part of every
            graphalign row, "learned part alone" included).
    """
    plain_model = dict(hidden_dim=256, out_dim=128, dropout=0.1)
    prior = dict(hidden_dim=256, out_dim=384, dropout=0.1, head="prior", head_kwargs={"scale": 0.2})
    gnn_prior = dict(prior, readouts=[{"name": "inherit"}] if inherit else [])
    methods = [
        Method("no training (ConSE)", conse_embeddings),
        Method("1-NN label transfer", lambda b, p, s: {}, nearest_neighbour=True),
    ]
    # isolate_nodes: held-out images and texts have no edges at test time, so
    # training cuts 30% of them off at every step (no effect on the towers).
    sampler: dict[str, Any] = {"name": mode, "steps_per_epoch": steps_per_epoch, "isolate_nodes": 0.3}
    if SAMPLERS.get(mode) is NeighborSampling:
        sampler["num_neighbors"] = num_neighbors or [15, 10]
    # deterministic: the same seed gives the same table (multi-threaded sums over edges otherwise drift).
    run = RunConfig(progress=False, deterministic=True)
    shared = dict(epochs=epochs, batch_size=batch_size, patience=patience, negatives=-1, eval_every=eval_every)
    for loss in losses:
        train = TrainConfig(loss=loss, sampler=sampler, **shared)
        # The towers pass no messages: full-batch steps are cheap, and every
        # node of the target type is a negative (mini-batches would only sample).
        full = {"name": "full", "steps_per_epoch": steps_per_epoch, "isolate_nodes": 0.3}
        towers = dataclasses.replace(train, sampler=full)
        if plain:
            methods += _plain_methods(loss, train, towers, convs, plain_model, run)
        methods.append(_prior_towers(loss, towers, prior, channel_weights if channels else None, run))
        for conv in convs:
            methods.append(_graphalign_prior(loss, conv, train, gnn_prior, channel_weights if channels else None, run))
        if knn > 0:
            model = ModelConfig(conv="gatv2", num_layers=2, **gnn_prior)
            methods.append(
                trained_method(f"graphalign gatv2 + prior + kNN ({loss})", model, train, "conse+knn", run=run)
            )
    return methods


def _plain_methods(
    loss: str,
    train: TrainConfig,
    towers: TrainConfig,
    convs: tuple[str, ...],
    settings: dict[str, Any],
    run: RunConfig,
) -> list[Method]:
    """The two towers and graphalign on the default encoders' features, without the prior."""
    methods = [trained_method(f"two towers ({loss})", ModelConfig(num_layers=0, **settings), towers, run=run)]
    for conv in convs:
        model = ModelConfig(conv=conv, num_layers=2, **settings)
        methods.append(trained_method(f"graphalign {conv} ({loss})", model, train, run=run))
    return methods


def _prior_towers(
    loss: str, towers: TrainConfig, prior: dict[str, Any], channel_weights: tuple[float, ...] | None, run: RunConfig
) -> Method:
    """The two towers + prior (with ``channel_weights``: and the prior channel, reported without it too)."""
    features = "conse+visual"
    if channel_weights is None:
        return trained_method(
            f"two towers + prior ({loss})", ModelConfig(num_layers=0, **prior), towers, features, run=run
        )
    return trained_method(
        f"two towers + prior + prior channel ({loss})",
        lambda built: ModelConfig(
            num_layers=0, readouts=[channels_readout(built, channel_weights[0], 0.0, 0.0, 0.0)], **prior
        ),
        towers,
        features,
        uses_graph=False,
        variants={f"two towers + prior ({loss})": (False, False)},
        run=run,
    )


def _graphalign_prior(
    loss: str,
    conv: str,
    train: TrainConfig,
    gnn_prior: dict[str, Any],
    channel_weights: tuple[float, ...] | None,
    run: RunConfig,
) -> Method:
    """graphalign ``conv`` + prior (with ``channel_weights``: + channels, also without each channel and without any)."""
    features = "conse+visual"
    if channel_weights is None:
        model = ModelConfig(conv=conv, num_layers=2, **gnn_prior)
        return trained_method(f"graphalign {conv} + prior ({loss})", model, train, features, run=run)
    # Leave-one-out rows: the same trained model without each channel, and without any.
    variants: dict[str, tuple[bool | list[int], bool]] = {f"graphalign {conv} + prior ({loss})": (False, True)}
    present = [n for n, w in zip(CHANNEL_NAMES, channel_weights) if w > 0]
    for dropped in present if len(present) > 1 else ():
        kept = [i for i, n in enumerate(present) if n != dropped]
        variants[f"graphalign {conv} + prior + channels, no {dropped} channel ({loss})"] = (kept, True)
    return trained_method(
        f"graphalign {conv} + prior + channels ({loss})",
        lambda built: with_readout(
            ModelConfig(conv=conv, num_layers=2, **gnn_prior), channels_readout(built, *channel_weights)
        ),
        train,
        features,
        uses_graph=True,
        variants=variants,
        run=run,
    )


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
    results = {}
    subsets = {"all": torch.ones(query.pairs.size(1), dtype=torch.bool), **query.groups}
    for subset, mask in subsets.items():
        if int(mask.sum()) == 0:
            continue
        pairs = query.pairs[:, mask]
        if scores is not None:  # a method that scores directly
            q, c = scores, torch.eye(scores.size(1))
            metrics = evaluate_ranking(q, c, pairs[0], pairs[1], known_pairs=query.known.t(), similarity="dot")
        else:
            assert embeddings is not None
            metrics = evaluate_ranking(
                embeddings[query.query_type],
                embeddings[query.cand_type],
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
    seconds: dict[str, float] = field(default_factory=dict)
    counts: list[dict[str, int]] = field(default_factory=list)

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
    seeds: tuple[int, ...] = (0, 1, 2),
    progress: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    """Runs every method on every seed's protocol split.

    Args:
        graphs: The same graph with different node features, by name (``"base"``
            is required; the split is drawn on it).
        methods: The methods (default :func:`default_methods`).
        seeds: One protocol split and one training seed each.
        progress: Called with one line per finished method.
    """
    methods = methods or default_methods()
    built = graphs["base"]
    result = BenchmarkResult(graph_methods={row for m in methods for row, graph in m.row_names().items() if graph})
    for seed in seeds:
        protocol = make_protocol_split(built, seed)
        result.counts.append(protocol.counts)
        for method in methods:
            started = time.perf_counter()
            graph = graphs[method.features]
            output = None if method.nearest_neighbour else method.embed(graph, protocol, seed)
            by_row = {method.name: output} if method.rows is None else output
            for row, embeddings in by_row.items():
                for name, query in protocol.queries.items():
                    if name.startswith("val:"):
                        continue
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
    """A markdown table: one row per method, one column group per protocol."""
    protocols = sorted({p for (_, p, s) in result.rows if s == subset})
    methods = list(dict.fromkeys(m for (m, _, _) in result.rows))
    summaries = {metric: result.summary(metric) for metric in metrics}
    header = "| method | " + " | ".join(f"{p} {m}" for p in protocols for m in metrics) + " |"
    lines = [header, "|---|" + "---:|" * (len(protocols) * len(metrics))]
    for method in methods:
        cells = []
        for protocol in protocols:
            for metric in metrics:
                value = summaries[metric].get((method, protocol, subset))
                cells.append("-" if value is None else f"{value[0]:.3f} ± {value[1]:.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(result: BenchmarkResult, path: Path) -> None:
    """One row per (method, protocol, subset, seed) with every metric."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["method", "protocol", "subset", "seed_index", "mrr", "hits@1", "hits@3", "hits@10", "mean_rank", "count"]
        )
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


def best_comparison(result: BenchmarkResult, protocols: list[str], subset: str = "all") -> list[dict[str, Any]]:
    """Per protocol: the best graph method vs. the best non-graph method (mean MRR).

    ``target_met``: at least 10% higher relative MRR, and the difference of the
    means larger than the two seed standard deviations together. ``per_seed``:
    the relative difference on each seed (same split for both methods).
    """
    summary = result.summary("mrr")
    rows = []
    for protocol in protocols:
        entries = {(m): v for (m, p, s), v in summary.items() if p == protocol and s == subset}
        if not entries:
            continue
        graph = {m: v for m, v in entries.items() if m in result.graph_methods}
        other = {m: v for m, v in entries.items() if m not in result.graph_methods}
        if not graph or not other:
            continue
        bg = max(graph, key=lambda m: graph[m][0])
        bo = max(other, key=lambda m: other[m][0])
        relative = graph[bg][0] / max(other[bo][0], 1e-9) - 1
        beyond_spread = graph[bg][0] - other[bo][0] > graph[bg][1] + other[bo][1]
        per_seed = [
            g["mrr"] / max(o["mrr"], 1e-9) - 1
            for g, o in zip(result.rows[(bg, protocol, subset)], result.rows[(bo, protocol, subset)])
        ]
        rows.append(
            {
                "protocol": protocol,
                "graph": bg,
                "graph_mrr": graph[bg],
                "baseline": bo,
                "baseline_mrr": other[bo],
                "relative": relative,
                "per_seed": per_seed,
                "target_met": relative >= 0.10 and beyond_spread,
            }
        )
    return rows


HEADLINE_PROTOCOLS = ["a:image->concept", "c:zero-shot image->concept", "b:text->image"]
"""The protocols on which graphalign must beat the best non-graph method."""


def benchmark_graphs(
    data_dir: str | Path, config: Any = None, knn: int = 0, predictions: int = 3
) -> dict[str, BuiltGraph]:
    """The dataset with the node features the methods run on.

    ``"base"``: the default encoders (ConSE and 1-NN read it, and the protocol
    split is drawn on it); ``"conse+visual"``: images as the image encoder's
    features followed by their ConSE vector in the text space (``mode="concat"``),
    for every trained ``+ prior`` method; with ``knn > 0`` also ``"conse"``
    (ConSE image features) and ``"conse+knn"``: that graph plus label-free edges
    from each image to its ``knn`` closest concepts. With ``predictions > 0``,
    ``"conse+visual"`` also has label-free ``predicted_as`` edges from each image
    to the concepts its top ``predictions`` ImageNet classes lead to
    (:func:`~graphalign.features.wordnet_predictions.add_prediction_edges`), when
    the concepts are WordNet synsets (otherwise none, with a log line).
    """
    from graphalign.features.featurize import GraphConfig
    from graphalign.features.store import build_graph

    config = config or GraphConfig(progress=False)
    base, _ = build_graph(data_dir, config)
    conse_config = GraphConfig(
        **{
            **config.to_dict(),
            "image_encoder": "conse",
            "image_encoder_kwargs": {
                "text_encoder": config.text_encoder,
                "text_encoder_kwargs": config.text_encoder_kwargs,
            },
        }
    )
    visual_config = GraphConfig(
        **{**conse_config.to_dict(), "image_encoder_kwargs": {**conse_config.image_encoder_kwargs, "mode": "concat"}}
    )
    graphs = {"base": base}
    graphs["conse+visual"], _ = build_graph(data_dir, visual_config)
    if predictions > 0:
        try:
            graphs["conse+visual"] = add_prediction_edges(graphs["conse+visual"], predictions)
        except ConfigError as error:
            logger.info("no ImageNet prediction edges (the hierarchy channel stays empty): %s", error)
    if knn > 0:
        from graphalign.features.knn import add_knn_edges

        graphs["conse"], _ = build_graph(data_dir, conse_config)
        graphs["conse+knn"] = add_knn_edges(graphs["conse"], "image", knn, target_type="concept")
    return graphs


def make_plots(graphs: dict[str, BuiltGraph], out: Path, name: str, epochs: int = 40, seed: int = 0) -> list[Path]:
    """The 2-D map before (pretrained, ConSE) and after alignment, and training curves."""
    from graphalign.benchmark.plots import plot_space_map, plot_training_curves

    protocol = make_protocol_split(graphs["base"], seed)
    before = conse_embeddings(graphs["base"], protocol, seed)
    histories = {}
    after = None
    for label, conv in (("gatv2 + prior", "gatv2"), ("rgcn + prior", "rgcn")):
        model = ModelConfig(
            conv=conv, hidden_dim=256, out_dim=384, dropout=0.1, head="prior", head_kwargs={"scale": 0.2}
        )
        result = fit(
            graphs["conse+visual"],
            model,
            TrainConfig(epochs=epochs, patience=epochs, negatives=-1, seed=seed),
            split=protocol.split,
            run=RunConfig(progress=False),
        )
        histories[label] = result.history
        if after is None:
            result.model.eval()
            data = message_passing_data(graphs["conse+visual"], protocol.split, inference=True)
            with torch.no_grad():
                after = result.model(data.x_dict, data.edge_index_dict)
    return [
        plot_space_map(
            graphs["base"], before, out / f"map-{name}-before.png", "images before alignment (ConSE, pretrained)", seed
        ),
        plot_space_map(
            graphs["base"],
            after,
            out / f"map-{name}-after.png",
            "images after alignment (graphalign gatv2 + prior)",
            seed,
        ),
        plot_training_curves(histories, out / f"curves-{name}.png"),
    ]
