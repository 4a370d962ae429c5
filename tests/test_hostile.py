"""Hostile input, second pass (issue 14): files that are no regular files, HDF5 links to
other files, sizes the command line did not bound, damaged training states, a crafted
``.partial`` file, memory beyond the documented bounds, and misleading messages.

Every test drives the real loaders, the real command line (as a subprocess where the old
behaviour was a hang, so a timeout fails the test instead of stalling the run) or the
real main window.  See docs/guarantees.md, sections 1, 6, 7 and 11.
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from latent_explorer.app.cli import build_parser, main
from latent_explorer.models import h5safe
from latent_explorer.models.atlas import Atlas, AtlasError, build_adaptive, build_full, load_atlas
from latent_explorer.models.checkpoint import FORMAT, CheckpointError, load_checkpoint, read_payload, save_payload
from latent_explorer.models.networks import Discriminator, GanConfig, Generator
from latent_explorer.models.registry import open_model, scan
from latent_explorer.training.data import DataError, load_split, raw_md5, read_idx_images, read_idx_labels, verify
from latent_explorer.training.history import History, HistoryError
from latent_explorer.training.train_gan import GanRun, run_paths, train_gan
from tests.conftest import CLASSIFIER, ROOT, make_generator
from tests.hardening import assert_not_an_allocation_failure, memory_ceiling, small_history, watchdog

pytest_plugins = ("gui_fixtures",)

SHIPPED = ROOT / "checkpoints"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
HANG = 90  # seconds: far above what the refusals take, far below the old hangs


def cli(*args, timeout: float = HANG) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latent_explorer.app", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(r, *words: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("latent-explorer: error: "), r.stderr
    for w in words:
        assert w.lower() in r.stderr.lower(), (w, r.stderr)


def run_main(capsys, *args) -> tuple[int, str]:
    """The command line in this process (no interpreter start-up per call); a hang ends the
    run after HANG seconds with the tracebacks in the watchdog log, as in test_fuzz."""
    with watchdog(HANG):
        code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def refused(capsys, *args_and_words) -> None:
    """``refused(capsys, [argv...], word, ...)``: exit status 1, one clean error line naming each word."""
    argv, *words = args_and_words
    code, err = run_main(capsys, *argv)
    assert code == 1, err
    assert err.startswith("latent-explorer: error: "), err
    for w in words:
        assert w.lower() in err.lower(), (w, err)


@pytest.fixture(scope="module")
def gen2d_path(tmp_path_factory) -> Path:
    return make_generator(tmp_path_factory.mktemp("hostile") / "g2.pt", 2, seed=3)


# ------------------------------------------------------------------ only regular files

def test_fifos_devices_and_folders_are_refused_by_every_loader(tmp_path, capsys):
    fifo_pt, fifo_atlas, fifo_hist, fifo_idx = (tmp_path / n for n in
                                                ("x.pt", "x.atlas.h5", "x.history.h5", "x-idx1-ubyte.gz"))
    for p in (fifo_pt, fifo_atlas, fifo_hist, fifo_idx):
        os.mkfifo(p)
    zero = tmp_path / "z.pt"
    zero.symlink_to("/dev/zero")
    for loader, path, error in ((read_payload, fifo_pt, CheckpointError), (load_checkpoint, zero, CheckpointError),
                                (load_atlas, fifo_atlas, AtlasError), (History.load, fifo_hist, HistoryError),
                                (read_idx_labels, fifo_idx, DataError), (read_idx_images, zero, DataError),
                                (raw_md5, fifo_idx, DataError), (load_atlas, tmp_path, AtlasError)):
        with pytest.raises(error, match=str(path)) as info:
            loader(path)
        assert any(w in str(info.value) for w in ("FIFO", "character device", "folder")), info.value
    # the command line: each of these hung (FIFO) or read without end (/dev/zero) before
    assert_clean_error(cli("info", fifo_pt), str(fifo_pt), "FIFO")  # once through the installed entry point
    for path, what in ((fifo_atlas, "FIFO"), (fifo_hist, "FIFO"), (zero, "character device")):
        refused(capsys, ["info", path], str(path), what)
    data = tmp_path / "mnist"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        os.mkfifo(data / name)
    with pytest.raises(DataError, match="FIFO"):
        load_split("train", data)
    refused(capsys, ["verify-data", "--data", data], "FIFO")


def test_image_calibration_and_results_loaders_refuse_fifos_and_devices(tmp_path, capsys):
    from latent_explorer.app.bench.run import merge_results
    from latent_explorer.models.digitimage import DigitImageError, load_digit_image
    from latent_explorer.models.digitness import CalibrationError, load_calibration

    fifo_png, fifo_npz = tmp_path / "seven.png", tmp_path / "c.ood.npz"
    for p in (fifo_png, fifo_npz):
        os.mkfifo(p)
    zero_png, zero_npz = tmp_path / "zero.png", tmp_path / "zero.ood.npz"
    for p in (zero_png, zero_npz):
        p.symlink_to("/dev/zero")
    with watchdog(HANG):  # each of these hung (FIFO) or read the device before
        for loader, error in ((load_digit_image, DigitImageError), (load_calibration, CalibrationError)):
            for path, what in ((fifo_png, "FIFO"), (fifo_npz, "FIFO"), (zero_png, "character device"),
                               (zero_npz, "character device"), (tmp_path, "folder")):
                with pytest.raises(error, match=str(path)) as info:
                    loader(path)
                assert what in str(info.value), info.value
        res = {"machine": {"date": "d", "hardware": "h"}, "command": "c", "quick": True, "items": {"find": {}}}
        assert set(merge_results(fifo_npz, dict(res))["items"]) == {"find"}  # an unreadable earlier file: ignored
    refused(capsys, ["project", fifo_png, "--model", "gan2d"], str(fifo_png), "FIFO")
    refused(capsys, ["project", zero_png, "--model", "gan2d"], str(zero_png), "character device")


def test_a_fifo_or_device_as_the_cached_neighbour_index_is_not_read(tmp_path, classifier, mnist_dir):
    from latent_explorer.models.neighbours import cache_path, open_index

    first = open_index(classifier, mnist_dir, cache=tmp_path, limit=100)
    path = cache_path(tmp_path, first.key)
    for make, what in ((os.mkfifo, "FIFO"), (lambda p: p.symlink_to("/dev/zero"), "character device")):
        path.unlink()
        make(path)
        notes: list[str] = []
        with watchdog(HANG):
            again = open_index(classifier, mnist_dir, cache=tmp_path, limit=100, notes=notes)
        assert notes and str(path) in notes[0] and what in notes[0] and "rebuilt" in notes[0], notes
        assert path.is_file() and not path.is_symlink()  # the rebuilt index took its place
        np.testing.assert_allclose(again.features, first.features, atol=1e-6)


def test_a_cached_neighbour_index_declaring_huge_shapes_is_not_read(tmp_path, classifier, mnist_dir):
    import io
    import zipfile

    from latent_explorer.models.neighbours import cache_path, open_index

    first = open_index(classifier, mnist_dir, cache=tmp_path, limit=100)
    path = cache_path(tmp_path, first.key)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO()  # features declaring 10^12 rows, with a few bytes of data
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 128)})
    entries["features.npy"] = buf.getvalue() + b"\0" * 64
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    notes: list[str] = []
    open_index(classifier, mnist_dir, cache=tmp_path, limit=100, notes=notes)  # MemoryError before
    assert notes and "damaged" in notes[0] and "rebuilt" in notes[0], notes


def test_an_hdf5_file_swapped_for_a_fifo_after_the_check_is_never_opened_by_name(tmp_path, small_atlas,
                                                                                   monkeypatch):
    """The stat-then-open race: the atlas is replaced by a FIFO just before HDF5 opens it.
    HDF5 reads through the descriptor opened (and checked) before, so the load gets the
    atlas that was checked; opening the path by name blocked on the FIFO (with the GIL
    held: the watchdog ends the run)."""
    path = tmp_path / "a.atlas.h5"
    shutil.copy(small_atlas, path)
    expected = load_atlas(path).labels
    real_file = h5py.File

    def swap_then_open(name, *args, **kwargs):
        if not stat.S_ISFIFO(os.lstat(path).st_mode):
            path.unlink()
            os.mkfifo(path)
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", swap_then_open)
    with watchdog(HANG):
        atlas = load_atlas(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)  # the swap did happen before HDF5 opened the file
    np.testing.assert_array_equal(atlas.labels, expected)


def _inf_config_checkpoint(path: Path) -> Path:
    """A 1 kB checkpoint whose config says latent_dim = inf (it made the folder scan raise)."""
    torch.save({"format": FORMAT, "format_version": 1, "kind": "gan", "config": {"latent_dim": float("inf")},
                "state_dict": {}, "meta": {}}, path)
    return path


def test_one_bad_file_never_stops_the_models_folder_scan(tmp_path, gen2d_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(gen2d_path, folder / "good.pt")
    os.mkfifo(folder / "fifo.pt")
    _inf_config_checkpoint(folder / "inf.pt")
    (folder / "loop.pt").symlink_to(folder / "loop.pt")
    (folder / "dir.pt").mkdir()
    assert [e.name for e in scan(folder)] == ["good"]
    # compare --like on it: a clear refusal (OverflowError before)
    code, err = run_main(capsys, "compare", "--like", folder / "inf.pt")
    assert code == 1 and str(folder / "inf.pt") in err and "latent_dim" in err


def test_the_main_window_opens_with_bad_files_in_its_folder(qtbot, app_env, tmp_path, gen2d_path):
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(gen2d_path, folder / "good.pt")
    os.mkfifo(folder / "fifo.pt")
    _inf_config_checkpoint(folder / "inf.pt")
    w = MainWindow(folder, CLASSIFIER, make_settings(), atlas_resolution=lambda d, c: 4, autobuild_atlas=False)
    qtbot.addWidget(w)
    w.open_initial(None)
    assert [e.name for e in w.entries] == ["good"]
    assert w.state.model is not None and w.state.model.name == "good"
    w.atlases.shutdown()
    w.close()


# ------------------------------------------------------------------ HDF5 links

@pytest.fixture(scope="module")
def small_atlas(tmp_path_factory, gen2d_path, classifier) -> Path:
    path = tmp_path_factory.mktemp("atlas") / "a.atlas.h5"
    build_full(load_checkpoint(gen2d_path), classifier, 4).save(path)
    return path


def test_hdf5_links_to_other_files_and_soft_links_are_refused(tmp_path, small_atlas, capsys):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    linked = tmp_path / "linked.atlas.h5"
    shutil.copy(small_atlas, linked)
    with h5py.File(linked, "a") as f:
        del f["labels"]
        f["labels"] = h5py.ExternalLink(str(fifo), "/labels")  # hung the loader before
    with pytest.raises(AtlasError, match="link to another file"):
        load_atlas(linked)
    refused(capsys, ["info", linked], str(linked), "link to another file")
    soft = tmp_path / "soft.atlas.h5"
    shutil.copy(small_atlas, soft)
    with h5py.File(soft, "a") as f:
        f.move("confidence", "hidden")
        f["confidence"] = h5py.SoftLink("/hidden")
    with pytest.raises(AtlasError, match="soft link"):
        load_atlas(soft)
    hist = tmp_path / "h.history.h5"
    small_history().save(hist)
    with h5py.File(hist, "a") as f:
        del f["steps"]
        f["steps"] = h5py.ExternalLink(str(fifo), "/steps")
    refused(capsys, ["info", hist], str(hist), "link to another file")


# ------------------------------------------------------------------ bounded before any loop

def test_history_declaring_100000_epochs_is_refused_before_any_loop(tmp_path, capsys):
    """104 kB, 100,000 epochs and two million compressible steps: `info` hung for minutes."""
    path = tmp_path / "h.history.h5"
    small_history().save(path)
    n, s = 100_000, 2_000_000
    with h5py.File(path, "a") as f:
        f.attrs["epochs"] = n
        for key, data in (("steps/g_loss", np.zeros(s, np.float32)), ("steps/d_loss", np.zeros(s, np.float32)),
                          ("steps/epoch", np.ones(s, np.int32))):
            del f[key]
            f.create_dataset(key, data=data, compression="gzip", chunks=(1 << 18,))
        for key, shape, dtype in (("epochs/grid", (n, 64, 28, 28), np.uint8), ("epochs/map", (n, 1, 8, 8), np.uint8),
                                  ("epochs/map_conf", (n, 1, 8, 8), np.float16)):
            del f[key]
            f.create_dataset(key, shape=shape, dtype=dtype, chunks=(1,) + shape[1:])
        for key in ("epochs/change_rate", "epochs/weak_judge_acc", "epochs/seconds"):
            del f[key]
            f.create_dataset(key, data=np.zeros(n, np.float32), compression="gzip")
    assert path.stat().st_size < 1 << 20
    refused(capsys, ["info", path], str(path), "declares")


def test_history_steps_are_split_per_epoch_as_saved(tmp_path):
    h = small_history()
    h.g_loss[1] = np.arange(7, dtype=np.float32)
    h.d_loss[1] = np.arange(7, dtype=np.float32) * 2
    h.g_loss[0], h.d_loss[0] = np.empty(0, np.float32), np.empty(0, np.float32)  # an epoch without steps
    h.save(tmp_path / "h.h5")
    back = History.load(tmp_path / "h.h5")
    assert [len(g) for g in back.g_loss] == [0, 7]
    assert np.array_equal(back.d_loss[1], h.d_loss[1])


# ------------------------------------------------------------------ numeric options

RANGE_CASES = [
    (["render", "--point", "0,0", "--dpi", "5000", "-o", "{tmp}/p.png"], ["--dpi", "10..1,000", "GiB"]),
    (["render", "--point", "0,0", "--dpi", "100000", "-o", "{tmp}/p.png"], ["--dpi", "GiB"]),
    (["render", "--point", "0,0", "--dpi", "nan", "-o", "{tmp}/p.png"], ["--dpi", "finite"]),
    (["compare", "--dpi", "1e6", "-o", "{tmp}/c.png"], ["--dpi", "GiB"]),
    (["atlas", "build", SHIPPED / "gan3d.pt", "--resolution", "4096", "-o", "{tmp}/a.h5"],
     ["--resolution", "368", "GiB"]),
    (["atlas", "build", SHIPPED / "gan4d.pt", "--resolution", "200", "--method", "adaptive", "-o", "{tmp}/a.h5"],
     ["--resolution", "largest resolution here is 84"]),
    (["atlas", "build", SHIPPED / "gan2d.pt", "--resolution", "64", "--stride", "-3", "-o", "{tmp}/a.h5"],
     ["--stride", "1..4,096"]),
    (["atlas", "build", SHIPPED / "gan2d.pt", "--resolution", "64", "--threads", "-1", "-o", "{tmp}/a.h5"],
     ["--threads"]),
    (["evaluate", SHIPPED / "gan2d.pt", "--samples", "10000000"], ["--samples", "100..100,000", "GiB"]),
    (["evaluate", SHIPPED / "gan2d.pt", "--samples", "-1"], ["--samples"]),
    (["evaluate", SHIPPED / "gan2d.pt", "--samples", "0"], ["--samples"]),
    (["evaluate", SHIPPED / "gan2d.pt", "--samples", "1"], ["--samples"]),
    (["train", "gan", "--batch-size", "0", "--out", "{tmp}/run"], ["--batch-size", "2..4,096"]),
    (["train", "gan", "--epochs", "0", "--out", "{tmp}/run"], ["--epochs", "1..100,000"]),
    (["train", "gan", "--limit", "-5", "--out", "{tmp}/run"], ["--limit"]),
    (["train", "gan", "--lr", "inf", "--out", "{tmp}/run"], ["--lr", "finite"]),
    (["train", "classifier", "--batch-size", "0", "-o", "{tmp}/c.pt"], ["--batch-size"]),
    (["export", "strip", "--model", "cgan2d", "--a", "0,0", "--b", "1,1", "--digit", "11", "-o", "{tmp}/s.png"],
     ["--digit", "0..9"]),
    (["export", "strip", "--model", "cgan2d", "--a", "0,0", "--b", "1,1", "--digit", "10", "-o", "{tmp}/s.png"],
     ["--digit"]),
    (["export", "strip", "--model", "cgan2d", "--a", "0,0", "--b", "1,1", "--digit", "-1", "-o", "{tmp}/s.png"],
     ["--digit"]),
]


@pytest.mark.parametrize("argv,words", RANGE_CASES,
                         ids=[" ".join(str(a).replace(f"{SHIPPED}/", "") for a in c[0][:6]) for c in RANGE_CASES])
def test_numeric_options_out_of_range_are_refused_before_any_work(tmp_path, capsys, argv, words):
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    code, err = run_main(capsys, *args)
    assert code == 1, err
    assert err.startswith("latent-explorer: error: "), err
    for w in words:
        assert w in err, (w, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "something was written before the refusal"


def test_help_states_each_range():
    parser = build_parser()
    text = {name: " ".join(parser._subparsers._group_actions[0].choices[name].format_help().split())
            for name in ("render", "evaluate", "compare")}
    assert "range 10..1,000" in text["render"] and "range 100..100,000" in text["evaluate"]


def test_point_with_minus_inf_is_a_clear_refusal_not_a_usage_error(tmp_path, capsys):
    refused(capsys, ["render", "--point", "-inf,0", "-o", tmp_path / "p.png"], "-inf", "outside the latent box")


@pytest.mark.parametrize("a,b,words", [
    ("0,x", "1,1", ("--a", "'0,x'", "comma-separated numbers")),
    ("", "1,1", ("--a", "comma-separated numbers")),
    ("0,,0", "1,1", ("--a", "'0,,0'")),
    ("nan,0", "1,1", ("--a nan,0", "finite")),
    ("1e400,0", "1,1", ("--a 1e400,0", "finite")),
    ("0,0", "-inf,0", ("--b -inf,0", "finite")),
    ("5,0", "1,1", ("--a 5,0", "outside the latent box")),
    ("0,0,0", "1,1", ("--a 0,0,0", "3 coordinate(s)", "2-D latent space")),
    ("0,0", "1", ("--b 1", "1 coordinate(s)", "2-D")),
])
def test_strip_points_name_their_option(tmp_path, capsys, a, b, words):
    out = tmp_path / "s.png"
    refused(capsys, ["export", "strip", "--model", "gan2d", "--a", a, "--b", b, "-o", out], *words)
    assert not out.exists()


def test_the_last_resort_handler_names_the_command_and_the_file(capsys):
    from latent_explorer.app.cli_checks import last_resort

    args = argparse.Namespace(command="info", file="odd.pt")
    assert last_resort(args, OverflowError("cannot convert float infinity to integer")) == 1
    err = capsys.readouterr().err
    assert err.startswith("latent-explorer: error: info on odd.pt failed: unexpected OverflowError")
    assert "Traceback" not in err
    assert last_resort(args, MemoryError()) == 1
    assert "ran out of memory" in capsys.readouterr().err


# ------------------------------------------------------------------ training runs

def _run(**kw) -> GanRun:
    return GanRun(**{"latent_dim": 2, "epochs": 2, "batch_size": 64, "limit": 256, "eval_samples": 200, **kw})


def test_training_sizes_are_checked_against_the_data_before_any_work(tmp_path, mnist_dir, capsys):
    for run, words in ((_run(limit=70_000), "holds 60,000 images"), (_run(limit=129, batch_size=128), "one image"),
                       (_run(epochs=0), "--epochs")):
        out = tmp_path / f"run{run.limit}-{run.epochs}"
        with pytest.raises(ValueError, match=words):
            train_gan(run, str(mnist_dir), out, classifier_path=CLASSIFIER, evaluate_at_end=False, quiet=True)
        assert not any(out.glob("*.pt")), "a file was written before the refusal"
    refused(capsys, ["train", "gan", "--limit", "70000", "--data", mnist_dir, "--out", tmp_path / "cli", "--no-eval"],
            "--limit 70000", "60,000")


@pytest.mark.parametrize("argv,words", [
    (["--conditional", "--class-entropy", "1"], ["--class-entropy", "unconditional"]),
    (["--class-entropy", "-2"], ["--class-entropy", "-2"]),
    (["--r1", "nan"], ["--r1", "finite"]),
    (["--data", "{tmp}/no-mnist-here"], ["no-mnist-here", "train-images-idx3-ubyte.gz"]),
    (["--data", "{mnist}", "--limit", "256", "--classifier", "{tmp}/missing.pt"], ["missing.pt"]),
], ids=["conditional class-entropy", "class-entropy -2", "r1 nan", "no data", "no classifier"])
def test_a_refused_training_run_leaves_no_new_folder(tmp_path, mnist_dir, capsys, argv, words):
    """A refused `train gan` leaves no run folder it made (nor the parents it made); a folder
    that was there before stays, with what it held, empty or not."""
    args = [a.replace("{tmp}", str(tmp_path)).replace("{mnist}", str(mnist_dir)) for a in argv]
    new = tmp_path / "new" / "deeper" / "run"
    refused(capsys, ["train", "gan", "--no-eval", "--out", new, *args], *words)
    assert not (tmp_path / "new").exists(), "the refused run left the folders it made"
    empty, kept = tmp_path / "empty", tmp_path / "kept"
    empty.mkdir()
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    for out in (empty, kept):
        refused(capsys, ["train", "gan", "--no-eval", "--out", out, *args], *words)
    assert empty.is_dir() and list(empty.iterdir()) == []
    assert [p.name for p in kept.iterdir()] == ["notes.txt"] and (kept / "notes.txt").read_text() == "mine"


def _state(run: GanRun, epoch=1, **changes) -> dict:
    """A training state as train_gan writes it, from fresh real networks."""
    torch.manual_seed(0)
    g = Generator(run.config)
    d = Discriminator(run.config, conditioning=run.d_conditioning, minibatch_std=run.minibatch_std,
                      class_head=run.class_entropy > 0)
    state = {"format": "latent-explorer-train-state", "run": dataclasses.asdict(run), "epoch": epoch,
             "seconds": 1.0, "generator": g.state_dict(), "discriminator": d.state_dict(),
             "opt_g": torch.optim.Adam(g.parameters()).state_dict(),
             "opt_d": torch.optim.Adam(d.parameters()).state_dict()}
    if getattr(run, "ema", 0) > 0:
        from latent_explorer.training.recipe import WeightAverage

        state["average"] = WeightAverage(g, run.ema).state_dict()
    state.update(changes)
    return state


STATE_CASES = [
    ("missing keys", lambda s: {k: v for k, v in s.items() if k != "opt_g"}, "missing opt_g"),
    ("epoch inf", lambda s: {**s, "epoch": float("inf")}, "not a whole number"),
    ("epoch text", lambda s: {**s, "epoch": "1"}, "not a whole number"),
    ("epoch 99", lambda s: {**s, "epoch": 99}, "beyond the 2 epochs"),
    ("epoch 0", lambda s: {**s, "epoch": 0}, "out of range"),
    ("seconds nan", lambda s: {**s, "seconds": float("nan")}, "finite"),
    ("run not a dict", lambda s: {**s, "run": [1, 2]}, "run settings"),
    ("generator text", lambda s: {**s, "generator": "weights"}, "generator weights"),
    ("generator wrong shapes", lambda s: {**s, "generator": {"fc.weight": torch.zeros(3)}}, "does not fit"),
    ("optimiser garbage", lambda s: {**s, "opt_d": {"state": {}, "param_groups": [{"params": "x"}]}}, "opt_d"),
]


@pytest.mark.parametrize("name,damage,words", STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_damaged_training_state_is_refused_naming_the_file(tmp_path, mnist_dir, classifier, name, damage, words):
    run = _run()
    paths = run_paths(tmp_path, run.model_name)
    save_payload(paths["state"], damage(_state(run)))
    with pytest.raises(CheckpointError, match=words) as info:
        train_gan(run, str(mnist_dir), tmp_path, resume=True, classifier_path=CLASSIFIER, evaluate_at_end=False,
                  quiet=True, log=lambda *_: None)
    assert str(paths["state"]) in str(info.value)


def _history_for(run: GanRun, classifier_digest: str, epochs: int, digest: str) -> History:
    h = small_history()
    h.name, h.config, h.classifier_digest, h.generator_digest = run.model_name, run.config.to_dict(), \
        classifier_digest, digest
    while h.epochs < epochs:
        for name in ("g_loss", "d_loss", "grids", "maps", "map_conf", "change_rate", "weak_judge_acc", "seconds"):
            getattr(h, name).append(getattr(h, name)[-1])
    h.truncate(epochs)
    return h


def test_resume_refuses_a_history_that_does_not_belong_to_the_state(tmp_path, mnist_dir, classifier, capsys):
    run = _run()
    paths = run_paths(tmp_path, run.model_name)
    save_payload(paths["state"], _state(run, epoch=1))
    for history, words in ((_history_for(run, classifier.digest, 1, "ab" * 32), "another generator"),
                           (_history_for(run, classifier.digest, 5, "ab" * 32), "holds 5 epochs")):
        history.save(paths["history"])
        with pytest.raises(CheckpointError, match=words):
            train_gan(run, str(mnist_dir), tmp_path, resume=True, classifier_path=CLASSIFIER, evaluate_at_end=False,
                      quiet=True, log=lambda *_: None)
    # the command line says the same, without a traceback
    state = _state(run, epoch=float("inf"))
    save_payload(paths["state"], state)
    refused(capsys, ["train", "gan", "--epochs", 2, "--batch-size", 64, "--limit", 256, "--data", mnist_dir, "--out",
                     tmp_path, "--resume", "--no-eval", "--quiet", "--classifier", CLASSIFIER],
            str(paths["state"]), "not a whole number")


# ------------------------------------------------------------------ atlases

def test_atlas_build_does_not_trust_a_crafted_partial(tmp_path, gen2d_path, classifier, capsys):
    g = load_checkpoint(gen2d_path)
    out = tmp_path / "a.atlas.h5"
    partial = out.with_name(out.name + ".partial")
    res, block = 6, 12
    with h5safe.writing(partial) as f:  # matching key, every block "done", labels 200
        h5safe.set_str(f.attrs, "key", f"{g.digest}|{classifier.digest}|{res}|float32|{block}")
        f.create_dataset("labels", data=np.full(res * res, 200, np.uint8), **h5safe.DATASET_OPTIONS)
        f.create_dataset("confidence", data=np.full(res * res, 0.5, np.float16), **h5safe.DATASET_OPTIONS)
        f.create_dataset("done", data=np.ones(3, bool), **h5safe.DATASET_OPTIONS)
    build = ["atlas", "build", gen2d_path, "--resolution", res, "--method", "full", "--block", block,
             "--classifier", CLASSIFIER, "-o", out]
    code, err = run_main(capsys, *build)
    assert code == 0, err
    atlas = load_atlas(out)
    assert np.array_equal(atlas.labels, build_full(g, classifier, res).labels)
    assert run_main(capsys, "info", out)[0] == 0 and not partial.exists()
    # a partial that is no regular file is refused, not read (a FIFO hung the build before)
    out.unlink()
    os.mkfifo(partial)
    refused(capsys, build, str(partial), "FIFO")


def test_no_builder_makes_an_atlas_its_loader_refuses(tmp_path, classifier):
    g3 = load_checkpoint(make_generator(tmp_path / "g3.pt", 3, seed=4))
    with memory_ceiling(), pytest.raises(ValueError, match="largest resolution here is 368") as info:
        build_adaptive(g3, classifier, 4096)
    assert_not_an_allocation_failure(info.value)
    bad = Atlas(labels=np.full((4, 4), 200, np.uint8), confidence=np.zeros((4, 4), np.float16), latent_dim=2,
                conditional=False, resolution=4, generator_digest="a", classifier_digest="b")
    with pytest.raises(ValueError, match="labels outside 0"):
        bad.save(tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


def test_loading_an_atlas_costs_at_most_its_cells_once(tmp_path):
    """Confidence stored as float32 used to be read whole and then converted: 7 bytes per
    cell at the peak.  Now HDF5 converts into the float16 array: 3 bytes per cell."""
    res = 2048
    path = tmp_path / "big.atlas.h5"
    Atlas(labels=np.zeros((res, res), np.uint8), confidence=np.zeros((res, res), np.float16), latent_dim=2,
          conditional=False, resolution=res, generator_digest="a", classifier_digest="b").save(path)
    with h5py.File(path, "a") as f:
        del f["confidence"]
        f.create_dataset("confidence", data=np.zeros((res, res), np.float32), chunks=(256, 256), compression="gzip",
                         fletcher32=True)
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        atlas = load_atlas(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cells = res * res
    assert atlas.confidence.dtype == np.float16
    assert peak < 3 * cells + (2 << 20), f"peak {peak / cells:.2f} bytes per cell"


def test_a_conditional_atlas_on_a_plain_model_is_named_as_such(tmp_path, gen2d_path, classifier):
    g = load_checkpoint(gen2d_path)
    path = tmp_path / "cond.atlas.h5"
    Atlas(labels=np.zeros((10, 4, 4), np.uint8), confidence=np.zeros((10, 4, 4), np.float16), latent_dim=2,
          conditional=True, resolution=4, generator_digest=g.digest, classifier_digest=classifier.digest).save(path)
    with pytest.raises(AtlasError, match="a conditional 2-D atlas does not fit a plain 2-D model"):
        open_model(gen2d_path, classifier, atlas=path)


# ------------------------------------------------------------------ IDX memory

def test_idx_images_are_not_read_when_their_count_disagrees_with_the_labels(tmp_path, mnist_dir):
    """Before, the images were read (twice over in memory) and only then compared."""
    shutil.copy(mnist_dir / "train-labels-idx1-ubyte.gz", tmp_path)
    count = 100_000
    head = struct.pack(">IIII", 2051, count, 28, 28)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + bytes(count * 784), compresslevel=1))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="declares 100000 images but its label file holds 60000"):
            load_split("train", tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak / 2 ** 20:.0f} MiB"


# ------------------------------------------------------------------ outputs and messages

def test_every_output_place_is_checked_before_computing(tmp_path, gen2d_path, capsys):
    ok = tmp_path / "ok.png"
    refused(capsys, ["export", "strip", "--model", gen2d_path, "--a", "0,0", "--b", "1,1", "-o", ok, "--csv",
                     tmp_path / "missing" / "x.csv"], "missing")
    assert not ok.exists()
    ckpt = tmp_path / "g.pt"
    shutil.copy(gen2d_path, ckpt)
    (tmp_path / "g.md").mkdir()  # the card cannot be written: refused before minutes of evaluation
    before = ckpt.read_bytes()
    refused(capsys, ["evaluate", ckpt, "--write", "--samples", 100], "g.md", "folder")
    assert ckpt.read_bytes() == before


def test_symlink_loops_are_named_by_every_loader(tmp_path, capsys):
    for name, loader in (("l.pt", load_checkpoint), ("l.atlas.h5", load_atlas), ("l.history.h5", History.load),
                         ("l-idx1-ubyte.gz", read_idx_labels)):
        loop = tmp_path / name
        loop.symlink_to(loop)
        with pytest.raises(Exception, match="symlink loop") as info:
            loader(loop)
        assert str(loop) in str(info.value)
    refused(capsys, ["info", tmp_path / "l.pt"], "symlink loop")


def test_atlas_build_into_a_folder_says_so(tmp_path, capsys):
    code, err = run_main(capsys, "atlas", "build", SHIPPED / "gan2d.pt", "--resolution", 8, "-o", tmp_path)
    assert code == 1 and "is a folder" in err and "--force" not in err


def test_pickles_and_huge_integers_get_the_right_message(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Code:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"config": Code()}))
    with pytest.raises(CheckpointError, match="refused: the file carries Python objects or code .*os.system|posix"):
        load_checkpoint(plain)
    assert not marker.exists()
    data = tmp_path / "data.pt"
    data.write_bytes(pickle.dumps({"config": {"latent_dim": 2}}))
    with pytest.raises(CheckpointError, match="a plain pickle"):
        load_checkpoint(data)
    huge = tmp_path / "huge.pt"
    sys.set_int_max_str_digits(0)
    try:
        torch.save({"format": FORMAT, "format_version": 1, "kind": "gan", "config": {"latent_dim": 10 ** 5000},
                    "state_dict": {}, "meta": {}}, huge)
    finally:
        sys.set_int_max_str_digits(4300)
    with pytest.raises(CheckpointError, match="integer of more than 255 bytes") as info:
        load_checkpoint(huge)
    assert "code" not in str(info.value)


# ------------------------------------------------------------------ found by a further attack (not in the issue)

def test_ablation_lists_and_scales_are_bounded(tmp_path, capsys):
    """``act2:0-999999999999`` tried to build a list of a trillion indices (MemoryError after a
    minute); ``scale=nan`` or ``1e308`` rendered a NaN image reported as "class 0 (nan%)"."""
    for spec, words in (("act2:0-999999999999", "0..4095"), ("act2:rows=0-99999999999", "0..4095"),
                        ("act2:*:scale=nan", "-1000 to 1000"), ("act2:*:scale=1e308", "-1000 to 1000")):
        with memory_ceiling():
            refused(capsys, ["render", "--point", "0,0", "--ablate", spec, "-o", tmp_path / "p.png"], "--ablate",
                    words)
    assert not list(tmp_path.iterdir())


def test_odd_inputs_found_by_the_second_attack_get_clear_messages(tmp_path, capsys, gen2d_path, mnist_dir):
    # a damaged evaluation record: the card was a KeyError through the last resort
    payload = read_payload(gen2d_path)
    payload["meta"]["evaluation"] = {"frechet_distance": float("nan")}
    ckpt = tmp_path / "g.pt"
    save_payload(ckpt, payload)
    refused(capsys, ["card", ckpt], str(ckpt), "incomplete or damaged", "evaluate")
    # --label-walk with a non-number named the int() parse, not the option
    refused(capsys, ["export", "strip", "--model", "cgan2d", "--label-walk", "3,x", "--a", "0,0", "-o",
                     tmp_path / "s.png"], "--label-walk")
    # --data naming a file
    refused(capsys, ["train", "gan", "--data", ckpt, "--out", tmp_path / "run", "--epochs", 1], "is a file, not a folder")
    # a card whose name is taken by a FIFO is replaced atomically, not opened (which blocked)
    os.mkfifo(tmp_path / "h.md")
    shutil.copy(SHIPPED / "gan2d.pt", tmp_path / "h.pt")
    code, err = run_main(capsys, "card", tmp_path / "h.pt", "--force")
    assert code == 0, err
    assert (tmp_path / "h.md").is_file() and (tmp_path / "h.md").read_text().startswith("# Model card: h")
    # unicode and undecodable names work end to end; a name too long for the file system is named
    for name in ("é😀.png", os.fsdecode(b"\xff\xfe.png")):
        code, err = run_main(capsys, "render", "--point", "0,0", "-o", tmp_path / name)
        assert code == 0, err
        assert (tmp_path / name).is_file()
    refused(capsys, ["render", "--point", "0,0", "-o", tmp_path / ("a" * 300 + ".png")], "too long")


# ================================================================== third pass (issue 36)
# Each class of the third attack has one mechanism and cases generated by hypothesis
# (derandomised by tests/conftest.py).

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from latent_explorer.models.printable import is_printable, printable, printable_lines  # noqa: E402

GENERATED = settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "25")), deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# what the attack used: terminal title, clear screen, colours, C1 CSI, bidi override, bare CR, NUL, line separator
ATTACKS = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31m", "\x9b31m", "\u202e", "\u2066", "\r", "\x00", "\u2028", "\x7f",
           "\u200b", "\ufeff", "\x85"]
hostile_text = st.lists(st.one_of(st.sampled_from(ATTACKS), st.text(max_size=8)), min_size=1, max_size=6).map("".join)


# ------------------------------------------------------------------ 1. text from a file reaches the terminal raw

@GENERATED
@given(text=st.text(max_size=400) | hostile_text, limit=st.integers(1, 300))
def test_printable_escapes_every_control_bidi_and_format_character(text, limit):
    out = printable(text, limit)
    assert is_printable(out) and "\n" not in out and "\t" not in out
    assert len(out) <= 10 * limit + 40  # each kept character is at most one 10-character escape, plus the note
    if text.isascii() and text.isprintable() and len(text) <= limit:
        assert out == text  # plain text reads as it is
    lines = printable_lines(text)
    assert is_printable(lines.removeprefix("\r"))


def _hostile_checkpoint(path: Path, src: Path, text: str) -> Path:
    payload = read_payload(src)
    payload["meta"] = {"command": text, text[:30] or "k": text, "note": [text, 1.5, {"inner": text}],
                       "nested": {"deeper": {text[:20] or "x": text}}, "name": text}
    save_payload(path, payload)
    return path


@GENERATED
@given(text=hostile_text)
def test_info_prints_no_raw_control_character_from_a_checkpoint(tmp_path_factory, gen2d_path, capsys, text):
    path = _hostile_checkpoint(tmp_path_factory.mktemp("info") / "g.pt", gen2d_path, text)
    with watchdog(HANG):
        code = main(["info", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert is_printable(out + err), repr(out)
    assert "command" in out and "nested" in out


@GENERATED
@given(text=hostile_text)
def test_error_messages_and_file_names_reach_stderr_escaped(tmp_path_factory, gen2d_path, capsys, text):
    folder = tmp_path_factory.mktemp("err")
    payload = read_payload(gen2d_path)
    payload["kind"] = text
    bad_kind = folder / "k.pt"
    save_payload(bad_kind, payload)
    payload = read_payload(gen2d_path)
    payload["format_version"] = text
    bad_version = folder / "v.pt"
    save_payload(bad_version, payload)
    safe_name = text.replace("/", "_").replace("\x00", "_")[:100] or "_"
    named = folder / (safe_name + ".pt")
    named.write_bytes(b"not a checkpoint")
    for path in (bad_kind, bad_version, named):
        code, err = run_main(capsys, "info", path)
        assert code == 1 and err.startswith("latent-explorer: error: ")
        assert is_printable(err), repr(err)


def test_history_and_atlas_attributes_reach_info_escaped(tmp_path, small_atlas, capsys):
    text = "".join(ATTACKS).replace("\x00", "")  # HDF5 strings hold no NUL
    hist = tmp_path / "h.history.h5"
    h = small_history()
    h.name = "gan2d" + text
    h.save(hist)
    atlas = tmp_path / "a.atlas.h5"
    shutil.copy(small_atlas, atlas)
    with h5py.File(atlas, "a") as f:
        f.attrs["method"] = "full" + text
    weird = tmp_path / "x.h5"
    with h5py.File(weird, "w") as f:
        f.attrs["format"] = "evil" + text
    for path in (hist, atlas, weird):
        with watchdog(HANG):
            main(["info", str(path)])
        out, err = capsys.readouterr()
        assert is_printable(out + err), repr(out + err)
    assert History.load(hist).name.startswith("gan2d\\x1b]0;pwned\\x07")


def test_cards_figure_titles_and_window_labels_get_printable_names(tmp_path, gen2d_path):
    from latent_explorer.training.card import card_text

    text = "".join(ATTACKS)
    path = tmp_path / ("g" + text.replace("\x00", "") + ".pt")
    _hostile_checkpoint(path, gen2d_path, text)
    ck = load_checkpoint(path)
    assert is_printable(ck.name) and ck.name.startswith("g\\x1b")
    entry = next(e for e in scan(tmp_path) if e.path == path)
    assert is_printable(entry.name)
    payload = read_payload(path)
    payload["meta"] = {**payload["meta"], "epochs": 1, "seed": 0, "batch_size": 2, "lr": 0.1, "beta1": 0.5, "seconds": 1.0,
                       "hardware": text, "training_images": 10, "data_checksum": text, "torch": text}
    save_payload(path, payload)
    assert is_printable(card_text(path, atlas={}))


def test_window_title_model_list_and_error_dialogs_show_names_escaped(qtbot, app_env, tmp_path, gen2d_path,
                                                                      monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    text = "".join(ATTACKS).replace("\x00", "")
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(gen2d_path, folder / f"g{text}.pt")
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, message: shown.append(title + message))
    w = MainWindow(folder, CLASSIFIER, make_settings(), atlas_resolution=lambda d, c: 4, autobuild_atlas=False)
    qtbot.addWidget(w)
    w.open_initial(None)
    assert w.state.model is not None
    items = [w.model_combo.itemText(i) for i in range(w.model_combo.count())]
    assert items and all(is_printable(t) for t in items), items
    assert is_printable(w.windowTitle())
    bad = folder / f"bad{text}.pt"
    bad.write_bytes(b"not a checkpoint")
    w.open_path(bad)
    assert shown and all(is_printable(t) for t in shown), shown
    w.atlases.shutdown()
    w.close()


# ------------------------------------------------------------------ 2. what a model file may hold

DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.complex64, torch.complex128, torch.int8, torch.int64,
          torch.uint8, torch.bool]
CONVERTED_DTYPES = (torch.float16, torch.bfloat16, torch.float64)


class _Payload(dict):
    """A checkpoint payload with a short repr (hypothesis prints its arguments on a failure)."""

    def __repr__(self) -> str:
        return f"<payload of {len(self.get('state_dict', {}))} tensors>"


@pytest.fixture(scope="module")
def gen2d_state(gen2d_path) -> dict:
    return _Payload(read_payload(gen2d_path))


def _save_state(path: Path, payload: dict, state: dict) -> Path:
    save_payload(path, {**payload, "state_dict": state})
    return path


@GENERATED
@given(dtype=st.sampled_from(DTYPES), which=st.integers(0, 100), everything=st.booleans())
def test_each_weight_dtype_is_converted_with_a_note_or_refused(tmp_path_factory, gen2d_state, dtype, which,
                                                               everything):
    state = dict(gen2d_state["state_dict"])
    floats = sorted(k for k, v in state.items() if v.is_floating_point())
    chosen = floats if everything else [floats[which % len(floats)]]
    for k in chosen:
        state[k] = state[k].to(dtype)
    path = _save_state(tmp_path_factory.mktemp("dtype") / "g.pt", gen2d_state, state)
    if dtype in CONVERTED_DTYPES:
        ck = load_checkpoint(path)
        assert ck.notes and str(dtype).removeprefix("torch.") in ck.notes[0] and "converted to float32" in ck.notes[0]
        assert all(v.dtype == gen2d_state["state_dict"][k].dtype for k, v in ck.model.state_dict().items())
        assert "loader notes" in load_checkpoint.__globals__["describe"](path)
    else:
        with pytest.raises(CheckpointError, match=f"weight (\\S+) is {str(dtype).removeprefix('torch.')}, "
                                                  f"expected float32") as info:
            load_checkpoint(path)
        assert str(path) in str(info.value) and re.search(r"weight (\S+) is", str(info.value)).group(1) in chosen


@GENERATED
@given(dtype=st.sampled_from([torch.float32, *CONVERTED_DTYPES, torch.complex64]), which=st.integers(0, 100),
       index=st.integers(0, 10 ** 6), bad=st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300]),
       imaginary=st.booleans())
def test_every_tensor_is_checked_finite_whatever_its_dtype(tmp_path_factory, gen2d_state, dtype, which, index, bad,
                                                          imaginary):
    state = dict(gen2d_state["state_dict"])
    floats = sorted(k for k, v in state.items() if v.is_floating_point())
    key = floats[which % len(floats)]
    if bad == 1e300:  # finite in float64 only: it becomes inf in float32 and must be refused then
        dtype = torch.complex128 if dtype.is_complex else torch.float64
    t = state[key].to(dtype).clone()
    flat = t.view(-1)
    # complex: a NaN in the real or the imaginary part; refused as complex whatever the values
    flat[index % flat.numel()] = (complex(0, bad) if imaginary else complex(bad, 0)) if dtype.is_complex else bad
    state[key] = t
    path = _save_state(tmp_path_factory.mktemp("finite") / "g.pt", gen2d_state, state)
    with pytest.raises(CheckpointError, match="NaN or infinite|complex(64|128), expected float32") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.fixture(scope="module")
def huge_generator(tmp_path_factory, gen2d_state) -> Path:
    """Finite weights of 3e38: about half the latent box gives NaN images."""
    state = dict(gen2d_state["state_dict"])
    state["dense.weight"] = torch.full_like(state["dense.weight"], 3e38)
    return _save_state(tmp_path_factory.mktemp("huge") / "huge.pt", gen2d_state, state)


@GENERATED
@given(points=st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=1, max_size=40))
def test_a_non_finite_image_is_never_a_class(huge_generator, classifier, points):
    from latent_explorer.models.engine import Engine, RenderRequest
    from latent_explorer.models.frame import INVALID_IMAGE, NO_DIGIT

    engine = Engine(load_checkpoint(huge_generator), classifier)
    images = engine.images(np.asarray(points, np.float32))
    bad = ~np.isfinite(images.reshape(len(images), -1)).all(1)
    verdict = engine.judge(images)
    assert (verdict.map_labels[bad] == NO_DIGIT).all() and not verdict.is_digit[bad].any()
    assert (verdict.valid == ~bad).all() and (verdict.confidence[bad] == 0).all()
    for p, invalid in zip(points[:5], bad[:5]):
        frame = engine.render(RenderRequest(point=p))
        assert frame.valid == (not invalid)
        assert (frame.describe() == INVALID_IMAGE) == invalid
        assert frame.label == NO_DIGIT if invalid else True


def test_invalid_images_in_atlas_figures_evaluate_compare_project_and_neighbours(tmp_path, huge_generator,
                                                                                 classifier, capsys, mnist_dir):
    from latent_explorer.models.engine import Engine, RenderRequest
    from latent_explorer.models.figures import point_figure
    from latent_explorer.models.frame import INVALID_IMAGE, NO_DIGIT
    from latent_explorer.training.evaluate import evaluate_checkpoint

    atlas = build_full(load_checkpoint(huge_generator), classifier, 16)
    engine = Engine(load_checkpoint(huge_generator), classifier)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 16)] * 2, indexing="ij"), -1).reshape(-1, 2)
    bad = ~np.isfinite(engine.images(grid).reshape(len(grid), -1)).all(1)
    assert bad.any() and (atlas.labels.reshape(-1)[bad] == NO_DIGIT).all()
    atlas.save(tmp_path / "huge.atlas.h5")
    # the point figure's title says so
    point = tuple(grid[np.flatnonzero(bad)[0]])
    frame = engine.render(RenderRequest(point=point))
    fig = point_figure(frame, atlas.labels, atlas.confidence, model="huge")
    assert INVALID_IMAGE in fig._suptitle.get_text()
    with pytest.raises(CheckpointError, match="invalid image"):
        evaluate_checkpoint(huge_generator, CLASSIFIER, mnist_dir, samples=100)
    p = ",".join(repr(float(v)) for v in point)
    refused(capsys, ["compare", huge_generator, SHIPPED / "gan2d.pt", "--point", p], str(huge_generator),
            "invalid image")
    refused(capsys, ["neighbours", "--model", huge_generator, "--point", p, "--limit", 100], "invalid image")
    digit = tmp_path / "d.png"
    from PIL import Image

    Image.fromarray(np.pad(np.full((14, 6), 255, np.uint8), 7)).save(digit)
    refused(capsys, ["project", digit, "--model", huge_generator], "invalid image")


def test_an_atlas_whose_confidence_is_not_finite_is_refused(tmp_path, small_atlas):
    for value in (np.nan, np.inf, -0.5, 2.0):
        path = tmp_path / "c.atlas.h5"
        shutil.copy(small_atlas, path)
        with h5py.File(path, "a") as f:
            c = f["confidence"][()]
            c.flat[0] = value
            f["confidence"][...] = c
        with pytest.raises(AtlasError, match="confidences outside 0..1"):
            load_atlas(path)


# ------------------------------------------------------------------ 3. what an archive may do (install-models)

import io as _io  # noqa: E402
import json as _json  # noqa: E402
import tarfile  # noqa: E402

from latent_explorer.models.model_archive import FORMAT as ARCHIVE_FORMAT  # noqa: E402
from latent_explorer.models.model_archive import MANIFEST, ArchiveError, install, pack  # noqa: E402

EVALUATION = {"strong_judge_error": 0.25, "frechet_distance": 12.5, "confident_share": 0.9}


@pytest.fixture(scope="module")
def archive_parts(tmp_path_factory, gen2d_path, classifier) -> tuple[list[Path], dict]:
    """The four files of one real model (checkpoint with its evaluation, atlas, history, card) and a manifest."""
    folder = tmp_path_factory.mktemp("archive")
    payload = read_payload(gen2d_path)
    payload["meta"]["evaluation"] = dict(EVALUATION)
    save_payload(folder / "gan2d.pt", payload)
    build_full(load_checkpoint(folder / "gan2d.pt"), classifier, 4).save(folder / "gan2d.atlas.h5")
    small_history().save(folder / "gan2d.history.h5")
    (folder / "gan2d.md").write_text("# Model card: gan2d\n")
    files = [folder / n for n in ("gan2d.pt", "gan2d.atlas.h5", "gan2d.history.h5", "gan2d.md")]
    manifest = {"format": ARCHIVE_FORMAT, "version": 1, "models": {"gan2d": {"evaluation": dict(EVALUATION),
                                                                            "epochs_done": 3}}}
    return files, manifest


def _archive(parts, path: Path, manifest_change=None, member_change=None) -> Path:
    files, manifest = parts
    pack(path, files, manifest)
    with tarfile.open(path) as tar:
        members = [[m, tar.extractfile(m).read()] for m in tar.getmembers()]
    entry = next(e for e in members if e[0].name == MANIFEST)
    if manifest_change is not None:
        m = _json.loads(entry[1])
        body = manifest_change(m)
        entry[1] = body if isinstance(body, bytes) else _json.dumps(m).encode()
    if member_change is not None:
        member_change(members)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if info.isfile() and not info.issparse():
                info.size = len(data)
            tar.addfile(info, _io.BytesIO(data) if info.size else None)
    return path


def _assert_nothing_installed(into: Path, before: dict[str, bytes]) -> None:
    assert {p.name: p.read_bytes() for p in into.iterdir()} == before  # no file, no staging folder


def _set_path(obj, keys, value):
    for k in keys[:-1]:
        obj = obj.setdefault(k, {}) if isinstance(obj, dict) else obj
    obj[keys[-1]] = value


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=8)
MANIFEST_PLACES = [("models", "gan2d", "evaluation", "strong_judge_error"),
                   ("models", "gan2d", "evaluation", "frechet_distance"), ("models", "gan2d", "epochs_done"),
                   ("models", "gan2d", "evaluation"), ("models", "gan2d"), ("files", "gan2d.pt", "bytes"),
                   ("files", "gan2d.pt", "sha256"), ("files", "gan2d.md"), ("files",), ("models",), ("format",)]


@GENERATED
@given(place=st.sampled_from(MANIFEST_PLACES), value=json_values, depth=st.integers(0, 3000))
def test_a_manifest_of_the_wrong_shape_installs_nothing(tmp_path_factory, archive_parts, capsys, place, value, depth):
    tmp = tmp_path_factory.mktemp("manifest")
    into = tmp / "into"
    into.mkdir()
    (into / "gan2d.md").write_bytes(b"kept")  # an earlier file: --force must not lose it on a refusal
    before = {"gan2d.md": b"kept"}

    def change(m):
        _set_path(m, list(place), value)
        if depth > 8:  # a deeply nested value (json.loads recursed into Python's limit)
            _set_path(m, list(place), "@")
            return _json.dumps(m).encode().replace(b'"@"', b"[" * depth + b"]" * depth)
    path = _archive(archive_parts, tmp / "a.tar", manifest_change=change)
    code, err = run_main(capsys, "install-models", path, "--into", into, "--force")
    if code == 0:  # a value the manifest may hold (e.g. a number where one is expected): all files installed
        assert sorted(p.name for p in into.iterdir()) == sorted(p.name for p in archive_parts[0])
        return
    assert code == 1 and err.startswith("latent-explorer: error: ") and str(path) in err, err
    assert is_printable(err)
    _assert_nothing_installed(into, before)


def _sparse(members):
    info = tarfile.TarInfo("gan2d.md")
    members[:] = [e for e in members if e[0].name != "gan2d.md"]
    info.type = tarfile.GNUTYPE_SPARSE
    info.size = 0
    members.append([info, b""])


def _special(kind):
    def change(members):
        members[:] = [e for e in members if e[0].name != "gan2d.md"]
        info = tarfile.TarInfo("gan2d.md")
        info.type, info.size = kind, 0
        members.append([info, b""])
    return change


MEMBER_CASES = [("sparse", _sparse, "sparse"), ("fifo", _special(tarfile.FIFOTYPE), "not a regular file"),
                ("device", _special(tarfile.CHRTYPE), "not a regular file"),
                ("folder", _special(tarfile.DIRTYPE), "not a regular file"),
                ("hard link", _special(tarfile.LNKTYPE), "is a link"),
                ("contiguous", _special(tarfile.CONTTYPE), "not a regular file")]


@pytest.mark.parametrize("name,change,words", MEMBER_CASES, ids=[c[0] for c in MEMBER_CASES])
def test_sparse_and_special_members_are_refused_before_anything_is_written(tmp_path, archive_parts, name, change,
                                                                           words):
    path = _archive(archive_parts, tmp_path / "a.tar", member_change=change)
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(ArchiveError, match=words):
        install(path, into)
    _assert_nothing_installed(into, {})


@GENERATED
@given(cut=st.integers(1, 10 ** 7), declared=st.integers(0, 2 ** 40))
def test_members_declaring_more_than_the_archive_holds_write_nothing(tmp_path_factory, archive_parts, cut, declared):
    tmp = tmp_path_factory.mktemp("sizes")
    path = _archive(archive_parts, tmp / "a.tar")
    blob = bytearray(path.read_bytes())
    # a member's header declaring another size (octal field at 124), or the archive cut short
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name == "gan2d.pt")
    field = f"{declared:011o}".encode()[-11:] + b"\0"
    blob[member.offset + 124:member.offset + 136] = field
    chk = sum(blob[member.offset:member.offset + 148]) + 8 * 32 + sum(blob[member.offset + 156:member.offset + 512])
    blob[member.offset + 148:member.offset + 156] = f"{chk:06o}\0 ".encode()
    bad = tmp / "b.tar"
    bad.write_bytes(bytes(blob[:max(1024, len(blob) - cut % len(blob))]) if cut % 2 else bytes(blob))
    into = tmp / "into"
    into.mkdir()
    written = []
    with memory_ceiling():
        try:
            install(bad, into)
        except ArchiveError as exc:
            assert str(bad) in str(exc)
            assert_not_an_allocation_failure(exc)
        else:
            written = sorted(p.name for p in into.iterdir())
    if not written:
        _assert_nothing_installed(into, {})


def test_an_archive_whose_checkpoint_is_not_finite_installs_nothing(tmp_path, archive_parts):
    files, manifest = archive_parts
    folder = tmp_path / "parts"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f.name)
    payload = read_payload(folder / "gan2d.pt")
    payload["state_dict"]["bn1.running_var"][0] = float("nan")
    save_payload(folder / "gan2d.pt", payload)
    path = _archive(([folder / f.name for f in files], manifest), tmp_path / "a.tar")
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(ArchiveError, match="NaN or infinite"):
        install(path, into)
    _assert_nothing_installed(into, {})


def test_an_archive_installs_all_its_files_or_none(tmp_path, archive_parts):
    from latent_explorer.models.model_archive import _move_all

    path = _archive(archive_parts, tmp_path / "a.tar")
    into = tmp_path / "into"
    into.mkdir()
    assert len(install(path, into)) == 4
    before = {p.name: p.read_bytes() for p in into.iterdir()}
    # a move that fails half way (the third file is gone from the staging folder): the first two go back
    staging = tmp_path / "staging"
    staging.mkdir()
    for n in ("gan2d.atlas.h5", "gan2d.history.h5"):
        (staging / n).write_bytes(b"new")
    with pytest.raises(FileNotFoundError):
        _move_all(staging, into, ["gan2d.atlas.h5", "gan2d.history.h5", "gan2d.md"], set(before))
    assert {p.name: p.read_bytes() for p in into.iterdir()} == before


# ------------------------------------------------------------------ 4. images, calibration, caches, downloads

@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    return load_split("test", mnist_dir).images[:200]


@GENERATED
@given(index=st.integers(0, 199), scale=st.sampled_from([1.0, 0.5, 0.9]))
def test_16_and_32_bit_greyscale_images_read_as_the_same_digit_in_8_bits(tmp_path_factory, test_digits, index,
                                                                         scale):
    from PIL import Image

    from latent_explorer.models.digitimage import load_digit_image

    tmp = tmp_path_factory.mktemp("wide")
    digit = np.round(test_digits[index].astype(np.float64) * scale)
    Image.fromarray(digit.astype(np.uint8)).save(tmp / "d8.png")
    Image.fromarray((digit * 257).astype(np.uint16)).save(tmp / "d16.png")
    Image.fromarray((digit * 257).astype(np.int32)).save(tmp / "d32.tif")
    Image.fromarray((digit / 255).astype(np.float32)).save(tmp / "dF.tif")
    Image.fromarray((255 - digit).astype(np.float32)).save(tmp / "dF255.tif")  # ink dark on light, 0..255 floats
    Image.fromarray((255 - digit).astype(np.uint8)).save(tmp / "d8inv.png")  # the same dark-on-light picture
    ref, ref_inv = load_digit_image(tmp / "d8.png"), load_digit_image(tmp / "d8inv.png")
    for name, want in (("d16.png", ref), ("d32.tif", ref), ("dF.tif", ref), ("dF255.tif", ref_inv)):
        got = load_digit_image(tmp / name)  # each wide picture reads as the same picture in 8 bits
        assert np.abs(got - want).max() < 0.02, name
        assert abs(int((got > 0).sum()) - int((want > 0).sum())) <= 2, name


NOT_RASTER = {"eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n",
              "eps-binary": b"\xc5\xd0\xd3\xc6" + b"\x20\x00\x00\x00" * 6 + b"%!PS-Adobe-3.0 EPSF-3.0\n",
              "pdf": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
              "psd": b"8BPS\x00\x01" + b"\x00" * 40, "ico": b"\x00\x00\x01\x00\x01\x00" + b"\x00" * 40,
              "svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}


@pytest.mark.parametrize("kind", sorted(NOT_RASTER))
@pytest.mark.parametrize("suffix", [".png", ".eps", ".jpg"])
def test_only_the_named_raster_formats_are_decoded_whatever_the_name(tmp_path, capsys, kind, suffix):
    from latent_explorer.models.digitimage import DigitImageError, load_digit_image

    path = tmp_path / f"x{suffix}"
    path.write_bytes(NOT_RASTER[kind])
    with pytest.raises(DigitImageError, match="not an image in one of the formats read here"):
        load_digit_image(path)
    refused(capsys, ["project", path], str(path), "PNG, JPEG")


def _calibration_copy(tmp: Path, **changes) -> Path:
    from latent_explorer.models.digitness import calibration_path, load_calibration

    cal = load_calibration(calibration_path(CLASSIFIER))
    for k, v in changes.items():
        setattr(cal, k, v)
    shutil.copy(CLASSIFIER, tmp / "classifier.pt")
    cal.save(calibration_path(tmp / "classifier.pt"))
    return tmp / "classifier.pt"


@GENERATED
@given(threshold=st.one_of(st.floats(-1e300, 1e300), st.sampled_from([1e300, -1e300, 25.0, 8.0, -3.0])),
       spread=st.one_of(st.none(), st.floats(1e-12, 1e6)), mean=st.one_of(st.none(), st.floats(-1e4, 1e4)))
def test_an_absurd_calibration_is_refused_and_a_loaded_one_is_checked_on_known_digits(tmp_path_factory, threshold,
                                                                                    spread, mean):
    from latent_explorer.models.digitness import calibration_path, judge, load_calibration, probe_images

    good = load_calibration(calibration_path(CLASSIFIER))
    zstats = dict(good.zstats)
    if spread is not None or mean is not None:
        m, s = zstats["penultimate"]
        zstats["penultimate"] = (m if mean is None else mean, s if spread is None else spread)
    path = _calibration_copy(tmp_path_factory.mktemp("cal"), threshold=threshold, zstats=zstats)
    try:
        ck = load_checkpoint(path, expect="classifier")
    except CheckpointError as exc:
        assert str(calibration_path(path)) in str(exc)
        assert ("not those of a calibration" in str(exc) or "not that of a calibration" in str(exc)
                or "fails its check on known images" in str(exc)), exc
        return
    images, expected = probe_images()  # what was accepted tells the known digits apart
    assert (judge(ck.model, images).is_digit == expected).all()
    assert abs(threshold) <= 20


def test_a_missing_calibration_is_said_not_silent(tmp_path, capsys):
    from latent_explorer.models.digitness import CalibrationWarning

    shutil.copy(CLASSIFIER, tmp_path / "classifier.pt")
    with pytest.warns(CalibrationWarning, match="check is off"):
        load_checkpoint(tmp_path / "classifier.pt")
    code = main(["render", "--point", "0,0", "--classifier", str(tmp_path / "classifier.pt"), "-o",
                 str(tmp_path / "p.png")])
    err = capsys.readouterr().err
    assert code == 0 and "latent-explorer: warning: " in err and "classifier.ood.npz" in err and "calibrate" in err


@pytest.fixture(scope="module")
def cached_index(tmp_path_factory, classifier, mnist_dir):
    from latent_explorer.models.neighbours import cache_path, open_index

    folder = tmp_path_factory.mktemp("nbcache")
    index = open_index(classifier, mnist_dir, cache=folder, limit=300)
    return folder, cache_path(folder, index.key), index


NB_EDITS = ["reorder", "garbage stats", "negative stats", "other features", "raw byte"]


@GENERATED
@given(edit=st.sampled_from(NB_EDITS), seed=st.integers(0, 2 ** 16), forged=st.booleans())
def test_a_neighbour_cache_is_tied_to_the_content_it_was_made_from(tmp_path_factory, cached_index, classifier,
                                                                  mnist_dir, edit, seed, forged):
    from latent_explorer.models.neighbours import _ARRAYS, _content_digest, cache_path, open_index

    src_folder, src, first = cached_index
    folder = tmp_path_factory.mktemp("nb")
    path = cache_path(folder, first.key)
    path.parent.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with np.load(src) as z:
        arrays = {n: z[n].copy() for n in z.files}
    if edit == "reorder":
        perm = rng.permutation(len(arrays["features"]))
        while (perm == np.arange(len(perm))).all():
            perm = rng.permutation(len(perm))
        arrays["features"] = arrays["features"][perm]
    elif edit == "garbage stats":
        arrays["stats"] = rng.uniform(-10, 10, (2, 3)).astype(np.float32)
        arrays["stats"][0] = [3.0, 5.0, 0.1]  # at least one row out of order
    elif edit == "negative stats":
        arrays["stats"] = -np.abs(arrays["stats"])
    elif edit == "other features":
        arrays["features"] = np.roll(arrays["features"], 1 + seed % 7, axis=1)
    else:
        arrays["pca_coords"].flat[seed % arrays["pca_coords"].size] += 1.0
    if forged:  # the digest recomputed: only the spot checks can tell
        arrays["content"] = np.array(_content_digest(str(arrays["key"]), {n: arrays[n] for n in _ARRAYS}))
    np.savez(path, **arrays)
    notes: list[str] = []
    again = open_index(classifier, mnist_dir, cache=folder, limit=300, notes=notes)
    if edit == "raw byte" and forged and not notes:  # one coordinate off among 300 x 50: the spot checks may miss it
        return
    assert notes and "not used" in notes[0] and "rebuilt" in notes[0], (edit, forged, notes)
    np.testing.assert_allclose(again.features, first.features, atol=1e-6)
    np.testing.assert_allclose(again.stats, first.stats, atol=1e-6)


class _Server:
    """A local HTTP server on 127.0.0.1: serves files from ``folder``, or (``silent``) accepts
    connections and never answers."""

    def __init__(self, folder: Path | None, silent: bool = False) -> None:
        import http.server
        import socket
        import threading

        self.silent = silent
        if silent:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(8)
            self.port = self.sock.getsockname()[1]
            self.held = []
            self.thread = threading.Thread(target=self._accept, daemon=True)
        else:
            handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **kw)  # noqa
            http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **kw: None
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.port = self.httpd.server_address[1]
            self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # accepted, never answered

    def close(self):
        if self.silent:
            self.sock.close()
            for c in self.held:
                c.close()
        else:
            self.httpd.shutdown()
            self.httpd.server_close()


def test_download_times_out_retries_and_leaves_no_part_file(tmp_path, mnist_dir):
    from latent_explorer.training import data as data_mod

    silent, good = _Server(None, silent=True), _Server(mnist_dir)
    try:
        target = tmp_path / "data"
        target.mkdir()
        (target / ".t10k-labels-idx1-ubyte.gz.abc123.part").write_bytes(b"")  # left by a killed run
        lines: list[str] = []
        with watchdog(HANG):
            with pytest.raises(DataError, match="could not download from any mirror") as info:
                data_mod.download(target, mirrors=(silent.url,), log=lines.append, timeout=0.5, pause=0.1)
        assert "timed out" in str(info.value).lower()
        assert sum("downloading" in line for line in lines) == data_mod.ATTEMPTS  # retried
        assert not list(target.glob("*.part")) and not list(target.glob(".*.part"))
        # a silent mirror first, a working one next: the data arrives
        with watchdog(HANG):
            data_mod.download(target, mirrors=(silent.url, good.url), log=lines.append, timeout=0.5, pause=0.1)
        assert verify(target) and not list(target.glob(".*.part"))
    finally:
        silent.close()
        good.close()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_download_fetches_a_damaged_data_file_again(tmp_path, mnist_dir, capsys, damage):
    from latent_explorer.training import data as data_mod

    good = _Server(mnist_dir)
    try:
        target = tmp_path / "data"
        target.mkdir()
        for name in data_mod.RAW_MD5:
            shutil.copy(mnist_dir / name, target / name)
        bad = target / "train-labels-idx1-ubyte.gz"
        blob = bad.read_bytes()
        bad.write_bytes({"truncated": blob[:len(blob) // 2], "garbage": b"\x1f\x8b" + b"x" * 100,
                         "empty": b""}[damage])
        lines: list[str] = []
        data_mod.download(target, mirrors=(good.url,), log=lines.append, timeout=5)
        assert any("damaged" in line and "fetching it again" in line for line in lines), lines
        assert verify(target)
    finally:
        good.close()


# ------------------------------------------------------------------ 5. results lost, checks off, answers that disagree

BENCH_PLACES = ["items", "runs", "machine", "item_seconds", None]


@GENERATED
@given(place=st.sampled_from(BENCH_PLACES), value=json_values, depth=st.integers(0, 5000))
def test_bench_refuses_an_odd_earlier_results_file_before_running(tmp_path_factory, capsys, place, value, depth):
    tmp = tmp_path_factory.mktemp("bench")
    earlier = {"items": {"frame": {"ms": 1.0}}, "runs": {}, "machine": {"date": "d", "hardware": "h"},
               "item_seconds": {}}
    if place is None:
        body = (b"[" * depth + b"]" * depth) if depth > 100 else _json.dumps(value).encode()
    else:
        earlier[place] = value
        body = _json.dumps(earlier).encode()
    path = tmp / "b.json"
    path.write_bytes(body)
    out = tmp / "B.md"
    from latent_explorer.app.bench.run import read_results

    try:
        read_results(path)
    except ValueError:
        refused(capsys, ["bench", "--only", "frame", "--json", path, "--out", out], str(path), "move it away")
        assert path.read_bytes() == body and not out.exists()  # kept, and nothing ran
        return
    # shaped like results: the merge after the work cannot fail
    from latent_explorer.app.bench.run import merge_results

    res = {"machine": {"date": "d2", "hardware": "h"}, "command": "c", "quick": True, "items": {"find": {}},
           "seconds": 1.0, "item_seconds": {"find": 1.0}}
    merged = merge_results(read_results(path), res)
    assert "find" in merged["items"] and "frame" in merged["items"] or place == "items"


def test_bench_reads_a_large_earlier_results_file_whole_and_checks_outputs_first(tmp_path, capsys):
    from latent_explorer.app.bench.run import merge_results, read_results

    path = tmp_path / "b.json"
    big = {"items": {f"item{i}": {"values": list(range(2000))} for i in range(7000)},
           "machine": {"date": "d", "hardware": "h"}}
    path.write_text(_json.dumps(big))
    assert path.stat().st_size > 64 * 2 ** 20  # was read only to 64 MB, then replaced by the new run alone
    res = {"machine": {"date": "d2", "hardware": "h"}, "command": "c", "quick": True, "items": {"find": {}},
           "seconds": 1.0, "item_seconds": {"find": 1.0}}
    assert len(merge_results(read_results(path), res)["items"]) == 7001
    refused(capsys, ["bench", "--only", "", "--json", tmp_path / "n.json", "--out", tmp_path / "B.md"],
            "--only", "at least one item")
    refused(capsys, ["bench", "--only", " , ", "--json", tmp_path / "n.json", "--out", tmp_path / "B.md"], "--only")
    refused(capsys, ["bench", "--only", "frame", "--json", tmp_path / "n.json", "--out", tmp_path / "no" / "B.md"],
            "does not exist")
    refused(capsys, ["bench", "--only", "frame", "--json", tmp_path / "no" / "b.json", "--out", tmp_path / "B.md"],
            "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


@pytest.mark.parametrize("argv,words", [
    (["project", "{img}", "-o", "{tmp}/x.xyz"], ("unsupported image format", "'.xyz'")),
    (["neighbours", "--point", "0,0", "-o", "{tmp}/x.xyz"], ("unsupported image format",)),
    (["render", "--point", "1.0000001,0", "-o", "{tmp}/p.png"], ("1.0000001",)),
    (["neighbours", "--point", "1.0000001,0"], ("1.0000001",)),
    (["compare", "--point", "0,-1.00000001"], ("-1.00000001",)),
    (["project", "{img}", "--pixel-weight", "1e308"], ("--pixel-weight", "from 0 to 1000")),
    (["render", "--point", "0,0", "--ablate", "act2:7-3", "-o", "{tmp}/p.png"], ("--ablate", "runs backwards")),
    (["train", "all", "--minutes", "1", "--models", "gan2d,gan2d", "--out", "{tmp}/run"], ("more than once",)),
], ids=["project-xyz", "neighbours-xyz", "render-point", "neighbours-point", "compare-point", "pixel-weight",
        "ablate-backwards", "train-all-twice"])
def test_inputs_refused_before_any_work_with_the_value_as_given(tmp_path, capsys, argv, words):
    img = tmp_path / "img.png"
    from PIL import Image

    Image.fromarray(np.pad(np.full((14, 6), 255, np.uint8), 7)).save(img)
    args = [a.format(tmp=tmp_path, img=img) for a in argv]
    refused(capsys, args, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]  # nothing written


def test_two_atlas_builds_to_the_same_file_at_once_never_both_succeed(tmp_path, gen2d_path):
    out = tmp_path / "a.atlas.h5"
    cmd = [sys.executable, "-m", "latent_explorer.app", "atlas", "build", str(gen2d_path), "--resolution", "8",
           "-o", str(out), "--method", "full"]
    procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=HANG), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 1], results
    assert "already exists" in next(e for c, e in results if c == 1)
    load_atlas(out)
    # the same rule at its root: a file that appears while an exclusive writer works is never replaced
    from latent_explorer.models.fileio import atomic_path

    target = tmp_path / "x.bin"
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_path(target, exclusive=True) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_report_on_a_history_declaring_millions_of_steps_stays_bounded(tmp_path, gen2d_path, capsys):
    from latent_explorer.training.report import PLOTTED_STEPS, smooth

    values = np.random.default_rng(0).random(10_001)
    window = 37
    slow = np.array([values[max(0, i + 1 - window):i + 1].mean() for i in range(len(values))])
    np.testing.assert_allclose(smooth(values, window), slow, rtol=1e-9)  # the vectorised average is the same
    np.testing.assert_allclose(smooth(values, window, 7), slow[::7], rtol=1e-9)
    h = small_history()
    h.g_loss = [np.zeros(4_000_000, np.float32), np.ones(4_000_000, np.float32)]
    h.d_loss = [np.zeros(4_000_000, np.float32), np.ones(4_000_000, np.float32)]
    ckpt = tmp_path / "g.pt"
    shutil.copy(gen2d_path, ckpt)
    h.generator_digest = load_checkpoint(ckpt).digest
    h.save(tmp_path / "g.history.h5")
    # the peak resident size of a fresh process (VmHWM belongs to its own memory; ru_maxrss would carry this
    # process's over the fork)
    probe = ("import re, sys; from latent_explorer.app.cli import main; code = main(sys.argv[1:]); "
             "print('peak', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
             "sys.exit(code)")
    r = subprocess.run([sys.executable, "-c", probe, "report", str(ckpt)], env=ENV, capture_output=True, text=True,
                       timeout=HANG)
    assert r.returncode == 0, r.stderr
    peak = int(r.stdout.split("peak")[1]) * 1024
    assert peak < 1 << 30, f"{peak / 2 ** 20:.0f} MB"  # 1.5 GB and 55 s before (8 million plotted points)
    assert PLOTTED_STEPS <= 10_000


def test_neighbours_and_render_say_the_same_at_the_same_point(tmp_path, monkeypatch, capsys, mnist_dir):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    atlas = load_atlas(SHIPPED / "gan2d.atlas.h5")
    axis = np.linspace(-1, 1, atlas.resolution)
    picks = [np.argwhere(atlas.labels == 10)[0], np.argwhere(atlas.labels < 10)[0]]
    for cell in picks:
        p = ",".join(repr(float(axis[i])) for i in cell)
        with watchdog(HANG):
            assert main(["render", "--point", p, "-o", str(tmp_path / "p.png"), "--force"]) == 0
        said = capsys.readouterr().out.split("image class ")[1].strip()
        with watchdog(HANG):
            assert main(["neighbours", "--point", p, "--limit", "100", "--data", str(mnist_dir)]) == 0
        out = capsys.readouterr().out
        assert f"image class {said};" in out, (said, out)
