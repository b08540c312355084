"""WordNet 3.0 for the dataset recipes: the noun database, the concept graph and hand-checked sense overrides.

The recipes (:mod:`graphalign.datasets.tuxpaint_wordnet`,
:mod:`graphalign.datasets.openclipart_wordnet`) link each image to one WordNet
noun synset and add the hypernym and meronym structure between the linked
synsets. This module reads the ``wordnet-base`` database files (``index.noun``,
``data.noun``, ``noun.exc``, and the tagged-sense counts of ``index.adj``;
see wndb(5WN)) with the standard library only, selects the concepts of a
graph (:func:`select_concepts`), derives its ``is_a`` and ``part_of`` edges,
assembles a dataset's records (:func:`graph_records`), splits compound words
(:func:`split_compounds`), reads the override files that fix single links
(``relpath<TAB>offset<TAB>lemma # why``) and checks that a recipe's Debian
packages are installed (:func:`check_sources`).

Example:
    >>> from graphalign.datasets.wordnet import parse_data_line
    >>> synset = parse_data_line("00000005 05 n 01 bat 0 001 @ 00000004 n 0000 | flying mammal")
    >>> synset.id, synset.lexname, synset.definition
    ('wn:00000005-n', 'noun.animal', 'flying mammal')
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from graphalign.datasets.recipe import Dataset, PathOption, RecipeDataset
from graphalign.errors import DatasetError

__all__ = [
    "RELATIONS",
    "NOUN_LEXNAMES",
    "WORDNET_DIR",
    "WORDNET_PACKAGE",
    "WORDNET_COPYRIGHT",
    "WORDNET_LICENSE",
    "EDGES_LEGEND",
    "README_WORDNET_SOURCE",
    "Pointer",
    "Synset",
    "WordNet",
    "Override",
    "adjective_like",
    "definition_from_gloss",
    "parse_data_line",
    "parse_index_line",
    "select_concepts",
    "is_a_edges",
    "part_of_edges",
    "concept_nodes",
    "concept_edges",
    "ImageLink",
    "graph_records",
    "readme_tables",
    "split_compounds",
    "preferred_lexnames",
    "read_overrides",
    "override_synset",
    "load_overrides",
    "missing_packages",
    "check_sources",
    "WordNetDataset",
]

WORDNET_DIR = "usr/share/wordnet"
"""The ``wordnet-base`` database folder, relative to the system root."""
WORDNET_PACKAGE = "wordnet-base"
"""The Debian package of the WordNet 3.0 database."""
WORDNET_COPYRIGHT = "usr/share/doc/wordnet-base/copyright"

# Relations, in the order they are written to edges.tsv.
DESCRIBES, DEPICTS, IS_A, PART_OF = "describes", "depicts", "is_a", "part_of"
RELATIONS = (DESCRIBES, DEPICTS, IS_A, PART_OF)
EDGES_LEGEND = "describes: text -> image; depicts: image -> concept; is_a, part_of: concept -> concept"
"""The ``edges.tsv`` comment line that explains the relations."""
README_WORDNET_SOURCE = """* Concepts, glosses and relations: WordNet 3.0, Copyright 2006 Princeton
  University, WordNet 3.0 licence; see `LICENSE-wordnet.txt`.
