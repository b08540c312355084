"""Reading and writing the on-disk dataset format.

A dataset folder holds:

* ``nodes.jsonl`` -- one JSON object a line: ``{"id": ..., "type": "concept" |
  "text" | "image", ...}``. Concepts carry ``name`` and optional ``description``;
  texts carry ``text`` and optional ``language``; images carry ``path`` relative
  to the folder. Any node may carry ``attributes`` (a JSON object).
* ``edges.tsv`` -- ``head<TAB>relation<TAB>tail`` lines; ``#`` starts a comment
  line; blank lines are ignored. The file must exist (a header line is enough
  for a graph without edges).

Reading accepts a UTF-8 byte-order mark (also at the start of any line, as left
by concatenating files) and Windows line endings. :func:`load_dataset` checks
the records, the edge lines, the ids and relations and the image files in one
pass, reports every problem with its file and line in one error, and builds
nothing unless the whole input is valid.
"""

from __future__ import annotations

import filecmp
import io
import json
import logging
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from graphalign.atomic import atomic_open
from graphalign.datasets.base import resolve
from graphalign.errors import DataFormatError, GraphValidationError, OutputError
from graphalign.graph.knowledge_graph import KnowledgeGraph
from graphalign.graph.schema import NODE_CLASSES, ImageNode, Node, brief_repr, check_relation

logger = logging.getLogger(__name__)

__all__ = ["NODES_FILE", "EDGES_FILE", "load_dataset", "save_dataset", "read_nodes", "read_edges", "node_from_json"]

NODES_FILE = "nodes.jsonl"
EDGES_FILE = "edges.tsv"
EDGES_HEADER = "# graphalign edges: head<TAB>relation<TAB>tail\n"


def node_from_json(obj: Any) -> Node:
    """Builds a node record from a parsed ``nodes.jsonl`` object.

    Raises:
        GraphValidationError: On a missing/unknown type, missing or unexpected
            fields, or invalid values.
    """
    if not isinstance(obj, dict):
        raise GraphValidationError(f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise GraphValidationError("missing field 'id'")
    label = f"node {brief_repr(obj['id'])}"
    node_type = obj.get("type")
    if node_type is None:
        raise GraphValidationError(f"{label}: missing field 'type'")
    cls = NODE_CLASSES.get(node_type) if isinstance(node_type, str) else None
    if cls is None:
        raise GraphValidationError(
            f"{label}: unknown node type {brief_repr(node_type)} (expected one of: {', '.join(NODE_CLASSES)})"
        )
    allowed = {"id", "type", "attributes", *cls.fields}
    unexpected = sorted(set(obj) - allowed)
    if unexpected:
        raise GraphValidationError(
            f"{label}: unexpected field(s) {', '.join(map(brief_repr, unexpected))} for a {node_type} node "
            f"(allowed: {', '.join(sorted(allowed))}; put extra data under 'attributes')"
        )
    required = {"concept": "name", "text": "text", "image": "path"}[node_type]
    if required not in obj:
        raise GraphValidationError(f"{label}: missing field {required!r} for a {node_type} node")
    kwargs = {name: obj[name] for name in cls.fields if name in obj}
    node = cls(obj["id"], attributes=obj.get("attributes", {}), **kwargs)
    if problems := node.problems():
        raise GraphValidationError([f"{label}: {p}" for p in problems])
    return node


def _read_lines(path: Path) -> list[str]:
    """Reads a UTF-8 text file (BOM allowed) into lines without line endings.

    Raises:
        DataFormatError: If the file is missing, not a file, unreadable or not UTF-8.
    """
    lines, problem = _try_read_lines(path)
    if problem is not None:
        line, what = problem
        raise DataFormatError(
            f"{path}:{line}: {what}" if line else f"{path}: {what}", path=str(path), line=line or None
        )
    assert lines is not None
    return lines


def _try_read_lines(path: Path) -> tuple[list[str] | None, tuple[int, str] | None]:
    """:func:`_read_lines` returning ``(lines, None)`` or ``(None, (line or 0, problem))``."""
    if not path.exists():
        return None, (0, "file not found")
    if not path.is_file():
        return None, (0, "not a file")
    try:
        raw = path.read_bytes()
    except OSError as error:  # permission denied, I/O error
        return None, (0, f"cannot read ({error.strerror or error})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, (raw[: error.start].count(b"\n") + 1, f"not valid UTF-8 ({error.reason})")
    # Split on "\n" only (with "\r\n" accepted): str.splitlines() would also split
    # inside JSON strings at characters such as U+2028 or U+0085.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # A byte-order mark at the start of a later line comes from concatenated files.
    return [(line[:-1] if line.endswith("\r") else line).removeprefix("\ufeff") for line in lines], None


class _JSONProblem(ValueError):
    """Raised by the JSON hooks below: JSON that parses but must not be accepted."""


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key given twice (``json`` keeps the last one)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _JSONProblem(f"duplicate key {brief_repr(key)} in a JSON object (each key may appear once)")
    return obj


def _refuse_constant(name: str) -> Any:
    """``parse_constant`` that refuses ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON)."""
    raise _JSONProblem(f"invalid JSON ({name} is not a JSON value; write null, a number or a string)")


def _parse_json_line(line: str) -> tuple[Any, str | None]:
    """Parses one JSON line; returns ``(value, None)`` or ``(None, problem)``."""
    try:
        return json.loads(line, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_refuse_constant), None
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg} at column {error.colno})"
    except _JSONProblem as error:
        return None, str(error)
    except RecursionError:
        return None, "invalid JSON (nested too deeply)"
    except ValueError as error:  # e.g. an integer literal with thousands of digits
        return None, f"invalid JSON ({error})"


