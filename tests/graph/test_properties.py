"""Property-based tests: random graphs round-trip; random bytes never crash the readers."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphalign.errors import GraphAlignError
from graphalign.graph import KnowledgeGraph, from_networkx, load_dataset, save_dataset, to_hetero_data, to_networkx

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), min_size=1, max_size=12)
ids = _text.map(str.strip).filter(bool)
relations = _text.map(str.strip).filter(lambda r: bool(r) and not r.startswith("rev_"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def graphs(draw) -> KnowledgeGraph:
    node_ids = draw(st.lists(ids, min_size=1, max_size=12, unique=True))
    kg = KnowledgeGraph()
    for node_id in node_ids:
        kind = draw(st.sampled_from(["concept", "text", "image"]))
        attributes = draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2))
        if kind == "concept":
            kg.add_concept(node_id, name=draw(ids), description=draw(st.none() | st.text(max_size=20)), attributes=attributes)
        elif kind == "text":
            kg.add_text(node_id, text=draw(ids), language=draw(st.none() | st.sampled_from(["en", "fr", "pt-BR"])), attributes=attributes)
        else:
            kg.add_image(node_id, path="images/x.png", attributes=attributes)
    triples = draw(st.lists(st.tuples(st.sampled_from(node_ids), relations, st.sampled_from(node_ids)), max_size=20))
    for head, relation, tail in triples:
        if kg.edge_problem(head, relation, tail) is None:
            kg.add_edge(head, relation, tail)
    return kg


@SETTINGS
@given(graphs())
def test_random_graphs_round_trip_through_the_files(kg):
    with tempfile.TemporaryDirectory() as folder:
        save_dataset(kg, folder)
        again = load_dataset(folder, check_images=False)
        assert again == kg
        save_dataset(again, Path(folder) / "second")
        assert (Path(folder) / "nodes.jsonl").read_bytes() == (Path(folder) / "second" / "nodes.jsonl").read_bytes()
        assert (Path(folder) / "edges.tsv").read_bytes() == (Path(folder) / "second" / "edges.tsv").read_bytes()


@SETTINGS
@given(graphs())
def test_random_graphs_round_trip_through_networkx_and_heterodata(kg):
    assert from_networkx(to_networkx(kg)) == kg
    data = to_hetero_data(kg)
    assert sum(data[et].edge_index.size(1) for et in data.edge_types) == 2 * kg.num_edges
    for node_type, count in kg.counts()["nodes"].items():
        assert (data[node_type].num_nodes if node_type in data.node_types else 0) == count


@SETTINGS
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_readers_never_crash_on_random_bytes(nodes, edges):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "nodes.jsonl").write_bytes(nodes)
        (Path(folder) / "edges.tsv").write_bytes(edges)
        try:
            load_dataset(folder, check_images=False)
        except GraphAlignError:
            pass


json_lines = st.lists(
    st.fixed_dictionaries(
        {"id": st.one_of(ids, st.integers(), st.none()), "type": st.sampled_from(["concept", "text", "image", "video", 3])},
        optional={"name": st.one_of(st.text(max_size=5), st.integers()), "text": st.one_of(st.text(max_size=5), st.none()),
                  "path": st.text(max_size=5), "attributes": json_values, "extra": st.integers()},
    ),
    max_size=6,
)


@SETTINGS
@given(json_lines, st.lists(st.lists(st.text(max_size=6), max_size=4), max_size=5))
def test_readers_never_crash_on_structured_garbage(records, rows):
    import json

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "nodes.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
        (Path(folder) / "edges.tsv").write_text("\n".join("\t".join(row) for row in rows), encoding="utf-8")
        try:
            load_dataset(folder, check_images=False)
        except GraphAlignError:
            pass
