"""Fuzzing the readers of everything graphalign loads from disk.

Whatever bytes are in an image file, a graph folder, a run folder, a checkpoint
or a cache shard, loading ends in a result or in the library's own error type
(an ``EncoderError`` for images, a ``GraphAlignError`` otherwise; a bad cache
shard is moved aside with a warning): never another exception, never a hang.
Dataset files are fuzzed in tests/graph/test_properties.py.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from graphalign.encoders.cache import FeatureCache, content_digest
from graphalign.errors import CheckpointError, EncoderError, GraphAlignError
from graphalign.features.store import BuiltGraph
from graphalign.graph import KnowledgeGraph
from graphalign.image_io import check_image_header, open_image_rgb
from graphalign.training import checkpoint as ckpt

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _image_bytes(fmt: str, mode: str) -> bytes:
    buffer = io.BytesIO()
    image = Image.new(mode, (12, 9), 100)
    if mode == "P":
        image.putpalette(list(range(256)) * 3)
    image.save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = [
    _image_bytes("PNG", "RGB"),
    _image_bytes("PNG", "P"),
    _image_bytes("PNG", "I;16"),
    _image_bytes("JPEG", "CMYK"),
    _image_bytes("GIF", "P"),
    _image_bytes("BMP", "RGB"),
    _image_bytes("TIFF", "RGB"),
    _image_bytes("WEBP", "RGB"),
]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed file with a few bytes flipped, cut, or overwritten."""
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(raw) - 1)) if raw else 0
        action = draw(st.sampled_from(["flip", "cut", "set", "truncate"]))
        if not raw:
            break
        if action == "flip":
            raw[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del raw[position : position + draw(st.integers(1, 16))]
        elif action == "set":
            raw[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]))
        else:
            del raw[position:]
    return bytes(raw)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns about corrupt EXIF and the like
@SETTINGS
@given(st.one_of(mutated(SEEDS), st.binary(max_size=200)))
def test_image_reader_raises_only_encoder_errors(scratch, raw):
    path = scratch / "image.bin"
    path.write_bytes(raw)
    try:
        image = open_image_rgb(path)
    except EncoderError as error:
        assert str(path) in str(error)  # the message names the file
    else:
        assert image.mode == "RGB" and min(image.size) >= 2
    problem = check_image_header(path)  # the cheap check never raises either
    assert problem is None or str(path) in problem


def _built_graph_folder(folder: Path) -> Path:
    kg = KnowledgeGraph()
    kg.add_concept("dog", name="dog")
    kg.add_concept("animal", name="animal")
    kg.add_text("t", text="a dog")
    kg.add_edge("dog", "is_a", "animal")
    kg.add_edge("t", "describes", "dog")
    features = {"concept": torch.randn(2, 3), "text": torch.randn(1, 3)}
    return BuiltGraph(graph=kg, features=features, config={}, encoders={"text": "x"}).save(folder)


GRAPH_SEED = _built_graph_folder(Path(tempfile.mkdtemp(prefix="graphalign-fuzz-")) / "graph")
GRAPH_FILES = {
    name: (GRAPH_SEED / name).read_bytes()
    for name in ("graph.json", "features.safetensors", "nodes.jsonl", "edges.tsv")
}


@SETTINGS
@given(st.sampled_from(sorted(GRAPH_FILES)), st.data())
def test_graph_folder_reader_raises_only_library_errors(scratch, name, data):
    folder = scratch / "graph"
    folder.mkdir(exist_ok=True)
    for other, raw in GRAPH_FILES.items():
        (folder / other).write_bytes(raw)
    (folder / name).write_bytes(data.draw(st.one_of(mutated([GRAPH_FILES[name]]), st.binary(max_size=100))))
    try:
        BuiltGraph.load(folder)
    except GraphAlignError:
        pass


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=8,
    )
)
def test_run_config_reader_raises_only_checkpoint_errors(scratch, value):
    obj = {"format": "graphalign-run", "version": 1, **value} if isinstance(value, dict) else value
    (scratch / ckpt.RUN_FILE).write_text(json.dumps(obj))
    try:
        config = ckpt.read_run_config(scratch)
    except CheckpointError:
        return
    assert isinstance(config["edge_types"], list)


def _checkpoint_bytes(folder: Path) -> bytes:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    path = folder / "checkpoint.safetensors"
    state = {
        "epoch": 1,
        "history": [{"epoch": 1, "loss": 0.5}],
        "best": {"epoch": 1, "mrr": 0.1, "bad": 0},
        "finished": False,
    }
    ckpt.save_training_checkpoint(path, {"model": model}, optimizer, state, {"torch": torch.get_rng_state()})
    return path.read_bytes()


CHECKPOINT = _checkpoint_bytes(GRAPH_SEED.parent)


@SETTINGS
@given(st.one_of(mutated([CHECKPOINT]), st.binary(max_size=200)))
def test_checkpoint_reader_raises_only_checkpoint_errors(scratch, raw):
    path = scratch / "checkpoint.safetensors"
    path.write_bytes(raw)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    try:
        ckpt.load_training_checkpoint(path, {"model": model}, optimizer)
    except CheckpointError:
        pass
    try:
        ckpt.load_weights(path, {"model": torch.nn.Linear(3, 2)})
    except CheckpointError:
        pass


def _shard_bytes(folder: Path) -> bytes:
    cache = FeatureCache(folder / "cache", "fuzz:v1")
    cache.put([content_digest("a"), content_digest("b")], torch.randn(2, 4))
    return next(cache.folder.glob("shard-*.safetensors")).read_bytes()


SHARD = _shard_bytes(GRAPH_SEED.parent)


@SETTINGS
@given(st.one_of(mutated([SHARD]), st.binary(max_size=200)))
def test_cache_never_raises_on_a_bad_shard(scratch, raw):
    root = scratch / "cache"
    cache = FeatureCache(root, "fuzz:v1")
    cache.folder.mkdir(parents=True, exist_ok=True)
    for old in cache.folder.iterdir():
        old.unlink()
    (cache.folder / "shard-x.safetensors").write_bytes(raw)
    report = cache.verify()
    hits, misses = FeatureCache(root, "fuzz:v1").get([content_digest("a"), content_digest("b")])
    assert len(hits) + len(misses) == 2
    if not report.ok:  # a bad shard was moved aside, not used
        assert not hits and (cache.folder / "shard-x.corrupt").exists()
