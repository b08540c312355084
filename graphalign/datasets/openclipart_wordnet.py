"""The ``openclipart_wordnet`` recipe: a multimodal knowledge graph from Open Clip Art drawings and WordNet 3.0.

Sources (Debian packages, installed with
``apt-get install -y openclipart-svg wordnet-base libcairo2``):

* ``openclipart-svg`` -- Open Clip Art Library 0.18: 7,458 public-domain SVG
  drawings (plus 663 symlinks) in 22 top-level folders under
  ``/usr/share/openclipart/svg``; each carries RDF metadata: a title
  (``dc:title``), keywords (``dc:subject``), sometimes a description
  (``dc:description``) and its author (``dc:creator``);
* ``wordnet-base`` -- the WordNet 3.0 database under ``/usr/share/wordnet``.

The output is a graphalign dataset folder:

* concept nodes ``wn:<offset>-n`` (WordNet noun synsets): every synset a drawing
  depicts, plus the hypernym ancestors shared by at least two of them;
* image nodes ``img:<drawing path>`` (the drawings rendered as PNG under ``images/``);
* text nodes ``text:<drawing path>:title`` and ``text:<drawing path>:description``
  (language ``en``);
* edges ``text describes image``, ``image depicts concept``, ``concept is_a
  concept`` (transitively reduced hypernymy) and ``concept part_of concept``
  (part and member meronymy).

Each drawing is linked to one synset. The automatic matcher splits the cleaned
title and the file name into the longest phrases WordNet knows
(:func:`segment`), adds the keywords, and scores every synset they name: a
title phrase weighs most, the title's head noun gets a bonus, a sense in the
lexicographer files preferred for the drawing's folder (:data:`FOLDER_LEXNAMES`,
like Tux Paint's categories) gets a bonus and one outside them a malus, and a
synset whose hypernym or whole is named by other evidence (``feline`` with the
keyword ``mammal``) wins over the more general one. Taxa (``genus_Rana``) are
never linked and famous people rarely. Hand-checked overrides
(``graphalign/datasets/data/openclipart_wordnet_overrides.tsv``, glob patterns
for whole series) win over the matcher, and a stop-list
(``openclipart_wordnet_stoplist.tsv``, plus the words WordNet tags more often
as adjectives) names words that are never evidence. Titles name what a
drawing shows, so a title text is often just the lemma of its concept; it is
kept, as Tux Paint's descriptions are. Texts are marked ``en`` as the
metadata declares them; some titles are Italian or French words.

Traps of the source, and what the recipe does (counts of 0.18 in ``stats.json``):

* generated series are dropped: 1,375 "magick" stars (keyword ``magick``),
  1,588 icon-theme files (keywords ``hash`` and ``theme``, or an icon-theme
  title such as ``Lemon SVG theme``) and 214 gradient and pattern swatches;
* keyword junk is ignored: hex ids such as ``0x935a874`` or ``HASH(0x8660044)``,
  the ``hash`` marker, e-mail addresses and URLs;
* author names are never concept evidence nor text: keywords equal to an
  author's name, authors' names in titles and descriptions (``Clipart by Nicu
  Buculei - ...``) and the author fragment at the end of file names
  (``bat_orlando_karam_.svg``) are removed;
* keywords that repeat a folder name (``animal`` under ``animals/``) leak the
  folder label: they weigh less and are never the only evidence of a link; the
  folder never becomes a node, an edge or a text;
* a title shared by several drawings and unrelated to a drawing's file name and
  keywords is a series title (``Various Cliparts``, ``AIGA Symbol Signs``): it
  is neither evidence nor text;
* the 663 symlinks are skipped; no two remaining files are byte-identical, but
  310 are copies of another drawing that differ only in metadata and editor
  data: one is kept, with the keywords of all; 9 more render to identical pixels
  and are kept once too;
* drawings cairosvg cannot render (21) or renders blank (5) are dropped;
* near-identical variants (colour or size variants of one drawing) stay; the
  benchmark split groups images by their features;
* flags and letters look alike to image features: their image nodes carry
  ``attributes.kind`` = ``"flag"`` (under a ``flags`` folder, named a flag, or
  linked to a kind of flag) or ``"letter"`` (linked to a character or digit).
  A flag is linked to the country, region or organisation it stands for (a
  region WordNet lacks, ``France - Bearn``, to its country), or to ``flag``
  itself when WordNet has none (``British``, ``pride``);
* drawings that no synset fits are dropped.

The recipe needs the standard library, Pillow and cairosvg (the ``svg``
extra); of graphalign it uses only the error types, the dataset registry, the
WordNet reader (:mod:`graphalign.datasets.wordnet`) and the recipes' shared
steps (:mod:`graphalign.datasets.recipe`), so it sits below the graph layer. Rebuilding gives
byte-identical files. From a shell: ``graphalign dataset build openclipart_wordnet -o DIR``
(add ``--kwargs '{"small": true}'`` for about 300 drawings); from Python:
``graphalign.datasets.build("openclipart_wordnet", DIR, small=True)``.
"""

from __future__ import annotations

import collections
import fnmatch
import hashlib
import html
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from graphalign.datasets import recipe
from graphalign.datasets import wordnet as wn
from graphalign.datasets.base import DATASETS
from graphalign.datasets.wordnet import Override, Synset, WordNet, split_compounds
from graphalign.errors import DatasetError

logger = logging.getLogger(__name__)

__all__ = [
    "OpenClipartWordNet",
    "build",
    "link_lines",
    "check_sources",
    "missing_packages",
    "Metadata",
    "Drawing",
    "parse_metadata",
    "find_drawings",
    "system_path",
]

SYSTEM_ROOT = Path("/")
"""Where the Debian packages' files are looked up (tests point it at an empty folder)."""
CLIPART_DIR = "usr/share/openclipart/svg"
OPENCLIPART_COPYRIGHT = "usr/share/doc/openclipart-svg/copyright"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_OVERRIDES = DATA_DIR / "openclipart_wordnet_overrides.tsv"
DEFAULT_STOPLIST = DATA_DIR / "openclipart_wordnet_stoplist.tsv"

DEBIAN_PACKAGES = ("openclipart-svg", "wordnet-base")
INSTALL_COMMAND = "apt-get install -y openclipart-svg wordnet-base libcairo2"
FULL_MAX_SIDE = 512
SMALL_MAX_SIDE = 128
SMALL_TARGET = 300

# Preferred lexicographer files per folder (the longest matching folder prefix
# wins), as groups in order of preference. Defined from the folder list of
# openclipart-svg 0.18; "unsorted" has none.
FOLDER_LEXNAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "animals": (("noun.animal",),),
    "buildings": (("noun.artifact",),),
    "buttons": (("noun.artifact",),),
    "computer": (("noun.artifact", "noun.communication", "noun.body"),),
    "containers": (("noun.artifact",),),
    "decorations": (("noun.artifact", "noun.plant"),),
    "education": (("noun.artifact", "noun.communication"),),
    "electronics": (("noun.artifact",),),
    "food": (("noun.food",), ("noun.plant", "noun.artifact")),
    "geography": (("noun.location", "noun.object"),),
    "logos": (("noun.communication", "noun.artifact"),),
    "office": (("noun.artifact",),),
    "people": (("noun.person", "noun.body"), ("noun.artifact",)),
    "people/bodypart": (("noun.body",),),
    "people/clothing": (("noun.artifact",),),
    "plants": (("noun.plant",),),
    "recreation": (("noun.artifact", "noun.act"),),
    "recreation/holiday": (("noun.artifact", "noun.food", "noun.plant", "noun.animal", "noun.person"),),
    "recreation/holiday/valentines": (("noun.shape", "noun.artifact"), ("noun.food", "noun.plant")),
    "recreation/religion": (("noun.person", "noun.artifact", "noun.communication"),),
    "science": (("noun.artifact", "noun.object", "noun.body"),),
    "shapes": (("noun.shape", "noun.artifact", "noun.communication"),),
    "signs_and_symbols": (("noun.artifact", "noun.object", "noun.phenomenon", "noun.body"), ("noun.communication",)),
    "signs_and_symbols/flags": (("noun.location",), ("noun.communication", "noun.artifact")),
    "signs_and_symbols/weather": (("noun.phenomenon", "noun.object"), ("noun.communication",)),
    "special": (("noun.artifact",),),
    "tools": (("noun.artifact",),),
    "transportation": (("noun.artifact",),),
}

