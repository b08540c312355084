"""Crash safety and concurrency, with real processes killed by SIGKILL.

Each scenario runs graphalign in a separate process, waits until that process
has really done some work (polling for cache shards, checkpoints or a marker
file), kills it with ``kill -9``, then runs again in this process and checks that

* the cache and the run folder are valid (every shard verifies, every file loads),
* completed work is reused (cached features; training resumes at the last epoch),
* the result equals that of an uninterrupted run with the same seed.

Importing torch takes seconds, so one worker (``sys.executable`` running the small
:data:`ZYGOTE` script) imports graphalign once and forks a fresh process for
each job; the job processes are the ones killed. The jobs slow graphalign down
from the outside (a slow encoder subclass, a pause after each epoch, a write
that stops half-way) so that the kill reliably lands at the intended moment;
the library itself has no test hooks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from graphalign.atomic import temp_files
from graphalign.encoders import FeatureCache
from graphalign.encoders.hashing import ColorHistogramEncoder
from graphalign.features import GraphConfig
from graphalign.features.build import build_graph
from graphalign.features.store import BuiltGraph
from graphalign.nn.hetero_gnn import ModelConfig
from graphalign.testing import make_toy_dataset
from graphalign.training import checkpoint as ckpt
from graphalign.training.run import TrainedRun
from graphalign.training.trainer import TrainConfig, fit

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses SIGKILL, mkfifo and /proc")

IMAGE_IDENTITY = "color-histogram:bins=4:size=32:v1"
TIMEOUT = 120.0

ZYGOTE = textwrap.dedent(
    """
    import os, sys, time, traceback, warnings
    from pathlib import Path
    warnings.filterwarnings("ignore")
    import torch
    import graphalign.features.store, graphalign.training.trainer  # the slow imports, once
    ROOT = Path(sys.argv[1])
    (ROOT / "ready").touch()
    children, number = {}, 0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and os.getppid() != 1 and not (ROOT / "stop").exists():
        job = ROOT / f"job-{number}.py"
        if job.exists():
            box = ROOT / f"child-{number}"
            box.mkdir()
            pid = os.fork()
            if pid == 0:  # the child runs the job and exits; only kill -9 stops it earlier
                status = 1
                try:
                    log = os.open(box / "log.txt", os.O_WRONLY | os.O_CREAT)
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    torch.set_num_threads(1)
                    exec(compile(job.read_text(), str(job), "exec"), {"__name__": "__main__", "BOX": box})
                    status = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(status)
            (box / "pid.tmp").write_text(str(pid))
            os.replace(box / "pid.tmp", box / "pid")
            children[pid] = box
            number += 1
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            box = children.pop(pid)
            (box / "status.tmp").write_text(str(os.waitstatus_to_exitcode(status)))
            os.replace(box / "status.tmp", box / "status")
        time.sleep(0.002)
    """
)


class Zygote:
    """A child Python process (``sys.executable``) that imports graphalign once and
    then forks one process per job, so every job starts in milliseconds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
        self.log = (root / "zygote.txt").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(root)], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )

    def spawn(self, code: str) -> Child:
        """Starts a process running ``code`` (with ``BOX``, its own folder, defined)."""
        deadline = time.monotonic() + TIMEOUT
        while not (self.root / "ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker process did not start:\n{(self.root / 'zygote.txt').read_text()[-3000:]}")
            time.sleep(0.01)
        number, self.count = self.count, self.count + 1
        tmp = self.root / f"job-{number}.tmp"
        tmp.write_text(textwrap.dedent(code))
        os.replace(tmp, self.root / f"job-{number}.py")  # atomically: never half a job
        child = Child(self.root / f"child-{number}")
        child.wait_for(lambda: (child.box / "pid").exists(), "the process to start")
        child.pid = int((child.box / "pid").read_text())
        return child

    def close(self) -> None:
        (self.root / "stop").touch()
        self.proc.kill()  # it holds no state; its job processes have all finished or been killed
        self.proc.wait(timeout=30)
        self.log.close()