"""
"""The README item that credits WordNet."""

# WordNet lexicographer files of nouns (lexnames(5WN), numbers 03-28).
NOUN_LEXNAMES: dict[int, str] = {
    3: "noun.Tops",
    4: "noun.act",
    5: "noun.animal",
    6: "noun.artifact",
    7: "noun.attribute",
    8: "noun.body",
    9: "noun.cognition",
    10: "noun.communication",
    11: "noun.event",
    12: "noun.feeling",
    13: "noun.food",
    14: "noun.group",
    15: "noun.location",
    16: "noun.motive",
    17: "noun.object",
    18: "noun.person",
    19: "noun.phenomenon",
    20: "noun.plant",
    21: "noun.possession",
    22: "noun.process",
    23: "noun.quantity",
    24: "noun.relation",
    25: "noun.shape",
    26: "noun.state",
    27: "noun.substance",
    28: "noun.time",
}


# --------------------------------------------------------------------------- WordNet


@dataclass(frozen=True)
class Pointer:
    """One pointer of a WordNet synset: ``symbol`` to ``offset`` of part of speech ``pos``."""

    symbol: str
    offset: str
    pos: str


@dataclass
class Synset:
    """A WordNet noun synset, parsed from one ``data.noun`` line."""

    offset: str
    lex_filenum: int
    lemmas: list[str]
    pointers: list[Pointer]
    gloss: str

    @property
    def id(self) -> str:
        """The concept node id, ``wn:<offset>-n``."""
        return f"wn:{self.offset}-n"

    @property
    def lexname(self) -> str:
        """The lexicographer file name, e.g. ``noun.animal``."""
        return NOUN_LEXNAMES.get(self.lex_filenum, f"lex{self.lex_filenum:02d}")

    @property
    def name(self) -> str:
        """The first lemma with underscores as spaces."""
        return self.lemmas[0].replace("_", " ")

    @property
    def definition(self) -> str:
        """The gloss without its example sentences."""
        return definition_from_gloss(self.gloss)

    def targets(self, *symbols: str) -> list[str]:
        """Offsets of the noun synsets reached by pointers with one of ``symbols``."""
        return [p.offset for p in self.pointers if p.symbol in symbols and p.pos == "n"]


def definition_from_gloss(gloss: str) -> str:
    """Returns the part of a WordNet gloss before its first quoted example.

    Example:
        >>> definition_from_gloss('a tangible entity; "it was full of rackets"')
        'a tangible entity'
    """
    cut = gloss.find('; "')
    if cut < 0 and gloss.lstrip().startswith('"'):
        cut = 0
    return (gloss if cut < 0 else gloss[:cut]).strip().rstrip(";").strip()


def parse_data_line(line: str) -> Synset:
    """Parses one synset line of a WordNet ``data.*`` file (see wndb(5WN)).

    The layout is ``offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt
    (symbol offset pos source/target)* [frames] | gloss``; ``w_cnt`` is
    hexadecimal, ``p_cnt`` decimal.

    Raises:
        ValueError: If the line does not follow that layout.
    """
    head, sep, gloss = line.partition(" | ")
    if not sep:
        head, gloss = line.rstrip("\n").rstrip(" |"), ""
    fields = head.split()
    try:
        offset, lex_filenum, w_cnt = fields[0], int(fields[1]), int(fields[3], 16)
        lemmas = [fields[4 + 2 * i] for i in range(w_cnt)]
        pos = 4 + 2 * w_cnt
        p_cnt = int(fields[pos])
        pointers = []
        for i in range(p_cnt):
            symbol, target, target_pos = fields[pos + 1 + 4 * i : pos + 4 + 4 * i]
            pointers.append(Pointer(symbol, target, target_pos))
    except (IndexError, ValueError) as error:
        raise ValueError(f"not a WordNet data line: {line[:80]!r}") from error
    if not re.fullmatch(r"\d{8}", offset) or len(lemmas) != w_cnt:
        raise ValueError(f"not a WordNet data line: {line[:80]!r}")
    # Adjective lemmas may carry a syntactic marker such as "(a)"; nouns never do.
    lemmas = [re.sub(r"\([a-z]+\)$", "", lemma) for lemma in lemmas]
    return Synset(offset, lex_filenum, lemmas, pointers, gloss.strip())


def parse_index_line(line: str) -> tuple[str, list[str]]:
    """Parses one line of a WordNet ``index.*`` file into ``(lemma, synset offsets)``.

    The layout is ``lemma pos synset_cnt p_cnt (symbol)* sense_cnt tagsense_cnt
    (offset)*``; offsets are listed by decreasing sense frequency.

    Raises:
        ValueError: If the line does not follow that layout.
    """
    fields = line.split()
    try:
        lemma, synset_cnt, p_cnt = fields[0], int(fields[2]), int(fields[3])
        offsets = fields[6 + p_cnt : 6 + p_cnt + synset_cnt]
    except (IndexError, ValueError) as error:
        raise ValueError(f"not a WordNet index line: {line[:80]!r}") from error
    if len(offsets) != synset_cnt or not all(re.fullmatch(r"\d{8}", o) for o in offsets):
        raise ValueError(f"not a WordNet index line: {line[:80]!r}")
    return lemma, offsets


def _wordnet_lines(path: Path) -> Iterator[str]:
    """Yields the data lines of a WordNet file (the licence header lines start with spaces)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if line and not line[0].isspace():
                yield line