class _NodeScan:
    """What reading the lines of ``nodes.jsonl`` found.

    Attributes:
        nodes: ``(line, node)`` for every valid record whose id is new.
        problems: ``(line, problem)`` for every bad line.
        invalid_ids: Ids read from records that have problems; an edge to one
            of them is not reported again (the record's own line is).
        records: How many non-blank lines the file has.
    """

    def __init__(self) -> None:
        self.nodes: list[tuple[int, Node]] = []
        self.problems: list[tuple[int, str]] = []
        self.invalid_ids: set[str] = set()
        self.records = 0


def _scan_nodes(lines: list[str]) -> _NodeScan:
    """Parses every line of ``nodes.jsonl``, collecting the problems of all of them."""
    scan = _NodeScan()
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        scan.records += 1
        obj, problem = _parse_json_line(line)
        if problem is not None:
            scan.problems.append((number, problem))
            continue
        node_id = obj.get("id") if isinstance(obj, dict) else None
        key = node_id if isinstance(node_id, str) else None
        node: Node | None = None
        try:
            node = node_from_json(obj)
        except GraphValidationError as error:
            scan.problems.extend((number, p) for p in error.problems)
        if key is not None and key in first_line:
            scan.problems.append(
                (number, f"duplicate node id {brief_repr(key)} (first defined on line {first_line[key]})")
            )
            continue
        if key is not None:
            first_line[key] = number
        if node is not None:
            scan.nodes.append((number, node))
        elif key is not None:
            scan.invalid_ids.add(key)
    return scan


def _spread_over_lines(lines: list[str], scan: _NodeScan) -> str | None:
    """For a file of JSON values written over several lines each (pretty-printed), what to do instead;
    ``None`` where it is not one (``scan``: its per-line scan, which then finds lines of invalid JSON)."""
    if not any(problem.startswith("invalid JSON") for _, problem in scan.problems):
        return None
    text, decoder, position, values = "\n".join(lines), json.JSONDecoder(), 0, []
    try:
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position == len(text):
                break
            value, position = decoder.raw_decode(text, position)
            values.append(value)
    except (ValueError, RecursionError):
        return None
    if not values or 2 * len(values) > sum(bool(line.strip()) for line in lines):  # most values span lines
        return None
    unpack = "jq -c '.[]'" if len(values) == 1 and isinstance(values[0], list) else "jq -c ."
    return (
        f"the file holds {len(values)} JSON value{'s' if len(values) > 1 else ''} written over several lines; "
        f"JSON Lines needs one node object per line (e.g. {unpack} FILE > nodes.jsonl)"
    )