class Child:
    """One forked job process."""

    def __init__(self, box: Path) -> None:
        self.box = box
        self.pid = 0

    def exit_status(self) -> int | None:
        path = self.box / "status"
        return int(path.read_text()) if path.exists() else None

    def output(self) -> str:
        path = self.box / "log.txt"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Polls ``condition`` while the process lives; fails (with its output) otherwise."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.exit_status() is not None:
                pytest.fail(f"the process exited ({self.exit_status()}) before {what}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.output()}")
            time.sleep(0.002)

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind runs in the process."""
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.exit_status() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.exit_status() == -signal.SIGKILL

    def join(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.exit_status() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                pytest.fail(f"the process did not finish:\n{self.output()}")
            time.sleep(0.005)
        assert self.exit_status() == 0, self.output()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory) -> Iterator[Zygote]:
    started = Zygote(tmp_path_factory.mktemp("zygote"))
    yield started
    started.close()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """The job processes run torch on one thread; so do we (same numbers, and much faster on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def graph_config(cache: Path | None, **kwargs) -> GraphConfig:
    return GraphConfig(
        text_encoder="hashing-text",
        text_encoder_kwargs={"dim": 16},
        image_encoder="color-histogram",
        cache_dir=str(cache) if cache else None,
        use_cache=cache is not None,
        progress=False,
        **kwargs,
    )


def shards(cache: Path, identity: str = IMAGE_IDENTITY) -> list[Path]:
    return list(FeatureCache(cache, identity).folder.glob("shard-*.safetensors"))


def assert_cache_valid(cache: Path) -> list:
    reports = [c.verify() for c in FeatureCache.all_in(cache)]
    assert reports and all(r.ok for r in reports), reports
    return reports


# ------------------------------------------------------------------------------------------------ encoding
SLOW_ENCODER = """
    import time
    from graphalign.encoders import ENCODERS
    from graphalign.encoders.hashing import ColorHistogramEncoder

    class SlowColorHistogram(ColorHistogramEncoder):
        # The pace of a large image model; same identity, so the same cache entries.
        def encode(self, items):
            time.sleep({delay} * len(items))
            return super().encode(items)

    ENCODERS.register("slow-color-histogram")(SlowColorHistogram)
"""


def test_kill_during_encoding_keeps_finished_chunks(zygote, tmp_path):
    data = make_toy_dataset(tmp_path / "data", images_per_concept=4, size=8)  # 32 images
    cache, out = tmp_path / "cache", tmp_path / "graph"
    worker = zygote.spawn(
        SLOW_ENCODER.format(delay=0.25)
        + f"""
    from graphalign.features.build import build_graph
    from graphalign.features.featurize import GraphConfig

    config = GraphConfig(text_encoder="hashing-text", text_encoder_kwargs={{"dim": 16}},
                         image_encoder="slow-color-histogram", cache_dir={str(cache)!r}, cache_every=4,
                         progress=False)
    built, _ = build_graph({str(data)!r}, config)
    built.save({str(out)!r})
    """
    )
    worker.wait_for(lambda: len(shards(cache)) >= 2, "two chunks of images in the cache")
    worker.kill()

    # Nothing half-written: no graph folder; every shard in the cache is whole.
    assert not out.exists() and not list(tmp_path.glob(".graph.tmp-*/graph.json"))
    (report,) = assert_cache_valid(cache)
    assert 8 <= report.entries < 32, report

    # Run again: the finished chunks are reused, only the rest is encoded.
    built, stats = build_graph(data, graph_config(cache, cache_every=4))
    assert stats.cached["image"] == report.entries and stats.encoded["image"] == 32 - report.entries
    built.save(out)
    assert_cache_valid(cache)
    # ... and the result is that of an uninterrupted build.
    fresh, _ = build_graph(data, graph_config(None))
    loaded = BuiltGraph.load(out)
    for node_type, x in fresh.features.items():
        assert torch.equal(loaded.features[node_type], x)
    _, again = build_graph(data, graph_config(cache))
    assert again.total_encoded == 0


# ------------------------------------------------------------------------------------------------ training
MODEL = ModelConfig(conv="sage", hidden_dim=8, out_dim=8, num_layers=1)
EPOCHS = 6


def train_config() -> TrainConfig:
    return TrainConfig(epochs=EPOCHS, patience=100, seed=3)


@pytest.fixture(scope="module")
def train_graph(tmp_path_factory) -> Path:
    """A built toy graph folder that every training run loads."""
    root = tmp_path_factory.mktemp("train-graph")
    data = make_toy_dataset(root / "data", images_per_concept=2, size=8)
    built, _ = build_graph(data, graph_config(None))
    return built.save(root / "graph")


@pytest.fixture(scope="module")
def straight(train_graph, tmp_path_factory):
    """The uninterrupted run that killed-and-resumed runs must reproduce."""
    return fit(BuiltGraph.load(train_graph), MODEL, train_config(), run_dir=tmp_path_factory.mktemp("straight") / "run")


FIT_JOB = """
    from graphalign.features.store import BuiltGraph
    from graphalign.nn.hetero_gnn import ModelConfig
    from graphalign.training import trainer

    fit_model = ModelConfig(conv="sage", hidden_dim=8, out_dim=8, num_layers=1)
    fit_train = trainer.TrainConfig(epochs={epochs}, patience=100, seed=3)
    trainer.fit(BuiltGraph.load({graph!r}), fit_model, fit_train, run_dir={run!r})
"""


def checkpoint_epoch(run: Path) -> int:
    """The epoch of ``run``'s checkpoint, read the way a resume reads it (0 if none yet)."""
    from safetensors import safe_open

    if not (run / ckpt.CHECKPOINT_FILE).is_file():
        return 0
    try:
        with safe_open(str(run / ckpt.CHECKPOINT_FILE), framework="pt") as handle:
            return json.loads(handle.metadata()["state"])["epoch"]
    except FileNotFoundError:
        return 0


def assert_resumes_like_straight(run: Path, straight, graph: Path, from_epoch: int | None = None) -> None:
    """The run folder is valid, and resuming it reproduces the uninterrupted run."""
    assert not (run / ckpt.METRICS_FILE).exists()  # the kill came before the end
    ckpt.read_run_config(run)
    BuiltGraph.load(run / ckpt.GRAPH_SUBDIR)
    epoch = checkpoint_epoch(run)
    assert 2 <= epoch < EPOCHS if from_epoch is None else epoch == from_epoch
    resumed = fit(BuiltGraph.load(graph), None, train_config(), run_dir=run, resume=True)
    assert [h["epoch"] for h in resumed.history] == list(range(1, EPOCHS + 1))
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-5)
    assert resumed.best_epoch == straight.best_epoch
    assert resumed.val_metrics == pytest.approx(straight.val_metrics, rel=1e-5)
    assert resumed.test_metrics == pytest.approx(straight.test_metrics, rel=1e-5)
    assert json.loads((run / ckpt.METRICS_FILE).read_text())["test"] == pytest.approx(straight.test_metrics, rel=1e-5)
    assert TrainedRun.load(run).metrics()["best_epoch"] == straight.best_epoch
    assert not [p for p in run.rglob("*.tmp")], "leftover temporary files after the resumed run"


