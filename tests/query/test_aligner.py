from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from graphalign.data.split import SplitConfig
from graphalign.errors import ConfigError, EncoderError, GraphAlignError, GraphValidationError
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig
from graphalign.nn import ModelConfig
from graphalign.query import Aligner
from graphalign.testing import TOY_CONCEPTS, make_toy_graph
from graphalign.training.trainer import TrainConfig, fit


@pytest.fixture(scope="module")
def aligner(tmp_path_factory):
    root = tmp_path_factory.mktemp("q")
    config = GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 64},
        image_encoder="color-histogram",
        progress=False,
        cache_dir=str(root / "cache"),
    )
    built, _ = build_graph(make_toy_graph(root / "data", images_per_concept=6), config)
    model = ModelConfig(num_layers=2, propagate=None, hidden_dim=32, out_dim=16, conv="sage", dropout=0.0)
    # no validation part: the last of the 40 epochs is kept (the tests are about querying, not early stopping)
    fit(
        built,
        model,
        TrainConfig(epochs=40, batch_size=32, patience=100),
        SplitConfig(val_fraction=0.0),
        run_dir=root / "run",
    )
    return Aligner.load(root / "run")


def _training_image(aligner, concept: str) -> str:
    """An image whose ``depicts`` edge to ``concept`` is a training edge (held-out images have none)."""
    index = aligner.node_index
    concept_row = index.ids["concept"].index(concept)
    edges = aligner.run.split.inference_edges(add_reverse=False)[("image", "depicts", "concept")]
    return index.ids["image"][int(edges[0][edges[1] == concept_row][0])]