class WordNet:
    """The noun part of a WordNet 3.0 database folder (``index.noun``, ``data.noun``, ``noun.exc``).

    Synsets are parsed lazily, by offset.

    Args:
        folder: The folder holding the WordNet ``dict`` files.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index: dict[str, list[str]] = {}
        for line in _wordnet_lines(folder / "index.noun"):
            lemma, offsets = parse_index_line(line)
            self.index[lemma] = offsets
        self._lines: dict[str, str] = {}
        for line in _wordnet_lines(folder / "data.noun"):
            self._lines[line[:8]] = line
        self.exceptions: dict[str, list[str]] = {}
        exc_path = folder / "noun.exc"
        if exc_path.exists():
            for line in _wordnet_lines(exc_path):
                inflected, *bases = line.split()
                self.exceptions.setdefault(inflected, []).extend(bases)
        self._synsets: dict[str, Synset] = {}
        self._ancestors: dict[str, frozenset[str]] = {}

    def synset(self, offset: str) -> Synset:
        """The noun synset at ``offset`` (8 digits).

        Raises:
            KeyError: If there is no such synset.
        """
        if offset not in self._synsets:
            self._synsets[offset] = parse_data_line(self._lines[offset])
        return self._synsets[offset]

    def __contains__(self, offset: object) -> bool:
        return offset in self._lines

    def base_forms(self, phrase: str) -> list[str]:
        """Index lemmas for ``phrase`` (words joined by ``_``): itself, exceptions, then morphy rules."""
        phrase = phrase.lower()
        found = [phrase] if phrase in self.index else []
        found += [b for b in self.exceptions.get(phrase, []) if b in self.index]
        *first, last = phrase.split("_")
        for suffix, ending in (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
                               ("men", "man"), ("ies", "y"), ("s", "")):  # fmt: skip
            if last.endswith(suffix) and len(last) > len(suffix) + 1 and not last.endswith("ss"):
                base = "_".join([*first, last[: len(last) - len(suffix)] + ending])
                if base in self.index:
                    found.append(base)
        return list(dict.fromkeys(found))

    def lookup(self, phrase: str) -> list[Synset]:
        """Noun synsets of ``phrase``, most frequent sense first."""
        offsets = [o for base in self.base_forms(phrase) for o in self.index[base]]
        return [self.synset(o) for o in dict.fromkeys(offsets)]

    def hypernyms(self, offset: str) -> list[str]:
        """Direct hypernyms and instance hypernyms (``@``, ``@i``) of a synset."""
        return self.synset(offset).targets("@", "@i")

    def ancestors(self, offset: str) -> frozenset[str]:
        """All transitive hypernyms of a synset (itself excluded)."""
        if offset not in self._ancestors:
            seen: set[str] = set()
            stack = list(self.hypernyms(offset))
            while stack:
                current = stack.pop()
                if current not in seen:
                    seen.add(current)
                    stack.extend(self.hypernyms(current))
            self._ancestors[offset] = frozenset(seen)
        return self._ancestors[offset]


def _tagged_counts(path: Path) -> dict[str, int]:
    """``tagsense_cnt`` of every lemma of a WordNet ``index.*`` file: how many of its senses the corpora tag."""
    counts: dict[str, int] = {}
    for line in _wordnet_lines(path):
        fields = line.split()
        try:
            counts[fields[0]] = int(fields[5 + int(fields[3])])
        except (IndexError, ValueError) as error:
            raise ValueError(f"not a WordNet index line: {line[:80]!r}") from error
    return counts


def adjective_like(folder: Path) -> frozenset[str]:
    """Noun lemmas used more as adjectives than as nouns in the tagged corpora (``old``, ``flat``, ``funny``).

    A lemma is adjective-like when ``index.adj`` tags more of its senses than
    ``index.noun`` does; ``orange`` (noun 3, adjective 1) is not.

    Args:
        folder: The WordNet ``dict`` folder (``index.noun`` and ``index.adj``).
    """
    adjectives = _tagged_counts(folder / "index.adj") if (folder / "index.adj").is_file() else {}
    nouns = _tagged_counts(folder / "index.noun")
    return frozenset(lemma for lemma, count in nouns.items() if adjectives.get(lemma, 0) > count)


# --------------------------------------------------------------------------- concept graph


def select_concepts(wordnet: WordNet, linked: Iterable[str], min_share: int = 2) -> set[str]:
    """The linked synsets plus their ancestors shared by at least ``min_share`` of them."""
    linked = set(linked)
    counts: collections.Counter[str] = collections.Counter()
    for offset in linked:
        counts.update(wordnet.ancestors(offset))
    return linked | {offset for offset, count in counts.items() if count >= min_share}


def is_a_edges(wordnet: WordNet, included: set[str]) -> set[tuple[str, str]]:
    """``(child, parent)`` offset pairs: each included synset to its nearest included ancestors.

    Excluded intermediate synsets are skipped, so the hierarchy stays connected,
    and a parent that is also an ancestor of another parent is dropped (no
    redundant transitive edges).
    """
    edges: set[tuple[str, str]] = set()
    for child in included:
        nearest: set[str] = set()
        seen: set[str] = set()
        stack = list(wordnet.hypernyms(child))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in included:
                nearest.add(current)
            else:
                stack.extend(wordnet.hypernyms(current))
        redundant = {a for a in nearest for b in nearest if a != b and a in wordnet.ancestors(b)}
        edges.update((child, parent) for parent in nearest - redundant if parent != child)
    return edges


def part_of_edges(wordnet: WordNet, included: set[str]) -> set[tuple[str, str]]:
    """``(part, whole)`` offset pairs from part and member meronymy between included synsets.

    A synset Y with pointer ``%p``/``%m`` to X (X is a part/member of Y) and a
    synset X with holonym pointer ``#p``/``#m`` to Y both give ``(X, Y)``.
    """
    edges: set[tuple[str, str]] = set()
    for offset in included:
        synset = wordnet.synset(offset)
        edges.update((part, offset) for part in synset.targets("%p", "%m") if part in included)
        edges.update((offset, whole) for whole in synset.targets("#p", "#m") if whole in included)
    return {(a, b) for a, b in edges if a != b}


def concept_nodes(wordnet: WordNet, included: Iterable[str]) -> list[dict[str, object]]:
    """The concept node records of the included synsets, by offset."""
    nodes = []
    for offset in sorted(included):
        synset = wordnet.synset(offset)
        node: dict[str, object] = {"id": synset.id, "type": "concept", "name": synset.name}
        if synset.definition:
            node["description"] = synset.definition
        node["attributes"] = {"lemmas": list(synset.lemmas), "lexname": synset.lexname, "offset": synset.offset}
        nodes.append(node)
    return nodes


def concept_edges(wordnet: WordNet, included: set[str]) -> set[tuple[str, str, str]]:
    """The ``is_a`` and ``part_of`` edge records between the included synsets' concept nodes."""
    edges = {(f"wn:{a}-n", IS_A, f"wn:{b}-n") for a, b in is_a_edges(wordnet, included)}
    edges.update((f"wn:{a}-n", PART_OF, f"wn:{b}-n") for a, b in part_of_edges(wordnet, included))
    return edges


