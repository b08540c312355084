from __future__ import annotations

import torch

from graphalign.encoders.cache import FeatureCache, content_digest, default_cache_dir


def keys(*texts: str) -> list[bytes]:
    return [content_digest(t) for t in texts]


def test_put_then_get_across_instances(tmp_path):
    cache = FeatureCache(tmp_path, "enc:v1", dim=3)
    cache.put(keys("a", "b"), torch.tensor([[1.0, 2, 3], [4, 5, 6]]))
    fresh = FeatureCache(tmp_path, "enc:v1", dim=3)
    hits, misses = fresh.get(keys("b", "c", "a"))
    assert misses == [1]
    assert torch.equal(hits[0], torch.tensor([4.0, 5, 6])) and torch.equal(hits[2], torch.tensor([1.0, 2, 3]))


def test_identities_are_separate(tmp_path):
    FeatureCache(tmp_path, "enc:v1").put(keys("a"), torch.ones(1, 2))
    assert FeatureCache(tmp_path, "enc:v2").get(keys("a"))[1] == [0]


def test_corrupt_shard_is_detected_quarantined_and_recomputed(tmp_path, caplog):
    cache = FeatureCache(tmp_path, "enc:v1", dim=2)
    cache.put(keys("a"), torch.ones(1, 2))
    shard = next(cache.folder.glob("shard-*.safetensors"))
    raw = bytearray(shard.read_bytes())
    raw[-1] ^= 0xFF  # flip a bit in the vector data
    shard.write_bytes(bytes(raw))
    with caplog.at_level("WARNING"):
        hits, misses = FeatureCache(tmp_path, "enc:v1", dim=2).get(keys("a"))
    assert misses == [0] and not hits
    assert "checksum mismatch" in caplog.text
    assert not shard.exists() and shard.with_suffix(".corrupt").exists()


def test_truncated_shard_is_detected(tmp_path, caplog):
    cache = FeatureCache(tmp_path, "enc:v1")
    cache.put(keys("a"), torch.ones(1, 2))
    shard = next(cache.folder.glob("shard-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:20])
    with caplog.at_level("WARNING"):
        assert FeatureCache(tmp_path, "enc:v1").get(keys("a"))[1] == [0]
    assert "unreadable" in caplog.text


def test_wrong_dimension_counts_as_corrupt(tmp_path):
    FeatureCache(tmp_path, "enc:v1").put(keys("a"), torch.ones(1, 2))
    assert FeatureCache(tmp_path, "enc:v1", dim=5).get(keys("a"))[1] == [0]


def test_compaction_keeps_every_entry(tmp_path, monkeypatch):
    import graphalign.encoders.cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_SHARDS", 3)
    cache = FeatureCache(tmp_path, "enc:v1")
    for i in range(6):
        cache.put(keys(str(i)), torch.full((1, 2), float(i)))
    assert len(list(cache.folder.glob("shard-*.safetensors"))) <= 3
    hits, misses = FeatureCache(tmp_path, "enc:v1").get(keys(*map(str, range(6))))
    assert misses == [] and [float(hits[i][0]) for i in range(6)] == [0, 1, 2, 3, 4, 5]


def test_no_temp_files_left_behind(tmp_path):
    cache = FeatureCache(tmp_path, "enc:v1")
    cache.put(keys("a"), torch.ones(1, 2))
    assert not [p for p in cache.folder.iterdir() if p.name.endswith(".tmp")]


def test_default_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHALIGN_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