def test_neighbors_filtered_by_type_with_scores(aligner):
    cat = _training_image(aligner, "c:cat")
    results = aligner.neighbors(cat, k=3, type="concept")
    assert len(results) == 3 and all(r.type == "concept" for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert results[0].id == "c:cat"
    everything = aligner.neighbors(cat, k=5)
    assert cat not in [r.id for r in everything]
    assert {r.type for r in aligner.neighbors("c:dog", k=40, type=["image", "text"])} == {"image", "text"}


def test_neighbors_scores_are_cosines(aligner):
    (best,) = aligner.neighbors("i:dog:1", k=1, type="concept")
    expected = float(aligner.embedding("i:dog:1") @ aligner.embedding(best.id))
    assert best.score == pytest.approx(expected, abs=1e-5)


def test_graph_neighbors(aligner):
    one = aligner.graph_neighbors("c:cat", hops=1)
    assert {(n.id, n.relation, n.direction) for n in one if n.type == "concept"} == {("c:animal", "is_a", "out")}
    assert sum(n.type == "image" for n in one) == 6
    two = aligner.graph_neighbors("c:cat", hops=2)
    assert {n.id for n in two if n.hops == 2} >= {"c:entity", "c:dog", "t:cat:0:0"}
    assert all(n.id != "c:cat" for n in two)


def test_search_with_new_text_and_image(aligner, tmp_path):
    # A new image in the colour of 'dog' images: not in the graph.
    colour = TOY_CONCEPTS["animal"]["dog"]
    path = tmp_path / "new_dog.png"
    Image.new("RGB", (20, 20), colour).save(path)
    by_path = aligner.search(image=path, k=3, type="concept")
    by_pil = aligner.search(image=Image.new("RGB", (20, 20), colour), k=3, type="concept")
    assert [r.id for r in by_path] == [r.id for r in by_pil]
    assert "c:dog" in [r.id for r in by_path]
    texts = aligner.search(text="this is a horse", k=5, type="text")
    assert texts and all(r.type == "text" for r in texts)
    # A new text lives in the space of the graph's nodes (16 learned dimensions + the default channels).
    assert aligner.embed_new(text="a new caption").shape == aligner.embedding("c:dog").shape
    assert aligner.embedding("c:dog").shape[0] > 16


def test_query_errors(aligner):
    with pytest.raises(GraphValidationError, match="unknown node id 'nope'"):
        aligner.neighbors("nope")
    with pytest.raises(GraphValidationError, match=r"a node id is a string, got list \['c:cat'\]"):
        aligner.neighbors(["c:cat"])
    with pytest.raises(GraphValidationError, match="unknown or empty node type 'video'"):
        aligner.neighbors("c:cat", type="video")
    with pytest.raises(GraphAlignError, match="exactly one of"):
        aligner.search()
    with pytest.raises(GraphValidationError, match="query text is empty"):
        aligner.search(text="  ")
    with pytest.raises(GraphValidationError, match=r"no visible characters \(only U\+200B\)"):
        aligner.search(text="\u200b")
    with pytest.raises(ConfigError, match=r"text must be one string, got list \['a', 'b'\]"):
        aligner.search(text=["a", "b"])
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(buffer, format="PNG")
    with pytest.raises(EncoderError) as raised:  # an image's bytes: a short message, not the bytes
        aligner.search(image=buffer.getvalue())
    assert str(raised.value).startswith(f"got {len(buffer.getvalue()):,} bytes, not an image: pass a file path")
    assert len(str(raised.value)) < 200
    with pytest.raises(EncoderError) as raised:  # pixels: how to make a PIL image of them, not the array
        aligner.search(image=np.zeros((32, 32, 3), np.uint8))
    assert str(raised.value).startswith("got a numpy.ndarray of shape (32, 32, 3), not an image: pass a file path")
    assert "PIL.Image.fromarray(array)" in str(raised.value) and len(str(raised.value)) < 250


def test_numpy_integers_and_one_type_name_are_taken(aligner, tmp_path):
    assert aligner.neighbors("c:cat", k=np.int64(3)) == aligner.neighbors("c:cat", k=3)
    assert aligner.graph_neighbors("c:cat", hops=np.int64(1)) == aligner.graph_neighbors("c:cat", hops=1)
    (path,) = aligner.export(tmp_path / "images.npz", types="image")  # one name, not its letters
    with np.load(path) as saved:
        assert set(saved["types"].tolist()) == {"image"} and len(saved["ids"]) == len(aligner.ids("image"))


def test_a_misspelled_index_or_a_path_fails_on_construction(aligner):
    with pytest.raises(ConfigError, match="unknown index 'fais'.*Did you mean 'faiss'"):
        Aligner(aligner.run, index="fais")
    with pytest.raises(ConfigError, match=r"load a run folder with Aligner.load\('runs/x'\)"):
        Aligner("runs/x")


def test_neighbors_rank_in_the_view_of_their_direction(aligner):
    run = aligner.run
    readout = run.model.readouts["channels"]
    scales = readout.get_scales(("concept", "image"))
    readout.set_scales(("concept", "image"), [0.0] * len(scales))  # concept -> image: the learned part alone
    try:
        del run._embeddings
        directed = Aligner(run)
        results = directed.neighbors("c:dog", k=5, type="image")
        query, candidates = directed.embeddings.pair("concept", "image")
        row = directed.node_index.ids["concept"].index("c:dog")
        expected = (candidates @ query[row]).topk(5)
        assert [r.score for r in results] == pytest.approx(expected.values.tolist(), abs=1e-5)
        assert [r.id for r in results] == [directed.node_index.ids["image"][i] for i in expected.indices.tolist()]
        stored = aligner.neighbors("c:dog", k=5, type="image")
        assert [r.score for r in results] != pytest.approx([r.score for r in stored], abs=1e-3)
        assert directed.neighbors("c:dog", k=5, type="text") == aligner.neighbors("c:dog", k=5, type="text")
    finally:
        readout.set_scales(("concept", "image"), scales)
        del run._embeddings


def test_search_by_type_gives_k_per_type_as_search_does(aligner):
    grouped = aligner.search_by_type(text="a picture of a dog", k=3)
    assert set(grouped) == {"concept", "text", "image"}
    for node_type, found in grouped.items():
        assert found == aligner.search(text="a picture of a dog", k=3, type=node_type)
    assert list(aligner.search_by_type(text="a dog", k=2, type="image")) == ["image"]


def test_linked_and_new_candidates_are_scored_in_their_own_view(aligner):
    from graphalign.nn.directions import LINKED, NEW, rescale

    run = aligner.run
    readout = run.model.readouts["channels"]
    direction = ("image", "text")
    linked = run.split.linked(*direction, len(aligner.node_index.ids["text"]))
    assert bool(linked.any()) and bool((~linked).any())  # held-out texts are new
    before = {state: readout.get_scales(direction, state) for state in (LINKED, NEW)}
    readout.set_scales(direction, [0.0] * len(before[LINKED]), state=LINKED)
    readout.set_scales(direction, [2.0] * len(before[NEW]), state=NEW)
    try:
        vars(run).pop("_embeddings", None)  # embedded again with these scales
        directed = Aligner(run)
        assert directed.embeddings.two_views(*direction)
        image = _training_image(directed, "c:dog")
        results = directed.neighbors(image, k=8, type="text")
        views = run.model.direction_multipliers()[direction]
        query = directed.embedding(image).unsqueeze(0)
        rows = directed.node_index.ids["text"]
        for result in results:
            row = rows.index(result.id)
            state = LINKED if bool(linked[row]) else NEW
            candidate = directed.embeddings["text"][row].unsqueeze(0)
            expected = float(rescale(query, views[state]) @ rescale(candidate, views[state]).T)
            assert result.score == pytest.approx(expected, abs=1e-5)
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    finally:
        for state, values in before.items():
            readout.set_scales(direction, values, state=state)
        vars(run).pop("_embeddings", None)  # embedded again with these scales


def test_image_to_concept_queries_add_the_exemplar_term(aligner, tmp_path):
    """With the term on (as calibration sets it), image → concept rankings score every concept exactly:
    the views' cosine plus the term, for the graph's images and for new ones."""
    import torch

    from graphalign.training.run import TrainedRun

    run = TrainedRun.load(aligner.run.run_dir)
    run.model.exemplars.weights.copy_(torch.tensor([0.5, 0.3]))
    run.model.exemplars.mean.copy_(run.built.features["image"].float().mean(0))
    with_term = Aligner(run)
    z = with_term.embeddings
    assert z.term("image", "concept") is not None and z.term("text", "concept") is None
    image = _training_image(aligner, "c:cat")
    row = with_term.node_index.locate(image)[1]
    scores = z.scores("image", "concept", rows=torch.tensor([row]))[0]
    results = with_term.neighbors(image, k=4, type="concept")
    assert [r.id for r in results] == [with_term.node_index.id("concept", int(i)) for i in scores.topk(4).indices]
    assert [r.score for r in results] == pytest.approx(scores.topk(4).values.tolist())
    plain = aligner.neighbors(image, k=4, type="concept")
    assert [r.score for r in results] != pytest.approx([r.score for r in plain])
    path = tmp_path / "new_cat.png"
    Image.new("RGB", (20, 20), TOY_CONCEPTS["animal"]["cat"]).save(path)
    features = with_term._encoder("image").encode([path])
    expected = z.scores("image", "concept", vectors=with_term.embed_new(image=path)[None], features=features)[0]
    (best,) = with_term.search(image=path, k=1, type="concept")
    assert best.id == with_term.node_index.id("concept", int(expected.argmax()))
    assert best.score == pytest.approx(float(expected.max()))
    with pytest.raises(GraphAlignError, match="input features"):
        z.scores("image", "concept", vectors=with_term.embed_new(image=path)[None])