def _read_numbered_nodes(path: Path) -> list[tuple[int, Node]]:
    """:func:`read_nodes` with the line number of every node."""
    lines = _read_lines(path)
    scan = _scan_nodes(lines)
    if hint := _spread_over_lines(lines, scan):
        raise DataFormatError([f"{path}:1: {hint}"], path=str(path), line=1)
    if scan.problems:
        raise DataFormatError([f"{path}:{n}: {p}" for n, p in scan.problems], path=str(path), line=scan.problems[0][0])
    return scan.nodes


def read_nodes(path: str | os.PathLike[str]) -> list[Node]:
    """Parses a ``nodes.jsonl`` file.

    Raises:
        DataFormatError: Listing every bad line as ``FILE:LINE: problem``
            (invalid JSON, missing fields, unknown type, duplicate id, ...).
    """
    return [node for _, node in _read_numbered_nodes(Path(path))]


def read_edges(path: str | os.PathLike[str]) -> list[tuple[int, tuple[str, str, str]]]:
    """Parses an ``edges.tsv`` file into ``(line number, (head, relation, tail))``.

    Raises:
        DataFormatError: On lines that do not have exactly three tab-separated
            non-empty fields.
    """
    path = Path(path)
    triples, problems = _scan_edges(_read_lines(path))
    if problems:
        raise DataFormatError([f"{path}:{n}: {p}" for n, p in problems], path=str(path), line=problems[0][0])
    return triples


def _scan_edges(lines: list[str]) -> tuple[list[tuple[int, tuple[str, str, str]]], list[tuple[int, str]]]:
    """Splits every line of ``edges.tsv``; returns ``(numbered triples, (line, problem) list)``."""
    triples = []
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            hint = " (fields must be separated by tabs)" if len(parts) == 1 else ""
            problems.append((number, f"expected 3 tab-separated fields (head, relation, tail), got {len(parts)}{hint}"))
            continue
        head, relation, tail = (p.strip() for p in parts)
        if not head or not relation or not tail:
            problems.append((number, "empty field"))
            continue
        triples.append((number, (head, relation, tail)))
    return triples, problems


def _missing_edges_file(folder: Path) -> str:
    """The problem of a dataset folder without ``edges.tsv``, naming likely misnamed files."""
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name != NODES_FILE and not p.name.startswith("."))
    except OSError:
        names = []
    stems = ("edge", "edges", "triple", "triples", "relation", "relations")
    candidates = [
        name for name in names if name.lower().endswith((".tsv", ".csv", ".txt")) or name.lower().split(".")[0] in stems
    ]
    if candidates:
        found = ", ".join(repr(name) for name in candidates[:5])
        return f"file not found (found {found} in {folder}: did you mean {EDGES_FILE}?)"
    return f"file not found (a dataset folder holds {NODES_FILE} and {EDGES_FILE}; an empty {EDGES_FILE} is allowed)"


def _warn_about_edges(graph: KnowledgeGraph, edges_path: Path, lines: dict[tuple[str, str, str], int]) -> None:
    """Logs a warning for a graph without edges and for relations used in both directions between two node types."""
    if not graph.num_edges:
        logger.warning("%s holds no edges: the graph has no relations to learn from", edges_path)
        return
    by_relation: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    first_line: dict[tuple[str, str, str], int] = {}
    for edge in graph.edges:
        head_type, relation, tail_type = graph.edge_type(edge)
        by_relation[relation][(head_type, tail_type)] += 1
        first_line.setdefault((head_type, relation, tail_type), lines[edge.as_tuple()])
    for relation, pairs in by_relation.items():
        for (head_type, tail_type), count in sorted(pairs.items()):
            reverse = pairs.get((tail_type, head_type), 0)
            if head_type != tail_type and (count, head_type) < (reverse, tail_type):
                logger.warning(
                    "%s:%d: relation %r links %s -> %s on %d line(s) but %s -> %s on %d; "
                    "check the direction of those edges",
                    edges_path,
                    first_line[(head_type, relation, tail_type)],
                    relation,
                    head_type,
                    tail_type,
                    count,
                    tail_type,
                    head_type,
                    reverse,
                )