def test_kill_during_training_then_resume(zygote, train_graph, straight, tmp_path):
    run = tmp_path / "run"
    worker = zygote.spawn(
        """
    import time
    from graphalign.training import trainer

    original = trainer._Trainer.train_epoch

    def train_epoch(self, epoch):  # the pace of a big graph, so the kill lands inside an epoch
        loss = original(self, epoch)
        time.sleep(1.0)
        return loss

    trainer._Trainer.train_epoch = train_epoch
    """
        + FIT_JOB.format(epochs=EPOCHS, graph=str(train_graph), run=str(run))
    )
    worker.wait_for(lambda: checkpoint_epoch(run) >= 2, "the checkpoint of epoch 2")
    worker.kill()  # during epoch 3 (unless this process was starved for a second)
    assert_resumes_like_straight(run, straight, train_graph)


def test_kill_while_writing_the_checkpoint_then_resume(zygote, train_graph, straight, tmp_path):
    run = tmp_path / "run"
    worker = zygote.spawn(
        """
    import os, time

    real_fdopen = os.fdopen
    writes = []

    class StopsHalfWay:
        # A file whose write() stores half of the bytes, then hangs: the kill lands mid-write.
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            (BOX / "mid-write").touch()
            time.sleep(600)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    def fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        if ".checkpoint.safetensors." in os.readlink(f"/proc/self/fd/{fd}"):
            writes.append(fd)
            if len(writes) == 3:  # the checkpoint of epoch 3
                return StopsHalfWay(handle)
        return handle

    os.fdopen = fdopen
    """
        + FIT_JOB.format(epochs=EPOCHS, graph=str(train_graph), run=str(run))
    )
    worker.wait_for(lambda: (worker.box / "mid-write").exists(), "the checkpoint write of epoch 3")
    worker.kill()
    (partial,) = temp_files(run / ckpt.CHECKPOINT_FILE)  # the half-written file: never renamed into place
    assert 0 < partial.stat().st_size < (run / ckpt.CHECKPOINT_FILE).stat().st_size
    assert_resumes_like_straight(run, straight, train_graph, from_epoch=2)
    assert not partial.exists()


