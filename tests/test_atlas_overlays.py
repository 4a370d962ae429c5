"""Sharper atlases: overlays stored beside the classes (format 3; format 2 still opens), the
adaptive builder's interpolated finest level, and the sampled agreement check."""
from __future__ import annotations

import itertools
import json
import shutil

import h5py
import numpy as np
import pytest

from latent_explorer.models.atlas import (VERSION, AtlasError, _interpolate_cells, build_adaptive, build_atlas,
                                          build_full, load_atlas, read_header, sample_agreement)
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.geometry import OVERLAYS, overlays_for
from latent_explorer.models.registry import outdated_atlas
from tests.conftest import ROOT, make_generator


@pytest.fixture(scope="module")
def gen3(tmp_path_factory):
    return load_checkpoint(make_generator(tmp_path_factory.mktemp("ov") / "g3.pt", 3, seed=5))


def test_overlays_are_stored_beside_the_classes_and_read_back(gen3, classifier, tmp_path):
    out = tmp_path / "g3.atlas.h5"
    atlas = build_atlas(gen3, classifier, 6, out, method="full", overlay_resolution=4)
    assert read_header(out) == {"version": VERSION, "resolution": 6, "method": "full", "precision": "float32",
                                "overlay_resolution": 4}
    back = load_atlas(out, gen3.digest, classifier.digest)
    assert back.overlays is not None and back.overlays.resolution == 4 and set(back.overlays.maps) == set(OVERLAYS)
    fresh = overlays_for(gen3, classifier, 4)
    for name in OVERLAYS:
        np.testing.assert_allclose(back.overlays.maps[name], fresh.maps[name], rtol=2e-3, atol=1e-3)
    assert np.array_equal(back.labels, atlas.labels)
    # without overlays: none stored, none read
    plain = tmp_path / "plain.atlas.h5"
    build_atlas(gen3, classifier, 5, plain, method="full")
    assert load_atlas(plain).overlays is None and read_header(plain)["overlay_resolution"] == 0


def test_format_2_atlases_still_open(tmp_path):
    shipped = ROOT / "checkpoints" / "gan2d.atlas.h5"
    with h5py.File(shipped, "r") as f:
        version = int(f.attrs["version"])
    copy = tmp_path / "gan2d.atlas.h5"
    shutil.copy(shipped, copy)
    if version != 2:  # the shipped 2-D atlas was rebuilt: make a format-2 file from it
        with h5py.File(copy, "r+") as f:
            f.attrs["version"] = 2
            if "overlays" in f:
                del f["overlays"]
    atlas = load_atlas(copy)
    assert atlas.overlays is None and atlas.labels.shape == (atlas.resolution,) * 2
    shutil.copy(ROOT / "checkpoints" / "gan2d.pt", tmp_path / "gan2d.pt")
    assert outdated_atlas(load_checkpoint(tmp_path / "gan2d.pt")) is None  # no "rebuild" offered


def test_damaged_overlays_are_refused_with_the_file_named(gen3, classifier, tmp_path):
    out = tmp_path / "bad.atlas.h5"
    build_atlas(gen3, classifier, 5, out, method="full", overlay_resolution=4)
    with h5py.File(out, "r+") as f:
        del f["overlays/ink"]
        f["overlays"].create_dataset("ink", data=np.zeros((4, 4), np.float16))
    with pytest.raises(AtlasError, match="bad.atlas.h5.*ink"):
        load_atlas(out)
    with h5py.File(out, "r+") as f:
        f["overlays"].attrs["resolution"] = 100000
    with pytest.raises(AtlasError, match="implausible overlay resolution"):
        load_atlas(out)


@pytest.mark.parametrize("d", [2, 3])
def test_interpolated_cells_place_a_linear_border_exactly(d):
    """Log-probabilities linear in the grid index: the interpolation reproduces the field,
    so every point gets the label of the exact field (and the not-a-digit score too)."""
    r = 9
    shape = (r,) * d
    idx = np.stack(np.meshgrid(*[np.arange(r)] * d, indexing="ij"), -1).astype(np.float64)
    field = np.zeros(shape + (11,))
    field[..., 3] = idx.sum(-1) * 0.7 - 5.0          # digit 3 wins far from the origin
    field[..., 5] = 0.0
    field[..., :10] -= 20  # other digits far below; the ones that matter are 3 and 5
    field[..., 3] += 20
    field[..., 5] += 20
    field[..., 10] = idx[..., 0] - 6.5  # not a digit where the first index is 7 or 8
    truth = np.where(field[..., 10] > 0, 10, field[..., :10].argmax(-1))
    lab = np.zeros(shape, np.uint8)
    conf = np.zeros(shape, np.float16)
    filled = np.zeros(shape, bool)
    values = field.astype(np.float16)
    corner = np.array(list(itertools.product(range(0, r, 2), repeat=d)))
    filled[tuple(corner.T)] = True
    lab[tuple(corner.T)] = truth[tuple(corner.T)]
    lo = np.array(list(itertools.product(range(0, r - 1, 2), repeat=d)))
    _interpolate_cells(lo, lo + 2, lab, conf, filled, values, margins=(0.0, 0.0))
    assert filled.all()
    assert np.array_equal(lab, truth)
    # with margins, points close to a decision are left for the builder to evaluate
    lab2, filled2 = np.zeros(shape, np.uint8), np.zeros(shape, bool)
    filled2[tuple(corner.T)] = True
    _interpolate_cells(lo, lo + 2, lab2, conf, filled2, values, margins=(0.6, 1.0))
    near = (np.abs(field[..., 10]) < 0.6) | ((np.abs(field[..., 3] - field[..., 5]) < 1.0) & (field[..., 10] < 0.6))
    assert not filled2[near & ~filled].any() and filled2[~near].all()
    assert np.array_equal(lab2[filled2 & ~filled], truth[filled2 & ~filled])


