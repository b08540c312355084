"""Dataset content cases of docs/reliability.md ("Dataset content: more cases").

Loading checks the records, the edge lines, the ids and relations and the image
files in one pass and reports every problem in one error; these tests give it
datasets with several mistakes at once, inputs that ``json`` and a plain "is it
empty" rule would let through (duplicate keys, ``NaN``, invisible texts and
ids), misnamed files, and unusual but valid texts that must stay accepted.
Every case with an id is a row of the docs, checked by
:func:`test_every_case_is_documented`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_reliability_catalogue import (
    GOOD_EDGES,
    GOOD_NODES,
    assert_nothing_half_written,
    build_and_save,
    write_dataset,
)

from graphalign.errors import DataFormatError, GraphValidationError
from graphalign.graph import KnowledgeGraph, load_dataset
from graphalign.graph.schema import MAX_NAME_CHARS, check_id, check_relation

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- every problem at once
def four_mistakes(tmp: Path) -> Path:
    """The dataset of the README example: a bad type, a one-field edge line, an unknown tail, a missing image."""
    nodes = GOOD_NODES + [
        '{"id": "img2", "type": "image", "path": "images/cat.png"}',  # line 5: no such file
        '{"id": "img3", "type": "imge", "path": "images/dog.png"}',  # line 6: a typo in the type
    ]
    edges = GOOD_EDGES + [
        "img1 depicts animal",  # line 5: spaces, not tabs
        "img3\tdepicts\tdog",  # line 6: an edge of the broken node: not reported again
        "img2\tdepicts\twn:x",  # line 7: unknown tail
    ]
    return write_dataset(tmp, nodes=nodes, edges=edges)


def four_problems(data: Path) -> list[str]:
    nodes, edges = data / "nodes.jsonl", data / "edges.tsv"
    return [
        f"{nodes}:5: image 'img2': file not found: {(data / 'images' / 'cat.png').resolve()}",
        f"{nodes}:6: node 'img3': unknown node type 'imge' (expected one of: concept, text, image)",
        f"{edges}:5: expected 3 tab-separated fields (head, relation, tail), got 1 (fields must be separated by tabs)",
        f"{edges}:7: edge ('img2', 'depicts', 'wn:x'): unknown tail id 'wn:x'",
    ]


def test_every_problem_of_every_stage_is_in_one_error(tmp_path: Path) -> None:
    data = four_mistakes(tmp_path)
    with pytest.raises(DataFormatError) as info:
        build_and_save(tmp_path)
    assert info.value.problems == four_problems(data)
    assert str(info.value).startswith("4 problems:\n  ")
    assert info.value.path == str(data / "nodes.jsonl") and info.value.line == 5
    assert_nothing_half_written(tmp_path)


def test_the_command_line_reports_every_problem(tmp_path: Path) -> None:
    """``graphalign build`` as a separate process: exit 2, every problem on stderr, no traceback, no output."""
    data = four_mistakes(tmp_path)
    env = {**os.environ, "GRAPHALIGN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "graphalign",
            "build",
            str(data),
            "-o",
            str(tmp_path / "out"),
            "--text-encoder",
            "hashing-text",
            "--image-encoder",
            "color-histogram",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: 4 problems:" in result.stderr
    for problem in four_problems(data):
        assert f"  {problem}\n" in result.stderr, result.stderr
    assert_nothing_half_written(tmp_path)


def test_records_edges_and_images_problems_beyond_the_limit_are_counted(tmp_path: Path) -> None:
    nodes = GOOD_NODES + [f'{{"id": "bad{i}", "type": "text", "text": ""}}' for i in range(15)]
    edges = GOOD_EDGES + [f"dog\tis_a\tghost{i}" for i in range(15)]
    write_dataset(tmp_path, nodes=nodes, edges=edges, image=None)
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path / "data")
    assert len(info.value.problems) == 31  # 15 records, 1 image, 15 edges
    assert str(info.value).endswith(f"... and {31 - DataFormatError.MAX_SHOWN} more")


def test_a_bad_record_and_an_unknown_id_on_the_same_edge_are_both_reported(tmp_path: Path) -> None:
    """The id of a broken record counts as known; the other end of its edge is still checked."""
    nodes = GOOD_NODES + ['{"id": "x", "type": "text", "text": "", "language": "en"}']
    write_dataset(tmp_path, nodes=nodes, edges=GOOD_EDGES + ["x\tdescribes\tcat"])
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path / "data")
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "node 'x': text is empty",
        "edge ('x', 'describes', 'cat'): unknown tail id 'cat'",
    ]


def test_without_a_readable_nodes_file_only_relations_are_checked(tmp_path: Path) -> None:
    """No records to check ids against: no cascade of 'unknown id' lines."""
    write_dataset(tmp_path, edges=GOOD_EDGES + ["dog\trev_x\tcat"])
    (tmp_path / "data" / "nodes.jsonl").unlink()
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path / "data")
    data = tmp_path / "data"
    assert info.value.problems == [
        f"{data / 'nodes.jsonl'}: file not found",
        f"{data / 'edges.tsv'}:5: relation 'rev_x': the prefix 'rev_' is reserved for reverse edges",
    ]


# ---------------------------------------------------------------------------------------------- the catalogue
def dataset(
    nodes: list[str] | None = None, edges: list[str] | None = None, prepare: Callable[[Path], None] | None = None
) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        write_dataset(tmp, nodes=nodes, edges=edges)
        if prepare is not None:
            prepare(tmp / "data")

    return setup


def node(**fields: Any) -> list[str]:
    """The base nodes plus one (line 5), written with ``json.dumps`` (non-ASCII escaped)."""
    return GOOD_NODES + [json.dumps(fields)]


def misname_edges(data: Path) -> None:
    (data / "edges.tsv").rename(data / "edge.tsv")


def empty_edges(data: Path) -> None:
    (data / "edges.tsv").write_text("# head<TAB>relation<TAB>tail\n", encoding="utf-8")


def concatenated(data: Path) -> None:
    """Each file written as two files joined with ``cat``, both with a byte-order mark."""
    for name, lines in (("nodes.jsonl", GOOD_NODES), ("edges.tsv", GOOD_EDGES[1:])):
        first, second = "\n".join(lines[:2]) + "\n", "\n".join(lines[2:]) + "\n"
        (data / name).write_bytes(("\ufeff" + first).encode() + ("\ufeff" + second).encode())


UNUSUAL_TEXTS = [
    "一只狗在沙发上。",  # CJK
    "🐕‍🦺 on a sofa 🛋️",  # emoji with a zero-width joiner and a variation selector
    "\u200fכלב על ספה",  # Hebrew after a right-to-left mark
    "كلب على أريكة",  # Arabic
    "cafe\u0301 au lait",  # a combining accent on a base letter
    "강아지",  # Hangul
]
UNUSUAL_NODES = (
    GOOD_NODES
    + [
        json.dumps({"id": f"u{i}", "type": "text", "text": t}, ensure_ascii=i % 2 == 0)
        for i, t in enumerate(UNUSUAL_TEXTS)
    ]
    + [
        json.dumps({"id": "שלום", "type": "concept", "name": "שלום"}, ensure_ascii=False),
        json.dumps({"id": "👨‍👩‍👧", "type": "concept", "name": "👨‍👩‍👧"}, ensure_ascii=False),
    ]
)


def accepted(check: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
    return check or (lambda result: None)


def unusual_texts_kept(result: Any) -> None:
    built, _ = result
    assert [built.graph[f"u{i}"].text for i in range(len(UNUSUAL_TEXTS))] == UNUSUAL_TEXTS
    assert built.graph.num_edges == 3 and built.features["text"].shape[0] == 1 + len(UNUSUAL_TEXTS)


def concatenated_kept(result: Any) -> None:
    built, _ = result
    assert [e.as_tuple() for e in built.graph.edges] == [
        ("dog", "is_a", "animal"),
        ("t1", "describes", "img1"),
        ("img1", "depicts", "dog"),
    ]


N, E = "{nodes}", "{edges}"
LONG_ID = "a" * 5000

# (id, setup, expected substring of the error, or None if accepted; for accepted: substring of the log, check)
CASES: list[tuple[str, Callable[[Path], None], str | None, str, Callable[[Any], None] | None]] = [
    ("dataset-every-problem-at-once", four_mistakes, f"{N}:6: node 'img3': unknown node type 'imge'", "", None),
    (
        "edges-to-a-broken-node",
        dataset(nodes=GOOD_NODES[:3] + ['{"id": "img1", "type": "imge", "path": "images/dog.png"}']),
        f"{N}:4: node 'img1': unknown node type 'imge'",
        "",
        None,
    ),
    (
        "nodes-duplicate-key",
        dataset(nodes=GOOD_NODES + ['{"id": "c", "type": "concept", "name": "cat", "name": "dog"}']),
        f"{N}:5: duplicate key 'name' in a JSON object (each key may appear once)",
        "",
        None,
    ),
    (
        "nodes-json-nan",
        dataset(nodes=GOOD_NODES + ['{"id": "c", "type": "concept", "name": "c", "attributes": {"w": NaN}}']),
        f"{N}:5: invalid JSON (NaN is not a JSON value; write null, a number or a string)",
        "",
        None,
    ),
    (
        "nodes-invisible-text",
        dataset(nodes=node(id="x", type="text", text="\u200b\u200c\u200d\u2060\ufeff")),
        f"{N}:5: node 'x': text has no visible characters (only U+200B, U+200C, U+200D, ...)",
        "",
        None,
    ),
    (
        "nodes-control-text",
        dataset(nodes=node(id="x", type="text", text="\u0000\u0000 \u0007")),
        f"{N}:5: node 'x': text has no visible characters (only U+0000, U+0007 and whitespace)",
        "",
        None,
    ),
    (
        "nodes-invisible-concept-name",
        dataset(nodes=node(id="x", type="concept", name="\u2060 \u00ad")),
        f"{N}:5: node 'x': concept name has no visible characters (only U+2060, U+00AD and whitespace)",
        "",
        None,
    ),
    ("nodes-unusual-scripts", dataset(nodes=UNUSUAL_NODES), None, "", unusual_texts_kept),
    (
        "nodes-id-control-character",
        dataset(nodes=node(id="x\u0000y", type="concept", name="x")),
        f"{N}:5: node 'x\\x00y': node id 'x\\x00y' contains a control character (U+0000)",
        "",
        None,
    ),
    (
        "nodes-id-invisible-end",
        dataset(nodes=node(id="dog\u200b", type="concept", name="dog")),
        f"{N}:5: node 'dog\\u200b': node id 'dog\\u200b' starts or ends with an invisible character (U+200B)",
        "",
        None,
    ),
    (
        "nodes-id-too-long",
        dataset(nodes=node(id=LONG_ID, type="concept", name="x")),
        f"is too long (5,000 characters; at most {MAX_NAME_CHARS:,})",
        "",
        None,
    ),
    (
        "edges-file-missing",
        dataset(prepare=misname_edges),
        f"{E}: file not found (found 'edge.tsv' in {{data}}: did you mean edges.tsv?)",
        "",
        None,
    ),
    (
        "edges-file-without-edges",
        dataset(prepare=empty_edges),
        None,
        f"{E} holds no edges: the graph has no relations to learn from",
        None,
    ),
    (
        "edges-relation-invisible",
        dataset(edges=GOOD_EDGES + ["dog\t\u200b\tanimal"]),
        f"{E}:5: relation '\\u200b' has no visible characters (only U+200B)",
        "",
        None,
    ),
    (
        "edges-relation-with-pipe",
        dataset(edges=GOOD_EDGES + ["dog\tis|a\tanimal"]),
        f"{E}:5: relation 'is|a' contains '|', which graphalign uses to join the parts of an edge type",
        "",
        None,
    ),
    (
        "edges-header-without-hash",
        dataset(edges=["head\trelation\ttail"] + GOOD_EDGES[1:]),
        f"{E}:1: edge ('head', 'relation', 'tail'): unknown head and tail ids "
        "(if this is a header line, start it with '#')",
        "",
        None,
    ),
    (
        "edges-swapped-direction",
        dataset(edges=GOOD_EDGES + ["dog\tdepicts\timg1"]),
        None,
        (
            f"{E}:5: relation 'depicts' links concept -> image on 1 line(s) but image -> concept on 1; "
            "check the direction of those edges"
        ),
        None,
    ),
    ("byte-order-mark-mid-file", dataset(prepare=concatenated), None, "", concatenated_kept),
]


@pytest.mark.parametrize(("case_id", "setup", "error", "log", "check"), CASES, ids=[case[0] for case in CASES])
def test_case(
    case_id: str,
    setup: Callable[[Path], None],
    error: str | None,
    log: str,
    check: Callable[[Any], None] | None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup(tmp_path)
    data = tmp_path / "data"
    paths = {"nodes": data / "nodes.jsonl", "edges": data / "edges.tsv", "data": data}
    if error is None:
        with caplog.at_level(logging.WARNING, logger="graphalign"):
            result = build_and_save(tmp_path)
        assert log.format(**paths) in caplog.text, caplog.text
        if check is not None:
            check(result)
        return
    with pytest.raises(DataFormatError) as info:
        build_and_save(tmp_path)
    assert error.format(**paths) in str(info.value), str(info.value)
    assert_nothing_half_written(tmp_path)


def test_an_edge_to_a_broken_node_is_not_reported_again(tmp_path: Path) -> None:
    """``img1`` is used by two edges; only its own line is reported."""
    write_dataset(tmp_path, nodes=GOOD_NODES[:3] + ['{"id": "img1", "type": "imge", "path": "images/dog.png"}'])
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path / "data")
    assert info.value.problems == [
        f"{tmp_path / 'data' / 'nodes.jsonl'}:4: node 'img1': "
        "unknown node type 'imge' (expected one of: concept, text, image)"
    ]


def test_a_duplicate_key_is_refused_in_nested_objects_too(tmp_path: Path) -> None:
    write_dataset(
        tmp_path, nodes=GOOD_NODES + ['{"id": "c", "type": "concept", "name": "c", "attributes": {"a": 1, "a": 2}}']
    )
    with pytest.raises(DataFormatError, match=r"nodes.jsonl:5: duplicate key 'a' in a JSON object"):
        load_dataset(tmp_path / "data")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(tmp_path: Path, constant: str) -> None:
    write_dataset(
        tmp_path,
        nodes=GOOD_NODES + [f'{{"id": "c", "type": "concept", "name": "c", "attributes": {{"w": {constant}}}}}'],
    )
    with pytest.raises(DataFormatError, match=rf"nodes.jsonl:5: invalid JSON \({constant} is not a JSON value"):
        load_dataset(tmp_path / "data")


def test_a_missing_edges_file_without_a_likely_name_says_what_a_folder_holds(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "data" / "edges.tsv").unlink()
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path / "data")
    assert str(info.value) == (
        f"{tmp_path / 'data' / 'edges.tsv'}: file not found (a dataset folder holds nodes.jsonl "
        "and edges.tsv; an empty edges.tsv is allowed)"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("\u200b", "has no visible characters (only U+200B)"),
        ("\u3164", "has no visible characters (only U+3164)"),  # a Hangul filler
        ("a\u0085b", "contains a control character (U+0085)"),
        ("\ufeffa", "starts or ends with an invisible character (U+FEFF)"),
        ("x" * (MAX_NAME_CHARS + 1), f"is too long ({MAX_NAME_CHARS + 1:,} characters; at most {MAX_NAME_CHARS:,})"),
    ],
)
def test_ids_and_relations_share_the_visibility_rules(value: str, problem: str) -> None:
    assert problem in (check_id(value) or "")
    assert problem in (check_relation(value) or "")


@pytest.mark.parametrize(
    "value", ["dog", "wn:02084071-n", "👨‍👩‍👧", "שלום", "e\u0301", "is a", "x" * MAX_NAME_CHARS, "狗"]
)
def test_ordinary_ids_and_relations_stay_valid(value: str) -> None:
    assert check_id(value) is None and check_relation(value) is None


def test_the_python_api_refuses_invisible_texts_and_keeps_unusual_ones() -> None:
    kg = KnowledgeGraph()
    with pytest.raises(GraphValidationError, match=r"node 't': text has no visible characters \(only U\+200B\)"):
        kg.add_text("t", text="\u200b")
    for i, text in enumerate(UNUSUAL_TEXTS):
        kg.add_text(f"u{i}", text=text)
    assert kg.num_nodes == len(UNUSUAL_TEXTS)


def test_every_case_is_documented() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("## Dataset content: more cases", 1)
    assert len(section) == 2, "docs/reliability.md has no section 'Dataset content: more cases'"
    missing = [case[0] for case in CASES if f"`{case[0]}`" not in section[1]]
    assert not missing, f"add these cases to docs/reliability.md: {missing}"


def test_pretty_printed_nodes_are_one_problem_that_says_how_to_fix_it(tmp_path: Path) -> None:
    """A nodes file written with ``json.dump(..., indent=2)`` is not dozens of "invalid JSON" lines and a
    cascade of unknown edge ids: one problem says what it is."""
    records = [json.loads(line) for line in GOOD_NODES]
    data = write_dataset(tmp_path, nodes=[json.dumps(records, indent=2)], edges=GOOD_EDGES)
    with pytest.raises(DataFormatError) as info:
        load_dataset(data)
    assert info.value.problems == [
        f"{data / 'nodes.jsonl'}:1: the file holds 1 JSON value written over several lines; JSON Lines needs one "
        "node object per line (e.g. jq -c '.[]' FILE > nodes.jsonl)"
    ]
    data = write_dataset(tmp_path / "objects", nodes=[json.dumps(r, indent=2) for r in records], edges=GOOD_EDGES)
    with pytest.raises(DataFormatError, match=f"the file holds {len(records)} JSON values written over several"):
        load_dataset(data)
    # One record broken over two lines in a file of one-line records: its lines are the problems, as they are.
    wrapped = [*GOOD_NODES[:3], '{"id": "img1", "type": "image",', '"path": "images/dog.png"}']
    data = write_dataset(tmp_path / "wrapped", nodes=wrapped, edges=GOOD_EDGES[:2])
    with pytest.raises(DataFormatError) as info:
        load_dataset(data)
    assert [p.split(": ", 1)[1].split(" (")[0] for p in info.value.problems] == ["invalid JSON", "invalid JSON"]


def test_look_alike_relations_are_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``is-a`` beside ``is_a`` (or ``depict`` beside ``depicts``) is most likely a typo: loading warns, with the
    edge counts, and loads both (they may be meant)."""
    data = write_dataset(tmp_path, nodes=GOOD_NODES, edges=[*GOOD_EDGES, "img1\tis-a\tanimal", "t1\tdescribe\timg1"])
    with caplog.at_level(logging.WARNING, logger="graphalign"):
        graph = load_dataset(data)
    assert len(graph.edges) == 5
    assert sorted(r.getMessage() for r in caplog.records if "look alike" in r.getMessage()) == [
        f"{data}: relations 'describe' (1 edge) and 'describes' (1 edge) look alike; is one a typo of the other?",
        f"{data}: relations 'is-a' (1 edge) and 'is_a' (1 edge) look alike; is one a typo of the other?",
    ]
