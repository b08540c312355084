"""Fast tests of the Open Clip Art x WordNet data recipe (graphalign.datasets.openclipart_wordnet).

Everything runs on hand-written tiny inputs (SVG files with RDF metadata and a
WordNet database of a dozen synsets); the Debian packages are not needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from graphalign import datasets
from graphalign.datasets import openclipart_wordnet as oc
from graphalign.datasets import wordnet as wn
from graphalign.errors import DatasetError

# A tiny WordNet. entity > animal > mammal > {bat, feline > cat}; entity > artifact > {bat (club), flag};
# entity > location > country > france; "old" is used more as an adjective than as a noun.
HEADER = "  1 This software and database is being provided to you, the LICENSEE\n"
DATA = [
    "00001740 03 n 01 entity 0 000 | that which exists",
    "00002000 05 n 01 animal 0 001 @ 00001740 n 0000 | a living organism",
    "00003000 05 n 01 mammal 0 001 @ 00002000 n 0000 | a warm-blooded vertebrate",
    "00004000 05 n 02 bat 0 chiropteran 0 001 @ 00003000 n 0000 | a flying mammal",
    "00005000 05 n 01 feline 0 001 @ 00003000 n 0000 | a cat-like mammal",
    "00006000 05 n 01 cat 0 001 @ 00005000 n 0000 | a small feline",
    "00007000 06 n 01 artifact 0 001 @ 00001740 n 0000 | a man-made object",
    "00008000 06 n 01 bat 1 001 @ 00007000 n 0000 | a club used for hitting a ball",
    "03354903 06 n 01 flag 0 001 @ 00007000 n 0000 | emblem of cloth",
    "00009000 15 n 01 location 0 001 @ 00001740 n 0000 | a point or extent in space",
    "00010000 15 n 01 country 0 001 @ 00009000 n 0000 | a nation",
    "00011000 15 n 01 France 0 001 @i 00010000 n 0000 | a republic in western Europe",
    "00012000 28 n 01 old 0 001 @ 00001740 n 0000 | past times",
    "00013000 06 n 01 wing 0 002 @ 00007000 n 0000 #p 00008000 n 0000 | a part of a club (test meronym)",
    "00014000 18 n 01 British 0 001 @ 00001740 n 0000 | the people of Great Britain",
]
INDEX = [
    "entity n 1 0 1 0 00001740",
    "animal n 1 1 @ 1 0 00002000",
    "mammal n 1 1 @ 1 0 00003000",
    "bat n 2 1 @ 2 1 00008000 00004000",  # the club is the more frequent sense here
    "chiropteran n 1 1 @ 1 0 00004000",
    "feline n 1 1 @ 1 0 00005000",
    "cat n 1 1 @ 1 0 00006000",
    "artifact n 1 1 @ 1 0 00007000",
    "flag n 1 1 @ 1 0 03354903",
    "location n 1 1 @ 1 0 00009000",
    "country n 1 1 @ 1 0 00010000",
    "france n 1 1 @i 1 0 00011000",
    "old n 1 1 @ 1 0 00012000",
    "wing n 1 2 @ #p 1 0 00013000",
    "british n 1 1 @ 1 0 00014000",
]
INDEX_ADJ = ["old a 1 0 1 4 00000001", "british a 1 0 1 0 00000002"]


def _svg(
    title: str | None = None,
    keywords: tuple[str, ...] = (),
    description: str | None = None,
    creator: str = "Jane Roe",
    fill: str = "red",
    width: int = 40,
    height: int = 20,
) -> str:
    """A small SVG with Open Clip Art's RDF metadata (publisher and creator agents carry titles too)."""
    items = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    title_xml = f"<dc:title>{title}</dc:title>" if title is not None else ""
    desc_xml = f"<dc:description>{description}</dc:description>" if description else "<dc:description></dc:description>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        f'width="{width}" height="{height}">\n'
        f"<metadata><rdf:RDF><cc:Work rdf:about=''>{title_xml}{desc_xml}"
        f"<dc:subject><rdf:Bag>{items}<rdf:li></rdf:li></rdf:Bag></dc:subject>"
        "<dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>"
        f"<dc:creator><cc:Agent><dc:title>{creator}</dc:title></cc:Agent></dc:creator>"
        "</cc:Work></rdf:RDF></metadata>\n"
        f'<rect x="2" y="2" width="{width - 4}" height="{height - 4}" fill="{fill}"/>\n</svg>\n'
    )


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def tiny_wordnet(tmp_path: Path) -> wn.WordNet:
    folder = tmp_path / "wordnet"
    folder.mkdir()
    (folder / "data.noun").write_text(HEADER + "\n".join(DATA) + "\n", encoding="utf-8")
    (folder / "index.noun").write_text(HEADER + "\n".join(sorted(INDEX)) + "\n", encoding="utf-8")
    (folder / "index.adj").write_text(HEADER + "\n".join(INDEX_ADJ) + "\n", encoding="utf-8")
    (folder / "noun.exc").write_text("", encoding="utf-8")
    return wn.WordNet(folder)


