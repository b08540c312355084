"""Data-parallel training: 2 CPU processes (torchrun, gloo) give the single-process result."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphalign.training.distributed import launched_by_torchrun, resolve_distributed

WORKER = Path(__file__).with_name("distributed_worker.py")
TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"}


def _load_worker():
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


@pytest.fixture(autouse=True)
def _one_thread():
    """As the workers (torchrun sets OMP_NUM_THREADS=1); tiny graphs are faster on one thread anyway."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_distributed_is_detected_from_the_torchrun_environment():
    assert launched_by_torchrun(TORCHRUN_ENV) and not launched_by_torchrun({})
    assert resolve_distributed(None, TORCHRUN_ENV) is True
    assert resolve_distributed(None, {**TORCHRUN_ENV, "WORLD_SIZE": "1"}) is False
    assert resolve_distributed(None, {}) is False
    assert resolve_distributed(False, TORCHRUN_ENV) is False


def test_distributed_without_a_process_group_is_a_clear_error(monkeypatch):
    from graphalign.errors import ConfigError

    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="torchrun"):
        worker.run_case("full", distributed=True)


@pytest.fixture(scope="module")
def torchrun_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs the worker under torchrun once: 2 processes, gloo, a free port (standalone rendezvous)."""
    out = tmp_path_factory.mktemp("distributed")
    worker.tiny_graph().save(out / "graph")
    import graphalign

    repo = str(Path(graphalign.__file__).resolve().parents[1])  # the workers import the graphalign under test
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "--max-restarts",
        "0",
        str(WORKER),
        str(out),
        str(out / "graph"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (out / "stdout.txt").write_text(done.stdout)
    return out


@pytest.mark.parametrize("case", sorted(worker.CASES))
def test_two_processes_equal_one_process_on_the_same_global_batch(torchrun_out, case):
    from safetensors.torch import load_file

    single = worker.run_case(case, distributed=False)
    expected = worker.weights(single)
    got = load_file(str(torchrun_out / f"{case}.safetensors"))
    assert set(got) == set(expected)
    for key, value in expected.items():
        if case in ("minibatch", "rows") and ".graph_channels.seen_" in key:
            assert (int(got[key]) > 0) == (int(value) > 0), key  # rows each process observed: its own subgraphs
            continue
        if case in ("minibatch", "rows") and ".graph_channels.center_" in key:
            # A channel's centre is a running mean of the source features each process's own
            # sampled subgraphs showed it, not a parameter: close to, not equal to, one process's.
            assert got[key].shape == value.shape and (got[key] - value).norm() < 0.5 * value.norm() + 1e-3, key
            continue
        torch.testing.assert_close(got[key], value, atol=5e-5, rtol=1e-4, msg=key)
    losses = [float(v) for v in (torchrun_out / f"{case}.loss").read_text().split()]
    assert losses == pytest.approx([h["loss"] for h in single.history], rel=1e-5)


def test_cli_under_torchrun_writes_one_run_equal_to_a_single_process_run(torchrun_out, tmp_path):
    from safetensors.torch import load_file

    from graphalign.cli import main

    run = torchrun_out / "cli-run"
    assert sorted(p.name for p in run.iterdir()) == [
        ".graphalign.json",
        "checkpoint.safetensors",
        "graph",
        "metrics.json",
        "model.safetensors",
        "run.json",
        "split.safetensors",
    ]
    assert (torchrun_out / "stdout.txt").read_text().count("trained HeteroAligner") == 1  # rank 0 alone reports
    assert main(["-q", "train", str(torchrun_out / "graph"), "-o", str(tmp_path / "single"), *worker.CLI_ARGS]) == 0
    expected = load_file(str(tmp_path / "single" / "model.safetensors"))
    got = load_file(str(run / "model.safetensors"))
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=5e-5, rtol=1e-4, msg=key)
