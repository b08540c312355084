"""Atomic writes give files the permissions of any new file."""

from __future__ import annotations

import os
import stat

from graphalign.atomic import atomic_open, atomic_save_safetensors, atomic_write_json


def test_written_files_follow_the_umask_not_the_private_temp_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "a.tsv") as handle:
            handle.write("x\n")
        atomic_write_json(tmp_path / "b.json", {"a": 1})
        import torch

        atomic_save_safetensors(tmp_path / "c.safetensors", {"x": torch.zeros(2)})
        os.umask(0o077)
        atomic_write_json(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("a.tsv", "b.json", "c.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
