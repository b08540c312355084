"""The ``tuxpaint_wordnet`` recipe: a multimodal knowledge graph from Tux Paint stamps and WordNet 3.0.

Sources (Debian packages, installed with
``apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2``):

* ``tuxpaint-stamps-default`` -- about 950 hand-drawn stamps (PNG or SVG) under
  ``/usr/share/tuxpaint/stamps``, each with a ``NAME.txt`` description in English
  and up to ~75 translations (``xx.utf8=...`` lines);
* ``wordnet-base`` -- the WordNet 3.0 database under ``/usr/share/wordnet``.

The output is a graphalign dataset folder:

* concept nodes ``wn:<offset>-n`` (WordNet noun synsets): every synset a stamp
  depicts, plus the hypernym ancestors shared by at least two of them;
* image nodes ``img:<stamp path>`` (the stamps, as PNG under ``images/``);
* text nodes ``text:<stamp path>:<language>`` (the stamp descriptions);
* edges ``text describes image``, ``image depicts concept``, ``concept is_a
  concept`` (transitively reduced hypernymy) and ``concept part_of concept``
  (part and member meronymy).

Each stamp is linked to one synset by an automatic matcher (stamp name, then
description words, with a per-category preference for WordNet lexicographer
files) corrected by the hand-checked overrides bundled with graphalign
(``graphalign/datasets/data/tuxpaint_wordnet_overrides.tsv``).

The recipe needs the standard library, Pillow and cairosvg (the ``svg`` extra,
for SVG-only stamps); of graphalign it uses only the error types and the
dataset registry, so it sits below the graph layer. Rebuilding gives
byte-identical files.

Example:
    >>> import graphalign as ga
    >>> ga.datasets.build("tuxpaint_wordnet", "data/tuxpaint_full")  # doctest: +SKIP
    PosixPath('data/tuxpaint_full')

The same from a shell: ``graphalign dataset build tuxpaint_wordnet -o DIR``
(add ``--kwargs '{"small": true}'`` for the bundled subset).
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from graphalign.datasets.base import DATASETS, NamedDataset
from graphalign.errors import DatasetError

logger = logging.getLogger(__name__)

__all__ = [
    "TuxPaintWordNet",
    "TuxPaintSmall",
    "build",
    "link_lines",
    "check_sources",
    "missing_packages",
    "WordNet",
    "find_stamps",
    "system_path",
]

SYSTEM_ROOT = Path("/")
"""Where the Debian packages' files are looked up (tests point it at an empty folder)."""
STAMPS_DIR = "usr/share/tuxpaint/stamps"
WORDNET_DIR = "usr/share/wordnet"
TUXPAINT_COPYRIGHT = "usr/share/doc/tuxpaint-stamps-default/copyright"
WORDNET_COPYRIGHT = "usr/share/doc/wordnet-base/copyright"
GPL2_TEXT = "usr/share/common-licenses/GPL-2"
DEFAULT_OVERRIDES = Path(__file__).resolve().parent / "data" / "tuxpaint_wordnet_overrides.tsv"

DEBIAN_PACKAGES = ("tuxpaint-stamps-default", "wordnet-base")
INSTALL_COMMAND = "apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2"
FULL_MAX_SIDE = 512
SMALL_MAX_SIDE = 128
SMALL_TARGET = 300
SMALL_LANGUAGES = ("en", "fr", "de", "es")

# Relations, in the order they are written to edges.tsv.
DESCRIBES, DEPICTS, IS_A, PART_OF = "describes", "depicts", "is_a", "part_of"
RELATIONS = (DESCRIBES, DEPICTS, IS_A, PART_OF)

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

# Preferred lexicographer files per stamp folder (the longest matching folder
# prefix wins), as groups in order of preference; inside a group the most
# frequent sense wins. Defined from the folder list of tuxpaint-stamps-default.
CATEGORY_LEXNAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "animals": (("noun.animal",),),
    "cartoon": (("noun.animal",),),  # cartoon/tux: Tux the penguin
    "clothes": (("noun.artifact",),),
    "food": (("noun.food",), ("noun.plant",)),  # the fruit before the tree
    "hobbies": (("noun.artifact", "noun.act"),),
    "household": (("noun.artifact",),),
    "medical": (("noun.artifact", "noun.body"),),
    "military": (("noun.artifact", "noun.person"),),
    "naturalforces": (("noun.phenomenon", "noun.event", "noun.object"),),
    "people": (("noun.person", "noun.artifact"),),
    "people/body_parts": (("noun.body", "noun.artifact"),),
    "people/toys": (("noun.artifact",),),
    "plants": (("noun.plant",),),
    "seasonal": (("noun.artifact", "noun.food", "noun.plant", "noun.animal"),),
    "space": (("noun.object", "noun.artifact"),),
    "sports": (("noun.artifact",),),
    "symbols": (("noun.communication", "noun.shape"),),
    "symbols/chess": (("noun.artifact",),),
    "symbols/math": (("noun.communication", "noun.quantity"),),
    "symbols/money": (("noun.possession", "noun.artifact"),),
    "town": (("noun.artifact",),),
    "vehicles": (("noun.artifact",),),
}