def _add_nodes(graph: KnowledgeGraph, nodes_path: Path) -> tuple[_NodeScan | None, list[tuple[int, str]]]:
    """Adds the valid records of ``nodes.jsonl`` to ``graph``.

    Returns:
        The scan (``None`` when the file cannot be read: no records to check
        edges against) and the ``(line, problem)`` list (line 0: the file as a whole).
    """
    node_problems: list[tuple[int, str]] = []
    node_lines, problem = _try_read_lines(nodes_path)
    scan = _scan_nodes(node_lines) if node_lines is not None else None
    if problem is not None:
        node_problems.append(problem)
    if scan is not None and node_lines is not None and (hint := _spread_over_lines(node_lines, scan)):
        return None, [(1, hint)]  # no records to check edges against either
    if scan is not None:
        node_problems.extend(scan.problems)
        if not scan.records:
            node_problems.append((0, "the graph has no nodes (the file holds no node records)"))
        for _, node in scan.nodes:
            graph.add_node(node)  # valid records with ids checked for duplicates by _scan_nodes
    return scan, node_problems


def _add_edges(
    graph: KnowledgeGraph, edges_path: Path, scan: _NodeScan | None
) -> tuple[dict[tuple[str, str, str], int], list[tuple[int, str]]]:
    """Adds the valid lines of ``edges.tsv`` to ``graph`` (after its nodes).

    Returns:
        The line of every added edge, and the ``(line, problem)`` list (line 0: the file as a whole).
    """
    edge_problems: list[tuple[int, str]] = []
    edge_lines, problem = _try_read_lines(edges_path)
    if problem is not None:
        edge_problems.append(
            (0, _missing_edges_file(edges_path.parent)) if problem == (0, "file not found") else problem
        )
    triples, problems = _scan_edges(edge_lines or [])
    edge_problems.extend(problems)
    first_data_line = next(
        (n for n, line in enumerate(edge_lines or [], start=1) if line.strip() and not line.lstrip().startswith("#")), 0
    )
    lines: dict[tuple[str, str, str], int] = {}
    for number, (head, relation, tail) in triples:
        if scan is None:  # no records to check the ids against
            if problem := check_relation(relation):
                edge_problems.append((number, problem))
            continue
        pending = scan.invalid_ids
        if number == first_data_line and not any(i in graph or i in pending for i in (head, tail)):
            triple = f"({brief_repr(head)}, {brief_repr(relation)}, {brief_repr(tail)})"
            edge_problems.append(
                (number, f"edge {triple}: unknown head and tail ids (if this is a header line, start it with '#')")
            )
        elif problem := graph.edge_problem(head, relation, tail, pending=pending):
            edge_problems.append((number, problem))
        elif head not in pending and tail not in pending:
            graph.add_edge(head, relation, tail)
            lines[(head, relation, tail)] = number
    return lines, edge_problems


