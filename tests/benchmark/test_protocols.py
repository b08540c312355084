from __future__ import annotations

import pytest
import torch

from graphalign.benchmark.protocols import _stem, make_protocol_split
from graphalign.benchmark.quality import (
    Method,
    best_comparison,
    conse_embeddings,
    format_table,
    run_benchmark,
    trained_method,
)
from graphalign.features.build import build_graph
from graphalign.features.knn import add_knn_edges
from graphalign.nn import ModelConfig
from graphalign.training import TrainConfig


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from graphalign.features.featurize import GraphConfig
    from graphalign.testing import make_toy_dataset

    root = tmp_path_factory.mktemp("bench")
    data = make_toy_dataset(root / "data", images_per_concept=6)
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 64},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(root / "cache"),
    )
    return add_knn_edges(build_graph(data, config)[0], "image", k=2)


def test_heldout_images_keep_only_label_free_edges(toy):
    protocol = make_protocol_split(toy, seed=0)
    held = set(protocol.split.heldout["test"]["image"].tolist()) | set(protocol.split.heldout["val"]["image"].tolist())
    assert held
    for (src, rel, dst), edges in protocol.split.edges["message_passing"].items():
        for side, node_type in ((0, src), (1, dst)):
            if node_type == "image" and rel != "similar_to":
                assert not held & set(edges[side].tolist()), (src, rel, dst)
            if node_type == "image" and rel == "similar_to":
                assert held & set(edges[side].tolist())  # feature edges stay for held-out images
    for part in ("supervision",):
        depicts = protocol.split.edges[part][("image", "depicts", "concept")]
        assert not held & set(depicts[0].tolist())


def test_zero_shot_concepts_have_no_training_image(toy):
    protocol = make_protocol_split(toy, seed=1)
    zs = protocol.queries["c:zero-shot image->concept"]
    train = protocol.split.edges["supervision"][("image", "depicts", "concept")]
    assert zs.pairs.size(1) > 0
    assert not set(zs.pairs[1].tolist()) & set(train[1].tolist())
    assert not zs.groups["seen"].any()


def test_validation_queries_read_no_test_link_and_rank_no_test_image(toy):
    protocol = make_protocol_split(toy, seed=0)
    queries = protocol.queries
    test_images = set(queries["a:image->concept"].pairs[0].tolist()) | set(
        queries["c:zero-shot image->concept"].pairs[0].tolist()
    )
    assert test_images
    for name in ("val:image->concept", "val:zero-shot image->concept"):  # concepts ranked: no test image known
        assert not test_images & set(queries[name].known[0].tolist()), name
    assert queries["val:concept->image"].pairs.size(1) + queries["val:text->image"].pairs.size(1) > 0
    for name in ("val:concept->image", "val:text->image"):  # images ranked: every test image filtered, for all
        query = queries[name]
        known = set(map(tuple, query.known.t().tolist()))
        assert all((q, i) in known for q in query.pairs[0].unique().tolist() for i in test_images), name
    # the test rankings still filter every link, validation's and the test's
    assert test_images <= set(queries["a:concept->image"].known[1].tolist())
    val_images = set(queries["val:image->concept"].pairs[0].tolist())
    assert val_images <= set(queries["a:concept->image"].known[1].tolist())


def test_protocol_split_is_seeded(toy):
    a, b = make_protocol_split(toy, 3), make_protocol_split(toy, 3)
    assert all((a.queries[k].pairs == b.queries[k].pairs).all() for k in a.queries)