# Name parts that describe how a stamp is drawn, not what it shows.
NAME_NOISE = frozenset(
    {"filled", "outline", "outlined", "left", "right", "cartoon", "photo", "drawing", "profile", "small", "little",
     "new", "old", "front", "side", "in", "out", "whole", "sliced", "shelled", "flying", "eating", "sitting", "stand",
     "baby"}
)  # fmt: skip
STOPWORDS = frozenset(
    {"a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "to", "from", "for", "by", "its", "it", "is", "are",
     "this", "that", "his", "her", "their", "some", "two", "three", "one", "very"}
)  # fmt: skip
IMAGE_SUFFIXES = (".png", ".svg")
# Pre-made variants that Tux Paint uses instead of flipping a stamp itself.
VARIANT_SUFFIXES = ("_mirror", "_flip", "_mirror_flip")
TRANSLATION_RE = re.compile(r"^\s*([A-Za-z]{2,3}(?:_[A-Za-z]{2})?(?:@[A-Za-z]+)?)\.utf-?8\s*=(.*)$", re.IGNORECASE)
SCRIPT_VARIANTS = {"latin": "Latn", "cyrillic": "Cyrl"}


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


# --------------------------------------------------------------------------- stamps


@dataclass
class Stamp:
    """One Tux Paint stamp: an image file (PNG preferred, else SVG) and its description file."""

    relpath: str  # e.g. "animals/marsupials/kangaroo"
    source: Path
    text_file: Path | None = None

    @property
    def category(self) -> str:
        """The folder of the stamp, e.g. ``animals/marsupials``."""
        return self.relpath.rpartition("/")[0]

    @property
    def top_category(self) -> str:
        """The first folder of the stamp, e.g. ``animals``."""
        return self.relpath.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The file name without extension, e.g. ``kangaroo``."""
        return self.relpath.rpartition("/")[2]


def find_stamps(stamps_dir: Path) -> list[Stamp]:
    """Lists the stamps under ``stamps_dir``, sorted by path.

    A stamp is a ``.png`` or ``.svg`` image (the PNG is used when both exist);
    pre-made ``NAME_mirror``/``NAME_flip`` variants of another stamp are skipped.
    """
    images: dict[str, dict[str, Path]] = collections.defaultdict(dict)
    for path in sorted(stamps_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            relpath = path.relative_to(stamps_dir).with_suffix("").as_posix()
            images[relpath][path.suffix.lower()] = path
    stamps = []
    for relpath in sorted(images):
        if any(relpath.endswith(s) and relpath[: -len(s)] in images for s in VARIANT_SUFFIXES):
            continue
        files = images[relpath]
        text_file = stamps_dir / f"{relpath}.txt"
        stamps.append(Stamp(relpath, files.get(".png") or files[".svg"], text_file if text_file.is_file() else None))
    return stamps


def normalize_language(code: str) -> str:
    """Turns a gettext locale name into a BCP 47 tag: ``pt_BR`` -> ``pt-BR``, ``sr@latin`` -> ``sr-Latn``."""
    base, _, variant = code.partition("@")
    language, _, region = base.partition("_")
    parts = [language.lower()]
    if variant:
        parts.append(SCRIPT_VARIANTS.get(variant.lower(), variant.lower()))
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def _clean_text(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def decode_text(data: bytes) -> str:
    """Decodes a description file: UTF-8 (with or without BOM), else UTF-16 with BOM, else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_stamp_text(data: bytes) -> tuple[str | None, dict[str, str]]:
    """Parses a stamp's ``NAME.txt`` into ``(English description, {language: translation})``.

    The first non-blank line that is not a ``xx.utf8=`` line is the English
    text; ``xx.utf8=``/``xx_YY.utf8=`` lines are translations. Languages become
    BCP 47 tags (``pt-BR``); empty translations are skipped and the first of
    repeated languages wins.
    """
    english: str | None = None
    translations: dict[str, str] = {}
    for line in decode_text(data).splitlines():
        match = TRANSLATION_RE.match(line)
        if match:
            text = _clean_text(match.group(2))
            language = normalize_language(match.group(1))
            if text and language not in translations:
                translations[language] = text
        elif english is None and line.strip() and not translations:
            english = _clean_text(line)
    return english, translations


