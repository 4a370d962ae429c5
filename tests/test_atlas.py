"""Atlases: full and adaptive builders, slicing, storage, resume, and refusal of foreign atlases."""
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from latent_explorer.models.atlas import AtlasError, Cancelled, build_adaptive, build_atlas, build_full, load_atlas
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.sampling import grid_axis, label_points
from tests.conftest import ROOT, make_generator

SHIPPED_2D = ROOT / "checkpoints" / "gan2d.pt"


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A generator whose maps have several regions: random weights with a stretched dense layer."""
    path = tmp_path_factory.mktemp("atlas") / "g3.pt"
    make_generator(path, 3, seed=11)
    ck = load_checkpoint(path)
    return ck


def test_full_atlas_matches_direct_labelling(trained_like, classifier, tmp_path):
    atlas = build_full(trained_like, classifier, 9)
    assert atlas.labels.shape == (9, 9, 9) and atlas.evaluations == 729
    ax = grid_axis(9)
    pts = torch.tensor([[ax[2], ax[7], ax[4]], [ax[0], ax[8], ax[8]]])
    lab, conf = label_points(trained_like.model, classifier.model, pts)
    assert atlas.labels[2, 7, 4] == lab[0] and atlas.labels[0, 8, 8] == lab[1]
    assert abs(float(atlas.confidence[2, 7, 4]) - conf[0]) < 1e-3


def test_slices_follow_the_point(trained_like, classifier):
    atlas = build_full(trained_like, classifier, 9)
    point = (grid_axis(9)[3], grid_axis(9)[5], grid_axis(9)[6])
    xy, _ = atlas.slice2d((0, 1), point)
    xz, _ = atlas.slice2d((0, 2), point)
    zy, _ = atlas.slice2d((2, 1), point)
    assert np.array_equal(xy, atlas.labels[:, :, 6])
    assert np.array_equal(xz, atlas.labels[:, 5, :])
    assert np.array_equal(zy, atlas.labels[3, :, :].T)
    assert atlas.cell_index(point) == (3, 5, 6)
    assert atlas.cell_index((5, -5, 0)) == (8, 0, 4)  # clipped to the box
    assert atlas.label_at(point)[0] == atlas.labels[3, 5, 6]


@pytest.mark.parametrize("resolution", [2, 3, 16, 64, 65])
def test_cell_index_is_the_nearest_grid_point_as_numpy_rounds_it(resolution):
    """cell_index runs in plain Python on every move; it must give what clipping and
    numpy's round-half-to-even give, on random points (fixed seed), on the grid points and
    on the points exactly halfway between two of them, for tuples, lists and arrays."""
    from latent_explorer.models.atlas import Atlas

    atlas = Atlas(labels=np.zeros((resolution,) * 2, np.uint8), confidence=np.zeros((resolution,) * 2, np.float16),
                  latent_dim=2, conditional=False, resolution=resolution, generator_digest="", classifier_digest="")
    rng = np.random.default_rng(0)
    grid = np.arange(resolution) / (resolution - 1) * 2 - 1
    halfway = (np.arange(resolution - 1) + 0.5) / (resolution - 1) * 2 - 1
    points = np.concatenate([rng.uniform(-1.3, 1.3, (4000, 2)), np.stack([grid, grid[::-1]], 1),
                             np.stack([halfway, halfway[::-1]], 1)])
    for p in points:
        want = tuple(int(v) for v in np.rint((np.clip(p, -1, 1) + 1) / 2 * (resolution - 1)))
        got = atlas.cell_index(p), atlas.cell_index(tuple(p)), atlas.cell_index(list(p))
        assert got == (want,) * 3, (p.tolist(), got, want)
    for bad in [(0.5,), (0.1, 0.2, 0.3), (0.1, float("nan")), ("a", "b")]:
        with pytest.raises(ValueError):
            atlas.cell_index(bad)
    assert not atlas.axis.flags.writeable and np.array_equal(atlas.axis, grid_axis(resolution))


def test_adaptive_agrees_with_full_and_evaluates_less(classifier):
    ck = load_checkpoint(SHIPPED_2D)  # a trained map with many regions (random weights give one)
    full = build_full(ck, classifier, 41)
    assert len(np.unique(full.labels)) >= 4
    adaptive = build_adaptive(ck, classifier, 41, stride=4)
    agree = float((full.labels == adaptive.labels).mean())
    assert agree >= 0.98
    assert adaptive.evaluations < full.evaluations
    assert np.array_equal(full.labels[adaptive.evaluated], adaptive.labels[adaptive.evaluated])


def test_adaptive_3d_agrees_with_full_and_never_evaluates_a_point_twice(classifier):
    ck = load_checkpoint(ROOT / "checkpoints" / "gan3d.pt")
    full = build_full(ck, classifier, 17)
    assert len(np.unique(full.labels)) >= 4
    adaptive = build_adaptive(ck, classifier, 17, stride=4)
    assert float((full.labels == adaptive.labels).mean()) >= 0.99
    # each evaluation labels a distinct point: the count equals the evaluated mask
    assert adaptive.evaluations == int(adaptive.evaluated.sum()) < 0.7 * full.evaluations
    assert np.array_equal(full.labels[adaptive.evaluated], adaptive.labels[adaptive.evaluated])


def test_save_load_and_refusal_of_foreign_atlas(trained_like, classifier, tmp_path):
    out = tmp_path / "a.h5"
    atlas = build_atlas(trained_like, classifier, 8, out, method="full")
    back = load_atlas(out, trained_like.digest, classifier.digest)
    assert np.array_equal(back.labels, atlas.labels) and back.resolution == 8
    with h5py.File(out, "r") as f:
        assert f["labels"].chunks is not None
    other = load_checkpoint(make_generator(tmp_path / "other.pt", 3, seed=99))
    with pytest.raises(AtlasError, match="another generator"):
        load_atlas(out, other.digest, classifier.digest)
    with pytest.raises(AtlasError, match="another classifier"):
        load_atlas(out, trained_like.digest, "0" * 64)


def test_wrong_size_atlas_is_refused(trained_like, classifier, tmp_path):
    out = tmp_path / "a.h5"
    build_atlas(trained_like, classifier, 8, out, method="full")
    with h5py.File(out, "a") as f:
        del f["labels"]
        f.create_dataset("labels", data=np.zeros((8, 8, 7), np.uint8))
    with pytest.raises(AtlasError, match="shape"):
        load_atlas(out)


def test_conditional_atlas_has_one_cube_per_digit(classifier, tmp_path):
    ck = load_checkpoint(make_generator(tmp_path / "c.pt", 2, conditional=True))
    atlas = build_full(ck, classifier, 6)
    assert atlas.labels.shape == (10, 6, 6) and atlas.conditional
    lab, _ = atlas.slice2d((0, 1), (0, 0), digit=7)
    assert np.array_equal(lab, atlas.labels[7])
    with pytest.raises(ValueError):
        atlas.slice2d((0, 1), (0, 0))


def test_full_build_resumes_after_cancel(trained_like, classifier, tmp_path):
    partial = tmp_path / "x.h5.partial"
    calls = {"n": 0}

    def stop_after_two_blocks():
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        build_full(trained_like, classifier, 12, block=300, batch=300, partial=partial,
                   should_stop=stop_after_two_blocks)
    assert partial.exists()
    resumed = build_full(trained_like, classifier, 12, block=300, batch=300, partial=partial)
    assert resumed.evaluations == 12 ** 3 - 600
    fresh = build_full(trained_like, classifier, 12, block=300, batch=300)
    assert np.array_equal(resumed.labels, fresh.labels)


def test_atlas_cli(trained_like, tmp_path, classifier_path):
    out = tmp_path / "cli.h5"
    cmd = [sys.executable, "-m", "app", "atlas", "build", str(trained_like.path), "--resolution", "6",
           "--method", "full", "-o", str(out), "--classifier", str(classifier_path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "216 cells" in r.stdout and out.exists()
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1 and "exists" in r.stderr
    r = subprocess.run([sys.executable, "-m", "app", "info", str(out)], capture_output=True, text=True)
    assert "resolution  6 (216 cells)" in r.stdout


def test_auto_picks_adaptive_only_where_it_meets_the_agreement_target():
    from latent_explorer.models.atlas import choose_method

    assert choose_method(2, 256) == "adaptive" and choose_method(3, 64) == "adaptive"
    assert choose_method(3, 32, conditional=True) == "adaptive"
    assert choose_method(4, 24) == "adaptive" and choose_method(4, 12) == "full"
    assert choose_method(2, 64) == "full" and choose_method(3, 24) == "full"  # small grids: cheap and exact


def test_auto_builds_what_it_chose(tmp_path, classifier):
    from latent_explorer.models.atlas import build_atlas, choose_method, load_atlas
    from tests.conftest import make_generator

    g = load_checkpoint(make_generator(tmp_path / "g.pt", 2))
    for res in (16, 200):
        out = tmp_path / f"a{res}.atlas.h5"
        atlas = build_atlas(g, classifier, res, out, method="auto")
        assert atlas.method.startswith(choose_method(2, res))
        assert load_atlas(out, g.digest, classifier.digest).method == atlas.method
