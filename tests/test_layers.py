"""Layer activations and ablations, without Qt: captured shapes, reductions, statistics,
channel grids, ablation effects, and ``render --ablate``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_generator
from latent_explorer.models import layers
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Ablation, Engine, RenderRequest
from latent_explorer.models.networks import Generator

ROOT = Path(__file__).resolve().parent.parent
POINT = (0.3, -0.6)
SHAPES = {"dense": (256, 7, 7), "bn0": (256, 7, 7), "act0": (256, 7, 7),
          "deconv1": (128, 7, 7), "bn1": (128, 7, 7), "act1": (128, 7, 7),
          "deconv2": (64, 14, 14), "bn2": (64, 14, 14), "act2": (64, 14, 14),
          "deconv3": (1, 28, 28), "out": (1, 28, 28)}


@pytest.fixture(scope="module")
def engine(tmp_path_factory, classifier) -> Engine:
    path = make_generator(tmp_path_factory.mktemp("g") / "g2.pt", 2, seed=3)
    return Engine(load_checkpoint(path), classifier)


# ---------------------------------------------------------------- reductions


def test_reduce_modes_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layers.reduce(a, "mean"), a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(layers.reduce(a, "max"), a.max(0))
    np.testing.assert_allclose(layers.reduce(a, "std"), a.std(0), rtol=1e-5)
    np.testing.assert_array_equal(layers.reduce(a, "channel", 4), a[4])
    assert layers.reduce(a, "mean").shape == (3, 4)


@pytest.mark.parametrize("mode,channel", [("median", 0), ("channel", 5), ("channel", -1)])
def test_reduce_rejects_bad_requests(mode, channel):
    with pytest.raises(ValueError):
        layers.reduce(np.zeros((5, 2, 2)), mode, channel)
    with pytest.raises(ValueError):
        layers.reduce(np.zeros((2, 2)), "mean")


def test_stats():
    s = layers.stats(np.array([[1.0, 3.0], [5.0, 7.0]]))
    assert (s.mean, s.min, s.max) == (4.0, 1.0, 7.0)
    assert s.std == pytest.approx(np.std([1, 3, 5, 7]))
    assert "max 7" in s.describe()
    with pytest.raises(ValueError):
        layers.stats(np.array([]))


def test_channel_grid_places_every_channel_and_finds_it_back():
    a = np.arange(10 * 3 * 2, dtype=np.float32).reshape(10, 3, 2)
    grid = layers.channel_grid(a, gap=1)
    rows, cols = layers.grid_shape(10)
    assert (rows, cols) == (3, 4)
    assert grid.shape == (rows * 4 - 1, cols * 3 - 1)
    for k in range(10):
        r, q = divmod(k, cols)
        np.testing.assert_array_equal(grid[r * 4:r * 4 + 3, q * 3:q * 3 + 2], a[k])
        assert layers.channel_at(a.shape, q * 3 + 1, r * 4 + 2) == k
    assert layers.channel_at(a.shape, 2, 0) is None  # the gap column
    assert layers.channel_at(a.shape, 3 * 3, 2 * 4) is None  # past the last channel
    assert np.isnan(grid[3, 0])


def test_levels_never_collapse():
    assert layers.levels(np.zeros(4)) == (-0.5, 0.5)
    assert layers.symmetric_levels(np.array([-2.0, 1.0])) == (-2.0, 2.0)
    assert layers.symmetric_levels(np.zeros(3)) == (-1.0, 1.0)
    assert layers.symmetric_levels(np.r_[np.ones(99), 50.0], quantile=0.9) == (-1.0, 1.0)
    assert layers.levels(np.array([np.nan, 1.0, 3.0])) == (1.0, 3.0)


# ---------------------------------------------------------------- captured layers


def test_captured_layers_have_the_architectures_shapes(engine):
    frame = engine.render(RenderRequest(POINT, capture=True))
    assert list(frame.activations) == list(Generator.LAYERS)
    assert {k: v.shape for k, v in frame.activations.items()} == SHAPES
    assert layers.LAYER_SHAPES == SHAPES
    np.testing.assert_allclose(frame.activations["out"][0], frame.image, atol=1e-6)
    np.testing.assert_allclose(np.tanh(frame.activations["deconv3"][0]), frame.image, atol=1e-5)
    assert engine.render(RenderRequest(POINT, capture=False)).activations == {}


def test_zeroing_all_of_act2_gives_the_image_of_zero_input(engine):
    frame = engine.render(RenderRequest(POINT, ablations=(Ablation.parse("act2:0-63"),)))
    assert np.all(frame.activations["act2"] == 0)
    with torch.no_grad():
        expect = torch.tanh(engine.generator.deconv3(torch.zeros(1, 64, 14, 14)))[0, 0].numpy()
    np.testing.assert_allclose(frame.image, expect, atol=1e-6)
    np.testing.assert_allclose(frame.image, 0.0, atol=1e-6)  # deconv3 has no bias
    assert frame.reference_image is not None and np.abs(frame.reference_image).max() > 0.01


def test_row_ablation_only_touches_those_rows_and_later_layers(engine):
    plain = engine.render(RenderRequest(POINT))
    cut = engine.render(RenderRequest(POINT, ablations=(Ablation.parse("act2:rows=3-5"),)))
    a, b = plain.activations["act2"], cut.activations["act2"]
    assert np.all(b[:, 3:6] == 0)
    np.testing.assert_array_equal(np.delete(a, [3, 4, 5], axis=1), np.delete(b, [3, 4, 5], axis=1))
    np.testing.assert_array_equal(plain.activations["bn2"], cut.activations["bn2"])  # earlier: unchanged
    assert not np.allclose(plain.image, cut.image)
    np.testing.assert_allclose(cut.reference_image, plain.image, atol=1e-6)


def test_scaling_a_layer_scales_its_activation(engine):
    plain = engine.render(RenderRequest(POINT))
    half = engine.render(RenderRequest(POINT, ablations=(Ablation.parse("act1:*:scale=0.5"),)))
    np.testing.assert_allclose(half.activations["act1"], 0.5 * plain.activations["act1"], rtol=1e-5, atol=1e-7)


def test_ablation_never_changes_the_weights(engine):
    before = {k: v.clone() for k, v in engine.generator.state_dict().items()}
    for spec in ("act2:0-63", "dense:*:scale=3", "bn1:rows=0-2:cols=1", "out:0"):
        engine.render(RenderRequest(POINT, ablations=(Ablation.parse(spec),)))
    engine.images(np.array([POINT, (0.1, 0.1)]), ablations=(Ablation.parse("act0:5"),))
    after = engine.generator.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    np.testing.assert_array_equal(engine.render(RenderRequest(POINT)).image,
                                  engine.render(RenderRequest(POINT)).image)


# ---------------------------------------------------------------- render --ablate


def _render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "render", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_render_ablate_writes_a_png_and_names_the_edit(tmp_path, classifier_path):
    gen = make_generator(tmp_path / "g.pt", 2, seed=1)
    out = tmp_path / "abl.png"
    res = _render("--model", str(gen), "--point=0.2,-0.3", "--resolution", "8", "--ablate", "act2:0-7",
                  "--ablate", "act1:rows=2-3:scale=0.5", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "act2 channels=0,1,2,3,4,5,6,7 x0" in res.stdout and "act1 rows=2,3 x0.5" in res.stdout


@pytest.mark.parametrize("spec", ["nosuch:0", "act2:0-99", "act2:a-b", "act2:colour=3"])
def test_render_rejects_a_bad_ablation(tmp_path, spec):
    gen = make_generator(tmp_path / "g.pt", 2, seed=1)
    out = tmp_path / "bad.png"
    res = _render("--model", str(gen), "--point=0.2,-0.3", "--resolution", "8", "--ablate", spec, "-o", str(out))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "ablat" in res.stderr.lower() or "layer" in res.stderr.lower()
    assert not out.exists()


def test_colourise_spreads_the_levels_over_the_table():
    lut = np.stack([np.arange(256)] * 3, 1).astype(np.uint8)  # grey ramp: colour = index
    m = np.array([[-1.0, 0.0, 0.5], [1.0, 2.0, np.nan]])
    L = layers
    rgb = L.colourise(m, (0.0, 1.0), lut)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].tolist() == [[0, 0, 128], [255, 255, 0]]  # clipped at both ends, NaN as the first colour
    assert (L.colourise(m, (0.3, 0.3), lut) == 0).all()  # a collapsed range never divides by zero
    ends = L.colourise(np.array([np.inf, -np.inf, np.nan, 0.999]), (0.0, 1.0), lut)[:, 0]
    assert ends.tolist() == [255, 0, 0, 255]  # infinities clipped to the ends of the table
    s = L.stats(np.array([1, 2, 3, 4], np.int64))
    assert (s.mean, s.max, s.min) == (2.5, 4.0, 1.0) and s.std == pytest.approx(np.std([1, 2, 3, 4]))
