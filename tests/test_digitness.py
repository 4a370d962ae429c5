"""The classifier's "not a digit" check: its calibration figures on the shipped weights, a
blank image through the engine, label 10 in maps and atlases, the calibration file's checks,
and atlases written before the check (refused with a rebuild command; rebuilt by the CLI)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from latent_explorer.models.atlas import VERSION, AtlasOutdated, build_atlas, load_atlas, read_header
from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from latent_explorer.models.digitness import (NO_DIGIT, CalibrationError, calibration_path, judge,
                                              load_calibration)
from latent_explorer.models.engine import Engine, RenderRequest
from latent_explorer.models.registry import open_model
from latent_explorer.models.sampling import label_points
from latent_explorer.training import negatives
from latent_explorer.training.data import load_split, to_gan_range
from tests.conftest import CLASSIFIER, make_generator

CALIBRATION = calibration_path(CLASSIFIER)


@pytest.fixture(scope="module")
def clf():
    return load_checkpoint(CLASSIFIER, expect="classifier")


def blank_generator(path: Path, latent_dim: int = 2) -> Path:
    """A real generator whose image is black everywhere (-1): gan4d at the origin, made certain."""
    from latent_explorer.models.networks import GanConfig, Generator

    cfg = GanConfig(latent_dim, False)
    g = Generator(cfg).eval()
    with torch.no_grad():
        g.bn2.weight.zero_()
        g.bn2.bias.fill_(5.0)  # every channel of the last hidden layer is +5 after its activation ...
        g.deconv3.weight.fill_(-1.0)  # ... so the output is tanh(a large negative number) = -1
    save_checkpoint(path, "gan", cfg.to_dict(), g, {"seed": 0})
    return path


# ------------------------------------------------------------ calibration figures


def test_shipped_calibration_meets_both_targets_and_the_card_states_them(clf, mnist_dir):
    cal = clf.model.digitness
    assert cal is not None and cal.classifier_digest == clf.digest
    test = load_split("test", mnist_dir)
    accepted = float(judge(clf.model, to_gan_range(test.images)).is_digit.mean())
    assert accepted >= 0.99
    held = negatives.make_set(negatives.KINDS, 1000, negatives.HELD_OUT_SEED, test.images, test.labels)
    flagged = {k: float((~judge(clf.model, x).is_digit).mean()) for k, x in held.items()}
    assert np.mean(list(flagged.values())) >= 0.95
    assert min(flagged.values()) >= 0.9, flagged  # no kind of negative slips through
    # the card's figures are these measurements
    card = CLASSIFIER.with_suffix(".md").read_text()
    row = next(line for line in card.splitlines() if "(chosen)" in line)
    cells = [float(v) / 100 for v in re.findall(r"([\d.]+)%", row)]
    assert abs(cells[0] - accepted) < 1e-4
    assert np.allclose(cells[1:-1], [flagged[k] for k in negatives.KINDS], atol=1e-4)


def test_negatives_are_reproducible_and_held_out_differs_from_calibration(mnist_dir):
    test = load_split("test", mnist_dir)
    a = negatives.make("strokes", 5, negatives.HELD_OUT_SEED)
    assert np.array_equal(a, negatives.make("strokes", 5, negatives.HELD_OUT_SEED))
    assert not np.array_equal(a, negatives.make("strokes", 5, negatives.CALIBRATION_SEED))
    for kind in negatives.CALIBRATION_KINDS:
        x = negatives.make(kind, 4, 1, test.images, test.labels)
        assert x.shape == (4, 28, 28) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1


# ------------------------------------------------------------ a blank image through the engine


def test_blank_image_through_the_engine_is_not_a_digit(tmp_path, clf):
    engine = Engine(load_checkpoint(blank_generator(tmp_path / "blank.pt")), clf)
    frame = engine.render(RenderRequest(point=(0.0, 0.0)))
    assert frame.image.max() < -0.99  # truly blank
    assert not frame.is_digit and frame.digit_score > 0
    assert frame.label == NO_DIGIT and 0 <= frame.predicted <= 9
    assert frame.describe().startswith(f"not a digit (closest: {frame.predicted}, ")
    verdict = engine.judge(np.full((3, 28, 28), -1.0, np.float32))
    assert not verdict.is_digit.any() and (verdict.map_labels == NO_DIGIT).all()


def test_real_digits_keep_their_labels(clf, mnist_dir):
    test = load_split("test", mnist_dir)
    v = judge(clf.model, to_gan_range(test.images[:200]))
    assert v.is_digit.mean() >= 0.97
    assert (v.map_labels[v.is_digit] == test.labels[:200][v.is_digit]).mean() >= 0.99


def test_maps_and_atlases_carry_label_10(tmp_path, clf):
    g = load_checkpoint(blank_generator(tmp_path / "blank.pt"))
    labels, conf = label_points(g.model, clf.model, torch.zeros(8, 2))
    assert (labels == NO_DIGIT).all() and (conf > 0).all()
    atlas = build_atlas(g, clf, 4, tmp_path / "blank.atlas.h5", method="full")
    back = load_atlas(tmp_path / "blank.atlas.h5", g.digest, clf.digest)
    assert (back.labels == NO_DIGIT).all() and back.no_digit_share() == 1.0
    assert sum(back.digit_area()) == 0.0
    assert atlas.no_digit_share() == 1.0


# ------------------------------------------------------------ the calibration file


def test_calibration_file_checks(tmp_path, clf):
    folder = tmp_path / "c"
    folder.mkdir()
    target = folder / "classifier.pt"
    shutil.copy(CLASSIFIER, target)
    ood = calibration_path(target)
    ood.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match=re.escape(str(ood))):
        load_checkpoint(target, expect="classifier")
    # an object array would need pickle: refused without running it
    np.savez(ood, format=np.array(["x", None], dtype=object))
    with pytest.raises(CalibrationError, match="damaged|not a calibration"):
        load_calibration(ood)
    # the shipped calibration, for another classifier: named and refused
    shutil.copy(CALIBRATION, ood)
    with pytest.raises(CalibrationError, match="another classifier"):
        load_calibration(ood, "0" * 64)
    assert load_calibration(ood, clf.digest).threshold == clf.model.digitness.threshold
    # without the file the classifier takes every image for a digit (no crash, no guess)
    ood.unlink()
    bare = load_checkpoint(target, expect="classifier")
    v = judge(bare.model, np.full((2, 28, 28), -1.0, np.float32))
    assert v.is_digit.all() and np.isnan(v.score).all()


def _calibration_with(out: Path, key: str, header: dict, data: bytes, compress: bool = False) -> Path:
    """The shipped calibration with array ``key`` replaced by a .npy header of our choosing and
    ``data`` after it (a hostile or damaged file)."""
    import io
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"fortran_order": False, **header})
    with zipfile.ZipFile(CALIBRATION) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            zout.writestr(name, head.getvalue() + data if name == f"{key}.npy" else zin.read(name))
    return out


@pytest.mark.parametrize("key,header,data,compress,words", [
    # 8 TiB declared in a 160 kB file: refused from the header (reading it ran out of memory)
    ("precision_penultimate", {"descr": "<f8", "shape": (2 ** 20, 2 ** 20)}, b"\0" * 64, False,
     ["'precision_penultimate'", "(1048576, 1048576)", "8,796,093,022,208 bytes", "4,194,304"]),
    # a compressed member that unpacks to 32 MiB of real zeros
    ("precision_block4", {"descr": "<f8", "shape": (2048, 2048)}, bytes(2048 * 2048 * 8), True,
     ["'precision_block4'", "(2048, 2048)", "33,554,432 bytes"]),
    # a string array of 400 MB declared
    ("info", {"descr": "<U100000000", "shape": ()}, b"{}", False, ["'info'", "400,000,000 bytes"]),
    # the right size, the wrong kind or shape: named before reading
    ("version", {"descr": "<f8", "shape": ()}, bytes(8), False, ["'version'", "float64", "not a calibration"]),
    ("zstats_block4", {"descr": "<f8", "shape": (3,)}, bytes(24), False, ["'zstats_block4'", "(3,)", "expected (2,)"]),
    ("means_block4", {"descr": "|V8", "shape": (10, 128)}, bytes(10240), False, ["'means_block4'", "not a calibration"]),
], ids=["8 TiB declared", "compressed 32 MiB", "huge text", "float version", "zstats shape", "void means"])
def test_calibration_arrays_are_checked_from_their_headers_before_reading(tmp_path, key, header, data, compress,
                                                                          words):
    path = _calibration_with(tmp_path / "classifier.ood.npz", key, header, data, compress)
    assert path.stat().st_size < 4 << 20  # within the file's size cap: only the header can tell
    with pytest.raises(CalibrationError) as err:
        load_calibration(path)
    assert str(err.value).startswith(f"{path}: "), err.value
    for w in words:
        assert w in str(err.value), (w, str(err.value))


# ------------------------------------------------------------ atlases from before the check


def _make_old_atlas(folder: Path, clf) -> tuple[Path, Path]:
    gen = make_generator(folder / "g.pt", 2)
    atlas_path = folder / "g.atlas.h5"
    build_atlas(load_checkpoint(gen), clf, 5, atlas_path, method="full")
    with h5py.File(atlas_path, "r+") as f:  # as version 1 wrote it: the same layout, labels 0..9
        f.attrs["version"] = 1
        lab = f["labels"][...]
        lab[lab == NO_DIGIT] = 0
        f["labels"][...] = lab
    return gen, atlas_path


def test_old_atlas_is_refused_with_the_rebuild_command_and_the_model_still_opens(tmp_path, clf):
    gen, atlas_path = _make_old_atlas(tmp_path, clf)
    with pytest.raises(AtlasOutdated, match=re.escape(f"latent-explorer atlas rebuild {atlas_path}")):
        load_atlas(atlas_path)
    model = open_model(gen, clf)
    assert model.atlas is None and model.outdated_atlas == atlas_path
    assert any("rebuild" in n for n in model.notes)


def test_cli_rebuilds_an_old_atlas_in_one_command(tmp_path, clf):
    from latent_explorer.app.cli import main

    gen, atlas_path = _make_old_atlas(tmp_path, clf)
    assert main(["atlas", "rebuild", str(atlas_path)]) == 0
    head = read_header(atlas_path)
    assert head["version"] == VERSION and head["resolution"] == 5
    atlas = load_atlas(atlas_path, load_checkpoint(gen).digest, clf.digest)
    assert atlas.labels.shape == (5, 5)