# Sources of evidence and their weights (FOLDER: keywords that repeat a folder name); the score of a
# candidate synset adds the weights of its sources and the bonuses below (see score_candidates).
TITLE, KEYWORD, NAME, FOLDER = "title", "keyword", "name", "folder"
WEIGHTS = {TITLE: 3, KEYWORD: 2, NAME: 2, FOLDER: 1}
PREFERRED_BONUS = 2.0
"""Times 1 for a sense in the folder's first preferred group, 0.25 for a later one, -1 outside them."""
AGREEMENT_BONUS = 1.0
"""For a synset whose hypernym or whole is named by other evidence or a folder."""
HEAD_BONUS = 1.5
"""For the head phrase of the title (of the file name when there is no title)."""
REPEAT_FACTOR = 0.5
"""Weight factor of a title or file-name phrase that repeats a folder name (``flag`` under ``flags/``)."""
PERSON_PENALTY = 2.0
"""For instances of people (famous names)."""

TAXON_PREFIXES = ("genus_", "family_", "order_", "class_", "phylum_", "subfamily_", "suborder_", "subclass_")
FLAG = "03354903"
"""flag: the link of a drawing under a ``flags`` folder whose best synset owns no flag (``British``)."""
FLAG_OWNERS = ("noun.location", "noun.object", "noun.group")
"""Lexicographer files of what a flag stands for: countries and regions, continents, organisations."""
# Synsets whose hyponyms are marked in image attributes (``kind``).
KIND_SYNSETS: dict[str, tuple[str, ...]] = {
    "flag": (FLAG, "06875094"),  # flag; flag, signal flag
    "letter": ("06818970", "13741022"),  # character, grapheme; digit, figure
}

ICON_THEME_TITLE = re.compile(
    r"\b(?:lemon svg theme|flat icon collection|etiquette icons|gold-theme|plastik-icon-theme|iconset)\b", re.I
)
SWATCH_TITLE = re.compile(r"\bgradient collection\b|\bpattern$", re.I)
HEX_KEYWORD = re.compile(r"(?:hash)?\(?0x[0-9a-f]{4,}\)?|hash", re.I)
HEX_ID = re.compile(r"(?:hash[\W_]*)?\(?0x[0-9a-f]+\)?", re.I)
CONTACT = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.I)
CLIPART_BY = re.compile(r"^\s*clip\s*art\s+by\s+.+?\s+-\s+", re.I)
STOPWORDS = frozenset(
    {"a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "to", "from", "for", "by", "its", "it", "is", "are",
     "this", "that", "his", "her", "their", "some", "very", "no", "not", "near", "under", "over", "into", "like",
     "de", "la", "le", "les", "des", "du", "di", "da", "del", "della", "il", "el", "los", "las", "et", "con", "per",
     "un", "une", "una", "au", "aux"}
)  # fmt: skip
PREPOSITIONS = frozenset({"of", "with", "in", "on", "at", "to", "from", "for", "by", "near", "under", "over", "into"})
TRAILING_CREDIT = r"(?:[\s.:,-]*\b(?:created|derivative|e-?mail|contact|by|of|from)\b)+[\s.:,-]*$"
"""Credit words left at the end of a description once the author's name and e-mail are gone."""
BOILERPLATE_DESCRIPTION = re.compile(r"^(?:eps converted from|created with|contact\b|part of .* collection$)", re.I)
DROP_REASONS = (
    "symlinks", "magick_stars", "icon_theme", "swatches", "copies", "identical_render", "render_failed",
    "render_blank", "folder_keywords_only", "no_synset", "override_none",
)  # fmt: skip
"""Why drawings are left out, in the order of the recipe's steps (``stats.json``: ``dropped``)."""
IGNORE_REASONS = ("hex_keywords", "author_keywords", "folder_keywords", "series_titles")
"""Metadata that is not used as evidence (``stats.json``: ``ignored``)."""
GLOB_CHARS = frozenset("*?[")
NO_SYNSET = "00000000"
"""The offset of an override line that leaves a drawing out: no synset fits it."""
SERIES_MIN = 2
"""A title shared by at least this many drawings, unrelated to a drawing's name and keywords, is a series title."""


# --------------------------------------------------------------------------- metadata


@dataclass
class Metadata:
    """The RDF metadata of one drawing (``cc:Work`` of its ``<metadata>``), unescaped and whitespace-collapsed."""

    title: str | None = None
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    creator: str | None = None


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", html.unescape(text))).strip()


def _element_text(block: str, name: str) -> str | None:
    """The text of the first ``<name>...</name>`` in ``block`` (``None`` if absent or empty)."""
    match = re.search(rf"<{name}\b[^>]*?(?:/>|>(.*?)</{name}>)", block, re.S)
    if match is None or match.group(1) is None:
        return None
    text = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", match.group(1), flags=re.S)
    return _clean(re.sub(r"<[^>]+>", " ", text)) or None


def parse_metadata(data: bytes) -> Metadata:
    """Reads the title, description, keywords and creator of an SVG's RDF metadata.

    Only the ``cc:Work`` element is read (the whole ``<metadata>`` if there is
    none); the titles of its ``cc:Agent`` children (publisher, creator, rights)
    are not the drawing's title. Keywords are the ``rdf:li`` items of
    ``dc:subject`` (or its text, split at commas), blank ones left out.

    Example:
        >>> meta = parse_metadata(b'<svg><metadata><cc:Work><dc:title>bat</dc:title><dc:subject><rdf:Bag>'
        ...     b'<rdf:li>mammal</rdf:li><rdf:li></rdf:li></rdf:Bag></dc:subject><dc:creator><cc:Agent>'
        ...     b'<dc:title>Orlando Karam</dc:title></cc:Agent></dc:creator></cc:Work></metadata></svg>')
        >>> meta.title, meta.keywords, meta.creator
        ('bat', ['mammal'], 'Orlando Karam')
    """
    text = data.decode("utf-8", errors="replace")
    work = re.search(r"<cc:Work\b.*?</cc:Work>", text, re.S) or re.search(r"<metadata\b.*?</metadata>", text, re.S)
    if work is None:
        return Metadata()
    block = work.group(0)
    creator_block = re.search(r"<dc:creator\b.*?</dc:creator>", block, re.S)
    creator = _element_text(creator_block.group(0), "dc:title") if creator_block else None
    own = re.sub(r"<cc:Agent\b.*?</cc:Agent>", "", block, flags=re.S)
    keywords: list[str] = []
    subject = re.search(r"<dc:subject\b[^>]*>(.*?)</dc:subject>", own, re.S)
    if subject:
        items = re.findall(r"<rdf:li\b[^>]*>(.*?)</rdf:li>", subject.group(1), re.S)
        if not items:
            items = re.sub(r"<[^>]+>", " ", subject.group(1)).split(",")
        keywords = [k for k in (_clean(re.sub(r"<[^>]+>", " ", item)) for item in items) if k]
    return Metadata(_element_text(own, "dc:title"), _element_text(own, "dc:description"), keywords, creator)


