"""Interruptions: real subprocesses killed with SIGKILL in the middle of their work.

(a) ``latent-explorer train gan`` killed during its second epoch, then ``--resume``:
    at most the epoch in progress is lost, and the final weights and history equal those
    of an uninterrupted run.
(b) ``latent-explorer atlas build --method full`` killed after some blocks are in its
    ``.partial`` file, then run again: it resumes (evaluating only what was missing) and
    the atlas equals an uninterrupted build.

While the subprocesses run, a watcher loads every file under a final name over and over:
each must load cleanly at every moment (atomic writes), and the only other names that
may appear are the writers' temporary files (``.NAME.PID.xxxxxxxx.tmp``), which are
never loaded and are removed once a later save of the same file finds their writer dead.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer.models.atlas import AtlasError, load_atlas
from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, read_payload
from latent_explorer.models.h5safe import read_dataset
from tests.conftest import ROOT, make_generator
from latent_explorer.training.history import History, HistoryError

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _dead_pid() -> int:
    """The id of a process that has just ended (for a planted stale temporary file)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Watcher:
    """Loads every final-named file in ``folder`` again and again while a process runs."""

    def __init__(self, folder: Path, loaders: dict[str, callable]) -> None:
        self.folder, self.loaders = folder, loaders
        self.loads = {name: 0 for name in loaders}
        self.failures: list[str] = []
        self.temps: set[str] = set()
        self.strangers: set[str] = set()
        self.seen: dict[str, tuple] = {}

    def poll(self) -> None:
        for name in sorted(os.listdir(self.folder)):
            path = self.folder / name
            if name in self.loaders:
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                version = (st.st_ino, st.st_mtime_ns, st.st_size)
                if self.seen.get(name) == version:
                    continue  # this very file loaded before (an atomic save brings a new inode)
                try:
                    self.loaders[name](path)
                    self.loads[name] += 1
                    self.seen[name] = version
                except Exception as exc:  # noqa: BLE001 - any failure of a final file is the finding
                    if path.exists():  # (a file that vanished meanwhile, e.g. a finished .partial, is fine)
                        self.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            elif TEMP.match(name):
                self.temps.add(name)
            else:
                self.strangers.add(name)

    def watch(self, proc: subprocess.Popen, until=None, timeout: float = 900) -> None:
        """Poll until the process ends or ``until()`` holds."""
        start = time.monotonic()
        while proc.poll() is None:
            self.poll()
            if until is not None and until():
                return
            assert time.monotonic() - start < timeout, "the subprocess did not finish in time"
            time.sleep(0.02)
        self.poll()

    def check(self) -> None:
        assert not self.failures, "a file under its final name did not load:\n" + "\n".join(self.failures[:5])
        assert not self.strangers, f"unexpected files: {sorted(self.strangers)}"
        for name in self.temps:
            assert TEMP.match(name).group("target") in self.loaders, name


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


# ------------------------------------------------------------------ training

def _state_epoch(path: Path) -> int:
    state = read_payload(path)
    assert state["format"] == "latent-explorer-train-state"
    return int(state["epoch"])


def _training_loaders(name: str) -> dict[str, callable]:
    return {f"{name}.pt": lambda p: load_checkpoint(p, expect="gan"),
            f"{name}.history.h5": History.load,
            f"{name}.state.pt": _state_epoch}


