from __future__ import annotations

import json

import pytest
from PIL import Image

from graphalign.errors import DataFormatError, OutputError
from graphalign.graph import KnowledgeGraph, load_dataset, save_dataset


def write(folder, nodes: list[str] | str, edges: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = nodes if isinstance(nodes, str) else "\n".join(nodes) + "\n"
    (folder / "nodes.jsonl").write_text(text, encoding="utf-8")
    (folder / "edges.tsv").write_text(edges, encoding="utf-8")


GOOD = [
    '{"id": "dog", "type": "concept", "name": "dog", "description": "a canid"}',
    '{"id": "animal", "type": "concept", "name": "animal"}',
    '{"id": "t1", "type": "text", "text": "A dog.", "language": "en", "attributes": {"source": "x"}}',
    '{"id": "img1", "type": "image", "path": "images/dog.png"}',
]


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "data"
    write(folder, GOOD, "# comment\ndog\tis_a\tanimal\n\nt1\tdescribes\timg1\nimg1\tdepicts\tdog\n")
    (folder / "images").mkdir()
    Image.new("RGB", (8, 8), "red").save(folder / "images" / "dog.png")
    return folder


def test_load_reads_everything(dataset):
    kg = load_dataset(dataset)
    assert kg.num_nodes == 4 and kg.num_edges == 3
    assert kg["t1"].attributes == {"source": "x"}
    assert kg["dog"].description == "a canid"
    assert kg.root == dataset


def test_round_trip_is_exact(dataset, tmp_path):
    kg = load_dataset(dataset)
    out = tmp_path / "copy"
    save_dataset(kg, out)  # copies the image file, so the copy loads on its own
    assert (out / "images" / "dog.png").read_bytes() == (dataset / "images" / "dog.png").read_bytes()
    again = load_dataset(out)
    assert again == kg
    # Saving the reloaded graph gives byte-identical files.
    out2 = tmp_path / "copy2"
    save_dataset(again, out2)
    for name in ("nodes.jsonl", "edges.tsv"):
        assert (out / name).read_bytes() == (out2 / name).read_bytes()
    assert (out / "nodes.jsonl").read_text().splitlines()[0] == GOOD[0]


def test_in_memory_images_are_saved_as_png(tmp_path):
    kg = KnowledgeGraph()
    kg.add_image("img:a/b", image=Image.new("RGBA", (5, 5), (0, 255, 0, 128)))
    save_dataset(kg, tmp_path / "out")
    loaded = load_dataset(tmp_path / "out")
    assert loaded["img:a/b"].path == "images/img_a_b.png"
    assert (tmp_path / "out" / "images" / "img_a_b.png").is_file()


def test_bom_and_windows_line_endings_are_accepted(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    nodes = "\ufeff" + "\r\n".join(GOOD[:3]) + "\r\n"
    (folder / "nodes.jsonl").write_bytes(nodes.encode("utf-8"))
    (folder / "edges.tsv").write_bytes("\ufeffdog\tis_a\tanimal\r\nt1\tdescribes\tdog\r\n".encode("utf-8"))
    kg = load_dataset(folder)
    assert kg.num_edges == 2 and kg.edges[0].tail == "animal"


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        (GOOD[:2] + ["{not json"], "", "nodes.jsonl:3: invalid JSON"),
        (GOOD[:2] + ['["a list"]'], "", "nodes.jsonl:3: expected a JSON object"),
        (GOOD[:2] + ['{"type": "concept", "name": "x"}'], "", "nodes.jsonl:3: missing field 'id'"),
        (GOOD[:2] + ['{"id": "x", "name": "x"}'], "", "nodes.jsonl:3: node 'x': missing field 'type'"),
        (
            GOOD[:2] + ['{"id": "x", "type": "video", "path": "a.mp4"}'],
            "",
            "nodes.jsonl:3: node 'x': unknown node type 'video'",
        ),
        (GOOD[:2] + ['{"id": "x", "type": "text"}'], "", "nodes.jsonl:3: node 'x': missing field 'text'"),
        (GOOD[:2] + ['{"id": "x", "type": "text", "text": "  "}'], "", "nodes.jsonl:3: node 'x': text is empty"),
        (GOOD[:2] + ['{"id": "x", "type": "text", "text": 5}'], "", "nodes.jsonl:3: node 'x': text must be a string"),
        (
            GOOD[:2] + ['{"id": 7, "type": "concept", "name": "n"}'],
            "",
            "nodes.jsonl:3: node 7: node id must be a string",
        ),
        (
            GOOD[:2] + ['{"id": "x", "type": "text", "txt": "hi", "text": "hi"}'],
            "",
            "nodes.jsonl:3: node 'x': unexpected field(s) 'txt'",
        ),
        (
            GOOD[:2] + ['{"id": "x", "type": "concept", "name": "x", "attributes": [1]}'],
            "",
            "nodes.jsonl:3: node 'x': attributes must be a JSON object",
        ),
        (
            GOOD[:2] + ['{"id": "dog", "type": "concept", "name": "dog"}'],
            "",
            "nodes.jsonl:3: duplicate node id 'dog' (first defined on line 1)",
        ),
        (GOOD[:2], "dog\tis_a\n", "edges.tsv:1: expected 3 tab-separated fields"),
        (
            GOOD[:2],
            "dog is_a animal\n",
            "edges.tsv:1: expected 3 tab-separated fields (head, relation, tail), got 1 "
            "(fields must be separated by tabs)",
        ),
        (
            GOOD[:2],
            "dog\tis_a\tanimal\tx\n",
            "edges.tsv:1: expected 3 tab-separated fields (head, relation, tail), got 4",
        ),
        (GOOD[:2], "# c\ndog\tis_a\tcat\n", "edges.tsv:2: edge ('dog', 'is_a', 'cat'): unknown tail id 'cat'"),
        (GOOD[:2], "dog\tis_a\tanimal\ndog\tis_a\tanimal\n", "edges.tsv:2: duplicate edge ('dog', 'is_a', 'animal')"),
        (GOOD[:2], "dog\tis_a\tdog\n", "edges.tsv:1: edge ('dog', 'is_a', 'dog'): self-loop not allowed"),
        (GOOD[:2], "dog\t\tanimal\n", "edges.tsv:1: empty field"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path, nodes, edges, expected):
    folder = tmp_path / "bad"
    write(folder, nodes, edges)
    with pytest.raises(DataFormatError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert expected in message, message
    assert str(folder) in message


def test_every_bad_line_is_reported(tmp_path):
    folder = tmp_path / "bad"
    write(folder, GOOD[:2] + ["{oops", '{"id": "dog", "type": "concept", "name": "d"}'])
    with pytest.raises(DataFormatError) as info:
        load_dataset(folder)
    assert len(info.value.problems) == 2
    assert info.value.line == 3 and info.value.path.endswith("nodes.jsonl")


def test_missing_files_and_folder(tmp_path):
    with pytest.raises(DataFormatError, match="dataset folder not found"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="nodes.jsonl: file not found"):
        load_dataset(tmp_path / "empty")


def test_invalid_utf8_names_the_line(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "nodes.jsonl").write_bytes(GOOD[1].encode() + b"\n" + b'{"id": "\xff"}\n')
    with pytest.raises(DataFormatError, match=r"nodes.jsonl:2: not valid UTF-8"):
        load_dataset(folder)


def test_missing_image_file_is_reported(dataset):
    (dataset / "images" / "dog.png").unlink()
    with pytest.raises(DataFormatError.__mro__[1], match="image 'img1': file not found"):
        load_dataset(dataset)


def test_empty_dataset_is_an_error(tmp_path):
    write(tmp_path / "e", "")
    with pytest.raises(Exception, match="the graph has no nodes"):
        load_dataset(tmp_path / "e")


def test_nodes_file_is_valid_jsonl(dataset, tmp_path):
    save_dataset(load_dataset(dataset), tmp_path / "o")
    for line in (tmp_path / "o" / "nodes.jsonl").read_text().splitlines():
        assert isinstance(json.loads(line), dict)


def test_save_dataset_never_replaces_a_file_it_did_not_write(tmp_path, caplog):
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(folder / "images" / "cat.png")  # the user's photo
    kg = KnowledgeGraph(folder)
    kg.add_concept("c", name="cat")
    kg.add_image("photo", path="images/cat.png")
    kg.add_image("cat", image=Image.new("RGB", (8, 8), "blue"))  # its file name would be images/cat.png
    save_dataset(kg, folder)
    again = load_dataset(folder)
    assert again["photo"].path == "images/cat.png" and again["cat"].path == "images/cat_.png"
    assert Image.open(folder / "images" / "cat.png").getpixel((0, 0)) == (255, 0, 0)  # still the user's
    with pytest.raises(OutputError, match="already holds nodes.jsonl and edges.tsv; pass overwrite=True"):
        save_dataset(kg, folder)
    again.add_concept("d", name="dog")
    save_dataset(again, folder, overwrite=True)  # a graph loaded from the folder, changed, saved back
    assert load_dataset(folder) == again
    with caplog.at_level("WARNING", logger="graphalign"):
        save_dataset(again, tmp_path / "elsewhere", copy_images=False)  # its relative image paths do not resolve
    assert "2 image path(s) are relative to" in caplog.text and "(first: images/cat.png)" in caplog.text
    assert not (tmp_path / "elsewhere" / "images").exists()


def test_save_dataset_to_another_folder_copies_the_images(tmp_path, caplog):
    source = tmp_path / "data"
    (source / "images" / "sub").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(source / "images" / "sub" / "cat.png")
    Image.new("RGB", (8, 8), "green").save(tmp_path / "outside.png")  # a path that leaves the root
    kg = KnowledgeGraph(source)
    kg.add_image("photo", path="images/sub/cat.png")
    kg.add_image("again", path="images/./sub/cat.png")  # the same file: copied once
    kg.add_image("out", path="../outside.png")
    kg.add_image("made", image=Image.new("RGB", (8, 8), "blue"))
    with caplog.at_level("WARNING", logger="graphalign"):
        save_dataset(kg, tmp_path / "copy")
    assert "1 image path(s) are relative to" in caplog.text and "(first: ../outside.png)" in caplog.text
    loaded = load_dataset(tmp_path / "copy", allow_outside_root=True)  # every image under the copy resolves
    assert Image.open(tmp_path / "copy" / "images" / "sub" / "cat.png").getpixel((0, 0)) == (255, 0, 0)
    assert loaded["photo"].path == "images/sub/cat.png" and loaded["made"].path == "images/made.png"
    (source / "images" / "sub" / "cat.png").unlink()  # the copy does not depend on the source any more
    assert load_dataset(tmp_path / "copy", allow_outside_root=True)["photo"].path == "images/sub/cat.png"


def test_save_dataset_never_replaces_a_different_file_at_an_image_path(tmp_path):
    source = tmp_path / "data"
    (source / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(source / "images" / "cat.png")
    Image.new("RGB", (8, 8), "red").save(source / "images" / "dog.png")
    kg = KnowledgeGraph(source)
    kg.add_image("cat", path="images/cat.png")
    kg.add_image("dog", path="images/dog.png")
    target = tmp_path / "copy"
    (target / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "blue").save(target / "images" / "cat.png")  # the user's own file
    with pytest.raises(OutputError, match=r"holds 1 file\(s\) at the paths of the graph's images that differ"):
        save_dataset(kg, target)
    assert Image.open(target / "images" / "cat.png").getpixel((0, 0)) == (0, 0, 255)
    assert sorted(p.name for p in target.rglob("*")) == ["cat.png", "images"]  # nothing written
    (target / "images" / "cat.png").write_bytes((source / "images" / "cat.png").read_bytes())
    save_dataset(kg, target)  # the same bytes there: kept, the rest copied
    assert load_dataset(target)["dog"].path == "images/dog.png"


def test_saving_a_graph_again_keeps_its_in_memory_images_files(tmp_path):
    kg = KnowledgeGraph(tmp_path)
    kg.add_image("cat", image=Image.new("RGB", (8, 8), "blue"))
    save_dataset(kg, tmp_path)
    save_dataset(kg, tmp_path, overwrite=True)  # the same PNG: its file is kept, no copy beside it
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["cat.png"]
    assert load_dataset(tmp_path)["cat"].path == "images/cat.png"