def test_copies_of_a_heldout_description_are_dropped(tmp_path):
    """en-GB / en-AU descriptions that repeat a held-out English one are neither queried, trained on nor passed."""
    from graphalign.features.featurize import GraphConfig
    from graphalign.graph.io import save_dataset
    from graphalign.testing import make_toy_graph

    graph = make_toy_graph(tmp_path / "data", images_per_concept=4, texts_per_image=1)
    originals = [(n.id, n.text) for n in graph.nodes("text")]
    for text_id, text in originals:
        image = next(e.tail for e in graph.edges if e.head == text_id)
        graph.add_text(f"{text_id}:gb", text=text, language="en-GB")
        graph.add_edge(f"{text_id}:gb", "describes", image)
        graph.add_text(f"{text_id}:fr", text=f"une image: {text}", language="fr")
        graph.add_edge(f"{text_id}:fr", "describes", image)
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 32},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(tmp_path / "cache"),
    )
    built, _ = build_graph(save_dataset(graph, tmp_path / "data"), config)
    protocol = make_protocol_split(built, seed=0)
    ids = built.index.ids["text"]
    queries = [ids[r] for r in protocol.queries["b:text->image"].pairs[0].tolist()]
    assert queries and all(not q.endswith((":gb", ":fr")) for q in queries)
    cross = [ids[r] for r in protocol.queries["e:cross-language text->image"].pairs[0].tolist()]
    assert cross and all(q.endswith(":fr") for q in cross)
    assert protocol.counts["dropped_description_copies"] >= len(queries)  # at least each query's en-GB copy
    describes = ("text", "describes", "image")
    visible = {
        ids[r] for part in ("message_passing", "supervision") for r in protocol.split.edges[part][describes][0].tolist()
    }
    for query in queries:
        assert f"{query}:gb" not in visible and query not in visible


def test_images_sharing_a_description_are_all_true_answers(tmp_path):
    """Two stamp variants carry the same English text: a query of one counts the other as known (filtered ranking)."""
    from graphalign.features.featurize import GraphConfig
    from graphalign.graph.io import save_dataset
    from graphalign.testing import make_toy_graph

    graph = make_toy_graph(tmp_path / "data", images_per_concept=4, texts_per_image=1)
    texts = list(graph.nodes("text"))
    image_of = {e.head: e.tail for e in graph.edges if e.relation == "describes"}
    first, second = texts[0], texts[1]
    graph.add_text(f"{second.id}:same", text=f"  {first.text.upper()} ", language="en")  # same text up to case/space
    graph.add_edge(f"{second.id}:same", "describes", image_of[second.id])
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 32},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(tmp_path / "cache"),
    )
    built, _ = build_graph(save_dataset(graph, tmp_path / "data"), config)
    text_ids, image_ids = built.index.ids["text"], built.index.ids["image"]
    checked = 0
    for seed in range(8):
        query = make_protocol_split(built, seed=seed).queries["b:text->image"]
        known = {(text_ids[t], image_ids[i]) for t, i in query.known.t().tolist()}
        assert (first.id, image_of[first.id]) in known
        assert (first.id, image_of[second.id]) in known and (f"{second.id}:same", image_of[first.id]) in known
        assert (second.id, image_of[first.id]) not in known  # a different text stays a wrong answer
        protocol = make_protocol_split(built, seed=seed)
        queried = {
            text_ids[t]
            for q in ("b:text->image", "val:text->image")
            if q in protocol.queries
            for t in protocol.queries[q].pairs[0].tolist()
        }
        visible = {
            text_ids[t]
            for part in ("message_passing", "supervision")
            for t in protocol.split.edges[part][("text", "describes", "image")][0].tolist()
        }
        if queried & {first.id, f"{second.id}:same"}:  # the query's text is nowhere in training, on no image
            assert not visible & {first.id, f"{second.id}:same"}
            checked += 1
    assert checked


def test_stem_groups_variants():
    assert _stem("rabbit-2") == _stem("rabbit") == "rabbit"
    assert _stem("fireman240a") == "fireman"


