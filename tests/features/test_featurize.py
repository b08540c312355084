from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image

from graphalign.encoders import ENCODERS, Encoder
from graphalign.errors import EncoderError, OutputError
from graphalign.features.build import build_graph
from graphalign.features.featurize import GraphConfig, concept_text, featurize
from graphalign.features.store import BuiltGraph
from graphalign.graph import ConceptNode, load_dataset


class CountingEncoder(Encoder):
    """Wraps the hashing encoder and counts what it encodes and whether it was 'loaded'."""

    modality = "text"
    calls: list[list[str]] = []
    loads = 0

    def __init__(self, **kwargs):
        from graphalign.encoders.hashing import HashingTextEncoder

        super().__init__(**kwargs)
        self.inner = HashingTextEncoder(dim=32)

    identity = "counting:v1"
    dim = 32

    def encode(self, items):
        type(self).loads += 1
        type(self).calls.append(list(items))
        return self.inner.encode(items)


ENCODERS.register("test-counting")(CountingEncoder)


@pytest.fixture
def counting_config(fast_config):
    CountingEncoder.calls, CountingEncoder.loads = [], 0
    fast_config.text_encoder = "test-counting"
    fast_config.text_encoder_kwargs = {}
    return fast_config


def test_second_run_encodes_nothing(toy_dataset, counting_config):
    kg = load_dataset(toy_dataset)
    first, stats1, _ = featurize(kg, counting_config)
    assert stats1.encoded == {"image": 32, "concept": 11, "text": 32}
    assert CountingEncoder.loads == 2  # concepts, texts
    CountingEncoder.loads = 0
    second, stats2, _ = featurize(kg, counting_config)
    assert stats2.total_encoded == 0 and CountingEncoder.loads == 0
    for t in first:
        assert torch.equal(first[t], second[t])


def test_changed_text_and_image_are_reencoded_alone(toy_dataset, tmp_path, counting_config):
    data = tmp_path / "data"
    shutil.copytree(toy_dataset, data)
    featurize(load_dataset(data), counting_config)
    lines = (data / "nodes.jsonl").read_text().replace('"text": "look, a cat"', '"text": "look, a tiger"')
    (data / "nodes.jsonl").write_text(lines)
    Image.new("RGB", (16, 16), "black").save(data / "images" / "dog_1.png")
    CountingEncoder.calls = []
    _, stats, _ = featurize(load_dataset(data), counting_config)
    assert stats.encoded == {"image": 1, "concept": 0, "text": 1}
    assert CountingEncoder.calls == [["look, a tiger"]]


def test_features_match_direct_encoding(toy_dataset, fast_config):
    kg = load_dataset(toy_dataset)
    features, stats, identities = featurize(kg, fast_config)
    encoder = fast_config.build_encoder("text")
    texts = [n.text for n in kg.nodes("text")]
    assert torch.allclose(features["text"], encoder.encode(texts))
    image, text = "color-histogram:bins=4:size=32:v1", "hashing-text:dim=64:ngram=3:v1"
    assert identities == {"image": image, "text": text}
    assert stats.spaces == {"image": image, "concept": text, "text": text}


def test_concept_text_uses_name_and_description():
    assert concept_text(ConceptNode("c", name="dog", description="a canid"), "{name}: {description}") == "dog: a canid"
    assert concept_text(ConceptNode("c", name="dog"), "{name}: {description}") == "dog"


def test_corrupt_image_fails_naming_the_file(toy_dataset, tmp_path, fast_config):
    data = tmp_path / "data"
    shutil.copytree(toy_dataset, data)
    png = (data / "images" / "cat_2.png").read_bytes()
    (data / "images" / "cat_2.png").write_bytes(png[: len(png) // 2])
    kg = load_dataset(data)
    with pytest.raises(EncoderError, match="cat_2.png"):
        featurize(kg, fast_config)


def test_nan_features_from_an_encoder_are_refused(toy_dataset, fast_config):
    class NaNEncoder(CountingEncoder):
        identity = "nan:v1"

        def encode(self, items):
            out = torch.zeros(len(items), 32)
            out[0, 0] = float("nan")
            return out

    ENCODERS._entries["test-nan"] = NaNEncoder
    fast_config.text_encoder, fast_config.text_encoder_kwargs = "test-nan", {}
    with pytest.raises(EncoderError, match="NaN/inf features for: 'c:entity'"):
        featurize(load_dataset(toy_dataset), fast_config)


def test_wrong_modality_is_refused(fast_config):
    fast_config.text_encoder, fast_config.text_encoder_kwargs = "color-histogram", {}
    with pytest.raises(EncoderError, match="encodes image, but a text encoder is needed"):
        fast_config.build_encoder("text")


def test_build_save_load_round_trip(toy_dataset, tmp_path, fast_config):
    built, _ = build_graph(toy_dataset, fast_config)
    out = built.save(tmp_path / "graph")
    assert sorted(p.name for p in out.iterdir()) == [
        ".graphalign.json",
        "edges.tsv",
        "features.safetensors",
        "graph.json",
        "nodes.jsonl",
    ]
    loaded = BuiltGraph.load(out)
    assert loaded.graph == built.graph
    for t in built.features:
        assert torch.equal(loaded.features[t], built.features[t])
    assert loaded.hetero_data["image"].x.shape == (32, 64)
    assert loaded.graph_config() == fast_config
    assert (
        loaded.spaces
        == built.spaces
        == {"image": built.encoders["image"], "concept": built.encoders["text"], "text": built.encoders["text"]}
    )
    assert loaded.summary()["feature_dims"] == {"image": 64, "concept": 64, "text": 64}
    # Overwriting graphalign's own graph folder needs overwrite=True, and leaves no staging folders.
    with pytest.raises(OutputError, match="pass --overwrite"):
        built.save(out)
    built.save(out, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".graph")]


def test_graph_config_round_trip():
    config = GraphConfig(text_encoder="transformers", text_encoder_kwargs={"model": "x"})
    assert GraphConfig.from_dict(config.to_dict()) == config
