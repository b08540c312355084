from __future__ import annotations

import pytest

from graphalign.errors import GraphValidationError
from graphalign.graph import KnowledgeGraph


def small_graph() -> KnowledgeGraph:
    kg = KnowledgeGraph()
    kg.add_concept("animal", name="animal")
    kg.add_concept("dog", name="dog", description="a domesticated canid")
    kg.add_text("t1", text="A dog in the park.", language="en")
    kg.add_edge("dog", "is_a", "animal")
    kg.add_edge("t1", "describes", "dog")
    return kg


def test_builder_counts_types_and_edge_types():
    kg = small_graph()
    assert kg.num_nodes == 3 and kg.num_edges == 2
    assert kg.node_ids("concept") == ["animal", "dog"]
    assert kg.counts() == {
        "nodes": {"concept": 2, "text": 1, "image": 0},
        "edges": {"concept|is_a|concept": 1, "text|describes|concept": 1},
    }
    assert kg.edge_type(kg.edges[1]) == ("text", "describes", "concept")
    assert repr(kg) == "KnowledgeGraph(concept=2, text=1, image=0, edges=2)"


def test_any_relation_name_works_including_unicode():
    kg = small_graph()
    kg.add_edge("animal", "überbegriff_von", "dog")
    assert kg.edge_type(kg.edges[-1]) == ("concept", "überbegriff_von", "concept")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda kg: kg.add_concept("dog", name="dog again"), "duplicate node id 'dog'"),
        (lambda kg: kg.add_text("t2", text="   "), "text is empty"),
        (lambda kg: kg.add_concept("c", name=""), "concept name is empty"),
        (lambda kg: kg.add_concept("", name="x"), "node id is empty"),
        (lambda kg: kg.add_concept(" c", name="x"), "leading or trailing whitespace"),
        (lambda kg: kg.add_image("i1"), "needs a 'path'"),
        (lambda kg: kg.add_edge("dog", "is_a", "cat"), "unknown tail id 'cat'"),
        (lambda kg: kg.add_edge("wolf", "is_a", "dog"), "unknown head id 'wolf'"),
        (lambda kg: kg.add_edge("wolf", "is_a", "cat"), "unknown head id 'wolf' and tail id 'cat'"),
        (lambda kg: kg.add_edge("dog", "is_a", "animal"), "duplicate edge ('dog', 'is_a', 'animal')"),
        (lambda kg: kg.add_edge("dog", "similar_to", "dog"), "self-loop not allowed"),
        (lambda kg: kg.add_edge("dog", "is\ta", "animal"), "contains a tab"),
        (lambda kg: kg.add_edge("dog", "rev_is_a", "animal"), "reserved for reverse edges"),
        (lambda kg: kg.add_edge("dog", "", "animal"), "relation must be a non-empty string"),
    ],
)
def test_invalid_calls_raise_and_change_nothing(call, message):
    kg = small_graph()
    before = (kg.edges, list(kg.nodes()))
    with pytest.raises(GraphValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(kg)
    assert (kg.edges, list(kg.nodes())) == before


def test_self_loops_allowed_when_asked():
    kg = KnowledgeGraph(allow_self_loops=True)
    kg.add_concept("a", name="a")
    kg.add_edge("a", "related_to", "a")
    assert kg.num_edges == 1


def test_add_edges_is_all_or_nothing():
    kg = small_graph()
    with pytest.raises(GraphValidationError, match="2 problems"):
        kg.add_edges([("animal", "has", "dog"), ("dog", "x", "nope"), ("animal", "has", "dog")])
    assert kg.num_edges == 2


def test_image_validation_missing_directory_outside_and_corrupt(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    outside = tmp_path.parent / "outside.png"
    kg = KnowledgeGraph(tmp_path)
    kg.add_image("missing", path="nope.png")
    kg.add_image("dir", path="sub")
    kg.add_image("bad", path="bad.png")
    kg.add_image("escape", path=f"../{outside.name}")
    with pytest.raises(GraphValidationError) as info:
        kg.validate()
    text = str(info.value)
    assert "image 'missing': file not found" in text
    assert "image 'dir': not a file" in text
    assert "image 'bad': cannot read image" in text
    assert "image 'escape': path '../outside.png' points outside the dataset folder" in text


def test_symlink_escaping_the_folder_is_refused(tmp_path):
    from PIL import Image

    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (4, 4)).save(outside / "x.png")
    root = tmp_path / "data"
    root.mkdir()
    (root / "link.png").symlink_to(outside / "x.png")
    kg = KnowledgeGraph(root)
    kg.add_image("i", path="link.png")
    with pytest.raises(GraphValidationError, match="points outside the dataset folder"):
        kg.validate()
    allowed = KnowledgeGraph(root, allow_outside_root=True)
    allowed.add_image("i", path="link.png")
    allowed.validate()


def test_empty_graph_is_invalid():
    with pytest.raises(GraphValidationError, match="the graph has no nodes"):
        KnowledgeGraph().validate()


def test_display_names():
    kg = small_graph()
    assert kg.display_name("dog") == "dog"
    assert kg.display_name("t1") == "A dog in the park."