def drawing_fingerprint(data: bytes) -> str:
    """SHA-256 of an SVG without its metadata and editor data, so copies that differ only there are equal."""
    data = re.sub(rb"<metadata\b.*?</metadata>", b"", data, flags=re.S)
    data = re.sub(rb"<sodipodi:namedview\b.*?(?:/>|</sodipodi:namedview>)", b"", data, flags=re.S)
    data = re.sub(rb'\s(?:sodipodi|inkscape):[\w.-]+="[^"]*"', b"", data)
    return hashlib.sha256(re.sub(rb"\s+", b" ", data)).hexdigest()


# --------------------------------------------------------------------------- drawings


@dataclass
class Drawing(recipe.SourceFile):
    """One SVG drawing of the collection and what the recipe learned about it.

    ``relpath`` is the drawing's path without ``.svg``, e.g. ``animals/mammals/bat_orlando_karam_``.
    """

    metadata: Metadata
    sha256: str = ""  # of the file
    fingerprint: str = ""  # of the drawing without metadata (drawing_fingerprint)
    keywords: list[str] = field(default_factory=list)  # evidence keywords, as WordNet-style phrases
    folder_keywords: list[str] = field(default_factory=list)  # keywords that repeat a folder name
    title: str | None = None  # the cleaned title; None if missing or a series title
    description: str | None = None  # the cleaned description
    copies: list[str] = field(default_factory=list)  # relpaths of identical drawings left out


def find_drawings(clipart_dir: Path) -> tuple[list[Drawing], int]:
    """Lists the SVG drawings under ``clipart_dir`` (sorted by path) with their metadata.

    Returns:
        The drawings and the number of symlinks skipped (the collection links
        drawings into several folders; the linked file is listed once).
    """
    drawings, symlinks = [], 0
    for path in sorted(clipart_dir.rglob("*")):
        if path.suffix.lower() != ".svg":
            continue
        if path.is_symlink() or any(parent.is_symlink() for parent in path.relative_to(clipart_dir).parents[:-1]):
            symlinks += 1
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        relpath = path.relative_to(clipart_dir).with_suffix("").as_posix()
        drawing = Drawing(relpath, path, parse_metadata(data), hashlib.sha256(data).hexdigest())
        drawing.fingerprint = drawing_fingerprint(data)
        drawings.append(drawing)
    return drawings, symlinks


def series_trap(metadata: Metadata) -> str | None:
    """The generated series a drawing belongs to, or ``None``.

    ``magick_stars`` (keyword ``magick``), ``icon_theme`` (keywords ``hash``
    and ``theme``, or an icon-theme title) or ``swatches`` (the gradient and
    pattern swatches: title ``SVG Gradient Collection ...`` or ``... pattern``).
    """
    keywords = {k.lower() for k in metadata.keywords}
    if "magick" in keywords:
        return "magick_stars"
    if {"hash", "theme"} <= keywords or ICON_THEME_TITLE.search(metadata.title or ""):
        return "icon_theme"
    if SWATCH_TITLE.search(metadata.title or ""):
        return "swatches"
    return None


def _words(text: str) -> list[str]:
    """Lower-case words of a title, keyword or file name: separators, camelCase and digits split words.

    Hex ids (``hash_0x8a0ab9c``) are not words.
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", HEX_ID.sub(" ", text))
    plain = "".join(c for c in unicodedata.normalize("NFKD", spaced) if not unicodedata.combining(c))  # général
    return [w for w in re.split(r"[^a-z]+", plain.lower()) if w]


def _author_words(creator: str | None) -> set[str]:
    return {w for w in _words(creator or "") if len(w) >= 2}


def name_words(stem: str, creator: str | None) -> list[str]:
    """Words of a file name without the author fragment that the collection appends.

    File names end with a cut author name and a number
    (``armadillo_architetto_fra_01``, ``bat_orlando_karam_``): trailing words
    that are a word, or the start of a word, of the author's name are dropped,
    with single letters; digits are never words.

    Example:
        >>> name_words("armadillo_architetto_fra_01", "Architetto Francesco Rollandin")
        ['armadillo']
    """
    words = _words(stem)
    author = _author_words(creator)

    def authorish(word: str) -> bool:
        return len(word) == 1 or any(a.startswith(word) for a in author if len(word) >= 2)

    while len(words) > 1 and authorish(words[-1]):
        words.pop()
    return [w for w in words if w not in author or len(w) < 3]


def author_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of the authors' names (normalised: lower-case words), optionally after ``by``.

    Words of a name may be joined by any separator (``Jean-Victor Balin``,
    ``jean_victor_balin``); names shorter than four letters are left out.
    """
    alternatives = [
        r"[\W_]+".join(re.escape(word) for word in name.split())
        for name in sorted(names, key=lambda n: (-len(n), n))
        if len(name) >= 4
    ]
    if not alternatives:
        return re.compile(r"(?!x)x")
    return re.compile(rf"(?:\bby\s+)?\b(?:{'|'.join(alternatives)})\b", re.I)


def clean_title(title: str | None, authors: re.Pattern[str] | None = None) -> str | None:
    """The title without author names and file-name junk, or ``None`` if nothing is left.

    ``Clipart by <author> - `` prefixes, authors' names (``authors``, see
    :func:`author_pattern`), ``.svg``, underscores, camelCase joins and version
    numbers (``Tigre02``, ``01``) are removed.

    Example:
        >>> clean_title("Clipart by Nicu Buculei - smiley_01")
        'smiley'
    """
    if not title:
        return None
    text = CLIPART_BY.sub("", title)
    if authors is not None:
        text = authors.sub(" ", text)
    text = re.sub(r"\.svg\b|\bsvg\b", " ", text, flags=re.I)
    if "_" in text or re.search(r"[a-z][A-Z]", text):
        text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text.replace("_", " "))
    text = re.sub(r"(?<=[A-Za-z])\d+\b", "", text)  # Tigre02 -> Tigre
    text = re.sub(r"\b0\d*\b|(?:\s[-\d.]+)+$", " ", text)  # zero-padded and trailing numbers
    text = re.sub(r"\s+", " ", text).strip(" -_,.;:")
    return text if re.search(r"[^\W\d_]{2}", text) else None


def clean_description(description: str | None, title: str | None, authors: re.Pattern[str] | None = None) -> str | None:
    """A description without contact data, authors' names and converter boilerplate.

    Returns:
        The cleaned text, or ``None`` if nothing is left, if it is boilerplate
        (``EPS converted from http://aiga.org``) or if it repeats the title.

    Example:
        >>> clean_description("EPS converted from  http://aiga.org", "AIGA_Symbol_Signs") is None
        True
    """
    if not description:
        return None
    text = CONTACT.sub(" ", re.sub(r"HASH\(0x[0-9a-f]+\)", " ", description))
    if authors is not None:
        text = authors.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if BOILERPLATE_DESCRIPTION.search(text):
        return None
    text = re.sub(TRAILING_CREDIT, "", text, flags=re.I).strip(" -:,")  # "A pizza slice. Created by <author>."
    if not re.search(r"[^\W\d_]{2,}", text):
        return None
    if title and text.lower() == title.lower().rstrip("."):
        return None
    return text