class ImageLink(Protocol):
    """The synset an image depicts and where the choice came from (``auto`` or ``override``)."""

    synset: Synset
    source: str


def graph_records(
    wordnet: WordNet,
    images: Sequence[tuple[dict[str, object], ImageLink]],
    texts: Sequence[tuple[str, str, str, str]],
    text_stats: dict[str, object],
) -> Dataset:
    """The records of a dataset: concept, image and text nodes and their edges, in output order.

    The concepts are the linked synsets plus the ancestors shared by at least
    two of them (:func:`select_concepts`). Nodes come as concepts by offset,
    images in the given order, texts by id; edges by relation (in
    :data:`RELATIONS` order), head and tail.

    Args:
        wordnet: The WordNet database.
        images: Each image node with its link; an image node ``depicts`` its synset.
        texts: ``(text id, image id, text, language)`` of each text node, which ``describes`` the image.
        text_stats: More counts of the texts, put in the statistics after ``texts``.

    Returns:
        The records, with the statistics ``concepts``, ``images``, ``texts``, the
        ``text_stats``, ``edges`` (by relation), ``edges_total``, ``links`` (by
        source) and ``linked_synsets``.
    """
    linked = {link.synset.offset for _, link in images}
    included = select_concepts(wordnet, linked)
    text_nodes: list[dict[str, object]] = [
        {"id": text_id, "type": "text", "text": text, "language": language} for text_id, _, text, language in texts
    ]
    edges = {(str(node["id"]), DEPICTS, link.synset.id) for node, link in images}
    edges.update((text_id, DESCRIBES, image_id) for text_id, image_id, _, _ in texts)
    edges.update(concept_edges(wordnet, included))
    order = {relation: i for i, relation in enumerate(RELATIONS)}
    nodes = concept_nodes(wordnet, included) + [node for node, _ in images]
    nodes += sorted(text_nodes, key=lambda n: str(n["id"]))
    dataset = Dataset(nodes, sorted(edges, key=lambda e: (order[e[1]], e[0], e[2])))
    dataset.stats = {
        "concepts": len(included),
        "images": len(images),
        "texts": len(text_nodes),
        **text_stats,
        "edges": {relation: sum(1 for e in dataset.edges if e[1] == relation) for relation in RELATIONS},
        "edges_total": len(dataset.edges),
        "links": dict(sorted(collections.Counter(link.source for _, link in images).items())),
        "linked_synsets": len(linked),
    }
    return dataset