# --------------------------------------------------------------------------- sense choice


def name_tokens(stem: str) -> list[str]:
    """Splits a stamp file name into lower-case words.

    Underscores, hyphens and camelCase separate words; digits are dropped
    (``red_kangaroo-2`` -> ``["red", "kangaroo"]``) unless the name is only
    digits; drawing-style words such as ``outline`` or ``left`` are dropped
    unless nothing else is left.
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)
    words = [w.lower() for w in re.split(r"[\s_\-.]+", spaced) if w]
    letters = [w for part in words for w in re.findall(r"[a-z]+", part)]
    if not letters:
        return [str(int(w)) if w.isdigit() else w for w in words]
    meaningful = [w for w in letters if w not in NAME_NOISE]
    return meaningful or letters


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


def description_tokens(text: str) -> list[str]:
    """Lower-case words of an English description, without stop words."""
    words = re.findall(r"[A-Za-z]+(?:['’][a-z]+)?", text)
    return [w.lower() for w in words if w.lower() not in STOPWORDS and not re.search(r"['’]", w)]


def candidate_phrases(tokens: Sequence[str], max_len: int | None = None) -> list[str]:
    """Candidate lemmas from words, longest first and, at equal length, rightmost first.

    Each n-gram is tried as a collocation (``red_kangaroo``), hyphenated
    (``red-kangaroo``) and as one word (``redkangaroo``). ``["red",
    "kangaroo"]`` gives ``red_kangaroo``, ``red-kangaroo``, ``redkangaroo``,
    ``kangaroo``, ``red``.
    """
    n = len(tokens)
    longest = n if max_len is None else min(n, max_len)
    phrases: list[str] = []
    for length in range(longest, 0, -1):
        for start in range(n - length, -1, -1):
            gram = tokens[start : start + length]
            phrases.extend(["_".join(gram), "-".join(gram), "".join(gram)] if length > 1 else gram)
    return list(dict.fromkeys(phrases))


def preferred_lexnames(category: str) -> tuple[tuple[str, ...], ...]:
    """Preferred groups of lexicographer files for a stamp folder (longest matching prefix), or ``()``."""
    parts = category.split("/")
    for end in range(len(parts), 0, -1):
        prefix = "/".join(parts[:end])
        if prefix in CATEGORY_LEXNAMES:
            return CATEGORY_LEXNAMES[prefix]
    return ()


def stamp_candidates(wordnet: WordNet, name: str, description: str | None) -> list[str]:
    """Candidate lemmas for a stamp, best first.

    First the phrases of the file name (``red_kangaroo`` -> ``red_kangaroo``,
    ``kangaroo``, ``red``), then those of the English description (up to three
    words), then the name again with unknown words split in two
    (``mountaingoat`` -> ``mountain_goat``).
    """
    tokens = name_tokens(name)
    candidates = candidate_phrases(tokens)
    candidates += candidate_phrases(description_tokens(description or ""), max_len=3)
    split = split_compounds(wordnet, tokens)
    if split != tokens:
        candidates += candidate_phrases(split)
    return list(dict.fromkeys(candidates))


def choose_sense(
    wordnet: WordNet,
    candidates: Sequence[str],
    preferred: Sequence[Sequence[str]],
) -> tuple[Synset, str] | None:
    """Picks one synset for a stamp, with the candidate lemma that found it.

    ``preferred`` holds groups of lexicographer files in order of preference.
    The first candidate with a sense in a preferred file gives its most
    frequent sense of the first group that has one (with ``(("noun.food",),
    ("noun.plant",))`` the fruit wins over the tree); failing that, the most
    frequent sense of the first candidate that WordNet knows.
    """
    for phrase in candidates:
        synsets = wordnet.lookup(phrase)
        for group in preferred:
            for synset in synsets:
                if synset.lexname in group:
                    return synset, phrase
    for phrase in candidates:
        synsets = wordnet.lookup(phrase)
        if synsets:
            return synsets[0], phrase
    return None


@dataclass
class Override:
    """A hand-checked link: ``stamp`` depicts the synset at ``offset`` (with lemma ``lemma``)."""

    stamp: str
    offset: str
    lemma: str
    comment: str = ""
    line: int = 0


def read_overrides(path: Path) -> dict[str, Override]:
    """Reads ``stamp_relpath<TAB>synset_offset<TAB>lemma # comment`` lines.

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