def _drawing(relpath: str, title: str | None = None, keywords: tuple[str, ...] = (), creator: str = "") -> oc.Drawing:
    drawing = oc.Drawing(relpath, Path(f"{relpath}.svg"), oc.Metadata(title, None, list(keywords), creator or None))
    oc.classify_keywords(drawing, [drawing.category], set())
    drawing.title = oc.clean_title(title)
    return drawing


# --------------------------------------------------------------------------- metadata


def test_parse_metadata_reads_the_work_not_its_agents():
    meta = oc.parse_metadata(_svg("Bat &amp; Ball", ("mammal", " bat "), "A  flying\nbat.", "Orlando Karam").encode())
    assert meta.title == "Bat & Ball"
    assert meta.keywords == ["mammal", "bat"]  # blank items left out, whitespace collapsed
    assert meta.description == "A flying bat."
    assert meta.creator == "Orlando Karam"
    untitled = oc.parse_metadata(_svg(None, ("cat",)).encode())
    assert untitled.title is None  # the publisher's "Open Clip Art Library" is not the drawing's title
    plain = oc.parse_metadata(b"<svg><metadata><cc:Work><dc:subject>cat, dog</dc:subject></cc:Work></metadata></svg>")
    assert plain.keywords == ["cat", "dog"]
    assert oc.parse_metadata(b"<svg/>") == oc.Metadata()


def test_fingerprint_ignores_metadata_and_editor_data():
    a = _svg("bat", ("mammal",)).encode()
    b = _svg("another title", ("frog", "kwaakwaa")).replace("<rect", '<rect inkscape:label="x"').encode()
    assert oc.drawing_fingerprint(a) == oc.drawing_fingerprint(b)
    assert oc.drawing_fingerprint(a) != oc.drawing_fingerprint(_svg("bat", ("mammal",), fill="blue").encode())


def test_series_traps():
    assert oc.series_trap(oc.Metadata("gramastar", None, ["stars", "magick"])) == "magick_stars"
    assert oc.series_trap(oc.Metadata("", None, ["hash", "computer", "icons", "theme"])) == "icon_theme"
    assert oc.series_trap(oc.Metadata("Lemon SVG theme", None, ["icon"])) == "icon_theme"
    assert oc.series_trap(oc.Metadata("SVG Gradient Collection by Alan Horkan, 2004.", None, [])) == "swatches"
    assert oc.series_trap(oc.Metadata("dots square grid 12 pattern", None, [])) == "swatches"
    assert oc.series_trap(oc.Metadata("Baby Tux", None, ["hash", "icons", "penguin"])) is None


def test_clean_title_removes_authors_and_file_name_junk():
    authors = oc.author_pattern(["nicu buculei", "jean victor balin", "mo"])
    assert oc.clean_title("Clipart by Nicu Buculei - jigsaw_red_10", authors) == "jigsaw red"
    assert oc.clean_title("Flat_Cake_bw by Jean-Victor Balin", authors) == "Flat Cake bw"
    assert oc.clean_title("Tigre02") == "Tigre"
    assert oc.clean_title("Dog 01 Drawn With Straight Lines") == "Dog Drawn With Straight Lines"
    assert oc.clean_title("bluePane.svg") == "blue Pane"
    assert oc.clean_title("mo", authors) == "mo"  # names shorter than four letters are not removed
    assert oc.clean_title("  01 ") is None
    assert oc.clean_title(None) is None


def test_clean_description_drops_boilerplate_contacts_and_repeats():
    authors = oc.author_pattern(["ringe"])
    assert oc.clean_description("EPS converted from  http://aiga.org", "AIGA") is None
    assert oc.clean_description("jean.victor.balin@gmail.com", "x") is None
    assert oc.clean_description("HASH(0x85caca8)", "x") is None
    assert oc.clean_description("Hamburger", "Hamburger") is None
    assert oc.clean_description("A pizza slice. Created by ringe. Email", "Pizza", authors) == "A pizza slice"
    assert oc.clean_description("A cat sleeping on a mat.", "Cat") == "A cat sleeping on a mat."