def readme_tables(stats: dict[str, object], images: str, texts: str, text_count: str) -> str:
    """The README tables of a dataset's nodes and edges, with the counts of :func:`graph_records`.

    Args:
        stats: The dataset's statistics.
        images: What the image nodes are, e.g. ``"images (drawings, `img:<drawing path>`)"``.
        texts: What the text nodes are.
        text_count: The count of text nodes as written in the table.
    """
    edges = stats["edges"]
    assert isinstance(edges, dict)
    return f"""| nodes | count |
|---|---|
| concepts (WordNet 3.0 noun synsets, `wn:<offset>-n`) | {stats["concepts"]} |
| {images} | {stats["images"]} |
| {texts} | {text_count} |

| edges | count |
|---|---|
| `describes` (text -> image) | {edges[DESCRIBES]} |
| `depicts` (image -> concept) | {edges[DEPICTS]} |
| `is_a` (concept -> nearest included hypernym) | {edges[IS_A]} |
| `part_of` (concept -> whole, from part/member meronymy) | {edges[PART_OF]} |
"""


# --------------------------------------------------------------------------- sense choice


def split_compounds(wordnet: WordNet, tokens: Sequence[str], min_part: int = 3) -> list[str]:
    """Splits words that WordNet lacks into two words it knows (``coffeecup`` -> ``coffee cup``).

    A split whose collocation is a lemma (``coffee_cup``) wins; otherwise the
    split with the longest second word. Words WordNet knows are kept.
    """
    result: list[str] = []
    for token in tokens:
        if wordnet.base_forms(token) or len(token) < 2 * min_part:
            result.append(token)
            continue
        splits = [
            (token[:i], token[i:])
            for i in range(min_part, len(token) - min_part + 1)
            if wordnet.base_forms(token[:i]) and wordnet.base_forms(token[i:])
        ]
        if not splits:
            result.append(token)
            continue
        known = [pair for pair in splits if wordnet.base_forms("_".join(pair))]
        first, second = (known or sorted(splits, key=lambda pair: -len(pair[1])))[0]
        result.extend([first, second])
    return result


def preferred_lexnames(category: str, table: dict[str, tuple[tuple[str, ...], ...]]) -> tuple[tuple[str, ...], ...]:
    """Preferred groups of lexicographer files for a folder: ``table`` at its longest listed prefix, or ``()``.

    Example:
        >>> preferred_lexnames("animals/marsupials", {"animals": (("noun.animal",),)})
        (('noun.animal',),)
    """
    parts = category.split("/")
    for end in range(len(parts), 0, -1):
        prefix = "/".join(parts[:end])
        if prefix in table:
            return table[prefix]
    return ()


# --------------------------------------------------------------------------- overrides


@dataclass
class Override:
    """A hand-checked link: the image at relative path ``stamp`` depicts the synset at ``offset`` (with ``lemma``)."""

    stamp: str
    offset: str
    lemma: str
    comment: str = ""
    line: int = 0