def _normalise(word: str) -> str:
    """A crude singular, for comparing words of titles, names and folders (``cats`` -> ``cat``)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def folder_words(category: str) -> set[str]:
    """Normalised words and underscore phrases of every folder of a path (``big_cats`` -> big_cat, big, cat)."""
    found: set[str] = set()
    for part in category.split("/"):
        words = [_normalise(w) for w in _words(part) if w not in STOPWORDS]
        found.update(words)
        if len(words) > 1:
            found.add("_".join(words))
    return found


def classify_keywords(drawing: Drawing, folders: Iterable[str], creators: set[str]) -> collections.Counter[str]:
    """Sorts a drawing's keywords into evidence and folder-leaking keywords; counts the ones dropped.

    Sets ``drawing.keywords`` and ``drawing.folder_keywords`` (WordNet-style
    phrases, ``ice_cream``) from ``drawing.metadata.keywords``.

    Args:
        drawing: The drawing.
        folders: Its folder and the folders of its copies.
        creators: Normalised names of every author of the collection.

    Returns:
        Counts of dropped keywords by reason: ``hex_keywords`` (``0x935a874``,
        ``hash``), ``author_keywords`` (an author's name, e-mail or URL).
    """
    dropped: collections.Counter[str] = collections.Counter()
    leak_words = set().union(*(folder_words(f) for f in folders))
    own_author = _author_words(drawing.metadata.creator)
    keywords: list[str] = []
    leaks: list[str] = []
    for keyword in drawing.metadata.keywords:
        words = _words(keyword)
        if HEX_KEYWORD.fullmatch(keyword.strip()):
            dropped["hex_keywords"] += 1
        elif CONTACT.search(keyword) or " ".join(words) in creators or (words and set(words) <= own_author):
            dropped["author_keywords"] += 1
        elif words:
            normalised = "_".join(_normalise(w) for w in words if w not in STOPWORDS)
            (leaks if normalised in leak_words else keywords).append("_".join(words))
    drawing.keywords = list(dict.fromkeys(keywords))
    drawing.folder_keywords = list(dict.fromkeys(leaks))
    return dropped


def _copy_rank(drawing: Drawing) -> tuple[bool, int, str]:
    """Which copy of a drawing is kept: not ``unsorted``, the deepest folder, then the first path."""
    return (drawing.top_category == "unsorted", -drawing.relpath.count("/"), drawing.relpath)


def merge_copies(drawings: Sequence[Drawing]) -> list[Drawing]:
    """Keeps one drawing per fingerprint (byte-identical files and copies differing only in metadata).

    The kept copy (:func:`_copy_rank`) lists the others in ``copies`` and gets
    their keywords added to its own.
    """
    groups: dict[str, list[Drawing]] = collections.defaultdict(list)
    for drawing in drawings:
        groups[drawing.fingerprint].append(drawing)
    kept = []
    for group in groups.values():
        first, *others = sorted(group, key=_copy_rank)
        first.copies = sorted(d.relpath for d in others)
        merged = first.metadata.keywords + [k for d in others for k in d.metadata.keywords]
        first.metadata.keywords = list(dict.fromkeys(merged))
        kept.append(first)
    return sorted(kept, key=lambda d: d.relpath)


def mark_series_titles(drawings: Sequence[Drawing], wordnet: WordNet, stoplist: frozenset[str] = frozenset()) -> int:
    """Clears the titles shared by several drawings that have nothing to do with a drawing's name and keywords.

    ``Various Cliparts``, ``AIGA Symbol Signs`` or ``Clipart by Nicu Buculei -
    piggybank`` on ``rubik.svg`` name a collection, not the drawing. A shared
    title stays when a noun of it (known to WordNet, not on the stop-list)
    also occurs in the drawing's file name or keywords, not counting keywords
    that repeat the folder (``Lightning`` on ``lightning_jon_phillips_03``).

    Returns:
        The number of titles cleared.
    """

    def nouns(words: Iterable[str]) -> set[str]:
        found = set()
        for word in words:
            if len(word) > 2 and word not in STOPWORDS and not _stopped(wordnet, word, stoplist):
                found.update(wordnet.base_forms(word))
        return found

    counts = collections.Counter((d.title or "").lower() for d in drawings if d.title)
    cleared = 0
    for drawing in drawings:
        if not drawing.title or counts[drawing.title.lower()] < SERIES_MIN:
            continue
        related = nouns(_without_phrases(name_words(drawing.name, drawing.metadata.creator), stoplist))
        related |= nouns(w for k in drawing.keywords for w in _without_phrases(k.split("_"), stoplist))
        if not nouns(_without_phrases(_words(drawing.title), stoplist)) & related:
            drawing.title = None
            cleared += 1
    return cleared


def read_stoplist(path: Path) -> frozenset[str]:
    """Reads ``word<TAB># why`` lines: words (``_`` joins a phrase) that are never concept evidence."""
    words = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        word = raw.partition("#")[0].strip()
        if word:
            words.add(word.split("\t")[0].strip().lower().replace(" ", "_"))
    return frozenset(words)


# --------------------------------------------------------------------------- sense choice


@dataclass
class Candidate:
    """A synset some evidence of a drawing may denote, with the sources that name it."""

    synset: Synset
    phrase: str
    sense_index: int
    phrases: set[str] = field(default_factory=set)
    sources: dict[str, float] = field(default_factory=dict)  # source -> weight
    head: bool = False
    eligible: bool = False
    agrees: bool = False
    group: int = 0
    score: float = 0.0


@dataclass
class Link:
    """The synset a drawing depicts, where the choice came from (``auto``/``override``) and its evidence."""

    synset: Synset
    source: str
    lemma: str
    evidence: str = ""


def preferred_lexnames(category: str) -> tuple[tuple[str, ...], ...]:
    """Preferred groups of lexicographer files for a folder (longest matching prefix), or ``()``."""
    return wn.preferred_lexnames(category, FOLDER_LEXNAMES)


def _stopped(wordnet: WordNet, phrase: str, stoplist: frozenset[str]) -> bool:
    """Whether a phrase, or a word WordNet lacks through its base forms (``icons`` -> ``icon``), is on the stop-list.

    A phrase that is a lemma itself is judged alone: ``laos`` is not stopped
    by the adjective-like ``lao``.
    """
    if phrase in stoplist:
        return True
    return phrase not in wordnet.index and any(base in stoplist for base in wordnet.base_forms(phrase))


def _compound_parts(wordnet: WordNet, word: str) -> list[str]:
    """A word WordNet lacks split in two words it has: parts of 3+ letters if they form a lemma, else 4+ letters."""
    parts = split_compounds(wordnet, [word])
    if len(parts) == 2 and not wordnet.base_forms("_".join(parts)):
        parts = split_compounds(wordnet, [word], min_part=4)
    return parts


def _known(wordnet: WordNet, words: Sequence[str]) -> str | None:
    """The form of a word sequence WordNet has as a noun (``ice_cream``, ``ice-cream``, ``icecream``), or ``None``."""
    for phrase in dict.fromkeys(["_".join(words), "-".join(words), "".join(words)]):
        if wordnet.base_forms(phrase):
            return phrase
    return None


def _without_phrases(words: Sequence[str], stoplist: frozenset[str]) -> list[str]:
    """The words without the stop-listed phrases of two or three words (``hotel_icon``, ``map_symbol``)."""
    result = list(words)
    for length in (3, 2):
        start = 0
        while start + length <= len(result):
            gram = result[start : start + length]
            if "_".join(gram) in stoplist or "_".join(_normalise(w) for w in gram) in stoplist:
                del result[start : start + length]
            else:
                start += 1
    return result


def segment(wordnet: WordNet, words: Sequence[str], stoplist: frozenset[str]) -> tuple[list[str], str | None]:
    """Splits words into the longest phrases WordNet knows, left to right; returns them and the head.

    Stop-listed phrases (``hotel_icon``) are removed first. A phrase has up to
    three words and neither starts nor ends with a stop word; single words
    need three letters and are not on the stop-list; unknown words are split
    in two when both parts are known (``funnyflower``). The head is the last
    phrase before the first preposition, as English noun phrases end with it:
    ``Soft Drink in a Cup`` gives ``soft_drink`` and ``cup``, with the head
    ``soft_drink``.
    """
    words = _without_phrases(words, stoplist)
    phrases: list[str] = []
    head: str | None = None
    start, stopped = 0, False
    while start < len(words):
        word = words[start]
        if word in STOPWORDS:
            stopped = stopped or (bool(phrases) and word in PREPOSITIONS)
            start += 1
            continue
        found, length = [], 1
        for length in (3, 2, 1):
            gram = words[start : start + length]
            if len(gram) < length or gram[-1] in STOPWORDS:
                continue
            if length > 1:
                phrase = _known(wordnet, gram)
                found = [phrase] if phrase and not _stopped(wordnet, phrase, stoplist) else []
            elif word not in stoplist:
                parts = [word] if wordnet.base_forms(word) else _compound_parts(wordnet, word)
                found = [
                    p for p in parts if len(p) >= 3 and wordnet.base_forms(p) and not _stopped(wordnet, p, stoplist)
                ]
            if found:
                break
        if found:
            phrases.extend(found)
            head = head if stopped else found[-1]
        start += length if found else 1
    return list(dict.fromkeys(phrases)), head


def _keyword_phrase(wordnet: WordNet, keyword: str, stoplist: frozenset[str]) -> str | None:
    """The phrase a keyword names: itself, joined or split in two, else its head phrase."""
    words = _without_phrases(keyword.split("_"), stoplist)
    if not words:
        return None
    phrase = _known(wordnet, words) or _known(wordnet, _compound_parts(wordnet, "".join(words)))
    if phrase is None and len(words) > 1:
        phrase = segment(wordnet, words, stoplist)[1]
    return phrase if phrase and not _stopped(wordnet, phrase, stoplist) else None


def evidence_phrases(wordnet: WordNet, drawing: Drawing, stoplist: frozenset[str]) -> list[tuple[str, str, bool]]:
    """``(source, phrase, is_head)`` triples: title and file-name phrases, keywords, folder keywords.

    The head is the title's (:func:`segment`), or the file name's when there
    is no title. File names are cut after 25 characters: a last word that
    starts a title word is read as that word (``hotel_icon_in_room_phon``).
    """
    triples: list[tuple[str, str, bool]] = []
    title_words = _words(re.sub(r"\([^)]*\)", " ", drawing.title or ""))  # "(B and W)", "(Taiwan)"
    name = name_words(drawing.name, drawing.metadata.creator)
    if name and len(name[-1]) >= 3:
        name[-1] = next((w for w in title_words if w.startswith(name[-1])), name[-1])
    for source, words in ((TITLE, title_words), (NAME, name)):
        phrases, head = segment(wordnet, words, stoplist)
        has_head = source == TITLE or not title_words
        triples += [(source, phrase, has_head and phrase == head) for phrase in phrases]
    for source, keywords in ((KEYWORD, drawing.keywords), (FOLDER, drawing.folder_keywords)):
        found = (_keyword_phrase(wordnet, k, stoplist) for k in keywords)
        triples += [(source, phrase, False) for phrase in found if phrase]
    return triples


def collect_candidates(
    wordnet: WordNet, drawing: Drawing, stoplist: frozenset[str]
) -> tuple[dict[str, Candidate], dict[str, set[str]]]:
    """The synsets the drawing's evidence names, one sense per phrase, and every sense of each phrase.

    Each phrase names one sense: the most frequent in the folder's most
    preferred lexicographer files (:func:`preferred_lexnames`). A
    phrase from the title, a keyword or the file name makes its synset
    eligible; folder keywords never do. A title or file-name phrase that
    repeats a folder name (``flag`` under ``flags/``) weighs
    :data:`REPEAT_FACTOR` of its source's weight.

    Returns:
        The candidates by offset, and the offsets of all senses of each phrase.
    """
    preferred = preferred_lexnames(drawing.category)
    leak_words = folder_words(drawing.category)
    folder_senses = {s.offset for word in leak_words for s in wordnet.lookup(word)}
    evidence = [(s, p, h, wordnet.lookup(p)) for s, p, h in evidence_phrases(wordnet, drawing, stoplist)]
    senses = {phrase: {s.offset for s in synsets} for _, phrase, _, synsets in evidence if synsets}
    candidates: dict[str, Candidate] = {}
    for source, phrase, is_head, synsets in evidence:
        synsets = [s for s in synsets if not _is_taxon(s)]
        if not synsets:
            continue
        index, synset = min(enumerate(synsets), key=lambda pair: (_preference(pair[1], preferred)[0], pair[0]))
        repeats = "_".join(_normalise(w) for w in re.split(r"[_-]", phrase)) in leak_words
        candidate = candidates.setdefault(synset.offset, Candidate(synset, phrase, index))
        if phrase.count("_") > candidate.phrase.count("_"):
            candidate.phrase = phrase
        candidate.phrases.add(phrase)
        candidate.sense_index = min(candidate.sense_index, index)
        weight = WEIGHTS[source] * (REPEAT_FACTOR if repeats and source != FOLDER else 1.0)
        candidate.sources[source] = max(candidate.sources.get(source, 0.0), weight)
        candidate.head |= is_head
        candidate.eligible |= source != FOLDER
    _support_compounds(candidates, evidence)
    for candidate in candidates.values():
        others = folder_senses.union(*(o for p, o in senses.items() if p not in candidate.phrases))
        candidate.agrees = _agrees(wordnet, candidate.synset, others)
    return candidates, senses


def _support_compounds(candidates: dict[str, Candidate], evidence: Sequence[tuple[str, str, bool, object]]) -> None:
    """Credits a phrase of several words with the evidence of each of its words (``pumpkin`` for ``pumpkin_pie``).

    The file name ``pie_pumpkin`` and the keyword ``pie`` then support the
    title's ``pumpkin_pie`` as much as they support ``pumpkin`` and ``pie``.
    """
    by_word: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for candidate in candidates.values():
        for phrase in candidate.phrases:
            for source, weight in candidate.sources.items():
                by_word[phrase][source] = max(by_word[phrase].get(source, 0.0), weight)
    for candidate in candidates.values():
        words = [w for phrase in candidate.phrases for w in re.split(r"[_-]", phrase)]
        if len(words) < 2:
            continue
        for word in words:
            for source, weight in by_word.get(word, {}).items():
                if source != FOLDER:
                    candidate.sources[source] = max(candidate.sources.get(source, 0.0), weight)


def _is_taxon(synset: Synset) -> bool:
    """Whether a synset is a taxon (``genus_Rana``, ``family_Felidae``): drawings show animals and plants, not taxa."""
    return any(lemma.lower().startswith(TAXON_PREFIXES) for lemma in synset.lemmas)


def _agrees(wordnet: WordNet, synset: Synset, others: set[str]) -> bool:
    """Whether a hypernym ancestor of the synset, or a whole it is part of, is among ``others``."""
    related = wordnet.ancestors(synset.offset) | set(synset.targets("#p", "#m"))
    return bool(related & (others - {synset.offset}))


def _preference(synset: Synset, preferred: Sequence[Sequence[str]]) -> tuple[int, float]:
    """The index of the first preferred group holding the synset's lexicographer file, and its weight.

    The weight is 1 for the first group, 0.25 for later ones, -1 outside all
    of them (the leone, a currency, under ``animals/``) and 0 for a folder
    without preferences.
    """
    for index, group in enumerate(preferred):
        if synset.lexname in group:
            return index, 1.0 if index == 0 else 0.25
    return len(preferred), -1.0 if preferred else 0.0


def score_candidates(candidates: dict[str, Candidate], category: str) -> None:
    """Scores candidates: evidence weights, head, folder preference, agreement, and no famous people.

    A candidate agrees when a hypernym ancestor or a whole it is part of is
    named by other evidence or by a folder (``feline`` with the keyword
    ``mammal``, ``Valencia`` with the keyword ``spain``). Instances of people
    (``Olivier``, the actor) lose :data:`PERSON_PENALTY`: a clip-art word is
    rarely a famous name.
    """
    preferred = preferred_lexnames(category)
    for candidate in candidates.values():
        synset = candidate.synset
        candidate.group, preference = _preference(synset, preferred)
        famous = synset.lexname == "noun.person" and bool(synset.targets("@i"))
        candidate.score = (
            sum(candidate.sources.values())
            + HEAD_BONUS * candidate.head
            + PREFERRED_BONUS * preference
            + AGREEMENT_BONUS * candidate.agrees
            - PERSON_PENALTY * famous
        )


def choose_candidate(candidates: dict[str, Candidate]) -> Candidate | None:
    """The best eligible candidate: highest score, then preferred group, longer phrase, more frequent sense."""
    eligible = [c for c in candidates.values() if c.eligible]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (-c.score, c.group, -c.phrase.count("_"), c.sense_index, c.synset.offset))