def test_name_words_drop_the_author_fragment():
    assert oc.name_words("armadillo_architetto_fra_01", "Architetto Francesco Rollandin") == ["armadillo"]
    assert oc.name_words("bat_orlando_karam_", "Orlando Karam") == ["bat"]
    assert oc.name_words("eu_flag_hash_0x8a0ab9c__01", "Someone") == ["eu", "flag"]
    assert oc.name_words("contour_bat", "Nicu Buculei") == ["contour", "bat"]


def test_classify_keywords_hex_authors_and_folder_leaks():
    drawing = oc.Drawing(
        "animals/mammals/bat_jane_roe_",
        Path("x.svg"),
        oc.Metadata(
            "bat",
            None,
            ["0x935a874", "hash", "Jane Roe", "jane@example.org", "animal", "mammals", "Bat", "ice_cream"],
            "Jane Roe",
        ),
    )
    dropped = oc.classify_keywords(drawing, [drawing.category], {"jane roe"})
    assert dropped == {"hex_keywords": 2, "author_keywords": 2}
    assert drawing.folder_keywords == ["animal", "mammals"]  # "animal" repeats the folder "animals"
    assert drawing.keywords == ["bat", "ice_cream"]


def test_series_titles_are_cleared_unless_related(tiny_wordnet):
    drawings = [
        _drawing("misc/rubik", "Various Cliparts", ("toy",)),
        _drawing("misc/piggybank", "Various Cliparts", ("toy",)),
        _drawing("misc/cat_01", "Cat", ("pet",)),
        _drawing("misc/cat_02", "Cat", ("pet",)),
        _drawing("misc/bat", "Bat", ()),
    ]
    assert oc.mark_series_titles(drawings, tiny_wordnet) == 2
    assert [d.title for d in drawings] == [None, None, "Cat", "Cat", "Bat"]


# --------------------------------------------------------------------------- drawings on disk


def test_find_drawings_skips_symlinks_and_merge_copies(tmp_path: Path):
    root = tmp_path / "svg"
    _write(root / "animals" / "bat_jane_roe_.svg", _svg("bat", ("mammal",)))
    _write(root / "animals" / "mammals" / "bat_jane_roe_.svg", _svg("bat", ("bat", "flying")))  # same drawing
    (root / "computer").mkdir()
    (root / "computer" / "bat.svg").symlink_to(root / "animals" / "bat_jane_roe_.svg")
    _write(root / "animals" / "readme.txt", "not a drawing")
    drawings, symlinks = oc.find_drawings(root)
    assert symlinks == 1
    assert [d.relpath for d in drawings] == ["animals/bat_jane_roe_", "animals/mammals/bat_jane_roe_"]
    merged = oc.merge_copies(drawings)
    assert [d.relpath for d in merged] == ["animals/mammals/bat_jane_roe_"]  # the deeper folder is kept
    assert merged[0].copies == ["animals/bat_jane_roe_"]
    assert merged[0].metadata.keywords == ["bat", "flying", "mammal"]


# --------------------------------------------------------------------------- sense choice


def test_segment_longest_phrases_and_head(tiny_wordnet):
    stoplist = wn.adjective_like(tiny_wordnet.folder)
    assert "old" in stoplist and "british" not in stoplist
    assert oc.segment(tiny_wordnet, ["old", "bat", "with", "flag"], stoplist) == (["bat", "flag"], "bat")
    assert oc.segment(tiny_wordnet, ["mammalflag"], frozenset()) == (["mammal", "flag"], "flag")
    assert oc.segment(tiny_wordnet, ["batcat"], frozenset()) == ([], None)  # 3 + 3 letters only for known phrases


def test_link_prefers_folder_lexname_and_specific_evidence(tiny_wordnet):
    stop = frozenset()
    animal = _drawing("animals/bat_x", "Bat", ("mammal",))
    link, _ = oc.link_drawing(tiny_wordnet, animal, stop)
    assert link is not None and link.synset.offset == "00004000"  # the mammal, not the more frequent club
    sports = _drawing("recreation/sports/bat_x", "Bat")
    link, _ = oc.link_drawing(tiny_wordnet, sports, stop)
    assert link is not None and link.synset.offset == "00008000"
    tigre = _drawing("animals/mammals/tigre_x", "Tigre", ("feline", "mammal"))
    link, _ = oc.link_drawing(tiny_wordnet, tigre, stop)
    assert link is not None and link.lemma == "feline"  # the feline is a mammal: the more specific keyword wins


def test_folder_keywords_are_never_the_only_evidence(tiny_wordnet):
    drawing = _drawing("animals/gattina_x", "Gattina", ("animal",))
    assert drawing.folder_keywords == ["animal"]
    assert oc.link_drawing(tiny_wordnet, drawing, frozenset()) == (None, "folder_keywords_only")
    assert oc.link_drawing(tiny_wordnet, _drawing("misc/xyzzy", "Xyzzy"), frozenset()) == (None, "no_synset")