@pytest.mark.slow
def test_training_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, mnist_dir, classifier_path):
    common = ["train", "gan", "--latent-dim", "2", "--epochs", "3", "--limit", "256", "--batch-size", "64",
              "--data", str(mnist_dir), "--classifier", str(classifier_path), "--no-eval", "--quiet"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    broken.mkdir()
    reference = _spawn(_cli(*common, "--out", str(straight)), tmp_path / "straight.log")
    proc = _spawn(_cli(*common, "--out", str(broken)), tmp_path / "broken.log")
    watcher = Watcher(broken, _training_loaders("gan2d"))
    state = broken / "gan2d.state.pt"
    log = tmp_path / "broken.log"

    def in_second_epoch() -> bool:
        # the epoch-1 line is printed after epoch 1's checkpoint, history and state are saved
        return state.exists() and "epoch 1/3:" in log.read_text()

    watcher.watch(proc, until=in_second_epoch)
    assert proc.poll() is None, "the run ended before it could be interrupted:\n" + log.read_text()
    time.sleep(0.5)  # well inside epoch 2 (training steps, then the map); the checks below prove it
    _kill(proc)
    watcher.poll()

    # the kill landed in epoch 2: epoch 1 is complete on disk, epoch 2 is not
    assert "epoch 2/3:" not in log.read_text()
    assert _state_epoch(state) == 1
    assert load_checkpoint(broken / "gan2d.pt").meta["epochs"] == 1
    assert History.load(broken / "gan2d.history.h5").epochs == 1
    # a leftover of a writer that was killed (as if the kill had hit a save) must not survive the resume
    planted = broken / f".gan2d.state.pt.{_dead_pid()}.abcdefgh.tmp"
    planted.write_bytes(b"half a file")

    resumed = _spawn(_cli(*common, "--out", str(broken), "--resume"), tmp_path / "resumed.log")
    watcher.watch(resumed)
    assert resumed.returncode == 0, (tmp_path / "resumed.log").read_text()
    assert "resuming gan2d after epoch 1" in (tmp_path / "resumed.log").read_text()
    assert reference.wait(timeout=900) == 0, (tmp_path / "straight.log").read_text()

    watcher.check()
    assert watcher.loads["gan2d.pt"] > 0 and watcher.loads["gan2d.state.pt"] > 0
    assert not planted.exists()
    assert not [p.name for p in broken.iterdir() if TEMP.match(p.name)]

    a, b = load_checkpoint(straight / "gan2d.pt"), load_checkpoint(broken / "gan2d.pt")
    assert b.meta["epochs"] == 3
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    assert a.digest == b.digest
    ha, hb = History.load(straight / "gan2d.history.h5", a.digest), History.load(broken / "gan2d.history.h5", b.digest)
    assert hb.epochs == 3
    assert np.array_equal(ha.steps()[0], hb.steps()[0]) and np.array_equal(ha.steps()[2], hb.steps()[2])
    assert all(np.array_equal(x, y) for x, y in zip(ha.maps, hb.maps))


# ------------------------------------------------------------------ atlas

RESOLUTION, BLOCK = 24, 16  # 576 cells in 36 blocks


def _partial_done(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        blocks = -(-RESOLUTION ** 2 // BLOCK)
        size = f.id.get_filesize()
        read_dataset(f, "labels", (RESOLUTION ** 2,), [np.uint8], size)
        read_dataset(f, "confidence", (RESOLUTION ** 2,), [np.float16], size)
        return read_dataset(f, "done", (blocks,), [bool], size)


@pytest.mark.slow
def test_atlas_build_killed_midway_resumes_to_the_same_atlas(tmp_path, classifier_path):
    gen = make_generator(tmp_path / "g.pt", 2, seed=4)
    out = tmp_path / "atlas" / "g.atlas.h5"
    out.parent.mkdir()
    partial = out.with_name(out.name + ".partial")

    def build(target: Path) -> list[str]:
        return _cli("atlas", "build", str(gen), "--resolution", str(RESOLUTION), "--method", "full",
                    "--block", str(BLOCK), "--threads", "1", "--classifier", str(classifier_path), "-o", str(target))

    reference_out = tmp_path / "reference.atlas.h5"
    reference = _spawn(build(reference_out), tmp_path / "reference.log")
    proc = _spawn(build(out), tmp_path / "build.log")
    watcher = Watcher(out.parent, {out.name: load_atlas, partial.name: _partial_done})

    def some_blocks_done() -> bool:
        try:
            return partial.exists() and _partial_done(partial).sum() >= 2
        except Exception:  # noqa: BLE001 - the watcher reports failures of final files
            return False

    watcher.watch(proc, until=some_blocks_done)
    assert proc.poll() is None, "the build ended before it could be interrupted:\n" + (tmp_path / "build.log").read_text()
    _kill(proc)
    watcher.poll()

    # the kill landed mid-build: no atlas yet, some but not all blocks kept
    assert not out.exists()
    done = _partial_done(partial)
    assert 2 <= done.sum() < len(done)
    kept = int(done.sum()) * BLOCK
    planted = out.parent / f".{partial.name}.{_dead_pid()}.abcdefgh.tmp"
    planted.write_bytes(b"half a file")

    again = _spawn(build(out), tmp_path / "again.log")
    watcher.watch(again)
    assert again.returncode == 0, (tmp_path / "again.log").read_text()
    assert reference.wait(timeout=900) == 0, (tmp_path / "reference.log").read_text()
    watcher.check()
    assert watcher.loads[partial.name] > 0
    assert not partial.exists() and not planted.exists()
    assert not [p.name for p in out.parent.iterdir() if TEMP.match(p.name)]

    resumed, fresh = load_atlas(out), load_atlas(reference_out)
    assert fresh.evaluations == RESOLUTION ** 2
    assert resumed.evaluations == RESOLUTION ** 2 - kept  # only the missing blocks were evaluated
    assert np.array_equal(resumed.labels, fresh.labels)
    assert np.array_equal(resumed.confidence, fresh.confidence)
    assert resumed.generator_digest == fresh.generator_digest == load_checkpoint(gen).digest

    # the finished atlas is not overwritten by the same command
    r = subprocess.run(build(out), cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert r.returncode == 1 and "exists" in r.stderr and "Traceback" not in r.stderr


def test_atlas_block_option_is_checked(tmp_path, classifier_path):
    gen = make_generator(tmp_path / "g.pt", 2)
    r = subprocess.run(_cli("atlas", "build", str(gen), "--resolution", "4", "--method", "full", "--block", "0",
                            "-o", str(tmp_path / "a.h5")), cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert r.returncode == 1 and "--block" in r.stderr and "Traceback" not in r.stderr