@dataclass
class Link:
    """The synset a stamp depicts and where the choice came from (``auto`` or ``override``)."""

    synset: Synset
    source: str
    lemma: str


def link_stamps(
    wordnet: WordNet,
    stamps: Sequence[Stamp],
    english: dict[str, str | None],
    overrides: dict[str, Override],
    strict: bool = True,
) -> dict[str, Link]:
    """Links every stamp to one noun synset.

    Args:
        wordnet: The WordNet database.
        stamps: The stamps to link.
        english: English description per stamp path (used when the name fails).
        overrides: Hand-checked links per stamp path; they win over the matcher.
        strict: Raise if a stamp gets no link (else leave it out).

    Raises:
        ValueError: If an override names an unknown synset or a lemma the synset
            lacks, or if a stamp has neither an automatic link nor an override.
    """
    links: dict[str, Link] = {}
    missing = []
    for stamp in stamps:
        override = overrides.get(stamp.relpath)
        if override is not None:
            if override.offset not in wordnet:
                raise ValueError(f"override line {override.line}: no noun synset {override.offset}")
            synset = wordnet.synset(override.offset)
            wanted = override.lemma.lower().replace(" ", "_")
            if wanted not in {lemma.lower() for lemma in synset.lemmas}:
                raise ValueError(
                    f"override line {override.line}: synset {override.offset} has lemmas "
                    f"{synset.lemmas}, not {override.lemma!r}"
                )
            links[stamp.relpath] = Link(synset, "override", override.lemma)
            continue
        chosen = choose_sense(
            wordnet,
            stamp_candidates(wordnet, stamp.name, english.get(stamp.relpath)),
            preferred_lexnames(stamp.category),
        )
        if chosen is None:
            missing.append(stamp.relpath)
            continue
        links[stamp.relpath] = Link(chosen[0], "auto", chosen[1])
    if missing and strict:
        raise ValueError(f"no WordNet noun found for {len(missing)} stamp(s); add overrides: {', '.join(missing)}")
    return links


# --------------------------------------------------------------------------- images


def _png_bytes(image: Image.Image, palette: bool) -> bytes:
    """Encodes an RGBA image as PNG; with ``palette``, as an optimised 256-colour PNG with alpha."""
    buffer = io.BytesIO()
    if palette:
        image = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    image.save(buffer, format="PNG", optimize=palette)
    return buffer.getvalue()


def expand_internal_entities(svg: bytes) -> bytes:
    """Inlines the internal ``<!ENTITY name "value">`` declarations of an SVG and drops its DOCTYPE.

    cairosvg refuses entities (to guard against XXE); a few stamps exported by
    Illustrator declare namespace URIs that way.
    """
    text = svg.decode("utf-8")
    doctype = re.search(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", text, flags=re.DOTALL)
    if doctype is None:
        return svg
    entities = dict(re.findall(r'<!ENTITY\s+([\w.-]+)\s+"([^"]*)"\s*>', doctype.group(0)))
    text = text[: doctype.start()] + text[doctype.end() :]
    for name, value in entities.items():
        text = text.replace(f"&{name};", value)
    return text.encode("utf-8")


def convert_image(job: tuple[str, str, int, bool]) -> tuple[int, int]:
    """Writes a stamp as PNG with alpha, its longest side at most ``max_side``.

    SVG stamps are rendered with cairosvg so that their longest side is
    ``max_side``. Run in worker processes.

    Args:
        job: ``(source path, destination path, max_side, palette)``; with
            ``palette`` the PNG is quantised to 256 colours (alpha kept) and
            optimised, else it is lossless RGBA.

    Returns:
        The width and height written.
    """
    source, destination, max_side, palette = job
    if source.lower().endswith(".svg"):
        import cairosvg

        data = Path(source).read_bytes()
        if b"<!ENTITY" in data:
            data = expand_internal_entities(data)
        probe = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=data)))
        scale = max_side / max(probe.size)
        image = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=data, scale=scale)))
    else:
        image = Image.open(source)
    image.load()
    if image.mode in ("I;16", "I", "F"):
        image = image.point(lambda v: v / 256).convert("L")
    image = image.convert("RGBA")
    if max(image.size) > max_side:
        ratio = max_side / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    Path(destination).write_bytes(_png_bytes(image, palette))
    return image.size


def _convert_job(job: tuple[str, str, int, bool]) -> tuple[int, int]:
    """Runs :func:`convert_image`, turning any error into a picklable one that names the file."""
    try:
        return convert_image(job)
    except Exception as error:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(f"{job[0]}: {type(error).__name__}: {error}") from None


