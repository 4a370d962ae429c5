"""Layers in motion (models/layersvideo.py) and ``latent-explorer export layers-video``:
frames aligned with the walk (image, map point and heatmaps of the same step), GIF and MP4."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import make_known_generator
from latent_explorer.app.cli import main
from latent_explorer.models import layersvideo as V
from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Engine
from latent_explorer.models.frame import GENERATOR_LAYERS


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    return make_known_generator(tmp_path_factory.mktemp("known") / "known.pt")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_walk_frames_hold_the_steps_image_map_point_and_heatmaps(known, classifier):
    engine = Engine(load_checkpoint(known), classifier)
    walk = V.layer_walk(engine, (-0.8, 0.2), (0.8, -0.2), 5, model="known")
    images = engine.images(walk.points)
    np.testing.assert_allclose(walk.images, images, atol=1e-6)
    assert walk.probs[0].argmax() == 0 and walk.probs[-1].argmax() == 7
    for name in GENERATOR_LAYERS:
        assert walk.heatmaps[name].shape[0] == 5
        lo, hi = walk.levels[name]
        assert lo <= walk.heatmaps[name].min() and hi >= walk.heatmaps[name].max()
    frames = V.frame_images(walk)
    assert len(frames) == 5 and all(f.size == frames[0].size for f in frames)
    assert frames[0].size[0] % 16 == 0 and frames[0].size[1] % 16 == 0
    x0, y0 = V.GAP, V.GAP + 18
    for i, f in enumerate(frames):
        a = np.asarray(f)
        # the image panel is frame i's image, enlarged without smoothing
        shown = a[y0 + 3:y0 + V.IMAGE_PX:6, x0 + 3:x0 + V.IMAGE_PX:6, 0].astype(float)
        expect = ((images[i] + 1) * 127.5).clip(0, 255).astype(np.uint8).astype(float)
        assert np.abs(shown - expect).max() <= 1
        # the point's marker (white disc) sits where frame i's point is on the map
        mx = x0 + V.IMAGE_PX + V.GAP
        u = int(mx + (walk.points[i, 0] + 1) / 2 * V.IMAGE_PX)
        v = int(y0 + (1 - walk.points[i, 1]) / 2 * V.IMAGE_PX)
        assert (a[v, u] == 255).all()
    assert not np.array_equal(np.asarray(frames[0]), np.asarray(frames[-1]))


def test_export_layers_video_gif_and_mp4(known, tmp_path, capsys):
    gif = tmp_path / "walk.gif"
    code, out, err = _run(capsys, "export", "layers-video", "--model", known, "--a", "-0.8,0", "--b", "0.8,0",
                          "--steps", "4", "-o", gif)
    assert code == 0, err
    assert f"wrote {gif} (4 frames" in out
    with Image.open(gif) as im:
        assert im.n_frames == 4
    code, _, err = _run(capsys, "export", "layers-video", "--model", known, "--a", "-0.8,0", "--b", "0.8,0",
                        "--steps", "4", "-o", gif)
    assert code == 1 and f"{gif}: already exists" in err and "--force" in err
    mp4 = tmp_path / "walk.mp4"
    code, out, err = _run(capsys, "export", "layers-video", "--model", known, "--a", "-0.8,0", "--b", "0.8,0",
                          "--steps", "3", "--show", "max", "--ablate", "act2:1", "-o", mp4)
    assert code == 0, err
    head = mp4.read_bytes()[:64]
    assert b"ftyp" in head and mp4.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif", "walk.mp4"]  # no temporary left


@pytest.mark.parametrize("argv,words", [
    (["--a", "0,0", "--b", "1,1", "-o", "{tmp}/w.avi"], [".gif or .mp4"]),
    (["--a", "0,0,0", "--b", "1,1", "-o", "{tmp}/w.gif"], ["--a 0,0,0", "2-D"]),
    (["--a", "0,0", "--b", "2,1", "-o", "{tmp}/w.gif"], ["--b 2,1", "latent box"]),
    (["--a", "0,0", "--b", "1,1", "--steps", "1", "-o", "{tmp}/w.gif"], ["--steps"]),
    (["--a", "0,0", "--b", "1,1", "--digit", "3", "-o", "{tmp}/w.gif"], ["--digit 3", "unconditional"]),
])
def test_export_layers_video_refuses_bad_input(known, tmp_path, capsys, argv, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = _run(capsys, "export", "layers-video", "--model", known, *args)
    assert code == 1 and err.startswith("latent-explorer: error: "), err
    for w in words:
        assert w in err, (w, err)
    assert not list(tmp_path.iterdir())


def test_export_layers_video_accepts_shipped_model_names(tmp_path, capsys):
    out = tmp_path / "g.gif"
    code, stdout, err = _run(capsys, "export", "layers-video", "--model", "gan2d", "--a", "-1,0", "--b", "1,0",
                             "--steps", "2", "-o", out)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.n_frames == 2
