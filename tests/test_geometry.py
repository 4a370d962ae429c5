"""Latent geometry (models/geometry.py): sensitivity against a closed form, attribute measures
against drawn images, overlays of a real generator, path length and walk distances."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from latent_explorer.models import geometry
from latent_explorer.models.geometry import attributes, compute_overlays

from tests.conftest import make_generator


class LinearGenerator(nn.Module):
    """G(z) = A z + b, reshaped to an image: its Jacobian is A everywhere."""

    def __init__(self, latent_dim: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(torch.randn(784, latent_dim, generator=g) * 0.05)
        self.b = nn.Parameter(torch.randn(784, generator=g) * 0.1)

    def forward(self, z, labels=None):
        return (z @ self.A.T + self.b).reshape(-1, 1, 28, 28)


@pytest.mark.parametrize("latent_dim", [2, 3])
def test_sensitivity_of_a_linear_generator_is_the_closed_form(classifier, latent_dim):
    g = LinearGenerator(latent_dim, seed=latent_dim)
    ov = compute_overlays(g, classifier.model, latent_dim, False, resolution=5)
    # pixels on a 0..1 scale are (x + 1) / 2, so the Jacobian is A / 2; RMS over 784 pixels,
    # root mean square over the d directions
    a = g.A.detach().double().numpy() / 2
    expected = np.sqrt((a ** 2).sum() / 784 / latent_dim)
    sens = ov.maps["sensitivity"]
    assert sens.shape == (5,) * latent_dim
    np.testing.assert_allclose(sens, expected, rtol=1e-4)
    assert ov.evaluations == 5 ** latent_dim


def test_feature_sensitivity_matches_the_jacobian(classifier):
    """At interior grid points, the feature sensitivity from central differences on a fine
    grid is close to the norm of the autograd Jacobian of unit features of G(z)."""
    g = LinearGenerator(2, seed=7)
    c = classifier.model.eval()
    ov = compute_overlays(g, c, 2, False, resolution=41)
    for i, j in [(12, 28), (20, 20), (30, 6)]:
        z = torch.tensor([ov.axis[i], ov.axis[j]], dtype=torch.float32)

        def f(zz):
            return geometry.unit_features(c, g(zz[None]))[0]

        jac = torch.autograd.functional.jacobian(f, z).double().numpy()
        expected = np.sqrt((jac ** 2).sum() / 2)
        assert ov.maps["sensitivity-features"][i, j] == pytest.approx(expected, rel=0.05)


def _canvas():
    return np.full((28, 28), -1.0, np.float32)


def test_ink_counts_pixel_mass():
    img = _canvas()
    img[5:15, 10:13] = 1.0  # 30 full pixels
    img[20, 20] = 0.0  # half a pixel
    a = attributes(img[None])
    assert a["ink"][0] == pytest.approx(30.5)
    assert attributes(_canvas()[None])["ink"][0] == 0.0


def test_width_height_thickness_of_a_rectangle():
    img = _canvas()
    img[4:24, 8:12] = 1.0  # 20 rows high, 4 columns wide
    a = attributes(img[None])
    assert a["height"][0] == pytest.approx(20, abs=1e-4)
    assert a["width"][0] == pytest.approx(4, abs=1e-4)
    assert a["thickness"][0] == pytest.approx(4, rel=0.05)
    assert abs(a["slant"][0]) < 1e-4


@pytest.mark.parametrize("shear", [-0.5, 0.25, 0.5])
def test_slant_of_a_sheared_stroke(shear):
    """A stroke 3 pixels wide whose top leans right by ``shear`` columns per row."""
    img = _canvas()
    for r in range(4, 24):
        c = int(round(13 + shear * (14 - r)))
        img[r, c - 1:c + 2] = 1.0
    a = attributes(img[None])
    assert a["slant"][0] == pytest.approx(np.degrees(np.arctan(shear)), abs=1.5)
    # the stroke's perpendicular thickness
    assert a["thickness"][0] == pytest.approx(3 * np.cos(np.arctan(shear)), rel=0.08)


def test_thicker_strokes_and_more_ink_read_so():
    thin, thick = _canvas(), _canvas()
    thin[4:24, 13:15] = 1.0
    thick[4:24, 12:17] = 1.0
    a = attributes(np.stack([thin, thick]))
    assert a["thickness"][1] > a["thickness"][0] + 2
    assert a["ink"][1] == pytest.approx(2.5 * a["ink"][0])


def test_overlays_of_a_real_generator(tmp_path, classifier):
    from latent_explorer.models.checkpoint import load_checkpoint

    ck = load_checkpoint(make_generator(tmp_path / "g.pt", 2), expect="gan")
    ov = geometry.overlays_for(ck, classifier, resolution=9)
    assert set(ov.maps) == set(geometry.OVERLAYS)
    for name, vol in ov.maps.items():
        assert vol.shape == (9, 9) and np.isfinite(vol).all(), name
    assert (ov.maps["sensitivity"] > 0).all()
    # the stored ink is the ink of the image at that point
    img = ck.model(torch.tensor([[ov.axis[2], ov.axis[6]]]), None).detach().numpy()
    assert ov.maps["ink"][2, 6] == pytest.approx(attributes(img)["ink"][0], rel=1e-4)
    gx, gy = ov.slice_gradient("ink", (0, 1), [0, 0])
    np.testing.assert_allclose(gx, np.gradient(ov.maps["ink"].astype(np.float64), ov.step, axis=0), rtol=1e-4,
                               atol=1e-3)
    summary = ov.summary()
    assert np.asarray(summary["correlations"]["values"]).shape == (1, 2, 5)


def test_conditional_correlations_per_label(tmp_path, classifier):
    from latent_explorer.models.checkpoint import load_checkpoint

    ck = load_checkpoint(make_generator(tmp_path / "c.pt", 2, conditional=True), expect="cgan")
    ov = geometry.overlays_for(ck, classifier, resolution=5, digits=[3, 7])
    assert ov.maps["ink"].shape == (10, 5, 5)
    assert np.isfinite(ov.maps["ink"][3]).all() and np.isnan(ov.maps["ink"][0]).all()
    corr = ov.correlations()
    assert corr.shape == (10, 2, 5)
    assert np.all(np.abs(corr[3]) <= 1 + 1e-9)
    # the correlation of z0 with ink for label 3, by hand
    ink = ov.maps["ink"][3].astype(np.float64)
    z0 = np.repeat(ov.axis[:, None], 5, axis=1)
    assert corr[3, 0, 0] == pytest.approx(np.corrcoef(z0.ravel(), ink.ravel())[0, 1], abs=1e-6)


def test_cancel_stops_the_computation(classifier):
    with pytest.raises(geometry.Cancelled):
        compute_overlays(LinearGenerator(2), classifier.model, 2, False, resolution=9, should_stop=lambda: True)


class ConstantGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Parameter(torch.linspace(-1, 1, 784))

    def forward(self, z, labels=None):
        return self.image.expand(len(z), -1).reshape(-1, 1, 28, 28)


def test_path_length_is_zero_for_a_constant_generator_and_grows_with_speed(classifier):
    c = classifier.model
    assert geometry.perceptual_path_length(ConstantGenerator(), c, 2, False, samples=64)["perceptual_path_length"] \
        == 0.0
    slow, fast = LinearGenerator(2, seed=1), LinearGenerator(2, seed=1)
    with torch.no_grad():
        fast.A.mul_(3)
    p_slow = geometry.perceptual_path_length(slow, c, 2, False, samples=256)
    p_fast = geometry.perceptual_path_length(fast, c, 2, False, samples=256)
    assert 0 < p_slow["perceptual_path_length"] < p_fast["perceptual_path_length"]
    assert p_slow["ppl_epsilon"] == 1e-4 and p_slow["ppl_samples"] == 256


def test_walk_length_and_the_share_on_borders():
    feats = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float64)
    out = geometry.walk_length(feats, [3, 3, 5, 5])
    assert out["steps"] == pytest.approx([0, np.sqrt(2), 0])
    assert out["total"] == pytest.approx(np.sqrt(2)) and out["border_share"] == pytest.approx(1.0)
    out = geometry.walk_length(feats, [3, 3, 3, 3])
    assert out["border_share"] == 0.0


def test_strip_carries_its_step_distances(tmp_path, classifier):
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.engine import Engine
    from latent_explorer.models.paths import make_strip

    engine = Engine(load_checkpoint(make_generator(tmp_path / "g.pt", 2), expect="gan"), classifier)
    strip = make_strip(engine, (-1, -1), (1, 1), 7, fine_samples=33)
    assert strip.step_distance.shape == (6,)
    with torch.inference_mode():
        f = geometry.unit_features(engine.classifier, torch.from_numpy(strip.images[:, None])).numpy()
    np.testing.assert_allclose(strip.step_distance, np.linalg.norm(np.diff(f, axis=0), axis=1), rtol=1e-5)
    length = strip.length()
    crossing = strip.digits[1:] != strip.digits[:-1]
    assert length["total"] == pytest.approx(strip.step_distance.sum())
    assert length["border"] == pytest.approx(strip.step_distance[crossing].sum())


def test_geometry_command_writes_figure_and_json(tmp_path, classifier_path, capsys):
    import json

    from latent_explorer.app.cli import main

    gen = make_generator(tmp_path / "g3.pt", 3)
    fig, js = tmp_path / "ink.png", tmp_path / "ink.json"
    argv = ["geometry", str(gen), "--overlay", "ink", "--resolution", "5", "--axes", "xz", "--point", "0,0.5,0",
            "--classifier", str(classifier_path), "-o", str(fig), "--json", str(js)]
    assert main(argv) == 0
    assert fig.stat().st_size > 10_000
    data = json.loads(js.read_text())
    assert data["overlay"] == "ink" and data["axes"] == ["x", "z"] and data["resolution"] == 5
    assert data["overlays"]["ink"]["unit"].startswith("pixels")
    assert np.asarray(data["correlations"]["values"]).shape == (1, 3, 5)
    assert data["source"].startswith("computed: 125 images")
    # the one overwrite rule, and bad axes named
    assert main(argv) != 0
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(argv[:-4] + ["--axes", "xw", "-o", str(tmp_path / "b.png")]) != 0
    assert "--axes 'xw'" in capsys.readouterr().err


def test_geometry_command_on_a_conditional_model_needs_no_digit(tmp_path, classifier_path, capsys):
    import json

    from latent_explorer.app.cli import main

    gen = make_generator(tmp_path / "c2.pt", 2, conditional=True)
    js = tmp_path / "c.json"
    assert main(["geometry", str(gen), "--digit", "4", "--resolution", "4", "--classifier", str(classifier_path),
                 "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["digit"] == 4 and len(data["correlations"]["rows"]) == 10
    assert main(["geometry", str(gen), "--digit", "12", "--resolution", "4", "--classifier", str(classifier_path),
                 "--json", str(tmp_path / "d.json")]) != 0
    assert "--digit must be 0..9" in capsys.readouterr().err


def test_ridges_on_borders_counts_the_sensitive_points_beside_a_border():
    labels = np.zeros((20, 20), np.uint8)
    labels[10:] = 3  # one border between rows 9 and 10
    sens = np.ones((10, 10))
    sens[4:6] = 5.0  # the overlay's rows 4-5 cover label rows 8-11
    out = geometry.ridges_on_borders(sens, labels, top=0.2)
    assert out["on_borders"] == 1.0 and out["border_area"] == pytest.approx(0.2)
    assert out["median_on_borders"] == 5.0 and out["median_elsewhere"] == 1.0


def test_arrows_point_along_the_steepest_increase():
    r = 9
    ax = np.linspace(-1, 1, r)
    X, Y, Z = np.meshgrid(ax, ax, ax, indexing="ij")
    ink = (3 * X + Y - 2 * Z).astype(np.float32)
    ov = geometry.Overlays(3, False, r, {"ink": ink})
    xs, ys = geometry.arrow_segments(ov, "ink", (0, 1), (0, 0, 0.5), per_axis=4)
    assert len(xs) == len(ys) == 4 * 4 * 6  # 16 arrows: shaft and two head strokes, each a pair of points
    shaft = np.stack([xs[1::6] - xs[0::6], ys[1::6] - ys[0::6]], 1)
    direction = shaft / np.linalg.norm(shaft, axis=1, keepdims=True)
    np.testing.assert_allclose(direction, np.tile([3, 1] / np.sqrt(10), (16, 1)), atol=1e-6)
    flat = geometry.Overlays(3, False, r, {"ink": np.ones((r, r, r), np.float32)})
    assert len(geometry.arrow_segments(flat, "ink", (0, 2), (0, 0, 0))[0]) == 0