# --------------------------------------------------------------------------- subset


def select_small(stamps: Sequence[Stamp], target: int = SMALL_TARGET) -> list[Stamp]:
    """A deterministic subset of about ``target`` stamps spread over all top-level folders.

    Every top-level folder gets the same quota (smaller folders are taken
    whole); inside a folder the stamps are taken evenly spaced in path order.
    """
    groups: dict[str, list[Stamp]] = collections.defaultdict(list)
    for stamp in sorted(stamps, key=lambda s: s.relpath):
        groups[stamp.top_category].append(stamp)
    sizes = sorted(len(g) for g in groups.values())
    quota, remaining, left = 0, target, len(sizes)
    for size in sizes:  # water-filling: the largest equal cap that fits the target
        quota = remaining // left
        if size > quota:
            break
        remaining, left = remaining - size, left - 1
    else:
        quota = sizes[-1] if sizes else 0
    chosen = []
    for top in sorted(groups):
        group = groups[top]
        count = min(len(group), quota)
        chosen.extend(group[math.floor((i + 0.5) * len(group) / count)] for i in range(count))
    return sorted(chosen, key=lambda s: s.relpath)


# --------------------------------------------------------------------------- build


@dataclass
class Dataset:
    """The records of a built dataset, in output order."""

    nodes: list[dict[str, object]] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_records(
    wordnet: WordNet,
    stamps: Sequence[Stamp],
    links: dict[str, Link],
    texts: dict[str, tuple[str | None, dict[str, str]]],
    languages: Sequence[str] | None,
) -> Dataset:
    """Builds the node and edge records (images are written separately)."""
    dataset = Dataset()
    linked = {link.synset.offset for link in links.values()}
    included = select_concepts(wordnet, linked)
    for offset in sorted(included):
        synset = wordnet.synset(offset)
        node: dict[str, object] = {"id": synset.id, "type": "concept", "name": synset.name}
        if synset.definition:
            node["description"] = synset.definition
        node["attributes"] = {"lemmas": list(synset.lemmas), "lexname": synset.lexname, "offset": synset.offset}
        dataset.nodes.append(node)
    text_nodes = []
    edges: set[tuple[str, str, str]] = set()
    hashes = {stamp.relpath: sha256_file(stamp.source) for stamp in stamps}
    for stamp in stamps:
        image_id = f"img:{stamp.relpath}"
        link = links[stamp.relpath]
        dataset.nodes.append(
            {
                "id": image_id,
                "type": "image",
                "path": f"images/{stamp.relpath}.png",
                "attributes": {
                    "category": stamp.category,
                    "top_category": stamp.top_category,
                    "stamp": stamp.name,
                    "sha256": hashes[stamp.relpath],
                    "source_format": stamp.source.suffix.lower().lstrip("."),
                    "link": link.source,
                },
            }
        )
        edges.add((image_id, DEPICTS, link.synset.id))
        english, translations = texts.get(stamp.relpath, (None, {}))
        descriptions = ({"en": english} if english else {}) | {k: v for k, v in translations.items() if k != "en"}
        for language, text in descriptions.items():
            if languages is not None and language not in languages:
                continue
            text_id = f"text:{stamp.relpath}:{language}"
            text_nodes.append({"id": text_id, "type": "text", "text": text, "language": language})
            edges.add((text_id, DESCRIBES, image_id))
    dataset.nodes.extend(sorted(text_nodes, key=lambda n: str(n["id"])))
    edges.update((f"wn:{a}-n", IS_A, f"wn:{b}-n") for a, b in is_a_edges(wordnet, included))
    edges.update((f"wn:{a}-n", PART_OF, f"wn:{b}-n") for a, b in part_of_edges(wordnet, included))
    order = {relation: i for i, relation in enumerate(RELATIONS)}
    dataset.edges = sorted(edges, key=lambda e: (order[e[1]], e[0], e[2]))
    by_language = collections.Counter(str(n["language"]) for n in text_nodes)
    dataset.stats = {
        "concepts": len(included),
        "images": len(stamps),
        "texts": len(text_nodes),
        "languages": len(by_language),
        "texts_by_language": dict(sorted(by_language.items(), key=lambda kv: (-kv[1], kv[0]))),
        "edges": {relation: sum(1 for e in dataset.edges if e[1] == relation) for relation in RELATIONS},
        "edges_total": len(dataset.edges),
        "links": dict(sorted(collections.Counter(link.source for link in links.values()).items())),
        "linked_synsets": len(linked),
        "distinct_image_files": len(set(hashes.values())),
    }
    return dataset


