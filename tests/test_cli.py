from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graphalign.cli import main

FAST = ["--text-encoder", "hashing-text", "--text-encoder-kwargs", '{"dim": 32}', "--image-encoder", "color-histogram"]


def test_build_then_info(toy_dataset, tmp_path, capsys):
    out = tmp_path / "graph"
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 0
    assert "32 from cache" not in capsys.readouterr().out
    assert main(["-q", "build", str(toy_dataset), "-o", str(out), *FAST]) == 0
    assert "0 items encoded, 75 from cache" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines()]
    assert ["image", "32", "64"] in rows and ["image|depicts|concept", "32"] in rows
    assert main(["info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == {"concept": 11, "text": 32, "image": 32}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "NOPE", "-o", "X", *FAST], "error: NOPE: dataset folder not found"),
        (["info", "NOPE"], "error: NOPE: not a graphalign graph folder"),
        (["build", "DATA", "-o", "X", "--text-encoder", "bert9000"], "error: unknown encoder 'bert9000'; choose one of:"),
    ],
)
def test_user_errors_are_one_line_without_traceback(argv, expected, toy_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(toy_dataset) if a == "DATA" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected), err
    assert "Traceback" not in err


def test_bad_line_is_reported_by_the_cli(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    (data / "nodes.jsonl").write_text('{"id": "a", "type": "concept", "name": "a"}\n{"id": "b", "type": "concep", "name": "b"}\n')
    assert main(["build", str(data), "-o", str(tmp_path / "g"), *FAST]) == 2
    err = capsys.readouterr().err
    assert f"{data / 'nodes.jsonl'}:2: node 'b': unknown node type 'concep'" in err
    assert not (tmp_path / "g").exists()


def test_ls_lists_encoders(capsys):
    assert main(["ls", "encoders"]) == 0
    assert "efficientnet-lite0" in capsys.readouterr().out


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "graphalign", "ls"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "minilm" in result.stdout