def test_benchmark_runs_every_method_on_toy(toy):
    graphs = {"base": toy, "default": toy}
    methods = [
        Method("1-NN label transfer", lambda b, p, s: {}, nearest_neighbour=True),
        trained_method(
            "two towers (infonce)",
            ModelConfig(num_layers=0, propagate=None, hidden_dim=16, out_dim=8, readouts=[]),  # reads no edge
            TrainConfig(epochs=2),
        ),
        trained_method(
            "graphalign sage (infonce)",
            ModelConfig(conv="sage", num_layers=2, propagate=None, hidden_dim=16, out_dim=8),
            TrainConfig(epochs=2),
        ),
    ]
    result = run_benchmark(graphs, methods, seeds=(0, 1))
    assert len(result.rows[("graphalign sage (infonce)", "a:image->concept", "all")]) == 2
    assert result.seeds == [0, 1] and len(result.counts) == 2
    table = format_table(result)
    assert "| 1-NN label transfer |" in table and "a:image->concept mrr" in table
    rows = best_comparison(result, ["a:image->concept"])
    assert rows and rows[0]["graph"] == "graphalign sage (infonce)"
    assert conse_embeddings is not None


def test_plots_are_written(toy, tmp_path):
    pytest.importorskip("sklearn", reason="maps need scikit-learn (graphalign[plot])")
    pytest.importorskip("matplotlib", reason="plots need matplotlib (graphalign[plot])")
    from graphalign.benchmark.plots import plot_space_map, plot_training_curves

    embeddings = {"image": toy.features["image"]}
    path = plot_space_map(toy, embeddings, tmp_path / "map.png", "toy")
    curves = plot_training_curves(
        {"a": [{"epoch": 1, "loss": 2.0, "val_mrr": 0.1}, {"epoch": 2, "loss": 1.0, "val_mrr": 0.2}]},
        tmp_path / "curves.png",
    )
    assert path.stat().st_size > 1000 and curves.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_comparison_needs_ten_percent_an_interval_above_zero_and_every_seed():
    from graphalign.benchmark.quality import BenchmarkResult

    def result(graph_runs, other_runs, protocol="c:zero-shot image->concept"):
        r = BenchmarkResult(graph_methods={"g"})
        r.rows[("g", protocol, "all")] = [{"mrr": v} for v in graph_runs]
        r.rows[("o", protocol, "all")] = [{"mrr": v} for v in other_runs]
        return best_comparison(r, [protocol])[0]

    clear = result([0.50, 0.52, 0.51], [0.40, 0.41, 0.39])
    expected = [0.50 / 0.40 - 1, 0.52 / 0.41 - 1, 0.51 / 0.39 - 1]
    assert clear["difference"].mean == pytest.approx(sum(expected) / 3) and clear["target_met"]
    assert clear["difference"].won == 3 and clear["difference"].low > 0
    noisy = result([0.70, 0.30, 0.53], [0.40, 0.41, 0.39])  # +28% on average, one seed lost, interval below 0
    assert noisy["difference"].mean > 0.10 and noisy["difference"].low < 0 and not noisy["target_met"]
    small = result([0.43, 0.43, 0.43], [0.40, 0.40, 0.40])  # every seed, but only +7.5%
    assert not small["target_met"]
    level = result([0.395, 0.40, 0.40], [0.40, 0.40, 0.40], protocol="b:text->image")  # floor of -2%
    assert level["target_met"] and str(level["target"]) == ">= -2%"
    worse = result([0.38, 0.38, 0.38], [0.40, 0.40, 0.40], protocol="b:text->image")
    assert not worse["target_met"]
    edge = result([0.39196, 0.39196], [0.40, 0.40], protocol="b:text->image")  # -2.01%: one decimal reads -2.0%
    assert not edge["target_met"] and edge["target"].format_mean(edge["difference"]) == "-2.01%"
    assert level["target"].format_mean(level["difference"]) == "-0.4%"  # one decimal where it tells the side
    one_seed = result([0.60], [0.40])  # +50%, but one seed has no interval to lie above zero
    assert one_seed["difference"].low is None and not one_seed["target_met"]