def system_path(relative: str) -> Path:
    """A path of the Debian packages' files, under :data:`SYSTEM_ROOT`."""
    return SYSTEM_ROOT / relative


def _licence_text(path: Path, fallback: str) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else fallback


def write_dataset(out: Path, dataset: Dataset, small: bool) -> None:
    """Writes ``nodes.jsonl``, ``edges.tsv``, ``stats.json``, licences and README into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "nodes.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for node in dataset.nodes:
            handle.write(json.dumps(node, ensure_ascii=False) + "\n")
    with (out / "edges.tsv").open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("# graphalign edges: head<TAB>relation<TAB>tail\n")
        handle.write("# Tux Paint stamps x WordNet 3.0, built by graphalign's tuxpaint_wordnet recipe\n")
        handle.write("# describes: text -> image; depicts: image -> concept; is_a, part_of: concept -> concept\n")
        handle.writelines(f"{h}\t{r}\t{t}\n" for h, r, t in dataset.edges)
    (out / "stats.json").write_text(json.dumps(dataset.stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tuxpaint = _licence_text(
        system_path(TUXPAINT_COPYRIGHT), "Tux Paint stamps: (C) 2002-2022 Bill Kendrick. License: GPL-2.\n"
    )
    gpl2 = system_path(GPL2_TEXT)
    if gpl2.is_file():
        tuxpaint += "\n\n" + "=" * 72 + "\nFull text of the GNU General Public License, version 2\n" + "=" * 72 + "\n\n"
        tuxpaint += gpl2.read_text(encoding="utf-8")
    (out / "LICENSE-tuxpaint-stamps.txt").write_text(tuxpaint, encoding="utf-8")
    (out / "LICENSE-wordnet.txt").write_text(
        _licence_text(system_path(WORDNET_COPYRIGHT), WORDNET_LICENSE), encoding="utf-8"
    )
    (out / "README.md").write_text(_readme(dataset.stats, small), encoding="utf-8")


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


def _readme(stats: dict[str, object], small: bool) -> str:
    edges = stats["edges"]
    assert isinstance(edges, dict)
    variant = (
        f"the small subset (`small=True`): {stats['images']} stamps spread over all top-level folders, "
        f"texts in {', '.join(SMALL_LANGUAGES)}, images at most {SMALL_MAX_SIDE} px (256-colour PNG with alpha)"
        if small
        else f"all stamps, all translations, images at most {FULL_MAX_SIDE} px (lossless RGBA PNG)"
    )
    return f"""# Tux Paint stamps x WordNet 3.0

A multimodal knowledge graph in graphalign's dataset format, built by
graphalign's `tuxpaint_wordnet` recipe (`graphalign dataset build tuxpaint_wordnet -o DIR`)
from two Debian packages (`apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2`).
This folder holds {variant}.

| nodes | count |
|---|---|
| concepts (WordNet 3.0 noun synsets, `wn:<offset>-n`) | {stats["concepts"]} |
| images (Tux Paint stamps, `img:<stamp path>`) | {stats["images"]} |
| texts (stamp descriptions, `text:<stamp path>:<language>`) | {stats["texts"]} in {stats["languages"]} languages |

| edges | count |
|---|---|
| `describes` (text -> image) | {edges[DESCRIBES]} |
| `depicts` (image -> concept) | {edges[DEPICTS]} |
| `is_a` (concept -> nearest included hypernym) | {edges[IS_A]} |
| `part_of` (concept -> whole, from part/member meronymy) | {edges[PART_OF]} |

Image links: {stats["links"]} (`attributes.link`); identical drawings found in several
folders are separate image nodes with the same `attributes.sha256` (of the source file).
More counts are in `stats.json`.

## Sources and licences

* Images and descriptions: Tux Paint stamps (tuxpaint-stamps-default),
  Copyright 2002-2022 Bill Kendrick and contributors, GNU GPL version 2;
  see `LICENSE-tuxpaint-stamps.txt`. Images are re-encoded (and SVGs rendered) as PNG.
* Concepts, glosses and relations: WordNet 3.0, Copyright 2006 Princeton
  University, WordNet 3.0 licence; see `LICENSE-wordnet.txt`.
