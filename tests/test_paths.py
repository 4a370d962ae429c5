"""A-to-B walks: path maths, frames equal the generator's output, crossed regions, exports."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from latent_explorer.models.atlas import build_full, load_atlas
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Ablation, Engine
from latent_explorer.models.paths import make_strip, path_points, points_at
from latent_explorer.models.strip_export import export
from tests.conftest import ROOT, make_generator

SHIPPED_2D = ROOT / "checkpoints" / "gan2d.pt"


@pytest.fixture(scope="module")
def engine2d(classifier):
    return Engine(load_checkpoint(SHIPPED_2D), classifier)


def test_lerp_ends_exactly_at_a_and_b():
    a, b = (-0.83, 0.1, 0.77), (0.9, -1.0, 0.3333)
    t, pts, clipped = path_points(a, b, 7, "lerp")
    assert np.array_equal(pts[0], np.float32(a)) and np.array_equal(pts[-1], np.float32(b))
    assert np.allclose(pts[3], (np.float32(a) + np.float32(b)) / 2, atol=1e-6)
    assert not clipped.any() and t[0] == 0 and t[-1] == 1


def test_slerp_turns_at_a_constant_rate_and_clips_to_the_box():
    t, pts, clipped = path_points((0.5, 0.0), (0.0, 0.5), 5, "slerp")
    assert np.allclose(np.linalg.norm(pts, axis=1), 0.5, atol=1e-6)
    angles = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
    assert np.allclose(np.diff(angles), 22.5, atol=1e-4)
    _, pts, clipped = path_points((1, 1), (1, -1), 3, "slerp")
    assert clipped[1] and np.abs(pts).max() <= 1
    _, pts, _ = path_points((-1, 0), (1, 0), 3, "slerp")  # antipodal: straight line
    assert np.allclose(pts[1], 0)


def test_points_outside_the_box_are_refused():
    with pytest.raises(ValueError, match="outside the latent box"):
        points_at((1.5, 0), (0, 0), np.array([0.5]))
    with pytest.raises(ValueError, match="same number"):
        points_at((1, 0), (0, 0, 0), np.array([0.5]))


def test_strip_frames_equal_the_generator_output(engine2d):
    strip = make_strip(engine2d, (-0.9, 0.2), (0.7, -0.4), 6, "lerp", model="gan2d")
    for p, img in zip(strip.points, strip.images):
        frame = engine2d.render(__import__("latent_explorer.models.engine", fromlist=["RenderRequest"]).RenderRequest(tuple(p)))
        assert np.allclose(frame.image, img, atol=1e-5)
    assert np.allclose(strip.probs, engine2d.classify(strip.images), atol=1e-6)


def test_crossed_regions_cover_the_path_and_agree_with_the_atlas(engine2d, classifier, tmp_path):
    a, b = (-1.0, 0.0), (1.0, 0.0)
    strip = make_strip(engine2d, a, b, 12, "lerp", model="gan2d")
    cr = strip.crossings
    assert cr[0].t_enter == 0 and cr[-1].t_leave == 1
    assert all(x.t_leave == pytest.approx(y.t_enter) for x, y in zip(cr, cr[1:]))
    assert all(x.digit != y.digit for x, y in zip(cr, cr[1:]))
    # the region found at each frame's t holds that frame's digit (away from boundaries)
    for t, d in zip(strip.t, strip.digits):
        region = next(c for c in cr if c.t_enter <= t <= c.t_leave)
        if min(abs(t - region.t_enter), abs(t - region.t_leave)) > 1e-3:
            assert region.digit == d
    # and an atlas sampled along the path sees the same regions
    atlas = build_full(engine2d.checkpoint, classifier, 81)
    ts = np.linspace(0, 1, 401)
    pts, _ = points_at(a, b, ts)
    path_digits = np.array([next(c.digit for c in cr if c.t_enter <= t <= c.t_leave) for t in ts])
    atlas_digits = np.array([atlas.label_at(p)[0] for p in pts])
    assert (path_digits == atlas_digits).mean() >= 0.9


def test_exports_are_written_and_hold_what_they_claim(engine2d, tmp_path):
    strip = make_strip(engine2d, (-1.0, 0.5), (1.0, -0.5), 8, "slerp", model="gan2d")
    for ext in ("png", "svg", "pdf", "gif", "csv", "json"):
        export(strip, tmp_path / f"s.{ext}")
    assert Image.open(tmp_path / "s.png").size[0] >= 8 * 100
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "s.svg").read_bytes()[:2000]
    gif = Image.open(tmp_path / "s.gif")
    assert gif.n_frames == 8
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(rows) == 8 and [int(r["digit"] or 10) for r in rows] == strip.digits.tolist()
    assert float(rows[0]["x"]) == pytest.approx(-1.0) and float(rows[-1]["y"]) == pytest.approx(-0.5)
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["path"] == "slerp" and len(data["points"]) == 8 and data["regions"][0]["t_enter"] == 0
    with pytest.raises(FileExistsError):
        export(strip, tmp_path / "s.png")
    with pytest.raises(OSError):
        export(strip, tmp_path / "missing" / "s.png")
    assert not list((tmp_path).glob(".*.tmp"))


def test_ablation_is_named_in_the_export(engine2d, tmp_path):
    ab = (Ablation.parse("act2:rows=5-9"),)
    strip = make_strip(engine2d, (-1.0, 0.5), (1.0, -0.5), 4, ablations=ab, model="gan2d")
    plain = make_strip(engine2d, (-1.0, 0.5), (1.0, -0.5), 4, model="gan2d")
    assert not np.allclose(strip.images, plain.images)
    export(strip, tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["ablations"] == ["act2 rows=5,6,7,8,9 x0"]


def test_conditional_label_walk(classifier, tmp_path):
    engine = Engine(load_checkpoint(make_generator(tmp_path / "c.pt", 3, conditional=True, seed=2)), classifier)
    strip = make_strip(engine, (0.1, -0.2, 0.3), None, 5, label_walk=(3, 8), model="c")
    from latent_explorer.models.engine import RenderRequest
    first = engine.render(RenderRequest((0.1, -0.2, 0.3), digit=3)).image
    last = engine.render(RenderRequest((0.1, -0.2, 0.3), digit=8)).image
    assert np.allclose(strip.images[0], first, atol=1e-5) and np.allclose(strip.images[-1], last, atol=1e-5)
    assert strip.kind == "label"


def test_cli_export_strip(tmp_path, classifier_path):
    out = tmp_path / "strip.png"
    cmd = [sys.executable, "-m", "app", "export", "strip", "--model", str(SHIPPED_2D), "--a", "-1,0", "--b", "1,0",
           "--steps", "5", "--path", "slerp", "-o", str(out), "--csv", str(tmp_path / "s.csv"),
           "--classifier", str(classifier_path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.exists() and "regions crossed" in r.stdout
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1 and "already exists" in r.stderr
    bad = [sys.executable, "-m", "app", "export", "strip", "--model", str(SHIPPED_2D), "--a", "-1,0,0",
           "--b", "1,0", "-o", str(tmp_path / "x.png")]
    r = subprocess.run(bad, capture_output=True, text=True)
    assert r.returncode == 1 and "2-D latent space" in r.stderr and not (tmp_path / "x.png").exists()


def test_no_digit_is_an_empty_class_with_a_flag_in_csv_and_json_and_reads_no_digit_in_the_gif(engine2d, tmp_path):
    """Issue 30: a "no digit" frame was ``digit = 10`` in CSV and JSON, and the GIF's caption
    read "nodigit" (Pillow's built-in font spaces words 2 px apart)."""
    import dataclasses

    from PIL import ImageFont

    from latent_explorer.models.strip_export import _caption_font, gif_caption, strip_figure

    strip = make_strip(engine2d, (1.0, 1.0), (1.0, -1.0), 6, "slerp", model="gan2d")  # bulges past x = 1
    assert strip.clipped.any()
    is_digit = np.ones(6, bool)
    is_digit[2] = False  # the classifier's check finds no digit in frame 2
    strip = dataclasses.replace(strip, is_digit=is_digit)
    assert strip.digits[2] == 10
    export(strip, tmp_path / "s.csv")
    export(strip, tmp_path / "s.json")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert rows[2]["digit"] == "" and rows[2]["no_digit"] == "True" and rows[2]["closest"] == str(strip.closest[2])
    assert rows[0]["digit"] == str(strip.digits[0]) and rows[0]["no_digit"] == "False"
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["points"][2]["digit"] is None and data["points"][2]["no_digit"] is True
    assert all(r["digit"] in range(10) for k, r in enumerate(data["points"]) if k != 2)
    assert all((r["digit"] is None) == r["no_digit"] for r in data["regions"])
    assert "10" not in {str(r["digit"]) for r in data["points"] + data["regions"]}
    # the GIF's caption: the words "no digit" with a real space between them
    assert "no digit" in gif_caption(strip, 2)
    font = _caption_font()
    assert font.getlength("no digit") - font.getlength("nodigit") >= 3
    assert font.getlength(gif_caption(strip, 2)) <= 28 * 6 - 8  # fits the frame
    assert ImageFont.load_default().getlength("no digit") - ImageFont.load_default().getlength("nodigit") < 3
    # a star after t is explained wherever it is drawn
    texts = [t.get_text() for t in strip_figure(strip).texts]
    assert any("* the path left the box" in t.replace("\n", " ") for t in texts)
