"""graphalign.pipeline: one call from a dataset to a model to query."""

from __future__ import annotations

import pytest

import graphalign as ga
from graphalign.errors import ConfigError

FAST = {
    "text_encoder": "hashing-text",
    "text_encoder_kwargs": {"dim": 32},
    "image_encoder": "color-histogram",
    "progress": False,
    "use_cache": False,
}


def test_pipeline_builds_trains_and_returns_an_aligner(toy_dataset, tmp_path):
    aligner = ga.pipeline(
        toy_dataset,
        preset="gnn",
        model="rgcn",
        model_kwargs={"hidden_dim": 16, "out_dim": 8},
        loss="triplet",
        loss_kwargs={"margin": 0.2},
        training_kwargs={"epochs": 2, "seed": 0},
        run_kwargs={"progress": False},
        graph_kwargs=FAST,
        run_dir=tmp_path / "run",
    )
    assert aligner.run.model_config.conv == "rgcn" and aligner.run.train_config.loss == "triplet"
    assert aligner.metrics()["test"]["image->concept/mrr"] > 0
    image = aligner.ids("image")[0]
    assert aligner.neighbors(image, k=2, type="concept")[0].type == "concept"
    again = ga.Aligner.load(tmp_path / "run")
    assert again.metrics()["test"] == pytest.approx(aligner.metrics()["test"])


def test_pipeline_on_a_built_graph_with_a_model_config(toy_built):
    model = ga.ModelConfig(hidden_dim=16, out_dim=8, num_layers=0)
    aligner = ga.pipeline(
        toy_built,
        model=model,
        model_kwargs={"head": "prior"},
        training_kwargs={"epochs": 1},
        run_kwargs={"progress": False},
    )
    assert aligner.run.model_config.num_layers == 0 and aligner.run.model_config.head == "prior"


def test_pipeline_refuses_a_layer_the_preset_does_not_run(toy_built):
    with pytest.raises(ConfigError, match="preset='gnn'"):
        ga.pipeline(toy_built, model="rgcn")
    with pytest.raises(ConfigError, match="num_layers"):
        ga.pipeline(toy_built, model_kwargs={"conv_kwargs": {"heads": 2}})


def test_pipeline_names_a_wrong_setting(toy_built):
    with pytest.raises(ConfigError, match="unknown conv"):
        ga.pipeline(toy_built, model="gatv3")
    with pytest.raises(ConfigError, match="ModelConfig"):
        ga.pipeline(toy_built, model_kwargs={"hiden_dim": 8})
    with pytest.raises(ConfigError, match=r"unknown split keys \['val_frac'\]; valid keys: .*'val_fraction'"):
        ga.pipeline(toy_built, split_kwargs={"val_frac": 0.1})
    with pytest.raises(ConfigError, match=r"unknown RunConfig keys \['devce'\]"):
        ga.pipeline(toy_built, run_kwargs={"devce": "cpu"})


def test_pipeline_names_a_wrong_graph_setting_before_building(toy_dataset):
    with pytest.raises(ConfigError, match=r"unknown GraphConfig keys \['txt_encoder'\]; valid keys: .*'text_encoder'"):
        ga.pipeline(toy_dataset, graph_kwargs={"txt_encoder": "hashing-text"})
