from __future__ import annotations

import pytest
import torch

from graphalign.encoders import ENCODERS, TransformersTextEncoder, build_encoder
from graphalign.encoders.text import MiniLMTextEncoder, mean_pool
from graphalign.errors import EncoderError


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 2.0]]))


def test_tiny_bert_through_the_real_loading_path(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer

    encoder = build_encoder("transformers", {"model": str(tiny_bert_dir), "progress": False, "batch_size": 2})
    texts = ["a red dog", "the cat", "a car", "dogs"]
    out = encoder.encode(texts)
    assert out.shape == (4, 16) and encoder.dim == 16
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)
    # Same numbers as a bare transformers forward with mean pooling.
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = AutoModel.from_pretrained(tiny_bert_dir).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.nn.functional.normalize(
            mean_pool(model(**batch).last_hidden_state, batch["attention_mask"]), dim=-1
        )
    assert torch.allclose(out, expected, atol=1e-5)


def test_identity_needs_no_model_load_and_tracks_weights(tiny_bert_dir, tmp_path):
    from graphalign.testing import save_tiny_bert

    encoder = TransformersTextEncoder(str(tiny_bert_dir))
    identity = encoder.identity
    assert encoder._model is None  # identity did not load the model
    assert identity == TransformersTextEncoder(str(tiny_bert_dir)).identity
    other = save_tiny_bert(tmp_path / "other", seed=1)
    assert TransformersTextEncoder(str(other)).identity != identity
    assert TransformersTextEncoder(str(tiny_bert_dir), max_length=8).identity != identity


def test_long_text_is_truncated_with_a_warning(tiny_bert_dir, caplog):
    encoder = TransformersTextEncoder(str(tiny_bert_dir), max_length=8, progress=False)
    with caplog.at_level("WARNING"):
        out = encoder.encode(["a " * 5000])
    assert out.shape == (1, 16)
    assert "truncated" in caplog.text


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_text_is_rejected(tiny_bert_dir, bad):
    with pytest.raises(EncoderError, match="empty or not a string"):
        TransformersTextEncoder(str(tiny_bert_dir)).encode(["fine", bad])


def test_missing_model_gives_clear_error(tmp_path):
    encoder = TransformersTextEncoder(str(tmp_path / "no-such-model"))
    with pytest.raises(EncoderError, match="cannot load"):
        encoder.encode(["x"])


def test_trust_remote_code_is_off_by_default(tiny_bert_dir, monkeypatch):
    seen = {}
    import transformers

    original = transformers.AutoModel.from_pretrained

    def spy(*args, **kwargs):
        seen["trust_remote_code"] = kwargs.get("trust_remote_code")
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", spy)
    TransformersTextEncoder(str(tiny_bert_dir), progress=False).encode(["a dog"])
    assert seen["trust_remote_code"] is False


def test_registry_lists_names_on_error():
    with pytest.raises(KeyError, match="choose one of: .*minilm"):
        ENCODERS.get("minilmm")


@pytest.mark.offline_model
def test_real_minilm_embeddings_are_semantic():
    encoder = MiniLMTextEncoder(progress=False)
    assert encoder.dim == 384
    vectors = encoder.encode(["a puppy playing", "a young dog", "a tax form"])
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2
