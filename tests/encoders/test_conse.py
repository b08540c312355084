from __future__ import annotations

import torch

from graphalign.encoders.conse import conse_vectors


def test_conse_is_probability_weighted_mean_of_top_k():
    probs = torch.tensor([[0.6, 0.3, 0.1, 0.0]])
    classes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [5.0, 5.0]])
    out = conse_vectors(probs, classes, top_k=2)
    expected = torch.nn.functional.normalize(torch.tensor([[0.6 / 0.9, 0.3 / 0.9]]), dim=-1)
    assert torch.allclose(out, expected)
    assert conse_vectors(probs, classes, top_k=3).shape == (1, 2)


def test_graph_config_passes_its_cache_to_conse(tmp_path):
    from graphalign.features.featurize import GraphConfig

    config = GraphConfig(
        image_encoder="conse",
        image_encoder_kwargs={"text_encoder": "hashing-text", "mode": "conse"},
        cache_dir=str(tmp_path / "c"),
        use_cache=False,
        progress=False,
    )
    encoder = config.build_encoder("image")
    assert encoder.cache_dir == str(tmp_path / "c") and encoder.use_cache is False
    assert encoder.feature_space == encoder.text_encoder.identity  # mode "conse": the text space


def test_conse_follows_the_graphs_text_encoder_and_concatenates_by_default(tmp_path):
    from graphalign.features.featurize import GraphConfig

    config = GraphConfig(
        text_encoder="hashing-text", text_encoder_kwargs={"dim": 32}, cache_dir=str(tmp_path / "c"), progress=False
    )
    assert config.image_encoder == "conse"  # the default image features
    encoder = config.build_encoder("image")
    assert encoder.mode == "concat" and encoder.text_encoder.identity == config.build_encoder("text").identity
    assert encoder.dim == encoder.image_encoder.dim + 32  # the visual features, then the text-space vector
    assert encoder.feature_space == encoder.identity  # its own input group: not the text space
