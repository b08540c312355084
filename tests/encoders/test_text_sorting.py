"""Texts are encoded longest first (less padding) and returned in input order."""

from __future__ import annotations

import torch

from graphalign.encoders.text import TransformersTextEncoder

TEXTS = [
    "a dog",
    "a very long description of a red kangaroo jumping over the fence",
    "cat",
    "a small grey cat on a sofa",
    "x",
]


def test_sorted_and_unsorted_encodings_agree(tiny_bert_dir):
    sorted_ = TransformersTextEncoder(str(tiny_bert_dir), batch_size=2, progress=False)
    unsorted = TransformersTextEncoder(str(tiny_bert_dir), batch_size=2, progress=False, sort_by_length=False)
    one_by_one = TransformersTextEncoder(str(tiny_bert_dir), batch_size=1, progress=False)
    expected = one_by_one.encode(TEXTS)  # no padding at all
    assert torch.allclose(sorted_.encode(TEXTS), expected, atol=1e-5)
    assert torch.allclose(unsorted.encode(TEXTS), expected, atol=1e-5)
    assert sorted_.identity == unsorted.identity  # the same vectors: the same cache entries


def test_batches_hold_texts_of_similar_length(tiny_bert_dir):
    encoder = TransformersTextEncoder(str(tiny_bert_dir), batch_size=2, progress=False)
    encoder._load()
    seen: list[list[str]] = []
    tokenizer = encoder._tokenizer

    def spy(texts, **kwargs):
        seen.append(list(texts))
        return tokenizer(texts, **kwargs)

    encoder._tokenizer = spy
    encoder.encode(TEXTS)
    assert seen == [[TEXTS[1], TEXTS[3]], [TEXTS[0], TEXTS[2]], [TEXTS[4]]]
