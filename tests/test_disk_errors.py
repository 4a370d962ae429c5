"""Saving where it cannot be done: a missing folder, a "folder" that is a regular file, a
read-only folder, a full disk and a file-size limit -- for checkpoints, histories,
atlases and figure exports, through the API and through the command line.

Every case must end in an OSError (on the command line: exit status 1 and
``latent-explorer: error: ...`` on stderr, no traceback) whose message names the file,
with nothing partial left behind and an existing file at the destination untouched.

How the failures are made real, also for root (these tests run as root here, and
chmod does not stop root):

* read-only folder: a tmpfs mounted read-only (``mount -t tmpfs -o ro``, needs root and
  mount rights) -- for root, writes fail with EROFS; for other users ``chmod 555``;
  skipped where neither is possible;
* full disk: a 256 kB tmpfs filled up (ENOSPC; root with mount rights, else skipped);
* file-size limit: ``RLIMIT_FSIZE`` (EFBIG; works for everybody: in-process for the API,
  in the child for the command line; Python ignores SIGXFSZ, so writes fail cleanly);
* a path under a regular file (``file.txt/out.pt``, ENOTDIR) fails for root too.
"""
from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latent_explorer.models.atlas import Atlas, load_atlas
from latent_explorer.models.checkpoint import load_checkpoint, read_payload, save_checkpoint
from latent_explorer.models.classifier import ClassifierConfig, DigitClassifier
from latent_explorer.models.networks import GanConfig, Generator
from tests.conftest import ROOT, make_generator
from tests.hardening import small_history
from latent_explorer.training.history import History

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# ------------------------------------------------------------------ what is saved

def _small_atlas(resolution: int = 4) -> Atlas:
    rng = np.random.default_rng(1)
    shape = (resolution, resolution)
    return Atlas(labels=rng.integers(0, 10, shape, dtype=np.uint8), confidence=rng.random(shape).astype(np.float16),
                 latent_dim=2, conditional=False, resolution=resolution, generator_digest="ab" * 32,
                 classifier_digest="cd" * 32, evaluated=np.ones(shape, bool))


def _save_checkpoint(path: Path) -> None:
    g = Generator(GanConfig(2))
    save_checkpoint(path, "gan", GanConfig(2).to_dict(), g, {"epochs": 1})


def _save_history(path: Path) -> None:
    small_history().save(path)


def _save_atlas(path: Path) -> None:
    _small_atlas(16).save(path)


