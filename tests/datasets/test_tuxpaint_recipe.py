"""Fast tests of the Tux Paint x WordNet data recipe (graphalign.datasets.tuxpaint_wordnet).

Everything runs on hand-written tiny inputs; the Debian packages are not needed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from graphalign import datasets
from graphalign.datasets import tuxpaint_wordnet as build
from graphalign.errors import DatasetError

# A tiny WordNet: entity > animal > mammal > placental > {bat, mouse}; entity > artifact > {club (bat),
# device (mouse)}; wing is part of bat; "hybrid" has two hypernyms, one an ancestor of the other.
HEADER = "  1 This software and database is being provided to you, the LICENSEE\n  2 by Princeton University\n"
DATA = {
    "00000001": "00000001 03 n 01 entity 0 000 | that which exists",
    "00000002": '00000002 05 n 01 animal 0 001 @ 00000001 n 0000 | a living organism; "animals move"',
    "00000003": "00000003 05 n 01 mammal 0 001 @ 00000002 n 0000 | a warm-blooded vertebrate",
    "00000004": "00000004 05 n 01 placental 0 001 @ 00000003 n 0000 | a mammal with a placenta",
    "00000005": "00000005 05 n 02 bat 0 chiropteran 0 002 @ 00000004 n 0000 %p 00000009 n 0000 | flying mammal",
    "00000006": "00000006 05 n 01 mouse 0 001 @ 00000004 n 0000 | small rodent",
    "00000007": "00000007 06 n 01 bat 1 001 @ 00000008 n 0000 | a club used for hitting a ball",
    "00000008": "00000008 06 n 01 artifact 0 001 @ 00000001 n 0000 | a man-made object",
    "00000009": "00000009 05 n 01 wing 0 002 @ 00000002 n 0000 #p 00000005 n 0000 | a movable organ for flying",
    "00000010": "00000010 06 n 02 mouse 1 computer_mouse 0 001 @ 00000008 n 0000 | a pointing device",
    "00000011": "00000011 05 n 01 hybrid 0 002 @ 00000004 n 0000 @ 00000002 n 0000 | a made-up test synset",
}
INDEX = [
    "bat n 2 3 @ %p ~ 2 1 00000007 00000005",  # the club is the more frequent sense here
    "mouse n 2 1 @ 2 1 00000006 00000010",
    "computer_mouse n 1 1 @ 1 0 00000010",
    "wing n 1 2 @ #p 1 0 00000009",
    "entity n 1 0 1 0 00000001",
    "animal n 1 1 @ 1 0 00000002",
]


@pytest.fixture()
def tiny_wordnet(tmp_path: Path):
    folder = tmp_path / "wordnet"
    folder.mkdir()
    (folder / "data.noun").write_text(HEADER + "\n".join(DATA.values()) + "\n", encoding="utf-8")
    (folder / "index.noun").write_text(HEADER + "\n".join(sorted(INDEX)) + "\n", encoding="utf-8")
    (folder / "noun.exc").write_text("mice mouse\n", encoding="utf-8")
    return build.WordNet(folder)


# --------------------------------------------------------------------------- WordNet parsing


def test_parse_data_line_reads_lemmas_pointers_and_gloss():
    synset = build.parse_data_line(DATA["00000005"])
    assert synset.offset == "00000005"
    assert synset.id == "wn:00000005-n"
    assert synset.lemmas == ["bat", "chiropteran"]
    assert synset.lexname == "noun.animal"
    assert synset.name == "bat"
    assert [(p.symbol, p.offset) for p in synset.pointers] == [("@", "00000004"), ("%p", "00000009")]
    assert synset.targets("@", "@i") == ["00000004"]
    assert synset.gloss == "flying mammal"


def test_parse_data_line_hex_word_count_and_underscores():
    words = " ".join(f"w{i} 0" for i in range(11))
    synset = build.parse_data_line(f"12345678 13 n 0b {words} 000 | eleven lemmas")
    assert len(synset.lemmas) == 11  # w_cnt is hexadecimal
    assert synset.lexname == "noun.food"
    named = build.parse_data_line("00000012 06 n 01 coffee_cup 0 000 | a cup")
    assert named.name == "coffee cup"


def test_parse_data_line_rejects_garbage():
    with pytest.raises(ValueError):
        build.parse_data_line("not a synset line")


def test_definition_strips_examples():
    assert build.definition_from_gloss('a living organism; "animals move"; "more"') == "a living organism"
    assert build.definition_from_gloss("no examples here ") == "no examples here"
    assert build.parse_data_line(DATA["00000002"]).definition == "a living organism"


def test_parse_index_line():
    assert build.parse_index_line("bat n 2 3 @ %p ~ 2 1 00000007 00000005") == ("bat", ["00000007", "00000005"])
    with pytest.raises(ValueError):
        build.parse_index_line("bat n 3 0 1 0 00000007")  # fewer offsets than synset_cnt


def test_wordnet_skips_licence_header_and_applies_morphology(tiny_wordnet):
    assert [s.offset for s in tiny_wordnet.lookup("bat")] == ["00000007", "00000005"]
    assert [s.offset for s in tiny_wordnet.lookup("bats")] == ["00000007", "00000005"]  # -s rule
    assert [s.offset for s in tiny_wordnet.lookup("mice")] == ["00000006", "00000010"]  # noun.exc
    assert tiny_wordnet.lookup("Computer_Mouse")[0].offset == "00000010"
    assert tiny_wordnet.lookup("kangaroo") == []


def test_ancestors_follow_hypernyms(tiny_wordnet):
    assert tiny_wordnet.ancestors("00000005") == {"00000004", "00000003", "00000002", "00000001"}
    assert tiny_wordnet.ancestors("00000001") == set()


# --------------------------------------------------------------------------- concept graph


def test_select_concepts_keeps_ancestors_shared_by_two(tiny_wordnet):
    included = build.select_concepts(tiny_wordnet, {"00000005", "00000010"})
    # bat (animal) and mouse (device) share only "entity".
    assert included == {"00000005", "00000010", "00000001"}
    included = build.select_concepts(tiny_wordnet, {"00000005", "00000006", "00000007"})
    assert included == {"00000005", "00000006", "00000007", "00000004", "00000003", "00000002", "00000001"}


def test_is_a_edges_skip_excluded_synsets(tiny_wordnet):
    included = {"00000005", "00000010", "00000001", "00000002"}  # placental, mammal, artifact excluded
    edges = build.is_a_edges(tiny_wordnet, included)
    assert edges == {("00000005", "00000002"), ("00000010", "00000001"), ("00000002", "00000001")}


def test_is_a_edges_drop_redundant_transitive_parents(tiny_wordnet):
    included = {"00000011", "00000004", "00000002", "00000001"}
    edges = build.is_a_edges(tiny_wordnet, included)
    assert ("00000011", "00000004") in edges
    assert ("00000011", "00000002") not in edges  # animal is already an ancestor of placental


def test_part_of_edges_point_from_part_to_whole(tiny_wordnet):
    # bat carries "%p wing" and wing carries "#p bat": one edge, wing part_of bat.
    assert build.part_of_edges(tiny_wordnet, {"00000005", "00000009"}) == {("00000009", "00000005")}
    assert build.part_of_edges(tiny_wordnet, {"00000005"}) == set()


# --------------------------------------------------------------------------- sense choice


def test_candidates_from_stamp_names():
    assert build.name_tokens("red_kangaroo-2") == ["red", "kangaroo"]
    assert build.name_tokens("cementMixer") == ["cement", "mixer"]
    assert build.name_tokens("a_outline") == ["a"]
    assert build.name_tokens("005") == ["5"]
    assert build.candidate_phrases(["red", "kangaroo"]) == [
        "red_kangaroo",
        "red-kangaroo",
        "redkangaroo",
        "kangaroo",
        "red",
    ]
    assert build.description_tokens("A bat, hanging upside down.") == ["bat", "hanging", "upside", "down"]


def test_choose_sense_prefers_category_lexname(tiny_wordnet):
    preferred = build.preferred_lexnames("animals/mammals")
    synset, lemma = build.choose_sense(tiny_wordnet, ["bat"], preferred)
    assert (synset.offset, lemma) == ("00000005", "bat")  # the animal, not the more frequent club
    synset, _ = build.choose_sense(tiny_wordnet, ["bat"], ())
    assert synset.offset == "00000007"  # no preference: most frequent sense
    synset, lemma = build.choose_sense(tiny_wordnet, ["flying_bat", "bat"], build.preferred_lexnames("sports"))
    assert (synset.offset, lemma) == ("00000007", "bat")
    assert build.choose_sense(tiny_wordnet, ["kangaroo"], preferred) is None


def test_preferred_lexnames_longest_prefix():
    assert build.preferred_lexnames("food/fruit/cartoon") == (("noun.food",), ("noun.plant",))
    assert build.preferred_lexnames("people/body_parts") == (("noun.body", "noun.artifact"),)
    assert build.preferred_lexnames("unknown/folder") == ()


def test_split_compounds(tiny_wordnet):
    assert build.split_compounds(tiny_wordnet, ["animalwing", "bat"]) == ["animal", "wing", "bat"]
    assert build.split_compounds(tiny_wordnet, ["xyzzyplugh"]) == ["xyzzyplugh"]


def test_overrides_win_and_are_checked(tiny_wordnet, tmp_path: Path):
    stamps = [build.Stamp("animals/bat", tmp_path / "bat.png"), build.Stamp("sports/bat", tmp_path / "b.png")]
    path = tmp_path / "overrides.tsv"
    path.write_text("# comment\n\nsports/bat\t00000005\tchiropteran # hand-checked\n", encoding="utf-8")
    overrides = build.read_overrides(path)
    assert overrides["sports/bat"].offset == "00000005"
    links = build.link_stamps(tiny_wordnet, stamps, {}, overrides)
    assert (links["animals/bat"].synset.offset, links["animals/bat"].source) == ("00000005", "auto")
    assert (links["sports/bat"].synset.offset, links["sports/bat"].source) == ("00000005", "override")
    path.write_text("sports/bat\t00000005\tclub\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lemmas"):
        build.link_stamps(tiny_wordnet, stamps, {}, build.read_overrides(path))
    path.write_text("sports/bat 00000005 bat\n", encoding="utf-8")  # spaces, not tabs
    with pytest.raises(ValueError, match="expected"):
        build.read_overrides(path)


def test_link_stamps_fails_without_any_sense(tiny_wordnet, tmp_path: Path):
    stamps = [build.Stamp("animals/kangaroo", tmp_path / "k.png")]
    with pytest.raises(ValueError, match="kangaroo"):
        build.link_stamps(tiny_wordnet, stamps, {"animals/kangaroo": "A red kangaroo."}, {})
    assert build.link_stamps(tiny_wordnet, stamps, {}, {}, strict=False) == {}


# --------------------------------------------------------------------------- stamp files


def test_parse_stamp_text_handles_bom_crlf_and_empty_translations():
    raw = "\ufeffA red  kangaroo.\r\n\r\nfr.utf8=Un kangourou roux.\r\nde.utf8=\r\npt_BR.utf8=Um canguru.\r\n"
    raw += "sr@latin.utf8=Crveni kengur.\r\nfr.utf8=Doublon.\r\n"
    english, translations = build.parse_stamp_text(raw.encode("utf-8"))
    assert english == "A red kangaroo."
    assert translations == {"fr": "Un kangourou roux.", "pt-BR": "Um canguru.", "sr-Latn": "Crveni kengur."}


def test_parse_stamp_text_other_encodings():
    english, translations = build.parse_stamp_text("Un café.\nes.utf8=Un café.\n".encode("latin-1"))
    assert english == "Un café."
    assert translations == {"es": "Un café."}
    english, _ = build.parse_stamp_text("A calculator. 6x7=42\n".encode("utf-16"))
    assert english == "A calculator. 6x7=42"
    assert build.parse_stamp_text(b"fr.utf8=Seulement.\n") == (None, {"fr": "Seulement."})


def test_normalize_language():
    assert build.normalize_language("pt_BR") == "pt-BR"
    assert build.normalize_language("sr@latin") == "sr-Latn"
    assert build.normalize_language("ca@valencia") == "ca-valencia"
    assert build.normalize_language("FR") == "fr"


def _png(path: Path, size: tuple[int, int] = (40, 20)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, (255, 0, 0, 128)).save(path)


SVG = (
    '<?xml version="1.0"?>\n<!DOCTYPE svg [\n\t<!ENTITY ns_svg "http://www.w3.org/2000/svg">\n]>\n'
    '<svg xmlns="&ns_svg;" width="20" height="40"><rect width="20" height="40" fill="blue"/></svg>\n'
)


def test_find_stamps_conventions(tmp_path: Path):
    _png(tmp_path / "animals" / "bat.png")
    (tmp_path / "animals" / "bat.svg").write_text(SVG, encoding="utf-8")
    (tmp_path / "animals" / "bat.txt").write_text("A bat.\n", encoding="utf-8")
    _png(tmp_path / "animals" / "bat_mirror.png")
    (tmp_path / "animals" / "bat.dat").write_text("noflip\n", encoding="utf-8")
    (tmp_path / "animals" / "bat.ogg").write_bytes(b"OggS")
    (tmp_path / "sports").mkdir()
    (tmp_path / "sports" / "club.svg").write_text(SVG, encoding="utf-8")
    (tmp_path / "sports" / "ghost.txt").write_text("No image.\n", encoding="utf-8")
    stamps = build.find_stamps(tmp_path)
    assert [s.relpath for s in stamps] == ["animals/bat", "sports/club"]
    assert stamps[0].source.suffix == ".png"  # PNG preferred over SVG
    assert stamps[0].text_file == tmp_path / "animals" / "bat.txt"
    assert stamps[1].source.suffix == ".svg" and stamps[1].text_file is None
    assert (stamps[0].category, stamps[0].top_category, stamps[0].name) == ("animals", "animals", "bat")


def test_expand_internal_entities():
    expanded = build.expand_internal_entities(SVG.encode("utf-8")).decode("utf-8")
    assert "<!DOCTYPE" not in expanded and 'xmlns="http://www.w3.org/2000/svg"' in expanded


def test_select_small_spreads_over_top_folders(tmp_path: Path):
    stamps = [build.Stamp(f"big/s{i:03d}", tmp_path) for i in range(100)]
    stamps += [build.Stamp(f"small/s{i}", tmp_path) for i in range(3)]
    chosen = build.select_small(stamps, target=20)
    tops = [s.top_category for s in chosen]
    assert tops.count("small") == 3 and tops.count("big") == 17
    assert chosen == build.select_small(list(reversed(stamps)), target=20)  # deterministic


def test_convert_image_downscales_and_keeps_alpha(tmp_path: Path):
    _png(tmp_path / "in.png", size=(300, 150))
    size = build.convert_image((str(tmp_path / "in.png"), str(tmp_path / "out" / "a.png"), 128, True))
    assert size == (128, 64)
    image = Image.open(tmp_path / "out" / "a.png")
    assert image.convert("RGBA").getpixel((5, 5))[3] == 128


def test_build_end_to_end(tiny_wordnet, tmp_path: Path):
    pytest.importorskip("cairosvg")
    stamps_dir = tmp_path / "stamps"
    _png(stamps_dir / "animals" / "bat.png")
    (stamps_dir / "animals" / "bat.txt").write_bytes(b"A bat.\r\nfr.utf8=Une chauve-souris.\r\n")
    _png(stamps_dir / "animals" / "mice.png")
    (stamps_dir / "household").mkdir()
    (stamps_dir / "household" / "mouse.svg").write_text(SVG, encoding="utf-8")
    overrides = tmp_path / "overrides.tsv"
    overrides.write_text("household/mouse\t00000010\tcomputer_mouse # the device\n", encoding="utf-8")
    kwargs = {"stamps_dir": stamps_dir, "wordnet_dir": tiny_wordnet.folder, "overrides_path": overrides, "jobs": 1}
    stats = build.build(tmp_path / "out", **kwargs)
    assert stats["images"] == 3 and stats["texts"] == 2
    assert stats["links"] == {"auto": 2, "override": 1}
    out = tmp_path / "out"
    nodes = [json.loads(line) for line in (out / "nodes.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [n["type"] for n in nodes] == ["concept"] * 7 + ["image"] * 3 + ["text"] * 2
    image = next(n for n in nodes if n["id"] == "img:animals/bat")
    assert image["path"] == "images/animals/bat.png" and image["attributes"]["link"] == "auto"
    edges = [line.split("\t") for line in (out / "edges.tsv").read_text().splitlines() if not line.startswith("#")]
    assert ["text:animals/bat:fr", "describes", "img:animals/bat"] in edges
    assert ["img:household/mouse", "depicts", "wn:00000010-n"] in edges
    assert ["wn:00000005-n", "is_a", "wn:00000004-n"] in edges
    assert Image.open(out / "images" / "household" / "mouse.png").size == (256, 512)  # SVG rendered at 512
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    build.build(tmp_path / "out", **kwargs)
    assert first == {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from graphalign.graph.io import load_dataset

    graph = load_dataset(out)
    assert graph.num_nodes == 12


def test_bundled_small_dataset_is_consistent():
    folder = datasets.path("tuxpaint_small")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    nodes = [json.loads(line) for line in (folder / "nodes.jsonl").read_text(encoding="utf-8").splitlines()]
    images = [n for n in nodes if n["type"] == "image"]
    assert len(images) == stats["images"] and 250 <= len(images) <= 350
    assert {n["language"] for n in nodes if n["type"] == "text"} <= {"en", "fr", "de", "es"}
    for node in images[:20]:
        with Image.open(io.BytesIO((folder / node["path"]).read_bytes())) as image:
            assert max(image.size) <= 128


def test_missing_debian_packages_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(build, "SYSTEM_ROOT", tmp_path / "root")
    with pytest.raises(DatasetError) as caught:
        datasets.build("tuxpaint_wordnet", tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message
    assert "Debian package(s) tuxpaint-stamps-default, wordnet-base" in message
    assert message.endswith("install them with: apt-get install -y tuxpaint-stamps-default wordnet-base libcairo2")
    assert not (tmp_path / "out").exists()
    from graphalign.cli import main

    assert main(["dataset", "build", "tuxpaint_wordnet", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}"


def test_only_the_missing_package_is_named(tiny_wordnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "SYSTEM_ROOT", tmp_path / "root")
    with pytest.raises(
        DatasetError, match=r"package\(s\) tuxpaint-stamps-default \(not found: .*/usr/share/tuxpaint/stamps\)"
    ):
        build.build(tmp_path / "out", wordnet_dir=tiny_wordnet.folder)
