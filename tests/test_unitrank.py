"""Unit ranking (models/unitrank.py) and ``latent-explorer units``: a generator whose units
are known by construction, the ranking against the engine's own ablation, the matrix, CSV
and figure from the command line."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from conftest import ROOT, make_known_generator
from latent_explorer.app.cli import main
from latent_explorer.models import unitrank as U
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Engine


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    return make_known_generator(tmp_path_factory.mktemp("known") / "known.pt")


@pytest.fixture(scope="module")
def known_engine(known, classifier):
    torch.set_num_threads(1)
    return Engine(load_checkpoint(known), classifier)


def test_the_known_generator_draws_a_7_and_a_0(known_engine):
    probs = known_engine.classify(known_engine.images(np.array([[0.6, 0.0], [-0.6, 0.3]], np.float32)))
    assert probs.argmax(1).tolist() == [7, 0] and probs.max(1).min() > 0.75


@pytest.mark.parametrize("layer", ["act2", "act1"])
def test_ranking_finds_the_channel_that_alone_draws_each_digit(known_engine, layer):
    points = U.points_for(known_engine, 12, "uniform", seed=3)
    assert {0, 7} <= set(points.classes.tolist())
    r = U.rank_units(known_engine, points, layer)
    m = r.matrix()
    assert r.units == (64 if layer == "act2" else 128)
    # the 7's own channel (1) drops the 7 the most of all strokes; the 0's channel (0) the 0
    top7 = [u for u, _d, _c in r.top(7, 2)]
    top0 = [u for u, _d, _c in r.top(0, 2)]
    assert 1 in top7 and 0 in top0
    assert m[1, 7] > 0.5 and m[0, 0] > 0.5
    # a stroke that is off where the other digit is drawn changes nothing there; the units
    # that are zero everywhere change nothing at all
    assert m[0, 7] == 0 and m[1, 0] == 0
    assert np.all(r.probs[3:] == r.base_probs[None]) and np.all(r.change[3:] == 0)
    assert r.ablation(1).describe() == f"{layer} channels=1 x0"


@pytest.mark.parametrize("layer,kind", [("dense", "channels"), ("act0", "rows"), ("bn1", "channels"),
                                        ("deconv2", "rows"), ("act2", "channels"), ("out", "rows")])
def test_ranking_equals_the_engine_switching_each_unit_off(gen2d, classifier, layer, kind):
    engine = Engine(load_checkpoint(gen2d), classifier)
    rng = np.random.default_rng(0)
    pts = U.PointSet(rng.uniform(-1, 1, (3, 2)).astype(np.float32), np.array([1, 4, 7]))
    r = U.rank_units(engine, pts, layer, kind, scale=0.25, batch=64)
    base = engine.images(pts.points)
    for u in (0, r.units // 2, r.units - 1):
        img = engine.images(pts.points, ablations=(r.ablation(u),))
        np.testing.assert_allclose(r.probs[u], engine.classify(img), atol=2e-5)
        np.testing.assert_allclose(r.change[u], np.abs(img - base).mean((1, 2)), atol=2e-6)
    drop = r.drop()
    assert drop.shape == (r.units, 3)
    np.testing.assert_allclose(drop[:, 1], r.base_probs[1, 4] - r.probs[:, 1, 4])


def test_progress_and_cancel(known_engine):
    pts = U.points_for(known_engine, 8, "uniform")
    seen = []
    U.rank_units(known_engine, pts, "act2", batch=128, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (64 * 8, 64 * 8) and len(seen) == 4
    with pytest.raises(U.Cancelled):
        U.rank_units(known_engine, pts, "act2", batch=128, should_stop=lambda: len(seen) > 4,
                     progress=lambda d, t: seen.append((d, t)))


def test_region_points_lie_in_the_digits_region(known_engine):
    from latent_explorer.models.atlas import Atlas

    labels = np.full((16, 16), 10, np.uint8)  # rows: x, columns: y
    labels[10:, :] = 7
    labels[:5, 8:] = 0
    atlas = Atlas(labels, np.ones((16, 16), np.float16), 2, False, 16, "g", "c")
    pts = U.points_for(known_engine, 40, "region", digit=7, atlas=atlas, seed=1)
    assert (pts.classes == 7).all() and len(pts.points) == 40
    assert (pts.points[:, 0] >= atlas.axis[10] - 1 / 15).all()  # cells of x index 10.. (half a cell around)
    spread = U.points_for(known_engine, 20, "classes", atlas=atlas)
    assert sorted(spread.classes.tolist()) == [0] * 10 + [7] * 10  # shared among the digits present
    zeros = spread.points[spread.classes == 0]
    assert (zeros[:, 0] <= atlas.axis[4] + 1 / 15).all() and (zeros[:, 1] >= atlas.axis[8] - 1 / 15).all()
    with pytest.raises(ValueError, match="digit 3 has no region"):
        U.points_for(known_engine, 5, "region", digit=3, atlas=atlas)
    with pytest.raises(ValueError, match="needs the model's atlas"):
        U.points_for(known_engine, 5, "classes")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_units_command_prints_the_ranking_and_writes_matrix_figure_and_csv(known, tmp_path, capsys):
    fig, table = tmp_path / "m.png", tmp_path / "m.csv"
    code, out, err = _run(capsys, "units", known, "--layer", "act2", "--points", "12", "--sampling", "uniform",
                          "--top", "2", "-o", fig, "--csv", table)
    assert code == 0, err
    line7 = next(line for line in out.splitlines() if line.startswith("digit 7"))
    line0 = next(line for line in out.splitlines() if line.startswith("digit 0"))
    assert "ch 1 (" in line7 and "ch 0 (" in line0
    assert fig.read_bytes()[:4] == b"\x89PNG"
    lines = table.read_text().splitlines()
    assert lines[0].startswith("# known act2 channels x0; 12 points")
    rows = list(csv.DictReader(lines[1:]))
    assert len(rows) == 64 and float(rows[1]["drop_7"]) > 0.5 and float(rows[40]["image_change"]) == 0
    code, _, err = _run(capsys, "units", known, "--layer", "act2", "--points", "4", "--sampling", "uniform",
                        "--csv", table)
    assert code == 1 and f"{table}: already exists" in err and "--force" in err


@pytest.mark.parametrize("argv,words", [
    (["--layer", "act9"], ["--layer act9", "act2"]),
    (["--sampling", "region"], ["--digit"]),
    (["--points", "0"], ["--points"]),
    (["--digit", "3"], ["only to --sampling region"]),
    (["-o", "{tmp}/m.txt"], [".png"]),
])
def test_units_command_refuses_bad_input(known, tmp_path, capsys, argv, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = _run(capsys, "units", known, *args)
    assert code == 1 and err.startswith("latent-explorer: error: "), err
    for w in words:
        assert w in err, (w, err)
    assert not list(tmp_path.iterdir())


def test_units_command_exact_top_ranks_fast(capsys, tmp_path):
    table = tmp_path / "fast.csv"
    code, out, err = _run(capsys, "units", "gan2d", "--layer", "act2", "--points", "10", "--exact-top", "4",
                          "--csv", table)
    assert code == 0, err
    assert "(10 spread over the digits' regions, exact for the top 4 per digit)" in out.splitlines()[0]
    rows = list(csv.DictReader(table.read_text().splitlines()[1:]))
    measured = [r for r in rows if r["image_change"]]
    assert 4 <= len(measured) <= 40 and len(rows) == 64


def test_units_command_accepts_shipped_model_names(capsys):
    code, out, err = _run(capsys, "units", "gan2d", "--layer", "act2", "--rows", "--points", "10")
    assert code == 0, err
    assert out.startswith("gan2d act2: 14 rows x 10 points (10 spread over the digits' regions)")


def test_pairs_limit_the_work_to_the_pairs_asked_for(known_engine):
    points = U.points_for(known_engine, 12, "uniform", seed=3)
    full = U.rank_units(known_engine, points, "act2")
    pairs = np.zeros((64, 12), bool)
    pairs[1, :5] = pairs[40, 7:] = True
    seen = []
    some = U.rank_units(known_engine, points, "act2", pairs=pairs, batch=4, progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_allclose(some.probs[pairs], full.probs[pairs], atol=1e-6)
    np.testing.assert_allclose(some.change[pairs], full.change[pairs], atol=1e-6)
    assert np.isnan(some.probs[~pairs]).all() and np.isnan(some.change[~pairs]).all()
    assert seen[-1] == (10, 10)
    assert [u for u, _d, _c in some.top(None, 64)] == sorted({1, 40}, key=lambda u: -np.nanmean(some.drop()[u]))


def test_screened_ranking_finds_the_exact_top_units_of_the_shipped_gan2d(classifier):
    from latent_explorer.models.registry import open_model

    torch.set_num_threads(1)
    model = open_model(ROOT / "checkpoints" / "gan2d.pt", classifier)
    points = U.points_for(model.engine, 20, "classes", atlas=model.atlas, seed=2)
    full = U.rank_units(model.engine, points, "act2")
    est = U.estimate_drops(model.engine, points, "act2")
    d = np.log(full.base_probs[np.arange(20), points.classes])[None] - \
        np.log(full.probs[:, np.arange(20), points.classes])
    assert np.corrcoef(d.ravel(), est.ravel())[0, 1] > 0.6  # the first-order estimate follows the exact drop
    r = U.rank_screened(model.engine, points, "act2", per_digit=16)
    sel = np.isfinite(r.change)
    assert r.screened == 16 and sel.sum() == 16 * 20  # 16 units at each digit's points, a quarter of the work
    np.testing.assert_allclose(r.probs[sel], full.probs[sel], atol=1e-6)  # exact where measured
    agree = [len({u for u, _d, _c in r.top(k, 5)} & {u for u, _d, _c in full.top(k, 5)}) / 5 for k in range(10)]
    assert np.mean(agree) >= 0.8, agree
    assert len(r.top(3, 64)) == 16  # units left out are not ranked
    assert "exact for the top 16 units per digit" in r.csv_text().splitlines()[0]


@pytest.mark.parametrize("layer", ["bn0", "act1"])
def test_some_pairs_equal_the_engine_switching_the_unit_off(gen2d, classifier, layer):
    engine = Engine(load_checkpoint(gen2d), classifier)
    rng = np.random.default_rng(1)
    pts = U.PointSet(rng.uniform(-1, 1, (4, 2)).astype(np.float32), np.array([0, 2, 5, 9]))
    U_ = U.unit_count(layer, "channels")
    pairs = np.zeros((U_, 4), bool)
    pairs[[3, 3, 50, U_ - 1], [0, 2, 1, 3]] = True
    r = U.rank_units(engine, pts, layer, pairs=pairs, batch=2)
    for u, i in zip(*np.nonzero(pairs)):
        img = engine.images(pts.points[i:i + 1], ablations=(r.ablation(u),))
        np.testing.assert_allclose(r.probs[u, i], engine.classify(img)[0], atol=2e-5)
    assert np.isfinite(r.change).sum() == 4