def load_dataset(
    folder: str | os.PathLike[str],
    *,
    check_images: bool = True,
    allow_self_loops: bool = False,
    allow_outside_root: bool = False,
) -> KnowledgeGraph:
    """Loads a dataset folder (``nodes.jsonl`` + ``edges.tsv``) into a graph.

    Every check runs on the whole input, whatever the others find: the records
    of ``nodes.jsonl``, the fields of every ``edges.tsv`` line, the ids and
    relation names of the edges and the image files. The id of a record with a
    problem of its own still counts as known, so an edge to it is not reported
    as an unknown id (its node's line is reported instead). A warning is logged
    for an ``edges.tsv`` without edges and for a relation that links two node
    types in both directions (e.g. ``image -> concept`` on most lines but
    ``concept -> image`` on one).

    Args:
        folder: The dataset folder; image paths are relative to it. A name of a
            bundled dataset (``"tuxpaint_small"``, see :mod:`graphalign.datasets`)
            loads that dataset from the installed package when no such folder exists.
        check_images: Check that every image file exists, stays inside the folder
            and has a readable image header.
        allow_self_loops: Accept edges from a node to itself.
        allow_outside_root: Accept image paths outside ``folder``.

    Raises:
        DataFormatError: One error listing every problem as ``FILE:LINE: what``
            (``nodes.jsonl`` first, then ``edges.tsv``, each in line order;
            image file problems are reported on the line of their node);
            nothing is returned unless the whole dataset is valid.
    """
    folder = resolve(folder)  # DataFormatError if neither a folder nor a bundled dataset's name
    nodes_path, edges_path = folder / NODES_FILE, folder / EDGES_FILE
    graph = KnowledgeGraph(folder, allow_self_loops=allow_self_loops, allow_outside_root=allow_outside_root)
    scan, node_problems = _add_nodes(graph, nodes_path)
    lines, edge_problems = _add_edges(graph, edges_path, scan)
    if check_images and scan is not None:
        for number, node in scan.nodes:
            if isinstance(node, ImageNode) and (problem := graph.image_problem(node)):
                node_problems.append((number, problem))
    if node_problems or edge_problems:
        located = [(nodes_path, n, p) for n, p in sorted(node_problems, key=lambda item: item[0])]
        located += [(edges_path, n, p) for n, p in sorted(edge_problems, key=lambda item: item[0])]
        path, line, _ = located[0]
        raise DataFormatError(
            [f"{file}:{n}: {p}" if n else f"{file}: {p}" for file, n, p in located], path=str(path), line=line or None
        )
    _warn_about_edges(graph, edges_path, lines)
    logger.info("loaded %r from %s", graph, folder)
    for names in _look_alike_relations(Counter(edge.relation for edge in graph.edges)):
        logger.warning("%s: relations %s look alike; is one a typo of the other?", folder, names)
    return graph


def _look_alike_relations(counts: Counter[str]) -> list[str]:
    """Groups of relation names equal up to case, separators and a plural ``s`` (``depict`` and ``depicts``,
    ``is-a`` and ``is_a``), each as ``'a' (N edges) and 'b' (M edges)``."""
    groups: dict[str, list[str]] = {}
    for relation in sorted(counts):
        key = "".join(ch for ch in relation.casefold() if ch.isalnum())
        groups.setdefault(key[:-1] if key.endswith("s") else key, []).append(relation)
    return [
        " and ".join(f"{r!r} ({counts[r]:,} edge{'s' if counts[r] != 1 else ''})" for r in names)
        for names in groups.values()
        if len(names) > 1
    ]