def find_override(overrides: dict[str, Override], relpath: str) -> Override | None:
    """The override of a drawing: its own line, else the longest glob pattern (``shapes/jigsaw/*``) that matches."""
    if relpath in overrides:
        return overrides[relpath]
    matching = [key for key in overrides if GLOB_CHARS & set(key) and fnmatch.fnmatchcase(relpath, key)]
    return overrides[max(matching, key=lambda key: (len(key), key))] if matching else None


def _override_link(wordnet: WordNet, override: Override) -> Link | None:
    """The link of a hand-checked override (``None`` for :data:`NO_SYNSET`), after checking the synset's lemma."""
    if override.offset == NO_SYNSET:
        return None
    return Link(wn.override_synset(wordnet, override), "override", override.lemma, override.comment)


def link_drawing(wordnet: WordNet, drawing: Drawing, stoplist: frozenset[str]) -> tuple[Link | None, str]:
    """Links a drawing automatically.

    Returns:
        The link (``None`` if no synset fits) and, without a link, the reason:
        ``folder_keywords_only`` (only keywords that repeat the folder name a
        synset) or ``no_synset``.
    """
    candidates, _ = collect_candidates(wordnet, drawing, stoplist)
    score_candidates(candidates, drawing.category)
    best = choose_candidate(candidates)
    if best is None:
        return None, "folder_keywords_only" if candidates else "no_synset"
    evidence = "+".join(s for s in (TITLE, KEYWORD, NAME, FOLDER) if s in best.sources)
    if _needs_flag(wordnet, drawing, best.synset):
        return Link(wordnet.synset(FLAG), "auto", "flag", f"{evidence}:{best.phrase}->flag"), ""
    return Link(best.synset, "auto", best.phrase, evidence), ""


