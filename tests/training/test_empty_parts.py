"""A graph too small to hold anything out: training says so, nothing fails later."""

from __future__ import annotations

import logging

import pytest
from PIL import Image

import graphalign as ga
from graphalign.cli import main
from graphalign.testing import fast_graph_config


@pytest.fixture
def tiny_built(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "images" / "cat.png")
    kg = ga.KnowledgeGraph(root=tmp_path)
    kg.add_concept("animal", name="animal")
    kg.add_concept("cat", name="cat", description="a small domesticated feline")
    kg.add_image("img1", path="images/cat.png")
    kg.add_text("t1", text="A cat sleeping on a sofa.", language="en")
    kg.add_edge("cat", "is_a", "animal")
    kg.add_edge("img1", "depicts", "cat")
    kg.add_edge("t1", "describes", "img1")
    built, _ = ga.build_graph(kg, fast_graph_config(dim=16))
    return built


def test_fit_warns_about_empty_parts_and_keeps_the_last_epoch(tiny_built, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="graphalign"):
        result = ga.fit(
            tiny_built,
            train_config=ga.TrainConfig(epochs=2),
            run_dir=tmp_path / "run",
            run=ga.RunConfig(progress=False),
        )
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("no validation links") and "val_fraction" in m for m in messages), messages
    assert any(m.startswith("no test links") and "test_fraction" in m for m in messages), messages
    assert result.val_metrics == {} and result.test_metrics == {}
    assert result.best_epoch == 2 and len(result.history) == 2
    assert ga.Aligner(result).neighbors("img1", k=1, type="concept")[0].type == "concept"


def test_a_given_split_is_not_blamed_on_split_config(tiny_built, caplog):
    split = ga.fit(tiny_built, train_config=ga.TrainConfig(epochs=1)).split
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="graphalign"):
        ga.fit(tiny_built, train_config=ga.TrainConfig(epochs=1), split=split)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "the given split has no val links: early stopping is off and the last epoch is kept" in messages
    assert "the given split has no test links" in messages
    assert not any("fraction" in m for m in messages), messages
    assert split.counts()["val"] == 0


def test_eval_of_a_run_without_test_links_is_one_clear_error(tiny_built, tmp_path, capsys):
    ga.fit(
        tiny_built, train_config=ga.TrainConfig(epochs=1), run_dir=tmp_path / "run", run=ga.RunConfig(progress=False)
    )
    assert main(["eval", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "holds no test links" in err and "--test-fraction" in err
    assert err.count("\n") == 1


def test_fit_warns_about_a_channel_whose_relations_the_graph_lacks(tiny_built, tmp_path, caplog):
    channels = [{"sources": ["image"], "relations": ["nosuchrel"]}, {"sources": ["concept"], "relations": ["is_a"]}]
    model = ga.ModelConfig(readouts=[{"name": "channels", "channels": channels}])
    with caplog.at_level(logging.INFO, logger="graphalign"):
        ga.fit(tiny_built, model, ga.TrainConfig(epochs=1), run=ga.RunConfig(progress=False))
    warned = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "graph channel" in r.getMessage()
    ]
    assert warned == [
        "graph channel 1 (image) reads nosuchrel edges, which this graph lacks "
        "(its relations: depicts, describes, is_a)"
    ]


def test_fit_only_notes_the_default_channel_relations_a_graph_lacks(tiny_built, caplog):
    """The default hierarchy channel reads ImageNet -> WordNet edges, which only WordNet graphs have: a graph
    without them is no mistake of the user's, so training logs no warning, only an info line naming it."""
    with caplog.at_level(logging.INFO, logger="graphalign"):
        ga.fit(tiny_built, train_config=ga.TrainConfig(epochs=1), run=ga.RunConfig(progress=False))
    channel_lines = [r for r in caplog.records if "edges, which this graph lacks" in r.getMessage()]
    assert [r.levelno for r in channel_lines] == [logging.INFO]
    assert channel_lines[0].getMessage().startswith("the hierarchy channel reads predicted_as edges")


def test_the_default_channels_are_named_whatever_source_types_the_graph_has():
    from graphalign.nn.channels import GraphChannels
    from graphalign.nn.hetero_gnn import DEFAULT_READOUTS
    from graphalign.training.trainer import _default_channel_name

    defaults = next(spec["channels"] for spec in DEFAULT_READOUTS if spec["name"] == "channels")
    every = GraphChannels({"image": 20, "concept": 8, "text": 8}, defaults)
    assert [_default_channel_name(c) for c in every.channels] == ["prior", "text", "concept", "hierarchy"]
    no_text = GraphChannels({"image": 20, "concept": 8}, defaults)  # the text channel is left out
    assert [_default_channel_name(c) for c in no_text.channels] == ["prior", "concept", "hierarchy"]
    assert no_text.configured == [0, 2, 3]
    assert _default_channel_name(GraphChannels({"image": 20}, [{"sources": ["image"]}]).channels[0]) is None
