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
for SVG-only stamps); of graphalign it uses only the error types, the
dataset registry, the WordNet reader (:mod:`graphalign.datasets.wordnet`) and
the recipes' shared steps (:mod:`graphalign.datasets.recipe`), so it sits
below the graph layer. Rebuilding gives
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
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from graphalign.datasets import wordnet as wn
from graphalign.datasets.base import DATASETS, NamedDataset
from graphalign.datasets.recipe import (
    Dataset,
    PathOption,
    SourceFile,
    check_cairosvg,
    clear_images,
    expand_internal_entities,  # noqa: F401 - re-exported with the image conversion
    image_node,
    licence_text,
    png_bytes,
    readme_intro,
    run_jobs,
    select_small,
    write_folder,
)
from graphalign.datasets.wordnet import (
    EDGES_LEGEND,
    README_WORDNET_SOURCE,
    WORDNET_COPYRIGHT,
    WORDNET_DIR,
    WORDNET_LICENSE,
    Override,
    Synset,
    WordNet,
    definition_from_gloss,  # noqa: F401 - re-exported with the WordNet reader
    graph_records,
    is_a_edges,  # noqa: F401 - re-exported
    load_overrides,
    override_synset,
    parse_data_line,  # noqa: F401 - re-exported
    parse_index_line,  # noqa: F401 - re-exported
    part_of_edges,  # noqa: F401 - re-exported
    read_overrides,  # noqa: F401 - re-exported
    readme_tables,
    select_concepts,  # noqa: F401 - re-exported
    split_compounds,
)
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
TUXPAINT_COPYRIGHT = "usr/share/doc/tuxpaint-stamps-default/copyright"
GPL2_TEXT = "usr/share/common-licenses/GPL-2"
DEFAULT_OVERRIDES = Path(__file__).resolve().parent / "data" / "tuxpaint_wordnet_overrides.tsv"

DEBIAN_PACKAGES = ("tuxpaint-stamps-default", "wordnet-base")
INSTALL_COMMAND = "apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2"
FULL_MAX_SIDE = 512
SMALL_MAX_SIDE = 128
SMALL_TARGET = 300
SMALL_LANGUAGES = ("en", "fr", "de", "es")

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


# --------------------------------------------------------------------------- stamps


@dataclass
class Stamp(SourceFile):
    """One Tux Paint stamp: an image file (PNG preferred, else SVG) and its description file.

    ``relpath`` is the stamp's path without suffix, e.g. ``animals/marsupials/kangaroo``.
    """

    text_file: Path | None = None


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
    return wn.preferred_lexnames(category, CATEGORY_LEXNAMES)


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
            links[stamp.relpath] = Link(override_synset(wordnet, override), "override", override.lemma)
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
    Path(destination).write_bytes(png_bytes(image, palette))
    return image.size


def _convert_job(job: tuple[str, str, int, bool]) -> tuple[int, int]:
    """Runs :func:`convert_image`, turning any error into a picklable one that names the file."""
    try:
        return convert_image(job)
    except Exception as error:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(f"{job[0]}: {type(error).__name__}: {error}") from None