def test_flags_link_to_their_country_or_to_flag(tiny_wordnet):
    country = _drawing("signs_and_symbols/flags/europe/france", "France flag", ("flag",))
    link, _ = oc.link_drawing(tiny_wordnet, country, frozenset())
    assert link is not None and link.synset.name == "France"
    assert oc.drawing_kind(tiny_wordnet, country, link.synset) == "flag"
    people = _drawing("signs_and_symbols/flags/british_flag", "British", ())
    link, _ = oc.link_drawing(tiny_wordnet, people, frozenset())
    assert link is not None and link.synset.offset == oc.FLAG  # a flag of a people: the flag itself
    bat = _drawing("animals/bat_x", "Bat")
    assert oc.drawing_kind(tiny_wordnet, bat, tiny_wordnet.synset("00004000")) is None


def test_overrides_patterns_exact_lines_and_dropping(tiny_wordnet, tmp_path: Path):
    path = _write(
        tmp_path / "overrides.tsv",
        "# comment\nanimals/*\t00006000\tcat # every animal is a cat\n"
        "animals/bat_x\t00004000\tchiropteran # own line wins\nmisc/*\t00000000\t- # no synset fits\n",
    )
    overrides = wn.read_overrides(path)
    drawings = [_drawing("animals/bat_x", "Bat"), _drawing("animals/mouse_x", "Bat"), _drawing("misc/bat", "Bat")]
    links, unlinked = oc.link_drawings(tiny_wordnet, drawings, overrides, frozenset())
    assert {k: (v.synset.offset, v.source) for k, v in links.items()} == {
        "animals/bat_x": ("00004000", "override"),
        "animals/mouse_x": ("00006000", "override"),
    }
    assert unlinked == {"override_none": 1}
    _write(path, "animals/bat_x\t00004000\tclub\n")
    with pytest.raises(ValueError, match="lemmas"):
        oc.link_drawings(tiny_wordnet, drawings[:1], wn.read_overrides(path), frozenset())


def test_read_stoplist(tmp_path: Path):
    path = _write(tmp_path / "stop.tsv", "# words\nicon\t# how it is drawn\nHotel Icon\t# a series title\n\n")
    assert oc.read_stoplist(path) == {"icon", "hotel_icon"}


# --------------------------------------------------------------------------- build


def _clipart(root: Path) -> None:
    _write(root / "animals" / "bat_jane_roe_.svg", _svg("Bat", ("mammal", "0x935a874"), "A bat hanging."))
    _write(root / "animals" / "mammals" / "bat_jane_roe_.svg", _svg("Bat", ("mammal",)))  # a copy
    _write(root / "animals" / "cat_jane_roe_01.svg", _svg("Cat", ("feline",), fill="green", width=20, height=40))
    _write(root / "animals" / "dog_jane_roe_01.svg", _svg("Dog", ("animal",), fill="blue"))  # only the folder
    _write(root / "shapes" / "stars" / "star_1.svg", _svg("gramastar", ("stars", "magick")))
    _write(root / "signs_and_symbols" / "flags" / "europe" / "france.svg", _svg("france", ("flag",), fill="navy"))
    _write(root / "recreation" / "bat.svg", _svg("Bat", (), fill="yellow"))
    _write(root / "recreation" / "bat_blank.svg", _svg("Bat", ("blank",), fill="white"))  # renders blank
    _write(
        root / "recreation" / "bat_broken.svg", "<svg><metadata><cc:Work><dc:title>Bat</dc:title></cc:Work></metadata>"
    )
    (root / "computer").mkdir()
    (root / "computer" / "cat.svg").symlink_to(root / "animals" / "cat_jane_roe_01.svg")