def test_finest_two_evaluates_less_and_checks_against_full(classifier):
    ck = load_checkpoint(ROOT / "checkpoints" / "gan3d.pt")
    full = build_full(ck, classifier, 17)
    one = build_adaptive(ck, classifier, 17, stride=4, finest=1)
    two = build_adaptive(ck, classifier, 17, stride=4, finest=2)
    assert two.evaluations < 0.7 * one.evaluations and two.method == "adaptive(stride=4,finest=2)"
    assert np.array_equal(full.labels[two.evaluated], two.labels[two.evaluated])
    assert float((full.labels == two.labels).mean()) >= 0.9  # coarse grid: 2 steps are 0.25 of z here
    # the sampled check: all cells of a small grid give the exact agreement with the full grid
    check = sample_agreement(two, ck, classifier, fraction=1.0)
    assert check["sampled"] == full.labels.size
    assert check["agreement"] == pytest.approx(float((full.labels == two.labels).mean()))
    inferred = ~two.evaluated
    assert check["agreement_not_evaluated"] == pytest.approx(float((full.labels == two.labels)[inferred].mean()))
    assert sample_agreement(full, ck, classifier, fraction=0.2)["agreement"] == 1.0


def test_atlas_build_and_check_commands(gen3, classifier_path, tmp_path, capsys):
    from latent_explorer.app.cli import main

    shutil.copy(gen3.path, tmp_path / "g.pt")
    out = tmp_path / "g.atlas.h5"
    assert main(["atlas", "build", str(tmp_path / "g.pt"), "--resolution", "9", "--method", "adaptive",
                 "--finest", "2", "--overlays", "5", "--classifier", str(classifier_path), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "overlays 5^3" in said and " MB" in said
    atlas = load_atlas(out)
    assert atlas.overlays.resolution == 5 and "finest=2" in atlas.method
    js = tmp_path / "check.json"
    assert main(["atlas", "check", str(out), "--fraction", "0.5", "--classifier", str(classifier_path),
                 "--json", str(js)]) == 0
    res = json.loads(js.read_text())
    assert res["sampled"] == round(0.5 * 729) and 0 <= res["agreement"] <= 1
    assert "sampled cells agree with a full evaluation" in capsys.readouterr().out
    assert main(["atlas", "check", str(out), "--fraction", "0", "--classifier", str(classifier_path)]) != 0
    assert main(["atlas", "rebuild", str(out), "--classifier", str(classifier_path)]) == 0
    again = load_atlas(out)
    assert again.overlays.resolution == 5 and again.method == atlas.method  # rebuilt with its own settings


def test_bench_rows_for_the_sharper_atlases(classifier, tmp_path):
    from latent_explorer.app.bench import engine_items
    from latent_explorer.app.bench.markdown import sharp_lines
    from latent_explorer.app.bench.run import EXTRA_ITEMS

    assert "sharp" in EXTRA_ITEMS
    g3 = load_checkpoint(ROOT / "checkpoints" / "gan3d.pt")
    row = engine_items.sharp_atlas(g3, classifier, 9, tmp_path, stride=4, fraction=0.5)
    assert row["cells"] == 729 and 0 < row["evaluations"] < 729 and row["sampled"] == 364
    assert 0.5 <= row["agreement"] <= 1 and row["megabytes"] > 0 and row["overlay_resolution"] == 9
    assert row["target_seconds"] is None and not list(tmp_path.iterdir())  # the file is removed
    text = "\n".join(sharp_lines([row, dict(row, resolution=128, target_seconds=300.0, wall_seconds=200.0,
                                             agreement=0.999, megabytes=12.0)]))
    assert "### Sharper atlases" in text and "| gan3d | 9^3 | 729 |" in text
    assert "smaller grid (quick mode)" in text and "<= 5 min, >= 99.5%, <= 25 MB: met" in text


def test_geometry_command_uses_the_overlays_an_atlas_stores(gen3, classifier, classifier_path, tmp_path):
    from latent_explorer.app.cli import main

    out = tmp_path / "g3.atlas.h5"
    atlas = build_atlas(gen3, classifier, 6, out, method="full", overlay_resolution=5)
    js = tmp_path / "g.json"
    assert main(["geometry", str(gen3.path), "--atlas", str(out), "--overlay", "thickness", "--classifier",
                 str(classifier_path), "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["source"] == f"stored in {out}" and data["resolution"] == 5
    assert data["overlays"]["thickness"]["max"] == pytest.approx(float(atlas.overlays.maps["thickness"].max()),
                                                                 rel=1e-3)
