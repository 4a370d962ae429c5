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
from pathlib import Path

import pytest

from latent_explorer.models.model_archive import MANIFEST, ArchiveError, check_archive, install
from latent_explorer.training.train_all import ARCHIVE_TARGET_BYTES, MODELS, TrainAll, check_plan

FILES = {"cgan2d.pt", "cgan2d.history.h5", "cgan2d.atlas.h5", "cgan2d.md"}


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
    proc = subprocess.run(
        [sys.executable, "-m", "latent_explorer.app", "train", "all", "--device", "cpu", "--minutes", "0.02",
         "--out", str(out), "--data", str(mnist_dir), "--limit", "128", "--batch-size", "64",
         "--atlas-resolution", "6", "--eval-samples", "100", "--models", "cgan2d"],
        env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout


def test_train_all_trains_evaluates_maps_cards_and_packs_without_qt(trained):
    out, stdout = trained
    assert "[1/1] cgan2d: training until" in stdout and "first epoch" in stdout and "evaluated" in stdout
    assert "atlas 6" in stdout and "wrote " in stdout
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
    out, _ = trained
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
    assert ck.meta["evaluation"] and load_atlas(target / "cgan2d.atlas.h5", ck.digest).resolution == 6
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