def _needs_flag(wordnet: WordNet, drawing: Drawing, synset: Synset) -> bool:
    """Whether a drawing under a ``flags`` folder got neither an owner of flags nor a kind of flag (``pride``).

    A flag stands for its country, region, continent or organisation
    (:data:`FLAG_OWNERS`); a flag of anything else (``British``, ``pride``)
    is linked to ``flag`` itself.
    """
    if "flags" not in drawing.category.split("/") or FLAG not in wordnet or synset.lexname in FLAG_OWNERS:
        return False
    return not ({synset.offset} | wordnet.ancestors(synset.offset)) & set(KIND_SYNSETS["flag"])


def link_drawings(
    wordnet: WordNet,
    drawings: Sequence[Drawing],
    overrides: dict[str, Override],
    stoplist: frozenset[str],
) -> tuple[dict[str, Link], collections.Counter[str]]:
    """Links every drawing to one noun synset; hand-checked overrides (:func:`find_override`) win.

    Returns:
        The links by drawing path, and the number of drawings left without one by reason.

    Raises:
        ValueError: If an override names an unknown synset or a lemma the synset lacks.
    """
    links: dict[str, Link] = {}
    unlinked: collections.Counter[str] = collections.Counter()
    for drawing in drawings:
        override = find_override(overrides, drawing.relpath)
        if override is not None:
            link = _override_link(wordnet, override)
            if link is None:
                unlinked["override_none"] += 1
            else:
                links[drawing.relpath] = link
            continue
        link, reason = link_drawing(wordnet, drawing, stoplist)
        if link is None:
            unlinked[reason] += 1
        else:
            links[drawing.relpath] = link
    return links, unlinked


def drawing_kind(wordnet: WordNet, drawing: Drawing, synset: Synset) -> str | None:
    """``"flag"`` or ``"letter"`` for drawings that image features cannot tell apart, else ``None``.

    Flags: drawings under a ``flags`` folder, with ``flag`` in their title or
    file name, or linked to a kind of flag; letters: linked to a kind of
    character (letters, numerals) or digit.
    """
    words = set(_words(drawing.title or "")) | set(name_words(drawing.name, drawing.metadata.creator))
    if "flags" in drawing.category.split("/") or "flag" in words:
        return "flag"
    lineage = {synset.offset} | wordnet.ancestors(synset.offset)
    for kind, offsets in KIND_SYNSETS.items():
        if lineage & set(offsets):
            return kind
    return None


# --------------------------------------------------------------------------- images


def render_svg(data: bytes, max_side: int) -> Image.Image:
    """Renders an SVG on white with cairosvg, its longest side ``max_side`` pixels.

    Internal ``<!ENTITY>`` declarations (Illustrator exports) are inlined first,
    since cairosvg refuses entities. Cairo's static caches are reset first, so
    the pixels do not depend on the drawings rendered before in the process.
    """
    import cairocffi
    import cairosvg

    # Cairo caches fonts and glyphs across renderings; left alone, text is laid out
    # slightly differently depending on what the process rendered before.
    cairocffi.cairo.cairo_debug_reset_static_data()
    if b"<!ENTITY" in data:
        data = recipe.expand_internal_entities(data)
    png = cairosvg.svg2png(bytestring=data, output_width=max_side, background_color="white")
    image = Image.open(io.BytesIO(png))
    if image.height > max_side:
        png = cairosvg.svg2png(bytestring=data, output_height=max_side, background_color="white")
        image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGB")


def render_drawing(job: tuple[str, str, int, bool]) -> tuple[str, str]:
    """Writes a drawing as PNG on white, its longest side ``max_side``. Run in worker processes.

    Args:
        job: ``(source SVG, destination PNG, max_side, palette)``; with
            ``palette`` the PNG is quantised to 256 colours and optimised,
            else it is lossless RGB.

    Returns:
        ``("ok", SHA-256 of the pixels)``; ``("blank", "")`` for a single-colour
        rendering and ``("failed", error)`` when cairosvg fails (nothing is written then).
    """
    source, destination, max_side, palette = job
    try:
        image = render_svg(Path(source).read_bytes(), max_side)
    except Exception as error:  # noqa: BLE001 - any cairosvg failure drops the drawing
        return "failed", f"{type(error).__name__}: {error}"[:200]
    if all(low == high for low, high in image.getextrema()):
        return "blank", ""
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    Path(destination).write_bytes(recipe.png_bytes(image, palette))
    return "ok", hashlib.sha256(image.tobytes()).hexdigest()