def test_build_end_to_end(tiny_wordnet, tmp_path: Path):
    pytest.importorskip("cairosvg")
    root = tmp_path / "svg"
    _clipart(root)
    kwargs = {"clipart_dir": root, "wordnet_dir": tiny_wordnet.folder, "overrides_path": None, "jobs": 1}
    out = tmp_path / "out"
    stats = oc.build(out, stoplist_path=None, **kwargs)
    assert stats["images"] == 4 and stats["links"] == {"auto": 4}
    dropped = stats["dropped"]
    assert isinstance(dropped, dict)
    assert {k: v for k, v in dropped.items() if v} == {
        "symlinks": 1, "magick_stars": 1, "copies": 1, "render_failed": 1, "render_blank": 1,
        "folder_keywords_only": 1,
    }  # fmt: skip
    assert stats["ignored"] == {"hex_keywords": 1, "author_keywords": 0, "folder_keywords": 3, "series_titles": 0}
    nodes = [json.loads(line) for line in (out / "nodes.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {n["id"]: n for n in nodes}
    bat = by_id["img:animals/mammals/bat_jane_roe_"]
    assert bat["attributes"]["copies"] == ["animals/bat_jane_roe_"] and bat["attributes"]["creator"] == "Jane Roe"
    assert by_id["img:signs_and_symbols/flags/europe/france"]["attributes"]["kind"] == "flag"
    assert by_id["text:animals/mammals/bat_jane_roe_:title"]["text"] == "Bat"
    assert not any("animals" == n.get("name") for n in nodes)  # the folder is no node
    edges = [line.split("\t") for line in (out / "edges.tsv").read_text().splitlines() if not line.startswith("#")]
    assert {e[1] for e in edges} == {"describes", "depicts", "is_a"}
    assert ["img:animals/cat_jane_roe_01", "depicts", "wn:00006000-n"] in edges
    assert ["img:recreation/bat", "depicts", "wn:00008000-n"] in edges  # the club, in recreation/
    assert ["wn:00006000-n", "is_a", "wn:00003000-n"] in edges  # feline is shared by one drawing only: skipped
    with Image.open(out / "images" / "animals" / "cat_jane_roe_01.png") as image:
        assert image.size == (256, 512) and image.mode == "RGB"
        assert image.getpixel((0, 0)) == (255, 255, 255)  # white background
    assert not (out / "images" / "recreation" / "bat_blank.png").exists()
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    oc.build(out, stoplist_path=None, **kwargs)
    assert first == {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from graphalign.graph.io import load_dataset

    assert load_dataset(out).num_nodes == len(nodes)


def test_small_build_uses_small_palette_images(tiny_wordnet, tmp_path: Path):
    pytest.importorskip("cairosvg")
    root = tmp_path / "svg"
    _clipart(root)
    out = tmp_path / "small"
    stats = oc.build(out, small=True, clipart_dir=root, wordnet_dir=tiny_wordnet.folder, overrides_path=None, jobs=1)
    assert stats["images"] == 4 and stats["small_from"] == 6
    with Image.open(out / "images" / "animals" / "cat_jane_roe_01.png") as image:
        assert image.size == (64, 128) and image.mode == "P"


def test_identical_renders_are_kept_once(tiny_wordnet, tmp_path: Path):
    pytest.importorskip("cairosvg")
    root = tmp_path / "svg"
    _write(root / "animals" / "bat_a.svg", _svg("Bat", ("mammal",)))
    _write(root / "animals" / "bat_b.svg", _svg("Bat", ("mammal",)).replace("<rect", '<rect id="other"'))
    stats = oc.build(tmp_path / "out", clipart_dir=root, wordnet_dir=tiny_wordnet.folder, overrides_path=None, jobs=1)
    assert stats["images"] == 1 and stats["dropped"]["identical_render"] == 1  # type: ignore[index]
    assert not (tmp_path / "out" / "images" / "animals" / "bat_b.png").exists()


def test_registered_and_missing_packages_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    assert "openclipart_wordnet" in datasets.names()
    assert repr(datasets.DATASETS.build("openclipart_wordnet", {"small": True})) == "OpenClipartWordNet(small=True)"
    monkeypatch.setattr(oc, "SYSTEM_ROOT", tmp_path / "root")
    with pytest.raises(DatasetError) as caught:
        datasets.build("openclipart_wordnet", tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message
    assert "Debian package(s) openclipart-svg, wordnet-base" in message
    assert message.endswith("install them with: apt-get install -y openclipart-svg wordnet-base libcairo2")
    assert not (tmp_path / "out").exists()
    from graphalign.cli import main

    assert main(["dataset", "build", "openclipart_wordnet", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_only_the_missing_package_is_named(tiny_wordnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(oc, "SYSTEM_ROOT", tmp_path / "root")
    with pytest.raises(DatasetError, match=re.escape("package(s) openclipart-svg (not found: ")):
        oc.build(tmp_path / "out", wordnet_dir=tiny_wordnet.folder)


def test_bundled_data_files_parse(tiny_wordnet):
    overrides = wn.read_overrides(oc.DEFAULT_OVERRIDES)
    assert len(overrides) > 100
    assert all(re.fullmatch(r"\d{8}", o.offset) for o in overrides.values())
    stoplist = oc.read_stoplist(oc.DEFAULT_STOPLIST)
    assert {"icon", "clipart", "hotel_icon"} <= stoplist