# --------------------------------------------------------------------------- build


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
    hashes = {stamp.relpath: sha256_file(stamp.source) for stamp in stamps}
    images = []
    text_rows = []
    for stamp in stamps:
        link = links[stamp.relpath]
        attributes: dict[str, object] = {
            "category": stamp.category,
            "top_category": stamp.top_category,
            "stamp": stamp.name,
            "sha256": hashes[stamp.relpath],
            "source_format": stamp.source.suffix.lower().lstrip("."),
            "link": link.source,
        }
        images.append((image_node(stamp.relpath, attributes), link))
        english, translations = texts.get(stamp.relpath, (None, {}))
        descriptions = ({"en": english} if english else {}) | {k: v for k, v in translations.items() if k != "en"}
        text_rows.extend(
            (f"text:{stamp.relpath}:{language}", f"img:{stamp.relpath}", text, language)
            for language, text in descriptions.items()
            if languages is None or language in languages
        )
    by_language = collections.Counter(row[3] for row in text_rows)
    text_stats = {
        "languages": len(by_language),
        "texts_by_language": dict(sorted(by_language.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    dataset = graph_records(wordnet, images, text_rows, text_stats)
    dataset.stats["distinct_image_files"] = len(set(hashes.values()))
    return dataset


def system_path(relative: str) -> Path:
    """A path of the Debian packages' files, under :data:`SYSTEM_ROOT`."""
    return SYSTEM_ROOT / relative


TUXPAINT_LICENSE = "Tux Paint stamps: (C) 2002-2022 Bill Kendrick. License: GPL-2.\n"
"""The licence note written when the package's copyright file is not installed."""


def write_dataset(out: Path, dataset: Dataset, small: bool) -> None:
    """Writes ``nodes.jsonl``, ``edges.tsv``, ``stats.json``, licences and README into ``out``."""
    tuxpaint = licence_text(system_path(TUXPAINT_COPYRIGHT), TUXPAINT_LICENSE)
    gpl2 = system_path(GPL2_TEXT)
    if gpl2.is_file():
        tuxpaint += "\n\n" + "=" * 72 + "\nFull text of the GNU General Public License, version 2\n" + "=" * 72 + "\n\n"
        tuxpaint += gpl2.read_text(encoding="utf-8")
    licences = {
        "LICENSE-tuxpaint-stamps.txt": tuxpaint,
        "LICENSE-wordnet.txt": licence_text(system_path(WORDNET_COPYRIGHT), WORDNET_LICENSE),
    }
    header = ("Tux Paint stamps x WordNet 3.0, built by graphalign's tuxpaint_wordnet recipe", EDGES_LEGEND)
    write_folder(out, dataset, header, licences, _readme(dataset.stats, small))


def _readme(stats: dict[str, object], small: bool) -> str:
    variant = (
        f"the small subset (`small=True`): {stats['images']} stamps spread over all top-level folders, "
        f"texts in {', '.join(SMALL_LANGUAGES)}, images at most {SMALL_MAX_SIDE} px (256-colour PNG with alpha)"
        if small
        else f"all stamps, all translations, images at most {FULL_MAX_SIDE} px (lossless RGBA PNG)"
    )
    tables = readme_tables(
        stats,
        "images (Tux Paint stamps, `img:<stamp path>`)",
        "texts (stamp descriptions, `text:<stamp path>:<language>`)",
        f"{stats['texts']} in {stats['languages']} languages",
    )
    return f"""{readme_intro("Tux Paint stamps x WordNet 3.0", "tuxpaint_wordnet", INSTALL_COMMAND, variant)}
{tables}
Image links: {stats["links"]} (`attributes.link`); identical drawings found in several
folders are separate image nodes with the same `attributes.sha256` (of the source file).
More counts are in `stats.json`.

## Sources and licences

* Images and descriptions: Tux Paint stamps (tuxpaint-stamps-default),
  Copyright 2002-2022 Bill Kendrick and contributors, GNU GPL version 2;
  see `LICENSE-tuxpaint-stamps.txt`. Images are re-encoded (and SVGs rendered) as PNG.
{README_WORDNET_SOURCE}"""


def missing_packages(stamps_dir: Path, wordnet_dir: Path) -> list[str]:
    """The Debian packages whose files are not found: a stamps folder, a WordNet ``data.noun``."""
    return wn.missing_packages(DEBIAN_PACKAGES[0], stamps_dir, wordnet_dir)


def check_sources(stamps_dir: Path, wordnet_dir: Path) -> None:
    """Checks that the recipe's sources are installed.

    Raises:
        DatasetError: One line naming the missing Debian packages, the paths
            looked at and the ``apt-get`` command that installs them.
    """
    wn.check_sources("tuxpaint_wordnet", DEBIAN_PACKAGES[0], stamps_dir, wordnet_dir, INSTALL_COMMAND)


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
    stamps = select_small(all_stamps, SMALL_TARGET) if small else all_stamps
    if any(s.source.suffix.lower() == ".svg" for s in stamps):
        check_cairosvg("SVG stamps need")
    texts = {s.relpath: parse_stamp_text(s.text_file.read_bytes()) for s in stamps if s.text_file}
    english = {relpath: text[0] for relpath, text in texts.items()}
    overrides = load_overrides(overrides_path)
    known = {s.relpath for s in all_stamps}
    unknown = sorted(set(overrides) - known)
    if unknown:
        logger.warning("overrides for unknown stamps: %s", ", ".join(unknown))
    links = link_stamps(wordnet, stamps, english, overrides)
    dataset = build_records(wordnet, stamps, links, texts, SMALL_LANGUAGES if small else None)
    images = clear_images(out)
    max_side = SMALL_MAX_SIDE if small else FULL_MAX_SIDE
    run_jobs(_convert_job, [(str(s.source), str(images / f"{s.relpath}.png"), max_side, small) for s in stamps], jobs)
    write_dataset(out, dataset, small)
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
    overrides = load_overrides(overrides_path)
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
@dataclass(repr=False, kw_only=True)
class TuxPaintWordNet(wn.WordNetDataset):
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

    stamps_dir: PathOption = None
    overrides: PathOption = DEFAULT_OVERRIDES

    def write(self, out_dir: Path) -> None:
        build(out_dir, **self.options(overrides="overrides_path"))


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