def render_all(drawings: Sequence[Drawing], out: Path, small: bool, jobs: int | None) -> dict[str, tuple[str, str]]:
    """Renders the drawings into ``out/images`` (replacing it) and returns each result by path."""
    images = recipe.clear_images(out)
    max_side = SMALL_MAX_SIDE if small else FULL_MAX_SIDE
    render_jobs = [(str(d.source), str(images / f"{d.relpath}.png"), max_side, small) for d in drawings]
    results = recipe.run_jobs(render_drawing, render_jobs, jobs)
    for drawing, (status, detail) in zip(drawings, results):
        if status == "failed":
            logger.info("%s: not rendered (%s)", drawing.relpath, detail)
    return {d.relpath: result for d, result in zip(drawings, results)}


def keep_rendered(
    drawings: Sequence[Drawing], rendered: dict[str, tuple[str, str]], out: Path
) -> tuple[list[Drawing], collections.Counter[str]]:
    """The drawings rendered fine, one per identical rendering (the others' PNG files are removed).

    Returns:
        The kept drawings and the dropped ones by reason: ``render_failed``,
        ``render_blank``, ``identical_render``.
    """
    dropped: collections.Counter[str] = collections.Counter()
    seen: dict[str, Drawing] = {}
    kept = []
    for drawing in sorted(drawings, key=_copy_rank):
        status, detail = rendered[drawing.relpath]
        if status != "ok":
            dropped[f"render_{status}"] += 1
        elif detail in seen:
            dropped["identical_render"] += 1
            seen[detail].copies.append(drawing.relpath)
            (out / "images" / f"{drawing.relpath}.png").unlink()
        else:
            seen[detail] = drawing
            kept.append(drawing)
    for drawing in kept:
        drawing.copies.sort()
    _remove_empty_folders(out / "images")
    return sorted(kept, key=lambda d: d.relpath), dropped


def _remove_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()


# --------------------------------------------------------------------------- build


def build_records(
    wordnet: WordNet,
    drawings: Sequence[Drawing],
    links: dict[str, Link],
) -> recipe.Dataset:
    """Builds the node and edge records (images are written separately)."""
    images = [(_image_node(wordnet, d, links[d.relpath]), links[d.relpath]) for d in drawings]
    texts = [
        (f"text:{drawing.relpath}:{kind}", f"img:{drawing.relpath}", text, "en")
        for drawing in drawings
        for kind, text in (("title", drawing.title), ("description", drawing.description))
        if text
    ]
    by_field = collections.Counter(text_id.rsplit(":", 1)[1] for text_id, _, _, _ in texts)
    dataset = wn.graph_records(wordnet, images, texts, {"texts_by_field": dict(by_field)})
    kinds = collections.Counter(drawing_kind(wordnet, d, links[d.relpath].synset) for d in drawings)
    dataset.stats["kinds"] = {k: kinds[k] for k in sorted(KIND_SYNSETS)}
    return dataset


def _image_node(wordnet: WordNet, drawing: Drawing, link: Link) -> dict[str, object]:
    attributes: dict[str, object] = {
        "category": drawing.category,
        "top_category": drawing.top_category,
        "file": drawing.name,
        "sha256": drawing.sha256,
        "link": link.source,
    }
    kind = drawing_kind(wordnet, drawing, link.synset)
    if kind:
        attributes["kind"] = kind
    if drawing.copies:
        attributes["copies"] = list(drawing.copies)
    if drawing.metadata.creator:
        attributes["creator"] = drawing.metadata.creator
    return recipe.image_node(drawing.relpath, attributes)


def system_path(relative: str) -> Path:
    """A path of the Debian packages' files, under :data:`SYSTEM_ROOT`."""
    return SYSTEM_ROOT / relative


OPENCLIPART_LICENSE = """Open Clip Art Library 0.18 (Debian package openclipart-svg)

Every drawing is dedicated to the public domain by its author under the
Creative Commons Public Domain Dedication; each SVG names its author in its
metadata (dc:creator), repeated in the image node's attributes.creator.
"""


def write_dataset(out: Path, dataset: recipe.Dataset, small: bool) -> None:
    """Writes ``nodes.jsonl``, ``edges.tsv``, ``stats.json``, licences and README into ``out``."""
    licences = {
        "LICENSE-openclipart.txt": recipe.licence_text(system_path(OPENCLIPART_COPYRIGHT), OPENCLIPART_LICENSE),
        "LICENSE-wordnet.txt": recipe.licence_text(system_path(wn.WORDNET_COPYRIGHT), wn.WORDNET_LICENSE),
    }
    header = ("Open Clip Art drawings x WordNet 3.0, built by graphalign's openclipart_wordnet recipe", wn.EDGES_LEGEND)
    recipe.write_folder(out, dataset, header, licences, _readme(dataset.stats, small))


def _readme(stats: dict[str, object], small: bool) -> str:
    dropped = stats["dropped"]
    assert isinstance(dropped, dict)
    variant = (
        f"the small subset (`small=True`): {stats['images']} drawings spread over all top-level folders, "
        f"images at most {SMALL_MAX_SIDE} px (256-colour PNG on white)"
        if small
        else f"every drawing the recipe keeps, images at most {FULL_MAX_SIDE} px (lossless RGB PNG on white)"
    )
    drops = "\n".join(f"| {reason} | {count} |" for reason, count in dropped.items())
    tables = wn.readme_tables(
        stats,
        "images (drawings, `img:<drawing path>`)",
        "texts (titles and descriptions, `text:<drawing path>:title` / `:description`, English)",
        str(stats["texts"]),
    )
    intro = recipe.readme_intro("Open Clip Art drawings x WordNet 3.0", "openclipart_wordnet", INSTALL_COMMAND, variant)
    return f"""{intro}
{tables}
Image links: {stats["links"]} (`attributes.link`); flags and letters are marked
in `attributes.kind` ({stats["kinds"]}). Identical copies of a drawing kept once
are listed in `attributes.copies`.

| left out | count |
|---|---|
{drops}

More counts are in `stats.json`.

## Sources and licences

* Drawings, titles and descriptions: Open Clip Art Library 0.18 (openclipart-svg),
  public domain; see `LICENSE-openclipart.txt`; each drawing's author is in
  `attributes.creator`. Images are rendered from SVG as PNG.
{wn.README_WORDNET_SOURCE}"""


def missing_packages(clipart_dir: Path, wordnet_dir: Path) -> list[str]:
    """The Debian packages whose files are not found: the drawings folder, a WordNet ``data.noun``."""
    return wn.missing_packages(DEBIAN_PACKAGES[0], clipart_dir, wordnet_dir)


def check_sources(clipart_dir: Path, wordnet_dir: Path) -> None:
    """Raises a one-line :class:`DatasetError` unless ``openclipart-svg`` and ``wordnet-base`` are installed."""
    wn.check_sources("openclipart_wordnet", DEBIAN_PACKAGES[0], clipart_dir, wordnet_dir, INSTALL_COMMAND)


@dataclass
class Selection:
    """The drawings worth linking, their links, and what was left out on the way (counts by reason)."""

    drawings: list[Drawing]
    links: dict[str, Link]
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)
    ignored: collections.Counter[str] = field(default_factory=collections.Counter)


