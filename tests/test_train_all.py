"""``train all`` end to end on the CPU (tiny budget, data subset, one conditional model) in a
process where Qt cannot be imported, and ``install-models`` on its archive: installs, refuses
to overwrite, and refuses damaged or unsafe archives before touching the target folder."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from latent_explorer.models.model_archive import MANIFEST, ArchiveError, check_archive, install
from latent_explorer.training.train_all import (ARCHIVE_TARGET_BYTES, MIN_RESOLUTION, MODELS, TrainAll, check_plan,
                                               plan_finish)

FILES = {"cgan2d.pt", "cgan2d.history.h5", "cgan2d.atlas.h5", "cgan2d.md"}
MINUTES = 1.0
STARTUP_SECONDS = 15  # the interpreter and torch start before the command (and its budget) does


def _no_qt_env(tmp: Path) -> dict:
    fake = tmp / "noqt"
    (fake / "PySide6").mkdir(parents=True)
    (fake / "PySide6" / "__init__.py").write_text("raise ImportError('no Qt on this machine (test)')\n")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
                OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    tmp = tmp_path_factory.mktemp("train-all")
    env = _no_qt_env(tmp)
    probe = subprocess.run([sys.executable, "-c", "import PySide6"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "no Qt on this machine" in probe.stderr  # the fake really blocks Qt
    out = tmp / "run"
    env["LATENT_EXPLORER_CACHE"] = str(tmp / "cache")  # a fresh cache: the evaluation's one-off work is in the budget
    t0 = time.perf_counter()
    # the default evaluation (10,000 samples) and atlas (256 x 256 per digit) take minutes here: the
    # budget makes them fit
    proc = subprocess.run(
        [sys.executable, "-m", "latent_explorer.app", "train", "all", "--device", "cpu", "--minutes", str(MINUTES),
         "--out", str(out), "--data", str(mnist_dir), "--limit", "128", "--batch-size", "64", "--models", "cgan2d"],
        env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout, seconds


def test_the_budget_covers_the_whole_command(trained):
    """Within the budget (training, evaluation, atlas, card, packing); or, on a machine so loaded
    that one epoch and the smallest evaluation and atlas do not fit, the least work, said so."""
    out, stdout, seconds = trained
    assert "to fit the budget: evaluation on" in stdout and "(asked 10,000)" in stdout
    assert "done in" in stdout and "budget" in stdout
    manifest = json.loads(tarfile.open(out / "shipped-models.tar").extractfile(MANIFEST).read())
    entry = manifest["models"]["cgan2d"]
    assert 100 <= entry["eval_samples"] < 10000 and entry["atlas_resolution"] < 256  # what was done is recorded
    if "the budget is too small" in stdout:
        assert entry["eval_samples"] == 100 and entry["atlas_resolution"] == MIN_RESOLUTION[2], stdout
        assert "over: the least work per model did not fit" in stdout
    else:
        assert seconds <= 1.15 * MINUTES * 60 + STARTUP_SECONDS, stdout
    card = (out / "models" / "cgan2d.md").read_text()
    assert f"{entry['eval_samples']:,} samples" in card and f"resolution {entry['atlas_resolution']} per axis" in card


def test_finishing_work_is_scaled_down_to_fit_and_never_below_the_floors():
    big = plan_finish(1e9, 1e-3, 2, False, 10000, 256, reference_cached=True)
    assert (big.samples, big.resolution) == (10000, 256)
    fit = plan_finish(30.0, 1e-3, 2, False, 10000, 256, reference_cached=True)
    assert fit.seconds <= 30.0 and fit.samples < 10000 and fit.resolution < 256
    least = plan_finish(0.0, 1e-3, 3, True, 10000, 64, reference_cached=False)
    assert (least.samples, least.resolution) == (100, MIN_RESOLUTION[3]) and least.seconds > 0
    assert plan_finish(0.0, 1e-3, 2, False, 50, 6, True).resolution == 6  # asked below the floors: as asked


def test_train_all_trains_evaluates_maps_cards_and_packs_without_qt(trained):
    out, stdout, _ = trained
    assert "[1/1] cgan2d: training until" in stdout and "first epoch" in stdout and "evaluated" in stdout
    assert "atlas " in stdout and "wrote " in stdout
    archive = out / "shipped-models.tar"
    assert archive.stat().st_size < ARCHIVE_TARGET_BYTES
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert set(names) == FILES | {MANIFEST}
    for name in FILES:  # the digests are those of the files the run left
        assert manifest["files"][name]["sha256"] == hashlib.sha256((out / "models" / name).read_bytes()).hexdigest()
    entry = manifest["models"]["cgan2d"]
    assert entry["epochs_done"] >= 1 and 0 <= entry["evaluation"]["strong_judge_error"] <= 0.5
    card = (out / "models" / "cgan2d.md").read_text()
    assert "latent-explorer train gan --latent-dim 2 --conditional --epochs" in card and "train all" in card
    assert not (out / "models" / "cgan2d.state.pt").name in names  # the training state does not ship


def test_train_all_refuses_an_earlier_run_without_force(trained):
    out = trained[0]
    with pytest.raises(FileExistsError, match="shipped-models.tar: already exists"):
        check_plan(TrainAll(minutes=1, out=out, models=("cgan2d",)))
    assert check_plan(TrainAll(minutes=1, out=out, models=("cgan2d",), force=True)) == out / "models"


def test_budget_split_main_models_equal_variants_smaller_and_equal():
    shares = TrainAll(minutes=7, out=Path("x")).shares()
    assert abs(sum(shares.values()) - 1) < 1e-9 and set(shares) == set(MODELS)
    main = {shares[m] for m in ("gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d")}
    variants = {shares[m] for m in ("gan2d-relu", "gan2d-leakyrelu", "gan2d-prelu", "gan2d-elu")}
    assert len(main) == 1 and len(variants) == 1 and variants.pop() < main.pop()


def test_install_models_installs_and_never_overwrites_silently(trained, tmp_path, capsys):
    from latent_explorer.app.cli import main
    from latent_explorer.models.atlas import load_atlas
    from latent_explorer.models.checkpoint import load_checkpoint

    archive = trained[0] / "shipped-models.tar"
    target = tmp_path / "checkpoints"
    target.mkdir()
    assert main(["install-models", str(archive), "--into", str(target)]) == 0
    assert {p.name for p in target.iterdir()} == FILES  # no staging folder left behind
    ck = load_checkpoint(target / "cgan2d.pt", expect="cgan")
    resolution = json.loads(tarfile.open(archive).extractfile(MANIFEST).read())["models"]["cgan2d"]["atlas_resolution"]
    assert ck.meta["evaluation"] and load_atlas(target / "cgan2d.atlas.h5", ck.digest).resolution == resolution
    before = (target / "cgan2d.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["install-models", str(archive), "--into", str(target)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and str(target) in err
    assert (target / "cgan2d.pt").stat().st_mtime_ns == before
    assert main(["install-models", str(archive), "--into", str(target), "--force"]) == 0
    assert {p.name for p in target.iterdir()} == FILES


def _rewrite(src: Path, dst: Path, change) -> Path:
    """A copy of the archive with ``change(members)`` applied: a list of [TarInfo, bytes]."""
    with tarfile.open(src) as tar:
        members = [[m, tar.extractfile(m).read()] for m in tar.getmembers()]
    change(members)
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return dst


def _manifest(members) -> tuple[list, dict]:
    entry = next(e for e in members if e[0].name == MANIFEST)
    return entry, json.loads(entry[1])


def _flip_byte(members):
    entry = next(e for e in members if e[0].name == "cgan2d.pt")
    data = bytearray(entry[1])
    data[len(data) // 2] ^= 0xFF
    entry[1] = bytes(data)


def _rename(new):
    def change(members):
        next(e for e in members if e[0].name == "cgan2d.md")[0].name = new
    return change


def _add_link(members):
    info = tarfile.TarInfo("cgan2d.extra")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    members.append([info, b""])


def _drop(name):
    def change(members):
        members[:] = [e for e in members if e[0].name != name]
    return change


def _no_evaluation(members):
    entry, manifest = _manifest(members)
    manifest["models"]["cgan2d"]["evaluation"] = {}
    entry[1] = json.dumps(manifest).encode()


def _unlisted(members):
    info = tarfile.TarInfo("cgan3d.md")
    members.append([info, b"# not listed\n"])


@pytest.mark.parametrize("change, message", [
    (_flip_byte, "cgan2d.pt does not match its sha256"),
    (_rename("../cgan2d.md"), "leads out of the folder"),
    (_rename("/tmp/cgan2d.md"), "absolute path"),
    (_rename("sub/cgan2d.md"), "not a plain file name"),
    (_add_link, "is a link"),
    (_drop(MANIFEST), "no manifest.json"),
    (_drop("cgan2d.atlas.h5"), "in the manifest but not in the archive"),
    (_no_evaluation, "cgan2d has no evaluation"),
    (_unlisted, "'cgan3d.md' is not in the manifest"),
])
def test_install_refuses_damaged_or_unsafe_archives(trained, tmp_path, change, message):
    bad = _rewrite(trained[0] / "shipped-models.tar", tmp_path / "bad.tar", change)
    target = tmp_path / "checkpoints"
    target.mkdir()
    with pytest.raises(ArchiveError, match=message) as info:
        install(bad, target)
    assert str(bad) in str(info.value)
    assert list(target.iterdir()) == []  # nothing installed, no staging folder left


def test_check_archive_refuses_a_file_that_is_not_a_tar(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar archive at all" * 40)
    with pytest.raises(ArchiveError, match="junk.tar"):
        check_archive(junk)