def test_knn_method_trains_on_label_free_candidate_edges(toy):
    import dataclasses

    from graphalign.benchmark.quality import with_label_free_edges

    knn = ("image", "similar_to", "image")
    protocol = make_protocol_split(toy, seed=0)
    assert protocol.split.edges["message_passing"][knn].size(1) == 2 * toy.index.num_nodes("image")
    assert knn not in protocol.split.edges["supervision"] and knn not in protocol.split.aligned_edge_types
    # A split drawn without the kNN edges (as on the plain graph) gets all of them back.
    edges = {part: {et: e for et, e in parts.items() if et != knn} for part, parts in protocol.split.edges.items()}
    split = with_label_free_edges(toy, dataclasses.replace(protocol.split, edges=edges))
    assert torch.equal(split.edges["message_passing"][knn], protocol.split.edges["message_passing"][knn])
    assert with_label_free_edges(toy, protocol.split) is protocol.split


def test_the_benchmark_row_of_graphalign_is_the_default_configuration():
    """The row that counts trains ModelConfig() with TrainConfig(); other graphalign rows say they are ablations."""
    from graphalign.benchmark.quality import BEST_ROW, DEFAULT_CHANNEL_NAMES, default_methods
    from graphalign.nn.hetero_gnn import DEFAULT_READOUTS

    methods = {m.name: m for m in default_methods()}
    rows = {row: graph for m in methods.values() for row, graph in m.row_names().items()}
    assert BEST_ROW in rows and rows[BEST_ROW]
    assert {"no training (ConSE)", "1-NN label transfer", "two towers"} <= set(rows)
    assert all(row.startswith("ablation: ") for row, graph in rows.items() if graph and row != BEST_ROW)
    assert not rows["two towers"] and not rows["two towers, learned part alone"]
    best = methods[BEST_ROW].embed.__closure__  # the configs the row trains with
    configs = [cell.cell_contents for cell in best if isinstance(cell.cell_contents, (ModelConfig, TrainConfig))]
    assert ModelConfig() in configs and TrainConfig() in configs
    # The leave-one-out rows name the default channels in the order of DEFAULT_READOUTS.
    channels = next(r["channels"] for r in DEFAULT_READOUTS if r["name"] == "channels")
    assert len(channels) == len(DEFAULT_CHANNEL_NAMES)
    relations = [c.get("relations") for c in channels]
    assert relations[1:] == [["describes"], ["depicts"], ["predicted_as"]] and channels[0]["hops"] == 0
    for name in DEFAULT_CHANNEL_NAMES:
        assert f"ablation: graphalign, no {name} channel" in rows


def test_letters_and_flags_of_any_recipe_are_left_out_of_the_no_letters_subset():
    from graphalign.benchmark.protocols import is_letter_stamp

    assert is_letter_stamp({"category": "symbols/alphabets/latin"})  # Tux Paint
    assert is_letter_stamp({"kind": "flag"}) and is_letter_stamp({"kind": "letter"})  # Open Clip Art
    assert not is_letter_stamp({"category": "animals/birds"}) and not is_letter_stamp({"kind": "drawing"})


def test_the_benchmark_runs_on_a_graph_without_texts_or_letters(tmp_path):
    """A dataset folder it has never seen: no descriptions, no letter stamps; the protocols that
    apply run, the others and the Tux Paint subsets are left out of the report."""
    from graphalign.benchmark.report import render_report
    from graphalign.testing import fast_graph_config, make_toy_dataset

    data = make_toy_dataset(tmp_path / "data", images_per_concept=6, texts_per_image=0)
    built = build_graph(data, fast_graph_config())[0]
    assert "text" not in built.features
    methods = [
        Method("1-NN label transfer", lambda b, p, s: {}, nearest_neighbour=True),
        trained_method(
            "graphalign sage",
            ModelConfig(num_layers=2, propagate=None, conv="sage", hidden_dim=16, out_dim=8),
            TrainConfig(epochs=1),
        ),
    ]
    result = run_benchmark({"base": built, "default": built}, methods, seeds=(0, 1))
    protocols = {p for (_, p, _) in result.rows}
    assert {"a:image->concept", "a:concept->image", "c:zero-shot image->concept"} <= protocols
    assert not any("text" in p for p in protocols)
    assert not any(s == "no_letters" for (_, _, s) in result.rows)
    report = render_report(result, "toy", "graphalign bench data", 1.0, 2)
    assert "letter" not in report and "| a:concept->image | graphalign sage |" in report