def select_drawings(
    clipart_dir: Path, wordnet: WordNet, overrides: dict[str, Override], stoplist: frozenset[str]
) -> Selection:
    """Reads, filters, merges and links the drawings (everything but rendering).

    ``dropped`` counts drawings (``symlinks``, the series of
    :func:`series_trap`, ``copies``, ``folder_keywords_only``, ``no_synset``,
    ``override_none``); ``ignored`` counts pieces of metadata
    (:data:`IGNORE_REASONS`).
    """
    found, symlinks = find_drawings(clipart_dir)
    selection = Selection([], {})
    selection.dropped["symlinks"] = symlinks
    creators = {" ".join(_words(d.metadata.creator or "")) for d in found} - {""}
    authors = author_pattern(creators)
    drawings = []
    for drawing in found:
        trap = series_trap(drawing.metadata)
        if trap:
            selection.dropped[trap] += 1
        else:
            drawings.append(drawing)
    merged = merge_copies(drawings)
    selection.dropped["copies"] = len(drawings) - len(merged)
    for drawing in merged:
        folders = [drawing.category] + [c.rpartition("/")[0] for c in drawing.copies]
        selection.ignored.update(classify_keywords(drawing, folders, creators))
        selection.ignored["folder_keywords"] += len(drawing.folder_keywords)
        drawing.title = clean_title(drawing.metadata.title, authors)
    selection.ignored["series_titles"] = mark_series_titles(merged, wordnet, stoplist)
    for drawing in merged:
        drawing.description = clean_description(drawing.metadata.description, drawing.title, authors)
    relpaths = [d.relpath for d in merged]
    unknown = sorted(key for key in overrides if not fnmatch.filter(relpaths, key))
    if unknown:
        logger.warning("overrides for unknown or dropped drawings: %s", ", ".join(unknown))
    selection.links, unlinked = link_drawings(wordnet, merged, overrides, stoplist)
    selection.dropped.update(unlinked)
    selection.drawings = [d for d in merged if d.relpath in selection.links]
    return selection


def _load_inputs(
    clipart_dir: Path | None,
    wordnet_dir: Path | None,
    overrides_path: Path | None,
    stoplist_path: Path | None,
) -> tuple[Path, WordNet, dict[str, Override], frozenset[str]]:
    clipart = clipart_dir or system_path(CLIPART_DIR)
    wordnet_folder = wordnet_dir or system_path(wn.WORDNET_DIR)
    check_sources(clipart, wordnet_folder)
    overrides = wn.load_overrides(overrides_path)
    stoplist = read_stoplist(stoplist_path) if stoplist_path and stoplist_path.is_file() else frozenset()
    return clipart, WordNet(wordnet_folder), overrides, stoplist | wn.adjective_like(wordnet_folder)


def link_lines(
    clipart_dir: Path | None = None,
    wordnet_dir: Path | None = None,
    overrides_path: Path | None = DEFAULT_OVERRIDES,
    stoplist_path: Path | None = DEFAULT_STOPLIST,
) -> list[str]:
    """Every kept drawing's link as a tab-separated line, for reviewing the matcher and the overrides.

    Columns: drawing, ``auto``/``override``, evidence sources, synset offset,
    lemma, lexicographer file, the synset's first lemmas and definition,
    ``[title]``, ``{keywords}``.

    Raises:
        DatasetError: If the Debian packages are missing.
    """
    clipart, wordnet, overrides, stoplist = _load_inputs(clipart_dir, wordnet_dir, overrides_path, stoplist_path)
    selection = select_drawings(clipart, wordnet, overrides, stoplist)
    lines = []
    for drawing in selection.drawings:
        link = selection.links[drawing.relpath]
        keywords = ", ".join(drawing.keywords + [f"({k})" for k in drawing.folder_keywords])
        lines.append(
            f"{drawing.relpath}\t{link.source}\t{link.evidence}\t{link.synset.offset}\t{link.lemma}\t"
            f"{link.synset.lexname}\t{'/'.join(link.synset.lemmas[:3])}: {link.synset.definition}\t"
            f"[{drawing.title or ''}]\t{{{keywords}}}"
        )
    return lines


def build(
    out: Path,
    *,
    clipart_dir: Path | None = None,
    wordnet_dir: Path | None = None,
    overrides_path: Path | None = DEFAULT_OVERRIDES,
    stoplist_path: Path | None = DEFAULT_STOPLIST,
    small: bool = False,
    jobs: int | None = None,
) -> dict[str, object]:
    """Builds the dataset into ``out`` and returns its statistics.

    Args:
        out: The dataset folder to write (its ``images/`` is replaced).
        clipart_dir: The SVG drawings (default: the ``openclipart-svg`` folder).
        wordnet_dir: WordNet 3.0 database (default: the ``wordnet-base`` folder).
        overrides_path: Hand-checked links (``None``: automatic links only).
        stoplist_path: Words that are never concept evidence (``None``: none).
        small: Build about 300 drawings spread over all top-level folders, 128 px images.
        jobs: Rendering worker processes (default: CPUs, at most 8).

    Returns:
        Counts of nodes, edges, links, image kinds, and of what was left out by reason
        (``dropped``: drawings; ``ignored``: keywords and titles).

    Raises:
        DatasetError: If the Debian packages or cairosvg are missing, or no drawing is found.
        ValueError: If an override is malformed.
    """
    clipart, wordnet, overrides, stoplist = _load_inputs(clipart_dir, wordnet_dir, overrides_path, stoplist_path)
    recipe.check_cairosvg("the openclipart_wordnet recipe renders SVG with")
    selection = select_drawings(clipart, wordnet, overrides, stoplist)
    if not selection.drawings:
        raise DatasetError(f"no drawing linked to WordNet under {clipart}; install them with: {INSTALL_COMMAND}")
    drawings = recipe.select_small(selection.drawings, SMALL_TARGET) if small else selection.drawings
    rendered = render_all(drawings, out, small, jobs)
    kept, render_dropped = keep_rendered(drawings, rendered, out)
    dataset = build_records(wordnet, kept, selection.links)
    dropped = selection.dropped + render_dropped
    dataset.stats["dropped"] = {reason: dropped[reason] for reason in DROP_REASONS}
    dataset.stats["ignored"] = {reason: selection.ignored[reason] for reason in IGNORE_REASONS}
    if small:
        dataset.stats["small_from"] = len(selection.drawings)
    write_dataset(out, dataset, small)
    return dataset.stats


# --------------------------------------------------------------------------- named dataset


@DATASETS.register("openclipart_wordnet", requires="Debian packages openclipart-svg, wordnet-base")
@dataclass(repr=False, kw_only=True)
class OpenClipartWordNet(wn.WordNetDataset):
    """3,398 Open Clip Art drawings x WordNet 3.0 (1,684 concepts, 3,347 English texts), built from Debian packages.

    The recipe of :mod:`graphalign.datasets.openclipart_wordnet`: about 103 MB,
    3 minutes on 2 cores; ``small=True`` writes about 300 drawings spread over
    all top-level folders (1.9 MB).

    Args:
        small: Build the small subset instead of everything.
        clipart_dir: The SVG drawings (default: the ``openclipart-svg`` folder).
        wordnet_dir: WordNet 3.0 database (default: the ``wordnet-base`` folder).
        overrides: Hand-checked links (``None``: automatic links only).
        stoplist: Words that are never concept evidence (``None``: none).
        jobs: Rendering worker processes.

    Example:
        >>> from graphalign.datasets import DATASETS
        >>> DATASETS.build("openclipart_wordnet", {"small": True})
        OpenClipartWordNet(small=True)
    """

    clipart_dir: recipe.PathOption = None
    overrides: recipe.PathOption = DEFAULT_OVERRIDES
    stoplist: recipe.PathOption = DEFAULT_STOPLIST

    def write(self, out_dir: Path) -> None:
        build(out_dir, **self.options(overrides="overrides_path", stoplist="stoplist_path"))
