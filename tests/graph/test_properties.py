"""Property-based tests: random graphs round-trip; random bytes never crash the readers."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphalign.errors import GraphAlignError
from graphalign.graph import KnowledgeGraph, from_networkx, load_dataset, save_dataset, to_hetero_data, to_networkx
from graphalign.graph.schema import check_id, check_relation

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    min_size=1,
    max_size=12,
)
ids = _text.map(str.strip).filter(lambda i: check_id(i) is None)  # e.g. "#" starts a comment in edges.tsv
relations = _text.map(str.strip).filter(lambda r: check_relation(r) is None)  # e.g. "rev_" is reserved
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
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
            kg.add_concept(
                node_id, name=draw(ids), description=draw(st.none() | st.text(max_size=20)), attributes=attributes
            )
        elif kind == "text":
            kg.add_text(
                node_id,
                text=draw(ids),
                language=draw(st.none() | st.sampled_from(["en", "fr", "pt-BR"])),
                attributes=attributes,
            )
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
        {
            "id": st.one_of(ids, st.integers(), st.none()),
            "type": st.sampled_from(["concept", "text", "image", "video", 3]),
        },
        optional={
            "name": st.one_of(st.text(max_size=5), st.integers()),
            "text": st.one_of(st.text(max_size=5), st.none()),
            "path": st.text(max_size=5),
            "attributes": json_values,
            "extra": st.integers(),
        },
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


FEWER = settings(SETTINGS, max_examples=25)


@FEWER
@given(graphs(), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_random_built_graphs_round_trip_through_their_folder(kg, dim, seed):
    import torch

    from graphalign.features.store import BuiltGraph

    generator = torch.Generator().manual_seed(seed)
    counts = kg.counts()["nodes"]
    features = {t: torch.randn(n, dim, generator=generator) for t, n in counts.items() if n}
    built = BuiltGraph(graph=kg, features=features, config={"seed": seed}, encoders={"text": "x"})
    with tempfile.TemporaryDirectory() as folder:
        built.save(Path(folder) / "g")
        again = BuiltGraph.load(Path(folder) / "g")
        assert again.graph == kg and again.config == {"seed": seed} and again.encoders == {"text": "x"}
        assert set(again.features) == set(features)
        for node_type, x in features.items():
            assert torch.equal(again.features[node_type], x)
        data, data_again = built.hetero_data, again.hetero_data
        assert sorted(data.edge_types) == sorted(data_again.edge_types)
        for edge_type in data.edge_types:
            assert torch.equal(data[edge_type].edge_index, data_again[edge_type].edge_index)


@FEWER
@given(graphs(), st.data())
def test_mutated_dataset_files_never_crash_the_reader(kg, data):
    """Byte flips, cuts and insertions in a valid dataset give a graph or the library's error."""
    with tempfile.TemporaryDirectory() as folder:
        save_dataset(kg, folder)
        for name in ("nodes.jsonl", "edges.tsv"):
            path = Path(folder) / name
            raw = bytearray(path.read_bytes())
            for _ in range(data.draw(st.integers(1, 4))):
                position = data.draw(st.integers(0, max(0, len(raw) - 1)))
                action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
                if action == "flip" and raw:
                    raw[position] ^= 1 << data.draw(st.integers(0, 7))
                elif action == "cut":
                    del raw[position : position + data.draw(st.integers(1, 20))]
                else:
                    raw[position:position] = data.draw(
                        st.sampled_from([b"\t", b"\n", b"\r", b'"', b"{", b"\\u", b"#", b"\xef\xbb\xbf", b"\x00"])
                    )
            path.write_bytes(bytes(raw))
        try:
            load_dataset(folder, check_images=False)
        except GraphAlignError:
            pass