def _safe_file_name(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", node_id).strip("._") or "image"


def save_dataset(
    graph: KnowledgeGraph, folder: str | os.PathLike[str], overwrite: bool = False, copy_images: bool = True
) -> Path:
    """Writes ``graph`` to a dataset folder (``nodes.jsonl``, ``edges.tsv``) that loads on its own.

    In-memory images are saved as PNG under ``images/``, each under a name that no
    file there and no other image node's path has. Path-based images keep their
    paths; where ``folder`` is not the graph's root, the files those relative paths
    name there are copied into ``folder`` under the same paths, so the folder holds
    its images (``copy_images=False``: not copied, and a warning names the paths
    that would not resolve from ``folder``). No file is ever replaced: a file there
    that differs from the image it would hold is an error, before anything is
    written. Files are written atomically. Loading the result gives an equal graph.

    Args:
        graph: The graph.
        folder: The dataset folder (created if absent).
        overwrite: Replace the ``nodes.jsonl`` and ``edges.tsv`` that ``folder``
            already holds (e.g. a graph loaded from it and changed).
        copy_images: Copy the image files of path-based images into ``folder``.

    Returns:
        The folder.

    Raises:
        OutputError: If ``folder`` is a file; holds ``nodes.jsonl`` or
            ``edges.tsv`` and ``overwrite`` is false; or holds, at an image's path,
            another file. Nothing is written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a dataset folder")
    present = [name for name in (NODES_FILE, EDGES_FILE) if (folder / name).exists()]
    if present and not overwrite:
        raise OutputError(
            f"{folder}: already holds {' and '.join(present)}; pass overwrite=True to replace "
            f"{'them' if len(present) > 1 else 'it'}, or choose another folder"
        )
    copies, outside = _image_copies(graph, folder) if copy_images else ([], [])
    _warn_unresolved_paths(graph, folder, outside if copy_images else None)
    for source, target in copies:
        with open(source, "rb") as src, atomic_open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    if copies:
        logger.info("%s: copied %d image file(s) from %s", folder, len(copies), graph.root)
    return write_records(graph, folder)


def _image_copies(graph: KnowledgeGraph, folder: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """The image files to copy from the graph's root into ``folder`` (source, target), and the relative
    paths that lead out of the root (not copied).

    Raises:
        OutputError: Naming every path where ``folder`` holds a file that differs from its image.
    """
    if graph.root is None or Path(graph.root).resolve() == folder.resolve():
        return [], []
    root = Path(graph.root)
    copies: dict[str, tuple[Path, Path]] = {}
    outside, clashes = [], []
    for node in graph.nodes("image"):
        if not isinstance(node, ImageNode) or not node.path or os.path.isabs(node.path):
            continue
        relative = os.path.normpath(node.path)
        source, target = root / relative, folder / relative
        if relative in copies or not source.is_file():
            continue
        if relative == ".." or relative.startswith(".." + os.sep):
            if not target.exists():
                outside.append(node.path)
        elif not target.exists():
            copies[relative] = (source, target)
        elif not target.is_file() or not filecmp.cmp(source, target, shallow=False):
            clashes.append(f"{target} (image node {brief_repr(node.id)})")
    if clashes:
        raise OutputError(
            f"{folder}: holds {len(clashes)} file(s) at the paths of the graph's images that differ from "
            f"them, and no file is replaced: {', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''}; "
            "choose another folder, or pass copy_images=False to keep the paths as they are"
        )
    return list(copies.values()), outside


def write_records(graph: KnowledgeGraph, folder: Path) -> Path:
    """:func:`save_dataset`'s writing, without its checks (a built graph's own folder stores its
    records here, with the image paths of its source)."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = {os.path.normpath(n.path) for n in graph.nodes("image") if isinstance(n, ImageNode) and n.path}
    written: set[str] = set()
    records = []
    for node in graph.nodes():
        obj = node.to_json()
        if isinstance(node, ImageNode) and node.path is None:
            buffer = io.BytesIO()
            node.image.save(buffer, format="PNG")
            data = buffer.getvalue()
            name = _safe_file_name(node.id)
            relative = f"images/{name}.png"
            while os.path.normpath(relative) in written or (
                (os.path.normpath(relative) in taken or (folder / relative).exists())
                and not _holds(folder / relative, data)  # the same PNG (a graph saved again) is kept
            ):
                name += "_"
                relative = f"images/{name}.png"
            written.add(os.path.normpath(relative))
            if not _holds(folder / relative, data):
                (folder / "images").mkdir(exist_ok=True)
                with atomic_open(folder / relative, "wb") as handle:
                    handle.write(data)
            obj = {**obj, "path": relative}
            obj = {k: obj[k] for k in ("id", "type", "path", "attributes") if k in obj}
        records.append(json.dumps(obj, ensure_ascii=False))
    with atomic_open(folder / NODES_FILE) as handle:
        handle.write("".join(r + "\n" for r in records))
    with atomic_open(folder / EDGES_FILE) as handle:
        handle.write(EDGES_HEADER)
        handle.writelines(f"{e.head}\t{e.relation}\t{e.tail}\n" for e in graph.edges)
    return folder


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file of exactly ``data``."""
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def _warn_unresolved_paths(graph: KnowledgeGraph, folder: Path, only: list[str] | None = None) -> None:
    """Warns where relative image paths that resolve from the graph's root would not from ``folder``
    (``only``: those paths, already found; ``None``: every image's)."""
    if graph.root is None or Path(graph.root).resolve() == folder.resolve():
        return
    lost = only
    if lost is None:
        lost = [
            node.path
            for node in graph.nodes("image")
            if isinstance(node, ImageNode)
            and node.path
            and not os.path.isabs(node.path)
            and (Path(graph.root) / node.path).exists()
            and not (folder / node.path).exists()
        ]
    if lost:
        logger.warning(
            "%s: %d image path(s) are relative to %s and do not resolve from here (first: %s); copy the "
            "images there, or save the graph into %s",
            folder,
            len(lost),
            graph.root,
            lost[0],
            graph.root,
        )