"""


def _rmtree_images(out: Path) -> None:
    images = out / "images"
    if images.is_dir():
        shutil.rmtree(images)


def missing_packages(stamps_dir: Path, wordnet_dir: Path) -> list[str]:
    """The Debian packages whose files are not found: a stamps folder, a WordNet ``data.noun``."""
    missing = []
    if not stamps_dir.is_dir():
        missing.append(DEBIAN_PACKAGES[0])
    if not (wordnet_dir / "data.noun").is_file():
        missing.append(DEBIAN_PACKAGES[1])
    return missing


def check_sources(stamps_dir: Path, wordnet_dir: Path) -> None:
    """Checks that the recipe's sources are installed.

    Raises:
        DatasetError: One line naming the missing Debian packages, the paths
            looked at and the ``apt-get`` command that installs them.
    """
    missing = missing_packages(stamps_dir, wordnet_dir)
    if missing:
        looked = [str(stamps_dir)] * (DEBIAN_PACKAGES[0] in missing) + [str(wordnet_dir / "data.noun")] * (
            DEBIAN_PACKAGES[1] in missing
        )
        raise DatasetError(
            f"the tuxpaint_wordnet recipe needs the Debian package(s) {', '.join(missing)} "
            f"(not found: {', '.join(looked)}); install them with: {INSTALL_COMMAND}"
        )


def _check_cairosvg() -> None:
    """Raises :class:`DatasetError` if SVG stamps cannot be rendered (cairosvg or the cairo library missing)."""
    try:
        import cairosvg  # noqa: F401 - optional extra, imported where it is needed
    except (ImportError, OSError) as error:
        raise DatasetError(
            f"SVG stamps need cairosvg and the cairo library ({error}); install them with: "
            f"pip install 'graphalign[svg]' and apt-get install -y libcairo2"
        ) from None


def build(
    out: Path,
    *,
    small: bool = False,
    stamps_dir: Path | None = None,
    wordnet_dir: Path | None = None,
    overrides_path: Path | None = DEFAULT_OVERRIDES,
    jobs: int | None = None,
) -> dict[str, object]:
    """Builds the dataset into ``out`` and returns its statistics.

    Args:
        out: The dataset folder to write (its ``images/`` is replaced).
        small: Build the subset bundled as ``tuxpaint_small``: about 300 stamps
            spread over all top-level folders, texts in en/fr/de/es, 128 px images.
        stamps_dir: Tux Paint stamps (default: the ``tuxpaint-stamps-default`` folder).
        wordnet_dir: WordNet 3.0 database (default: the ``wordnet-base`` folder).
        overrides_path: Hand-checked sense overrides (``None``: automatic links only).
        jobs: Image worker processes (default: CPUs, at most 8).

    Raises:
        DatasetError: If the Debian packages (or, for SVG stamps, cairosvg) are missing.
        ValueError: If an override is malformed or a stamp has no WordNet noun.
    """
    stamps_dir = stamps_dir or system_path(STAMPS_DIR)
    wordnet_dir = wordnet_dir or system_path(WORDNET_DIR)
    check_sources(stamps_dir, wordnet_dir)
    all_stamps = find_stamps(stamps_dir)
    if not all_stamps:
        raise DatasetError(f"no stamps found under {stamps_dir}; install them with: {INSTALL_COMMAND}")
    wordnet = WordNet(wordnet_dir)
    stamps = select_small(all_stamps) if small else all_stamps
    if any(s.source.suffix.lower() == ".svg" for s in stamps):
        _check_cairosvg()
    texts = {s.relpath: parse_stamp_text(s.text_file.read_bytes()) for s in stamps if s.text_file}
    english = {relpath: text[0] for relpath, text in texts.items()}
    overrides = read_overrides(overrides_path) if overrides_path and overrides_path.is_file() else {}
    known = {s.relpath for s in all_stamps}
    unknown = sorted(set(overrides) - known)
    if unknown:
        logger.warning("overrides for unknown stamps: %s", ", ".join(unknown))
    links = link_stamps(wordnet, stamps, english, overrides)
    dataset = build_records(wordnet, stamps, links, texts, SMALL_LANGUAGES if small else None)
    _rmtree_images(out)
    max_side = SMALL_MAX_SIDE if small else FULL_MAX_SIDE
    image_jobs = [(str(s.source), str(out / "images" / f"{s.relpath}.png"), max_side, small) for s in stamps]
    workers = jobs or min(8, os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_convert_job, image_jobs, chunksize=8))
    else:
        for job in image_jobs:
            _convert_job(job)
    write_dataset(out, dataset, small)
    logger.info(
        "wrote %s: %s concepts, %s images, %s texts",
        out,
        dataset.stats["concepts"],
        dataset.stats["images"],
        dataset.stats["texts"],
    )
    return dataset.stats


def link_lines(
    stamps_dir: Path | None = None,
    wordnet_dir: Path | None = None,
    overrides_path: Path | None = DEFAULT_OVERRIDES,
) -> list[str]:
    """Every stamp's link as a tab-separated line, for reviewing the matcher and the overrides.

    Columns: stamp, ``auto``/``override`` (or ``MISSING``), synset offset, lemma,
    lexicographer file, the synset's first lemmas and definition, ``[English description]``.

    Raises:
        DatasetError: If the Debian packages are missing.
    """
    stamps_dir = stamps_dir or system_path(STAMPS_DIR)
    wordnet_dir = wordnet_dir or system_path(WORDNET_DIR)
    check_sources(stamps_dir, wordnet_dir)
    wordnet = WordNet(wordnet_dir)
    stamps = find_stamps(stamps_dir)
    texts = {s.relpath: parse_stamp_text(s.text_file.read_bytes()) for s in stamps if s.text_file}
    overrides = read_overrides(overrides_path) if overrides_path and overrides_path.is_file() else {}
    links = link_stamps(wordnet, stamps, {k: v[0] for k, v in texts.items()}, overrides, strict=False)
    lines = []
    for stamp in stamps:
        english = texts.get(stamp.relpath, (None, {}))[0] or ""
        link = links.get(stamp.relpath)
        if link is None:
            lines.append(f"{stamp.relpath}\tMISSING\t\t\t\t\t[{english}]")
            continue
        lines.append(
            f"{stamp.relpath}\t{link.source}\t{link.synset.offset}\t{link.lemma}\t{link.synset.lexname}\t"
            f"{'/'.join(link.synset.lemmas[:3])}: {link.synset.definition}\t[{english}]"
        )
    return lines


# --------------------------------------------------------------------------- named datasets


@DATASETS.register("tuxpaint_wordnet", requires="Debian packages tuxpaint-stamps-default, wordnet-base")
class TuxPaintWordNet(NamedDataset):
    """All 956 Tux Paint stamps x WordNet 3.0 (864 concepts, 62,340 texts in 78 languages), built from Debian packages.

    The recipe of this module: about 47 MB, 10 s on 2 cores; ``small=True``
    writes the subset bundled as ``tuxpaint_small``.

    Args:
        small: Build the small subset instead of everything.
        stamps_dir: Tux Paint stamps (default: the ``tuxpaint-stamps-default`` folder).
        wordnet_dir: WordNet 3.0 database (default: the ``wordnet-base`` folder).
        overrides: Hand-checked sense overrides (``None``: automatic links only).
        jobs: Image worker processes.

    Example:
        >>> import graphalign as ga
        >>> ga.datasets.build("tuxpaint_wordnet", "data/tuxpaint_full")  # doctest: +SKIP
        PosixPath('data/tuxpaint_full')
        >>> graph = ga.load_dataset("data/tuxpaint_full")  # doctest: +SKIP
    """

    def __init__(
        self,
        small: bool = False,
        stamps_dir: str | os.PathLike[str] | None = None,
        wordnet_dir: str | os.PathLike[str] | None = None,
        overrides: str | os.PathLike[str] | None = DEFAULT_OVERRIDES,
        jobs: int | None = None,
    ) -> None:
        self.small = small
        self.stamps_dir = Path(stamps_dir) if stamps_dir is not None else None
        self.wordnet_dir = Path(wordnet_dir) if wordnet_dir is not None else None
        self.overrides = Path(overrides) if overrides is not None else None
        self.jobs = jobs

    def write(self, out_dir: Path) -> None:
        build(
            out_dir,
            small=self.small,
            stamps_dir=self.stamps_dir,
            wordnet_dir=self.wordnet_dir,
            overrides_path=self.overrides,
            jobs=self.jobs,
        )

    def __repr__(self) -> str:
        return f"TuxPaintWordNet(small={self.small})"


@DATASETS.register("tuxpaint_small")
class TuxPaintSmall(NamedDataset):
    """298 Tux Paint stamps x WordNet 3.0 (408 concepts, 1,168 texts in en/fr/de/es), bundled (2.6 MB).

    The ``small=True`` output of :class:`TuxPaintWordNet`: stamps spread over
    all top-level folders, 128 px images; the default dataset of ``graphalign demo``.
    Three more stamps, not in the graph, come with it as
    example query images (:func:`graphalign.datasets.query_images`).

    Example:
        >>> import graphalign as ga
        >>> ga.load_dataset("tuxpaint_small")  # doctest: +SKIP
        KnowledgeGraph(concept=408, text=1168, image=298, edges=1911)
    """

    bundled = "tuxpaint_small"
    queries = "tuxpaint_queries"
