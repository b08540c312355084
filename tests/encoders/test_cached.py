"""Tests of graphalign.encoders.cached: encoding through the feature cache."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from graphalign.encoders.base import Encoder
from graphalign.encoders.cache import FeatureCache, content_digest
from graphalign.encoders.cached import encode_with_cache


class BatchDependentEncoder(Encoder):
    """A text encoder whose vectors depend on the batch they are encoded in (as padding
    makes a transformer's last bits depend on it); it records every item it encodes."""

    modality = "text"

    def __init__(self) -> None:
        super().__init__(batch_size=2, progress=False)
        self.seen: list[str] = []

    @property
    def identity(self) -> str:
        return "batch-dependent:v1"

    @property
    def dim(self) -> int:
        return 2

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        self.seen += list(items)
        return torch.tensor([[float(len(text)), float(len(items))] for text in items])


def test_copies_are_encoded_once_and_share_one_vector(tmp_path) -> None:
    items = ["a", "bb", "a", "ccc", "a", "bb"]
    keys = [content_digest(text) for text in items]
    encoder = BatchDependentEncoder()
    cache = FeatureCache(tmp_path, encoder.identity, dim=2)

    vectors, not_cached = encode_with_cache(encoder, items, keys, cache, chunk_size=2)

    assert sorted(encoder.seen) == ["a", "bb", "ccc"] and not_cached == 6
    # chunks of distinct items: ["a", "bb"], ["ccc"]; every copy takes its first occurrence's vector
    assert torch.equal(vectors[0], vectors[2]) and torch.equal(vectors[0], vectors[4])
    assert torch.equal(vectors[1], vectors[5]) and vectors[3].tolist() == [3.0, 1.0]
    assert vectors[0].tolist() == [1.0, 2.0]
    # one entry per key in the cache, equal to what was returned
    hits, misses = FeatureCache(tmp_path, encoder.identity, dim=2).get(keys)
    assert misses == [] and all(torch.equal(hits[i], vectors[i]) for i in range(len(items)))
    assert sum(1 for _ in cache.folder.glob("shard-*.safetensors")) == 2


def test_without_a_cache_copies_share_one_vector() -> None:
    items = ["x", "y", "x"]
    encoder = BatchDependentEncoder()
    vectors, not_cached = encode_with_cache(encoder, items, [content_digest(t) for t in items], None, chunk_size=1)
    assert encoder.seen == ["x", "y"] and not_cached == 3
    assert torch.equal(vectors[0], vectors[2]) and vectors.shape == (3, 2)