def read_overrides(path: Path) -> dict[str, Override]:
    """Reads ``image_relpath<TAB>synset_offset<TAB>lemma # comment`` lines (one image per line).

    Raises:
        ValueError: On malformed or repeated lines.
    """
    overrides: dict[str, Override] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        line, _, comment = raw.partition("#")
        fields = [f.strip() for f in line.split("\t") if f.strip()]
        if len(fields) != 3 or not re.fullmatch(r"(?:wn:)?\d{8}(?:-n)?", fields[1]):
            raise ValueError(f"{path}:{number}: expected 'stamp<TAB>offset<TAB>lemma # comment', got {raw!r}")
        stamp, offset, lemma = fields
        if stamp in overrides:
            raise ValueError(f"{path}:{number}: second override for {stamp!r} (line {overrides[stamp].line})")
        offset = re.sub(r"\D", "", offset.removesuffix("-n"))
        overrides[stamp] = Override(stamp, offset, lemma, comment.strip(), number)
    return overrides


def override_synset(wordnet: WordNet, override: Override) -> Synset:
    """The synset of a hand-checked override, after checking that it exists and has the override's lemma.

    Raises:
        ValueError: If there is no noun synset at the offset, or it lacks the lemma.
    """
    if override.offset not in wordnet:
        raise ValueError(f"override line {override.line}: no noun synset {override.offset}")
    synset = wordnet.synset(override.offset)
    if override.lemma.lower().replace(" ", "_") not in {lemma.lower() for lemma in synset.lemmas}:
        raise ValueError(
            f"override line {override.line}: synset {override.offset} has lemmas {synset.lemmas}, "
            f"not {override.lemma!r}"
        )
    return synset


def load_overrides(path: Path | None) -> dict[str, Override]:
    """The overrides of the file ``path`` (:func:`read_overrides`); none if ``path`` is ``None`` or not a file."""
    return read_overrides(path) if path and path.is_file() else {}


# --------------------------------------------------------------------------- sources


def missing_packages(package: str, source_dir: Path, wordnet_dir: Path) -> list[str]:
    """The Debian packages whose files are not found: ``package``'s folder ``source_dir``, WordNet's ``data.noun``."""
    missing = []
    if not source_dir.is_dir():
        missing.append(package)
    if not (wordnet_dir / "data.noun").is_file():
        missing.append(WORDNET_PACKAGE)
    return missing


def check_sources(recipe: str, package: str, source_dir: Path, wordnet_dir: Path, install_command: str) -> None:
    """Checks that a recipe's sources are installed: ``package`` (in ``source_dir``) and ``wordnet-base``.

    Raises:
        DatasetError: One line naming the recipe, the missing Debian packages, the
            paths looked at and the ``apt-get`` command that installs them.
    """
    missing = missing_packages(package, source_dir, wordnet_dir)
    if missing:
        looked = [str(source_dir)] * (package in missing) + [str(wordnet_dir / "data.noun")] * (
            WORDNET_PACKAGE in missing
        )
        raise DatasetError(
            f"the {recipe} recipe needs the Debian package(s) {', '.join(missing)} "
            f"(not found: {', '.join(looked)}); install them with: {install_command}"
        )


WORDNET_LICENSE = """WordNet Release 3.0

This software and database is being provided to you, the LICENSEE, by Princeton
University under the following license. By obtaining, using and/or copying this
software and database, you agree that you have read, understood, and will comply
with these terms and conditions.:

Permission to use, copy, modify and distribute this software and database and
its documentation for any purpose and without fee or royalty is hereby granted,
provided that you agree to comply with the following copyright notice and
statements, including the disclaimer, and that the same appear on ALL copies of
the software, database and documentation, including modifications that you make
for internal use or for distribution.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.

THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT
LIMITATION, PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF
MERCHANT- ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF THE
LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY
PATENTS, COPYRIGHTS, TRADEMARKS OR OTHER RIGHTS.

The name of Princeton University or Princeton may not be used in advertising or
publicity pertaining to distribution of the software and/or database. Title to
copyright in this software, database and any associated documentation shall at
all times remain with Princeton University and LICENSEE agrees to preserve same.
"""


@dataclass(repr=False, kw_only=True)
class WordNetDataset(RecipeDataset):
    """Base of the named datasets whose recipe links images to WordNet 3.0 (the ``wordnet-base`` package).

    Args:
        wordnet_dir: WordNet 3.0 database (default: the ``wordnet-base`` folder).
        overrides: Hand-checked links (``None``: automatic links only).
    """

    wordnet_dir: PathOption = None
    overrides: PathOption = None
