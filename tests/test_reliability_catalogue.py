"""The catalogue of bad inputs (docs/reliability.md) and the security rules.

Every row of :data:`CATALOGUE` makes one bad (or merely unusual) input in a fresh
folder, runs what a user would run on it (``build_graph`` + ``BuiltGraph.save``,
a Python API call, or the CLI in-process), and checks

* the exact error type, and that the message names the file and line, or the
  node id, at fault (or, for inputs that must be *accepted*, that they are);
* that nothing was written half-way: no output folder, no temporary files or
  staging folders, and every feature-cache shard verifies.

The security tests plant a pickle whose unpickling would create a marker file in
every place graphalign reads weights or features from, and show that it is
refused and the marker never appears.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import logging
import os
import pickle
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import torch
from PIL import Image

from graphalign.data.split import split_graph
from graphalign.encoders import ENCODERS, FeatureCache
from graphalign.encoders.hashing import HashingTextEncoder
from graphalign.errors import (
    CheckpointError,
    ConfigError,
    DataFormatError,
    EncoderError,
    GraphValidationError,
    OutputError,
)
from graphalign.features import GraphConfig
from graphalign.features.build import build_graph
from graphalign.features.store import BuiltGraph
from graphalign.graph import KnowledgeGraph, from_networkx, load_dataset, save_dataset, to_hetero_data
from graphalign.training import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------- the base dataset
GOOD_NODES = [
    '{"id": "dog", "type": "concept", "name": "dog", "description": "a domesticated canid"}',
    '{"id": "animal", "type": "concept", "name": "animal"}',
    '{"id": "t1", "type": "text", "text": "A dog on a sofa.", "language": "en"}',
    '{"id": "img1", "type": "image", "path": "images/dog.png"}',
]
IMAGE_LINE = 4  # the line of img1 in nodes.jsonl
GOOD_EDGES = ["# head<TAB>relation<TAB>tail", "dog\tis_a\tanimal", "t1\tdescribes\timg1", "img1\tdepicts\tdog"]
BAD_LINE = 5  # a bad line appended to either file is line 5


def fast_config(tmp: Path) -> GraphConfig:
    """The dependency-free encoders, with the cache in ``tmp/cache``."""
    return GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 16},
        image_encoder="color-histogram",
        cache_dir=str(tmp / "cache"),
        progress=False,
    )


def red_png(path: Path) -> None:
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)


def write_dataset(
    tmp: Path,
    nodes: list[str] | None = None,
    edges: list[str] | None = None,
    image: Callable[[Path], None] | None = red_png,
    raw_nodes: bytes | None = None,
    raw_edges: bytes | None = None,
) -> Path:
    """Writes ``tmp/data`` (nodes.jsonl, edges.tsv, images/dog.png made by ``image``)."""
    data = tmp / "data"
    (data / "images").mkdir(parents=True, exist_ok=True)
    nodes_bytes = (
        raw_nodes if raw_nodes is not None else ("\n".join(GOOD_NODES if nodes is None else nodes) + "\n").encode()
    )
    edges_bytes = (
        raw_edges if raw_edges is not None else ("\n".join(GOOD_EDGES if edges is None else edges) + "\n").encode()
    )
    (data / "nodes.jsonl").write_bytes(nodes_bytes)
    (data / "edges.tsv").write_bytes(edges_bytes)
    if image is not None:
        image(data / "images" / "dog.png")
    return data


def build_and_save(tmp: Path) -> tuple[BuiltGraph, Any]:
    """What ``graphalign build tmp/data -o tmp/out`` does."""
    built, stats = build_graph(tmp / "data", fast_config(tmp))
    built.save(tmp / "out")
    return built, stats


# ---------------------------------------------------------------------------------------------- bad image files
def truncated_png(path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:3000])  # header and part of the pixel data


def one_pixel_png(path: Path) -> None:
    Image.new("RGB", (1, 1), "red").save(path)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(path: Path) -> None:
    """A 100 kB-looking PNG whose header claims 40000 x 40000 pixels (1.6 gigapixels)."""
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + _png_chunk(b"IEND", b"")
    )


def text_file(path: Path) -> None:
    path.write_text("this is not an image\n")


def directory(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def symlink_outside(path: Path) -> None:
    outside = path.parents[2] / "outside.png"
    red_png(outside)
    path.symlink_to(outside)


def symlink_loop(path: Path) -> None:
    other = path.parent / "loop.png"
    path.symlink_to(other)
    other.symlink_to(path)


def sixteen_bit_png(path: Path) -> None:
    Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(path)
    assert Image.open(path).mode.startswith("I")


def palette_png(path: Path) -> None:
    image = Image.new("P", (8, 8))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((2, 2), 1)
    image.save(path, transparency=0)


def cmyk_jpeg(path: Path) -> None:
    with path.open("wb") as handle:  # JPEG bytes under a .png name: PIL goes by content
        Image.new("CMYK", (8, 8), (0, 255, 0, 0)).save(handle, format="JPEG")


def outside_png(tmp: Path) -> None:
    red_png(tmp / "outside.png")


# ---------------------------------------------------------------------------------------------- the catalogue
EXIT_2 = "exit 2"
"""Expected outcome of a CLI case: exit status 2 and a one-line ``error: ...`` on stderr."""


@dataclass(frozen=True)
class Case:
    """One catalogue entry.

    Attributes:
        id: The case name (also listed in docs/reliability.md).
        setup: Makes the input under a fresh folder; returns the action to run.
        expect: The error type, ``EXIT_2`` for a CLI case, or ``None`` if the
            input must be accepted.
        message: A substring of the error (``{nodes}``, ``{edges}``, ``{data}``,
            ``{tmp}`` are replaced by the paths); for accepted inputs, of the log.
        check: For accepted inputs: a check of the result.
    """

    id: str
    setup: Callable[[Path], Callable[[], Any]]
    expect: type[Exception] | str | None
    message: str
    check: Callable[[Any], None] | None = field(default=None)


def dataset(
    nodes: list[str] | None = None,
    edges: list[str] | None = None,
    image: Callable[[Path], None] | None = red_png,
    raw_nodes: bytes | None = None,
    raw_edges: bytes | None = None,
    extra: Callable[[Path], None] | None = None,
) -> Callable[[Path], Callable[[], Any]]:
    """A case that writes a dataset folder and builds it."""

    def setup(tmp: Path) -> Callable[[], Any]:
        write_dataset(tmp, nodes, edges, image, raw_nodes, raw_edges)
        if extra is not None:
            extra(tmp)
        return lambda: build_and_save(tmp)

    return setup


def bad_node(line: str) -> Callable[[Path], Callable[[], Any]]:
    return dataset(nodes=GOOD_NODES + [line])


def bad_edge(line: str) -> Callable[[Path], Callable[[], Any]]:
    return dataset(edges=GOOD_EDGES + [line])


def image_node(path: str) -> list[str]:
    return GOOD_NODES[:3] + [json.dumps({"id": "img1", "type": "image", "path": path})]


def api(action: Callable[[Path], Any]) -> Callable[[Path], Callable[[], Any]]:
    return lambda tmp: lambda: action(tmp)


def cli(
    argv: Callable[[Path], list[str]], prepare: Callable[[Path], None] | None = None
) -> Callable[[Path], Callable[[], Any]]:
    """A CLI case: runs ``graphalign.cli.main`` in-process; the action returns ``(status, stderr)``."""
    from graphalign.cli import main

    def setup(tmp: Path) -> Callable[[], Any]:
        (prepare or (lambda t: write_dataset(t)))(tmp)

        def action() -> tuple[int, str]:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = main(argv(tmp))
            return status, err.getvalue()

        return action

    return setup


FAST_CLI = [
    "--text-encoder",
    "hashing-text",
    "--text-encoder-kwargs",
    '{"dim": 16}',
    "--image-encoder",
    "color-histogram",
]


def cli_build(tmp: Path) -> list[str]:
    return ["-q", "build", str(tmp / "data"), "-o", str(tmp / "out"), *FAST_CLI, "--cache-dir", str(tmp / "cache")]


def built_folder(tamper: Callable[[Path], None]) -> Callable[[Path], None]:
    """Builds the base dataset into ``tmp/graph`` and then tampers with that folder."""

    def prepare(tmp: Path) -> None:
        write_dataset(tmp)
        built, _ = build_graph(tmp / "data", fast_config(tmp))
        built.save(tmp / "graph")
        tamper(tmp / "graph")

    return prepare


def load_tampered(tamper: Callable[[Path], None]) -> Callable[[Path], Callable[[], Any]]:
    def setup(tmp: Path) -> Callable[[], Any]:
        built_folder(tamper)(tmp)
        return lambda: BuiltGraph.load(tmp / "graph")

    return setup


def nan_features(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "features.safetensors"))
    tensors["x.concept"][1, 0] = float("nan")
    save_file(tensors, str(folder / "features.safetensors"))


def truncate(name: str, keep: int = 10) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes()[:keep])


class NaNTextEncoder(HashingTextEncoder):
    """A broken text encoder: NaN for every text that mentions a dog."""

    @property
    def identity(self) -> str:
        return "test-nan-text:v1"

    def encode(self, items):
        out = super().encode(items)
        out[[i for i, text in enumerate(items) if "dog" in text.lower()]] = float("nan")
        return out


if "test-nan-text" not in ENCODERS:
    ENCODERS.register("test-nan-text")(NaNTextEncoder)


def build_with_nan_encoder(tmp: Path) -> Any:
    write_dataset(tmp)
    config = fast_config(tmp)
    config.text_encoder, config.text_encoder_kwargs = "test-nan-text", {"dim": 16}
    built, _ = build_graph(tmp / "data", config)
    built.save(tmp / "out")


def api_graph(tmp: Path) -> KnowledgeGraph:
    kg = KnowledgeGraph(tmp)
    kg.add_concept("dog", name="dog")
    kg.add_concept("animal", name="animal")
    return kg


def networkx_node(**attributes: Any) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node("x", type="concept", name="x", **attributes)
    return g


def save_over_user_files(tmp: Path) -> None:
    write_dataset(tmp)  # the user's own dataset folder
    save_dataset(api_graph(tmp), tmp / "data")


def save_images_over_user_files(tmp: Path) -> None:
    data = write_dataset(tmp)  # red images/dog.png
    (tmp / "copy" / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "blue").save(tmp / "copy" / "images" / "dog.png")  # the user's other picture
    try:
        save_dataset(load_dataset(data), tmp / "copy")
    finally:
        assert Image.open(tmp / "copy" / "images" / "dog.png").getpixel((0, 0)) == (0, 0, 255)  # kept
        assert not (tmp / "copy" / "nodes.jsonl").exists()


def built_toy(tmp: Path) -> BuiltGraph:
    write_dataset(tmp)
    built, _ = build_graph(tmp / "data", fast_config(tmp))
    return built


def build_a_built_folder(tmp: Path) -> None:
    built_toy(tmp).save(tmp / "graph")
    build_graph(tmp / "graph", fast_config(tmp))


def huge_text_check(result: Any) -> None:
    built, _ = result
    assert built.graph["t1"].text.startswith("A dog. ") and len(built.graph["t1"].text) == 7 + 1_000_000  # kept whole
    assert built.features["text"].shape == (1, 16) and torch.isfinite(built.features["text"]).all()


def accepted_edges(expected: list[tuple[str, str, str]]) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        built, _ = result
        assert [e.as_tuple() for e in built.graph.edges] == expected

    return check


def image_accepted(result: Any) -> None:
    built, _ = result
    assert built.features["image"].shape == (1, 64) and torch.isfinite(built.features["image"]).all()


def no_image_type(result: Any) -> None:
    built, _ = result
    assert "image" not in built.hetero_data.node_types and set(built.features) == {"concept", "text"}


STANDARD_EDGES = [("dog", "is_a", "animal"), ("t1", "describes", "img1"), ("img1", "depicts", "dog")]
N, E = "{nodes}", "{edges}"

CATALOGUE: list[Case] = [
    # ---- nodes.jsonl
    Case("nodes-invalid-json", bad_node("{not json"), DataFormatError, f"{N}:5: invalid JSON (Expecting property name"),
    Case("nodes-not-an-object", bad_node('["a", "list"]'), DataFormatError, f"{N}:5: expected a JSON object, got list"),
    Case(
        "nodes-missing-id", bad_node('{"type": "concept", "name": "x"}'), DataFormatError, f"{N}:5: missing field 'id'"
    ),
    Case(
        "nodes-missing-type",
        bad_node('{"id": "x", "name": "x"}'),
        DataFormatError,
        f"{N}:5: node 'x': missing field 'type'",
    ),
    Case(
        "nodes-unknown-type",
        bad_node('{"id": "x", "type": "video", "path": "a.mp4"}'),
        DataFormatError,
        f"{N}:5: node 'x': unknown node type 'video' (expected one of: concept, text, image)",
    ),
    Case(
        "nodes-missing-required-field",
        bad_node('{"id": "x", "type": "text"}'),
        DataFormatError,
        f"{N}:5: node 'x': missing field 'text' for a text node",
    ),
    Case(
        "nodes-wrong-field-type",
        bad_node('{"id": "x", "type": "text", "text": 5}'),
        DataFormatError,
        f"{N}:5: node 'x': text must be a string, got int",
    ),
    Case(
        "nodes-unexpected-field",
        bad_node('{"id": "x", "type": "text", "txt": "hi", "text": "hi"}'),
        DataFormatError,
        f"{N}:5: node 'x': unexpected field(s) 'txt' for a text node",
    ),
    Case(
        "nodes-id-not-a-string",
        bad_node('{"id": 7, "type": "concept", "name": "n"}'),
        DataFormatError,
        f"{N}:5: node 7: node id must be a string, got int 7",
    ),
    Case(
        "nodes-duplicate-id",
        bad_node('{"id": "dog", "type": "concept", "name": "dog"}'),
        DataFormatError,
        f"{N}:5: duplicate node id 'dog' (first defined on line 1)",
    ),
    Case(
        "nodes-empty-text",
        bad_node('{"id": "x", "type": "text", "text": ""}'),
        DataFormatError,
        f"{N}:5: node 'x': text is empty",
    ),
    Case(
        "nodes-whitespace-text",
        bad_node('{"id": "x", "type": "text", "text": " \\t\\u00a0 "}'),
        DataFormatError,
        f"{N}:5: node 'x': text is empty",
    ),
    Case(
        "nodes-empty-concept-name",
        bad_node('{"id": "x", "type": "concept", "name": "  "}'),
        DataFormatError,
        f"{N}:5: node 'x': concept name is empty",
    ),
    Case(
        "nodes-id-with-whitespace",
        bad_node('{"id": "x ", "type": "concept", "name": "x"}'),
        DataFormatError,
        f"{N}:5: node 'x ': node id 'x ' has leading or trailing whitespace",
    ),
    Case(
        "nodes-id-starts-with-hash",
        bad_node('{"id": "#x", "type": "concept", "name": "x"}'),
        DataFormatError,
        f"{N}:5: node '#x': node id '#x' starts with '#'",
    ),
    Case(
        "nodes-lone-surrogate",
        bad_node('{"id": "x", "type": "text", "text": "broken \\ud800 text"}'),
        DataFormatError,
        f"{N}:5: node 'x': text contains an unpaired surrogate",
    ),
    Case(
        "nodes-attributes-not-object",
        bad_node('{"id": "x", "type": "concept", "name": "x", "attributes": [1]}'),
        DataFormatError,
        f"{N}:5: node 'x': attributes must be a JSON object, got list",
    ),
    Case(
        "nodes-deeply-nested-json",
        bad_node(
            '{"id": "x", "type": "concept", "name": "x", "attributes": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
        ),
        DataFormatError,
        f"{N}:5: invalid JSON (nested too deeply)",
    ),
    Case(
        "nodes-huge-integer",
        bad_node('{"id": "x", "type": "concept", "name": "x", "attributes": {"n": ' + "9" * 5000 + "}}"),
        DataFormatError,
        f"{N}:5: invalid JSON (Exceeds the limit",
    ),
    Case(
        "nodes-invalid-utf8",
        dataset(raw_nodes=("\n".join(GOOD_NODES) + "\n").encode() + b'{"id": "\xff"}\n'),
        DataFormatError,
        f"{N}:5: not valid UTF-8 (invalid start byte)",
    ),
    Case(
        "nodes-file-missing",
        dataset(raw_nodes=b"", extra=lambda tmp: (tmp / "data" / "nodes.jsonl").unlink()),
        DataFormatError,
        f"{N}: file not found",
    ),
    Case(
        "nodes-file-is-a-directory",
        dataset(
            raw_nodes=b"",
            extra=lambda tmp: ((tmp / "data" / "nodes.jsonl").unlink(), (tmp / "data" / "nodes.jsonl").mkdir()),
        ),
        DataFormatError,
        f"{N}: not a file",
    ),
    Case("empty-graph", dataset(raw_nodes=b"", raw_edges=b""), DataFormatError, f"{N}: the graph has no nodes"),
    Case(
        "whitespace-only-nodes-file",
        dataset(raw_nodes=b"\n  \r\n\t\n", raw_edges=b""),
        DataFormatError,
        f"{N}: the graph has no nodes",
    ),
    Case(
        "dataset-folder-missing",
        api(lambda tmp: build_and_save(tmp)),
        DataFormatError,
        "data: dataset folder not found",
    ),
    Case(
        "huge-text",
        dataset(
            nodes=GOOD_NODES[:2]
            + [json.dumps({"id": "t1", "type": "text", "text": "A dog. " + "x" * 1_000_000})]
            + GOOD_NODES[3:]
        ),
        None,
        "1 node(s) have texts longer than max_text_chars=20000, e.g. 't1' (1,000,007 characters)",
        huge_text_check,
    ),
    Case(
        "utf8-bom",
        dataset(
            raw_nodes=("\ufeff" + "\n".join(GOOD_NODES) + "\n").encode(),
            raw_edges=("\ufeff" + "\n".join(GOOD_EDGES[1:]) + "\n").encode(),
        ),
        None,
        "",
        accepted_edges(STANDARD_EDGES),
    ),
    Case(
        "windows-line-endings",
        dataset(
            raw_nodes=("\r\n".join(GOOD_NODES) + "\r\n").encode(), raw_edges=("\r\n".join(GOOD_EDGES) + "\r\n").encode()
        ),
        None,
        "",
        accepted_edges(STANDARD_EDGES),
    ),
    # ---- edges.tsv
    Case(
        "edges-two-fields",
        bad_edge("dog\tis_a"),
        DataFormatError,
        f"{E}:5: expected 3 tab-separated fields (head, relation, tail), got 2",
    ),
    Case(
        "edges-spaces-not-tabs",
        bad_edge("dog is_a animal"),
        DataFormatError,
        f"{E}:5: expected 3 tab-separated fields (head, relation, tail), got 1 (fields must be separated by tabs)",
    ),
    Case(
        "edges-relation-with-tab",
        bad_edge("dog\tis\ta\tanimal"),
        DataFormatError,
        f"{E}:5: expected 3 tab-separated fields (head, relation, tail), got 4",
    ),
    Case("edges-empty-field", bad_edge("dog\t \tanimal"), DataFormatError, f"{E}:5: empty field"),
    Case(
        "edges-unknown-head",
        bad_edge("cat\tis_a\tanimal"),
        DataFormatError,
        f"{E}:5: edge ('cat', 'is_a', 'animal'): unknown head id 'cat'",
    ),
    Case(
        "edges-unknown-tail",
        bad_edge("dog\tis_a\tmammal"),
        DataFormatError,
        f"{E}:5: edge ('dog', 'is_a', 'mammal'): unknown tail id 'mammal'",
    ),
    Case(
        "edges-duplicate",
        bad_edge("dog\tis_a\tanimal"),
        DataFormatError,
        f"{E}:5: duplicate edge ('dog', 'is_a', 'animal')",
    ),
    Case(
        "edges-self-loop",
        bad_edge("dog\tsimilar_to\tdog"),
        DataFormatError,
        f"{E}:5: edge ('dog', 'similar_to', 'dog'): self-loop not allowed (allow_self_loops=False)",
    ),
    Case(
        "edges-reserved-rev-relation",
        bad_edge("dog\trev_is_a\tanimal"),
        DataFormatError,
        f"{E}:5: relation 'rev_is_a': the prefix 'rev_' is reserved for reverse edges",
    ),
    Case(
        "edges-invalid-utf8",
        dataset(raw_edges=b"dog\tis_a\tanimal\n\xfe\xff\n"),
        DataFormatError,
        f"{E}:2: not valid UTF-8",
    ),
    Case(
        "edges-unicode-relation",
        bad_edge("dog\test_un_élément_de_🐾\tanimal"),
        None,
        "",
        accepted_edges(STANDARD_EDGES + [("dog", "est_un_élément_de_🐾", "animal")]),
    ),
    # ---- image files (checked at load: reported on the node's line)
    Case("image-missing", dataset(image=None), DataFormatError, f"{N}:4: image 'img1': file not found"),
    Case(
        "image-is-a-directory",
        dataset(image=directory),
        DataFormatError,
        f"{N}:4: image 'img1': not a file (a directory)",
    ),
    Case(
        "image-is-a-fifo",
        dataset(image=fifo),
        DataFormatError,
        f"{N}:4: image 'img1': not a file (a FIFO, socket or device)",
    ),
    Case(
        "image-not-an-image",
        dataset(image=text_file),
        DataFormatError,
        f"{N}:4: image 'img1': cannot read image (UnidentifiedImageError",
    ),
    Case(
        "image-1x1",
        dataset(image=one_pixel_png),
        DataFormatError,
        f"{N}:4: image 'img1': image is too small (1x1 pixels)",
    ),
    Case(
        "image-decompression-bomb",
        dataset(image=bomb_png),
        DataFormatError,
        f"{N}:4: image 'img1': image is 40000x40000 = 1,600,000,000 pixels, above the limit of 67,108,864 "
        "(set $GRAPHALIGN_MAX_IMAGE_PIXELS to raise the limit)",
    ),
    Case(
        "image-path-dotdot",
        dataset(nodes=image_node("../outside.png"), extra=outside_png),
        DataFormatError,
        f"{N}:4: image 'img1': path '../outside.png' points outside the dataset folder",
    ),
    Case(
        "image-path-absolute",
        dataset(nodes=image_node("/etc/hostname")),
        DataFormatError,
        f"{N}:4: image 'img1': path '/etc/hostname' points outside the dataset folder",
    ),
    Case(
        "image-symlink-outside",
        dataset(image=symlink_outside),
        DataFormatError,
        f"{N}:4: image 'img1': path 'images/dog.png' points outside the dataset folder",
    ),
    Case(
        "image-symlink-loop",
        dataset(image=symlink_loop),
        DataFormatError,
        f"{N}:4: image 'img1': cannot resolve path 'images/dog.png' (symlink loop)",
    ),
    Case(
        "image-dangling-symlink",
        dataset(image=lambda path: path.symlink_to(path.parent / "gone.png")),
        DataFormatError,
        f"{N}:4: image 'img1': file not found",
    ),
    Case(
        "image-path-too-long",
        dataset(nodes=image_node("images/" + "a" * 300 + ".png")),
        DataFormatError,
        f"{N}:4: image 'img1': cannot resolve path 'images/aaaa",
    ),
    Case(
        "image-path-nul",
        dataset(nodes=image_node("images/dog\u0000.png")),
        DataFormatError,
        f"{N}:4: node 'img1': image path 'images/dog\\x00.png' contains a NUL character",
    ),
    # ---- image files (only decoding finds it: reported with the node id while encoding)
    Case(
        "image-truncated-png",
        dataset(image=truncated_png),
        EncoderError,
        "encoding image nodes: node 'img1': {data}/images/dog.png: cannot read image (OSError: image file is truncated",
    ),
    # ---- unusual but valid images
    Case("image-16-bit", dataset(image=sixteen_bit_png), None, "", image_accepted),
    Case("image-palette", dataset(image=palette_png), None, "", image_accepted),
    Case("image-cmyk", dataset(image=cmyk_jpeg), None, "", image_accepted),
    Case(
        "graph-without-images", dataset(nodes=GOOD_NODES[:3], edges=GOOD_EDGES[:2], image=None), None, "", no_image_type
    ),
    # ---- Python API
    Case(
        "api-duplicate-id",
        api(lambda tmp: api_graph(tmp).add_concept("dog", name="dog")),
        GraphValidationError,
        "duplicate node id 'dog'",
    ),
    Case(
        "api-edge-unknown-id",
        api(lambda tmp: api_graph(tmp).add_edge("dog", "is_a", "mammal")),
        GraphValidationError,
        "edge ('dog', 'is_a', 'mammal'): unknown tail id 'mammal'",
    ),
    Case(
        "api-self-loop",
        api(lambda tmp: api_graph(tmp).add_edge("dog", "is_a", "dog")),
        GraphValidationError,
        "self-loop not allowed",
    ),
    Case(
        "api-relation-with-tab",
        api(lambda tmp: api_graph(tmp).add_edge("dog", "is\ta", "animal")),
        GraphValidationError,
        "relation 'is\\ta' contains a tab or line break",
    ),
    Case(
        "api-empty-text",
        api(lambda tmp: api_graph(tmp).add_text("t", text="   ")),
        GraphValidationError,
        "node 't': text is empty",
    ),
    Case(
        "api-attributes-not-json",
        api(lambda tmp: api_graph(tmp).add_concept("x", name="x", attributes={"s": {1, 2}})),
        GraphValidationError,
        "node 'x': attributes cannot be written as JSON (TypeError",
    ),
    Case(
        "api-image-without-path",
        api(lambda tmp: api_graph(tmp).add_image("i")),
        GraphValidationError,
        "node 'i': image node needs a 'path'",
    ),
    Case(
        "api-nan-features",
        api(lambda tmp: to_hetero_data(api_graph(tmp), {"concept": torch.tensor([[0.0], [float("nan")]])})),
        GraphValidationError,
        "features for 'concept' contain NaN or infinite values (nodes 'animal')",
    ),
    Case(
        "api-infinite-features",
        api(lambda tmp: to_hetero_data(api_graph(tmp), {"concept": torch.tensor([[float("inf")], [0.0]])})),
        GraphValidationError,
        "features for 'concept' contain NaN or infinite values (nodes 'dog')",
    ),
    Case(
        "api-encoder-gives-nan",
        api(build_with_nan_encoder),
        EncoderError,
        "encoding concept nodes: encoder test-nan-text:v1 gave NaN/inf features for: 'dog'",
    ),
    Case(
        "api-empty-graph",
        api(lambda tmp: build_graph(KnowledgeGraph(tmp), fast_config(tmp))),
        GraphValidationError,
        "the graph has no nodes",
    ),
    Case(
        "api-networkx-node-without-type",
        api(lambda tmp: from_networkx(nx.DiGraph([("a", "b")]))),
        GraphValidationError,
        "networkx node 'a': missing or unknown 'type' None",
    ),
    Case(
        "api-networkx-undirected",
        api(lambda tmp: from_networkx(nx.Graph([("dog", "animal")]))),
        GraphValidationError,
        "from_networkx needs a directed graph (nx.DiGraph or nx.MultiDiGraph), got an undirected Graph",
    ),
    Case(
        "api-networkx-attributes-not-a-dict",
        api(lambda tmp: from_networkx(networkx_node(attributes=["tag1", "tag2"]))),
        GraphValidationError,
        "networkx node 'x': attributes must be a dict, got list",
    ),
    Case(
        "api-nan-attribute",
        api(lambda tmp: api_graph(tmp).add_concept("c", name="c", attributes={"score": float("nan")})),
        GraphValidationError,
        "node 'c': attributes hold NaN or Infinity, which JSON cannot hold; use None for a missing value",
    ),
    Case(
        "api-attributes-not-a-dict",
        api(lambda tmp: api_graph(tmp).add_concept("c", name="c", attributes=["tag1"])),
        GraphValidationError,
        "node 'c': attributes must be a JSON object, got list",
    ),
    Case(
        "api-image-path-and-image",
        api(lambda tmp: api_graph(tmp).add_image("i", path="images/dog.png", image=Image.new("RGB", (8, 8)))),
        GraphValidationError,
        "node 'i': image node takes a 'path' or an in-memory image, not both",
    ),
    Case(
        "api-image-given-as-path",
        api(lambda tmp: api_graph(tmp).add_image("i", path=Image.new("RGB", (8, 8)))),
        GraphValidationError,
        "node 'i': image path must be a string, got Image (an in-memory image goes in image=)",
    ),
    Case(
        "api-edge-not-a-triple",
        api(lambda tmp: api_graph(tmp).add_edges([("dog", "animal")])),
        GraphValidationError,
        "edge 1: a (head, relation, tail) triple, got ('dog', 'animal')",
    ),
    Case(
        "api-built-graph-numpy-features",
        api(lambda tmp: BuiltGraph(api_graph(tmp), {"concept": np.zeros((2, 4), np.float32)})),
        GraphValidationError,
        "features for 'concept' must be a torch.Tensor, got ndarray (torch.as_tensor(array, dtype=torch.float32))",
    ),
    Case(
        "api-built-graph-missing-features",
        api(lambda tmp: BuiltGraph(api_graph(tmp), {})),
        GraphValidationError,
        "no features for the 2 concept node(s); features has []",
    ),
    Case(
        "api-built-graph-nan-features",
        api(lambda tmp: BuiltGraph(api_graph(tmp), {"concept": torch.tensor([[0.0], [float("nan")]])})),
        GraphValidationError,
        "features for 'concept' contain NaN or infinite values (nodes 'animal')",
    ),
    Case(
        "api-split-a-built-graph",
        api(lambda tmp: split_graph(built_toy(tmp))),
        ConfigError,
        "split_graph splits a KnowledgeGraph, got BuiltGraph: pass its .graph",
    ),
    Case(
        "api-unknown-node-type",
        api(lambda tmp: api_graph(tmp).node_ids("concepts")),
        GraphValidationError,
        "unknown node type 'concepts'; node types are concept, text, image",
    ),
    Case(
        "api-save-dataset-over-a-dataset",
        api(save_over_user_files),
        OutputError,
        "{data}: already holds nodes.jsonl and edges.tsv; pass overwrite=True to replace them",
    ),
    Case(
        "api-save-dataset-images-over-other-files",
        api(save_images_over_user_files),
        OutputError,
        "{tmp}/copy: holds 1 file(s) at the paths of the graph's images that differ from them, and no file is "
        "replaced: {tmp}/copy/images/dog.png (image node",
    ),
    Case(
        "api-build-a-built-graph-folder",
        api(build_a_built_folder),
        DataFormatError,
        "{tmp}/graph: a built graph folder (it holds graph.json), not a dataset folder: load it with "
        "ga.BuiltGraph.load(",
    ),
    Case(
        "api-fit-on-a-path",
        api(lambda tmp: fit(str(tmp / "out"))),
        ConfigError,
        "fit() trains on a built graph (BuiltGraph), got str: load a built graph folder with ga.BuiltGraph.load(",
    ),
    Case(
        "api-fit-on-a-knowledge-graph",
        api(lambda tmp: fit(api_graph(tmp))),
        ConfigError,
        "got KnowledgeGraph: give its nodes features first: built, _ = ga.build_graph(kg)",
    ),
    Case(
        "api-fit-config-in-another-slot",
        api(lambda tmp: fit(built_toy(tmp), TrainConfig(epochs=1))),
        ConfigError,
        "model_config must be a ModelConfig (or a dict of its fields), got TrainConfig; pass it as train_config=",
    ),
    Case(
        "api-fit-resume-without-run-dir",
        api(lambda tmp: fit(built_toy(tmp), resume=True)),
        ConfigError,
        "resume=True continues a saved run: pass its folder as run_dir",
    ),
    Case(
        "api-numpy-numbers-in-a-config",
        api(lambda tmp: TrainConfig(epochs=np.int64(3), lr=np.float32(0.5), batch_size=np.int32(8))),
        None,
        "",  # accepted without a word, as Python numbers (run.json is JSON)
        check=lambda config: (
            json.dumps(config.to_dict()) and (config.epochs, config.lr, config.batch_size) == (3, 0.5, 8)
        ),
    ),
    Case(
        "api-bad-graph-config",
        api(lambda tmp: GraphConfig(cache_every=0)),
        ConfigError,
        "GraphConfig.cache_every must be a positive integer, got 0",
    ),
    # ---- built graph folders
    Case(
        "graph-folder-truncated-graph-json",
        load_tampered(truncate("graph.json")),
        CheckpointError,
        "graph.json: invalid JSON",
    ),
    Case(
        "graph-folder-truncated-features",
        load_tampered(truncate("features.safetensors")),
        CheckpointError,
        "features.safetensors: cannot read the features as safetensors",
    ),
    Case(
        "graph-folder-nan-features",
        load_tampered(nan_features),
        CheckpointError,
        "features.safetensors: features for 'concept' contain NaN or infinite values (nodes 'animal')",
    ),
    # ---- command line (in-process; exit status 2 and one line)
    Case(
        "cli-build-invalid-json",
        cli(cli_build, lambda tmp: write_dataset(tmp, nodes=GOOD_NODES + ["{oops"])),
        EXIT_2,
        f"error: {N}:5: invalid JSON",
    ),
    Case(
        "cli-build-unknown-tail",
        cli(cli_build, lambda tmp: write_dataset(tmp, edges=GOOD_EDGES + ["dog\tis_a\tcat"])),
        EXIT_2,
        f"error: {E}:5: edge ('dog', 'is_a', 'cat'): unknown tail id 'cat'",
    ),
    Case(
        "cli-build-image-outside",
        cli(cli_build, lambda tmp: (write_dataset(tmp, nodes=image_node("../outside.png")), outside_png(tmp))),
        EXIT_2,
        f"error: {N}:4: image 'img1': path '../outside.png' points outside the dataset folder",
    ),
    Case(
        "cli-build-truncated-png",
        cli(cli_build, lambda tmp: write_dataset(tmp, image=truncated_png)),
        EXIT_2,
        "error: encoding image nodes: node 'img1'",
    ),
    Case(
        "cli-build-missing-folder",
        cli(lambda tmp: ["build", str(tmp / "nope"), "-o", str(tmp / "out"), *FAST_CLI]),
        EXIT_2,
        "error: {tmp}/nope: dataset folder not found",
    ),
    Case(
        "cli-info-not-a-graph-folder",
        cli(lambda tmp: ["-q", "info", str(tmp / "data")]),
        EXIT_2,
        "error: {data}: not a graphalign graph folder (no graph.json)",
    ),
    Case(
        "cli-info-pickled-features",
        cli(
            lambda tmp: ["-q", "info", str(tmp / "graph")],
            built_folder(lambda g: (g / "features.safetensors").write_bytes(pickle.dumps({"x": 1}))),
        ),
        EXIT_2,
        "error: {tmp}/graph/features.safetensors: cannot read the features as safetensors",
    ),
]


def assert_nothing_half_written(tmp: Path) -> None:
    """No output folder, no debris of atomic writes, and a cache whose every shard verifies."""
    assert not (tmp / "out").exists(), "an output folder was written despite the error"
    debris = [str(p) for p in tmp.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name or ".old-" in p.name]
    assert not debris, debris
    for cache in FeatureCache.all_in(tmp / "cache"):
        report = cache.verify()
        assert report.ok and not report.temp_files, report


def test_the_catalogue_is_large_and_ids_are_unique():
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids)) and len(ids) >= 25


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.id for case in CATALOGUE])
def test_bad_input(case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    action = case.setup(tmp_path)
    data = tmp_path / "data"
    expected = case.message.format(nodes=data / "nodes.jsonl", edges=data / "edges.tsv", data=data, tmp=tmp_path)
    if case.expect is None:
        with caplog.at_level(logging.WARNING, logger="graphalign"):
            result = action()
        assert expected in caplog.text
        if case.check is not None:
            case.check(result)
        return
    if case.expect == EXIT_2:
        status, err = action()
        assert status == 2, err
        assert err.startswith(expected), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    else:
        assert isinstance(case.expect, type)
        with pytest.raises(case.expect) as info:
            action()
        assert expected in str(info.value), str(info.value)
    assert_nothing_half_written(tmp_path)


def test_every_case_is_documented():
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    missing = [case.id for case in CATALOGUE if f"`{case.id}`" not in text]
    assert not missing, f"add these catalogue cases to docs/reliability.md: {missing}"


# ---------------------------------------------------------------------------------------------- security: pickles
class Payload:
    """Unpickling this creates ``marker`` (a stand-in for running any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_pickle(path: Path, marker: Path, kind: str) -> None:
    """Writes a malicious pickle (raw, or ``torch.save``'s zip format) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "raw":
        path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    else:
        torch.save({"weights": Payload(marker)}, path)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one torch thread is much faster (and steadier) on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["raw", "torch"])
def test_the_payload_is_live(tmp_path, kind):
    """Proof that the planted files would run code if anything unpickled them."""
    marker = tmp_path / "pwned"
    plant_pickle(tmp_path / "evil.bin", marker, kind)
    if kind == "raw":
        pickle.loads((tmp_path / "evil.bin").read_bytes())
    else:
        torch.load(tmp_path / "evil.bin", weights_only=False)
    assert marker.exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A real run folder (1 epoch on a tiny toy graph)."""
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.testing import make_toy_graph
    from graphalign.training.trainer import TrainConfig, fit

    root = tmp_path_factory.mktemp("tiny-run")
    graph = make_toy_graph(root / "data", images_per_concept=2, size=8)
    built, _ = build_graph(
        graph,
        GraphConfig(
            text_encoder="hashing-text",
            text_encoder_kwargs={"dim": 16},
            image_encoder="color-histogram",
            progress=False,
            use_cache=False,
        ),
    )
    fit(
        built,
        ModelConfig(conv="sage", hidden_dim=8, out_dim=8, num_layers=1),
        TrainConfig(epochs=1),
        run_dir=root / "run",
    )
    return root / "run"


def _resume(run: Path) -> None:
    from graphalign.training.trainer import TrainConfig, fit

    fit(
        BuiltGraph.load(run / "graph"),
        None,
        TrainConfig(epochs=2),
        run_dir=run,
        resume=True,
    )


def _load_run(run: Path) -> None:
    from graphalign.training.run import TrainedRun

    TrainedRun.load(run)


@pytest.mark.parametrize("kind", ["raw", "torch"])
@pytest.mark.parametrize(
    ("target", "load", "message"),
    [
        ("model.safetensors", _load_run, "model.safetensors: cannot read the weights as safetensors"),
        ("split.safetensors", _load_run, "split.safetensors: cannot read the split as safetensors"),
        ("graph/features.safetensors", _load_run, "features.safetensors: cannot read the features as safetensors"),
        (
            "checkpoint.safetensors",
            _resume,
            "checkpoint.safetensors: cannot read the training checkpoint as safetensors",
        ),
    ],
)
def test_a_planted_pickle_in_a_run_folder_is_refused(tiny_run, tmp_path, target, load, message, kind):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    marker = tmp_path / "pwned"
    (run / target).unlink()
    plant_pickle(run / target, marker, kind)
    with pytest.raises(CheckpointError, match=message):
        load(run)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("target", "load", "message"),
    [
        ("model.safetensors", _load_run, "model.safetensors: corrupt weights"),
        ("split.safetensors", _load_run, "split.safetensors: corrupt split"),
        ("graph/features.safetensors", _load_run, "features.safetensors: corrupt features"),
        ("checkpoint.safetensors", _resume, "checkpoint.safetensors: corrupt training checkpoint"),
    ],
)
def test_a_flipped_bit_in_a_run_file_is_caught(tiny_run, tmp_path, target, load, message):
    """safetensors checks its header, not the tensor bytes: the checksum written with them does."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    data = bytearray((run / target).read_bytes())
    data[-1] ^= 0x01  # the last byte belongs to the last tensor's data
    (run / target).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=message):
        load(run)


def test_files_without_a_checksum_still_load(tmp_path):
    """Files written before checksums (or by other tools) load as they are."""
    import torch
    from safetensors.torch import save_file

    from graphalign.atomic import CHECKSUM_KEY, atomic_save_safetensors, read_safetensors

    save_file({"w": torch.arange(4.0)}, str(tmp_path / "plain.safetensors"), metadata={"note": "x"})
    tensors, metadata = read_safetensors(tmp_path / "plain.safetensors")
    assert torch.equal(tensors["w"], torch.arange(4.0)) and metadata == {"note": "x"}
    atomic_save_safetensors(tmp_path / "checked.safetensors", {"w": torch.arange(4.0), "empty": torch.zeros(0, 3)})
    tensors, metadata = read_safetensors(tmp_path / "checked.safetensors")
    assert CHECKSUM_KEY not in metadata and tensors["empty"].shape == (0, 3)


def test_a_planted_pickle_in_the_cache_is_quarantined_not_loaded(tmp_path, caplog):
    write_dataset(tmp_path)
    build_and_save(tmp_path)
    marker = tmp_path / "pwned"
    cache = next(c for c in FeatureCache.all_in(tmp_path / "cache") if c.identity.startswith("color-histogram"))
    for shard in cache.folder.glob("shard-*.safetensors"):
        shard.unlink()
    plant_pickle(cache.folder / "shard-evil.safetensors", marker, "torch")
    assert not cache.verify().ok
    with caplog.at_level(logging.WARNING, logger="graphalign"):
        _, stats = build_graph(tmp_path / "data", fast_config(tmp_path))
    assert "shard-evil.safetensors is corrupt (unreadable" in caplog.text
    assert stats.encoded["image"] == 1 and not marker.exists()
    assert (cache.folder / "shard-evil.corrupt").exists() and cache.verify().ok


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["raw", "torch"])
def test_a_planted_pickle_as_image_encoder_weights_is_refused(tmp_path, kind):
    from graphalign.encoders.torchvision_backbone import load_state_dict_file

    marker = tmp_path / "pwned"
    plant_pickle(tmp_path / "weights.pt", marker, kind)
    with pytest.raises(EncoderError, match="weights.pt: cannot load weights safely"):
        load_state_dict_file(tmp_path / "weights.pt")
    assert not marker.exists()


def test_no_module_unpickles():
    """Static guard: no pickle.load(s), no torch.load without weights_only=True, no numpy allow_pickle."""
    offenders = []
    for path in (ROOT / "graphalign").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "joblib.load"):
                offenders.append(f"{path}:{node.lineno}: {name}")
            if name.endswith("torch.load") and keywords.get("weights_only") != "True":
                offenders.append(f"{path}:{node.lineno}: torch.load without weights_only=True")
            if keywords.get("allow_pickle") == "True":
                offenders.append(f"{path}:{node.lineno}: allow_pickle=True")
    assert not offenders, offenders


# ---------------------------------------------------------------------------------------------- security: remote code
def test_trust_remote_code_is_never_on_by_default():
    """Static guard: every ``trust_remote_code`` parameter defaults to False and no call passes True."""
    found = []
    for path in (ROOT / "graphalign").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = (
                    [None] * (len(node.args.args) - len(node.args.defaults))
                    + node.args.defaults
                    + node.args.kw_defaults
                )
                for arg, default in zip(args, defaults):
                    if arg.arg == "trust_remote_code":
                        found.append(arg.arg)
                        # No default (the caller must say) or False; never True.
                        assert default is None or ast.unparse(default) == "False", f"{path}:{node.lineno}"
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                assert ast.unparse(node.value) != "True", f"{path}: trust_remote_code=True"
    assert found  # the encoders that can load hub code do take the parameter


@pytest.mark.parametrize(
    ("name", "kwargs", "item"),
    [
        ("transformers", {"model": "someone/custom-model"}, "a text"),
        ("minilm", {}, "a text"),
        ("clip-text", {"model": "someone/custom-clip"}, "a text"),
        ("clip-image", {"model": "someone/custom-clip"}, Image.new("RGB", (8, 8))),
    ],
)
def test_encoders_load_hub_models_without_remote_code(name, kwargs, item, monkeypatch):
    """Every ``from_pretrained`` call an encoder makes gets ``trust_remote_code=False``."""
    import transformers

    from graphalign.encoders import build_encoder

    calls: list[dict[str, Any]] = []

    def refuse(model, **options):
        calls.append(options)
        raise OSError("offline test: nothing is loaded")

    for factory in ("AutoConfig", "AutoTokenizer", "AutoModel", "CLIPModel", "AutoImageProcessor"):
        monkeypatch.setattr(getattr(transformers, factory), "from_pretrained", refuse)
    encoder = build_encoder(name, {"device": "cpu", "progress": False, **kwargs})
    with pytest.raises(EncoderError, match="cannot load"):
        encoder.encode([item])
    assert calls and all(options.get("trust_remote_code") is False for options in calls), calls