# ------------------------------------------------------------------------------------------------ concurrency
def test_two_processes_build_the_same_graph_into_one_cache(zygote, tmp_path, monkeypatch):
    """A worker and this process build the same graph into one cache and one output folder at once."""
    import graphalign.encoders.cache as cache_module

    data = make_toy_dataset(tmp_path / "data", images_per_concept=3, size=8)
    cache, out = tmp_path / "cache", tmp_path / "graph"
    go = tmp_path / "go"
    worker = zygote.spawn(
        SLOW_ENCODER.format(delay=0.01)
        + f"""
    import json
    from pathlib import Path
    import graphalign.encoders.cache as cache_module
    from graphalign.features.build import build_graph
    from graphalign.features.featurize import GraphConfig

    cache_module.MAX_SHARDS = 3  # merge often: merges race with the other process's writes and merges
    config = GraphConfig(text_encoder="hashing-text", text_encoder_kwargs={{"dim": 16}},
                         image_encoder="slow-color-histogram", cache_dir={str(cache)!r}, cache_every=2,
                         progress=False)
    (BOX / "at-barrier").touch()
    while not Path({str(go)!r}).exists():
        time.sleep(0.001)
    built, stats = build_graph({str(data)!r}, config)
    built.save({str(out)!r}, overwrite=True)  # both write the same output folder too
    (BOX / "stats.json").write_text(json.dumps(stats.encoded))
    """
    )
    # This process does the same, with the same pace (the slow encoder's delay), at the same moment.
    monkeypatch.setattr(cache_module, "MAX_SHARDS", 3)
    original_encode = ColorHistogramEncoder.encode
    monkeypatch.setattr(
        ColorHistogramEncoder,
        "encode",
        lambda self, items: (time.sleep(0.01 * len(items)), original_encode(self, items))[1],
    )
    worker.wait_for(lambda: (worker.box / "at-barrier").exists(), "the worker at the start line")
    go.touch()
    built, stats = build_graph(data, graph_config(cache, cache_every=2))
    built.save(out, overwrite=True)
    worker.join()
    monkeypatch.undo()

    assert_cache_valid(cache)
    assert json.loads((worker.box / "stats.json").read_text())["image"] > 0 and stats.encoded["image"] > 0
    fresh, _ = build_graph(data, graph_config(None))
    loaded = BuiltGraph.load(out)
    for node_type, x in fresh.features.items():
        assert torch.equal(loaded.features[node_type], x)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".graph.")]
    # A third run finds everything in the cache.
    built, stats = build_graph(data, graph_config(cache))
    assert stats.total_encoded == 0
    for node_type, x in fresh.features.items():
        assert torch.equal(built.features[node_type], x)