def _save_figure(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latent_explorer.models.figures import save_figure

    fig = plt.figure(figsize=(4, 4), dpi=100)
    fig.add_subplot().imshow(np.random.default_rng(0).random((64, 64)))
    save_figure(fig, path)


SAVES = {"checkpoint.pt": _save_checkpoint, "history.h5": _save_history, "atlas.h5": _save_atlas,
         "figure.png": _save_figure}


def _existing(folder: Path, name: str) -> bytes:
    """Put a small valid file of the kind at ``folder/name``; return its bytes."""
    path = folder / name
    if name == "checkpoint.pt":  # a tiny classifier: a valid checkpoint of 10 kB
        m = DigitClassifier(ClassifierConfig(width=1, features=2))
        save_checkpoint(path, "classifier", m.config.to_dict(), m)
    elif name == "history.h5":
        h = small_history()
        h.truncate(1)
        h.save(path)
    elif name == "atlas.h5":
        _small_atlas(4).save(path)
    else:
        path.write_bytes(b"\x89PNG old figure")
    return path.read_bytes()


def _still_loads(path: Path) -> None:
    if path.name == "checkpoint.pt":
        load_checkpoint(path)
    elif path.name == "history.h5":
        History.load(path)
    elif path.name == "atlas.h5":
        load_atlas(path)


def _assert_clean_failure(folder: Path, name: str, before: dict[str, bytes], match: str) -> None:
    path = folder / name
    with pytest.raises(OSError) as info:
        SAVES[name](path)
    message = str(info.value)
    assert str(path) in message, message
    assert match.lower() in message.lower(), message
    if folder.is_dir():
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing left, nothing changed
        if name in before:
            _still_loads(path)


# ------------------------------------------------------------------ places where writing fails

def _mount_tmpfs(target: Path, options: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    target.mkdir(exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    return r.returncode == 0


def _umount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextlib.contextmanager
def _readonly_folder(base: Path, populate=None):
    """A folder nobody (root included) can write in; ``populate(folder)`` fills it first."""
    folder = base / "ro"
    if os.geteuid() == 0:
        if not _mount_tmpfs(folder, "size=1m"):
            pytest.skip("running as root without mount rights: no read-only folder can be made")
        try:
            if populate:
                populate(folder)
            if subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True).returncode:
                pytest.skip("cannot remount a tmpfs read-only here")
            yield folder
        finally:
            _umount(folder)
    else:
        folder.mkdir()
        if populate:
            populate(folder)
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


@contextlib.contextmanager
def _full_disk(base: Path, populate=None):
    """A small filesystem with (almost) no space left; ``populate(folder)`` fills it first."""
    folder = base / "full"
    if not _mount_tmpfs(folder, "size=256k"):
        pytest.skip("a full disk needs root with mount rights (a small tmpfs)")
    try:
        if populate:
            populate(folder)
        with open(folder / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
        yield folder
    finally:
        _umount(folder)


@contextlib.contextmanager
def _file_size_limit(limit: int = 2048):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _child_file_size_limit(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# ------------------------------------------------------------------ the API

@pytest.mark.parametrize("name", SAVES)
def test_save_into_a_missing_folder(tmp_path, name):
    _assert_clean_failure(tmp_path / "nope", name, {}, "does not exist")
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("name", SAVES)
def test_save_under_a_regular_file(tmp_path, name):
    (tmp_path / "file.txt").write_text("not a folder")
    _assert_clean_failure(tmp_path / "file.txt", name, {}, "not a folder")
    _assert_clean_failure(tmp_path / "file.txt" / "deeper", name, {}, "not a folder")
    assert (tmp_path / "file.txt").read_text() == "not a folder"


@pytest.mark.parametrize("name", SAVES)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_save_into_a_read_only_folder(tmp_path, name, existing):
    with _readonly_folder(tmp_path, (lambda f: _existing(f, name)) if existing else None) as folder:
        with pytest.raises(OSError):  # the premise: this folder really refuses writes, also to root
            (folder / "probe").write_bytes(b"x")
        _assert_clean_failure(folder, name, _contents(folder), "not writable")


@pytest.mark.parametrize("name", SAVES)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_save_onto_a_full_disk(tmp_path, name, existing):
    with _full_disk(tmp_path, (lambda f: _existing(f, name)) if existing else None) as folder:
        _assert_clean_failure(folder, name, _contents(folder), "no space left")


@pytest.mark.parametrize("name", SAVES)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_save_beyond_the_file_size_limit(tmp_path, name, existing):
    folder = tmp_path / "limited"
    folder.mkdir()
    if existing:
        _existing(folder, name)
    before = _contents(folder)
    with _file_size_limit(2048):
        with pytest.raises(OSError):  # the premise: writes of more than 2 kB fail here
            (tmp_path / "probe").write_bytes(bytes(4096))
        _assert_clean_failure(folder, name, before, "file too large")


def test_the_same_saves_succeed_where_writing_works(tmp_path):
    """Control for the failures above: each save works and loads back in a normal folder."""
    for name, save in SAVES.items():
        save(tmp_path / name)
        _still_loads(tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SAVES)


# ------------------------------------------------------------------ the command line

def _run(args: list[str], limit: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          preexec_fn=_child_file_size_limit(limit) if limit else None)


def _assert_cli_error(r: subprocess.CompletedProcess, path: Path, match: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("latent-explorer: error: "), r.stderr
    assert str(path) in r.stderr and match.lower() in r.stderr.lower(), r.stderr


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory) -> Path:
    return make_generator(tmp_path_factory.mktemp("disk") / "g.pt", 2, seed=1)


def _atlas_cli(gen: Path, out: Path, classifier_path: Path, *extra: str) -> list[str]:
    return ["atlas", "build", str(gen), "--resolution", "6", "--method", "full", "--block", "12", "--threads", "1",
            "--classifier", str(classifier_path), "-o", str(out), *extra]


def test_cli_atlas_build_to_unwritable_places(tmp_path, generator_path, classifier_path):
    (tmp_path / "file.txt").write_text("x")
    for out, match in ((tmp_path / "nope" / "a.h5", "does not exist"), (tmp_path / "file.txt" / "a.h5", "not a folder")):
        _assert_cli_error(_run(_atlas_cli(generator_path, out, classifier_path)), out, match)
    with _readonly_folder(tmp_path) as folder:
        out = folder / "a.h5"
        _assert_cli_error(_run(_atlas_cli(generator_path, out, classifier_path)), out, "not writable")
        assert not any(folder.iterdir())


def test_cli_atlas_build_beyond_the_file_size_limit_keeps_the_old_atlas(tmp_path, generator_path, classifier_path):
    out = tmp_path / "a.h5"
    r = _run(_atlas_cli(generator_path, out, classifier_path))
    assert r.returncode == 0, r.stderr
    before = out.read_bytes()
    r = _run(_atlas_cli(generator_path, out, classifier_path, "--force"), limit=1024)
    _assert_cli_error(r, out, "file too large")  # the first .partial save fails; its name starts with OUT
    assert _contents(tmp_path) == {"a.h5": before}  # no partial, no temporary file, the atlas untouched
    load_atlas(out, load_checkpoint(generator_path).digest)


def test_cli_atlas_build_onto_a_full_disk(tmp_path, generator_path, classifier_path):
    with _full_disk(tmp_path) as folder:
        out = folder / "a.h5"
        _assert_cli_error(_run(_atlas_cli(generator_path, out, classifier_path)), out, "no space left")
        assert sorted(p.name for p in folder.iterdir()) == ["filler"]


def test_cli_render_export_to_unwritable_places(tmp_path, generator_path, classifier_path):
    def render(out: Path, limit=None):
        return _run(["render", "--model", str(generator_path), "--point", "0.1,-0.2", "--resolution", "8",
                     "--classifier", str(classifier_path), "-o", str(out), "--force"], limit)

    _assert_cli_error(render(tmp_path / "nope" / "p.png"), tmp_path / "nope" / "p.png", "does not exist")
    with _readonly_folder(tmp_path) as folder:
        _assert_cli_error(render(folder / "p.png"), folder / "p.png", "not writable")
    limited = tmp_path / "limited"
    limited.mkdir()
    (limited / "old.png").write_bytes(b"old")
    _assert_cli_error(render(limited / "old.png", limit=1024), limited / "old.png", "file too large")
    assert _contents(limited) == {"old.png": b"old"}


@pytest.mark.slow
def test_cli_training_cannot_save_keeps_the_last_good_epoch(tmp_path, mnist_dir, classifier_path):
    """A run whose second epoch cannot be saved (file-size limit below the checkpoint's
    4 MB): exit 1 naming the checkpoint, epoch 1's files intact and loadable, nothing else."""
    run = ["train", "gan", "--latent-dim", "2", "--limit", "128", "--batch-size", "64", "--data", str(mnist_dir),
           "--classifier", str(classifier_path), "--no-eval", "--quiet", "--out", str(tmp_path / "run")]
    r = _run(run + ["--epochs", "1"])
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "run"
    before = _contents(folder)
    assert sorted(before) == ["gan2d.history.h5", "gan2d.pt", "gan2d.state.pt"]
    r = _run(run + ["--epochs", "2", "--resume"], limit=1 << 20)
    _assert_cli_error(r, folder / "gan2d.pt", "file too large")
    assert _contents(folder) == before
    assert load_checkpoint(folder / "gan2d.pt").meta["epochs"] == 1
    assert History.load(folder / "gan2d.history.h5").epochs == 1 and read_payload(folder / "gan2d.state.pt")["epoch"] == 1


def test_cli_training_into_unwritable_places_fails_before_training(tmp_path, mnist_dir, classifier_path):
    (tmp_path / "file.txt").write_text("x")
    base = ["train", "gan", "--epochs", "1", "--limit", "64", "--data", str(mnist_dir),
            "--classifier", str(classifier_path), "--no-eval", "--quiet", "--out"]
    _assert_cli_error(_run(base + [str(tmp_path / "file.txt" / "run")]), tmp_path / "file.txt" / "run", "not a directory")
    with _readonly_folder(tmp_path) as folder:
        r = _run(base + [str(folder)])
        _assert_cli_error(r, folder, "not writable")
        assert "epoch" not in r.stdout
