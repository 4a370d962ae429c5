"""``latent-explorer render``: a real PNG of the right size, and clear errors."""
from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from latent_explorer.app.cli import main

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, window, ...
CLASSIFIER_PATH = Path(__file__).resolve().parent.parent / "checkpoints" / "classifier.pt"


def render(*args: str) -> int:
    return main(["render", "--classifier", str(CLASSIFIER_PATH), *args])


def test_render_writes_a_png_with_image_and_map(models_dir, tmp_path, capsys):
    out = tmp_path / "point.png"
    assert render("--model", str(models_dir / "gan2d.pt"), "--point", "-0.84,0.54", "-o", str(out)) == 0
    png = mpimg.imread(out)
    assert png.shape[:2] == (500, 1100)  # 11 x 5 inches at 100 dpi
    assert png[..., :3].std() > 0.05  # not a blank canvas
    said = capsys.readouterr().out
    assert "gan2d" in said and "image class" in said
    assert [p.name for p in tmp_path.iterdir()] == ["point.png"]  # no temporary file left


def test_render_dpi_sets_the_size(models_dir, tmp_path):
    out = tmp_path / "small.png"
    assert render("--model", str(models_dir / "gan3d.pt"), "--point=0.1,-0.2,0.3", "--dpi", "50", "-o", str(out)) == 0
    assert mpimg.imread(out).shape[:2] == (250, 550)


def test_render_without_an_atlas_computes_the_slice(models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "g4.png"
    assert render("--model", str(models_dir / "gan4d.pt"), "--point", "0,0.5,-0.5,1", "--resolution", "8",
                  "-o", str(out)) == 0
    assert mpimg.imread(out).shape[:2] == (500, 1100)
    assert not (tmp_path / "cache").exists()  # the slice is computed, no atlas is built


def test_render_conditional_and_explicit_atlas(models_dir, tmp_path):
    out = tmp_path / "c.png"
    assert render("--model", str(models_dir / "cgan2d.pt"), "--point", "0.2,0.2", "--digit", "4",
                  "--atlas", str(models_dir / "cgan2d.atlas.h5"), "-o", str(out)) == 0
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--point", "1.5,0"], "outside the latent box"),
    (["--point", "0.1,0.2,0.3"], "has 3 coordinates"),
    (["--point", "0,0", "--digit", "3"], "not conditional"),
    (["--point", "0,0", "--atlas", "{models}/gan3d.atlas.h5"], "another generator"),
    (["--point", "0,0", "-o", "{tmp}/missing/out.png"], "does not exist"),
    (["--point", "0,0", "-o", "{tmp}"], "is a folder"),
    (["--point", "0,0", "-o", "{tmp}/out.xyz"], "unsupported image format"),
])
def test_render_errors_are_clear(models_dir, tmp_path, capsys, args, message):
    args = [a.format(models=models_dir, tmp=tmp_path) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.png")]
    assert render("--model", str(models_dir / "gan2d.pt"), *args) == 1
    err = capsys.readouterr().err
    assert err.startswith("latent-explorer: error:") and message in err
    assert not any(p.suffix in (".png", ".tmp") for p in tmp_path.iterdir())


def test_render_errors_for_models(models_dir, tmp_path, capsys):
    out = str(tmp_path / "o.png")
    assert render("--model", "no-such-model", "--point", "0,0", "-o", out) == 1
    assert "no model named 'no-such-model'" in capsys.readouterr().err
    assert render("--model", str(models_dir / "cgan2d.pt"), "--point", "0,0", "-o", out) == 1
    assert "pass --digit" in capsys.readouterr().err
    assert render("--model", str(models_dir / "notes.pt"), "--point", "0,0", "-o", out) == 1
    assert "notes.pt" in capsys.readouterr().err
    assert render("--model", str(CLASSIFIER_PATH), "--point", "0,0", "-o", out) == 1
    assert "expected gan or cgan" in capsys.readouterr().err


def test_bad_point_text_is_a_usage_error(models_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        render("--model", str(models_dir / "gan2d.pt"), "--point", "a,b", "-o", str(tmp_path / "o.png"))
    assert exc.value.code == 2 and "comma-separated numbers" in capsys.readouterr().err


def test_the_map_shows_the_atlas_plane(models_dir):
    """The figure's map is the atlas slice coloured with the shared palette."""
    from latent_explorer.models.atlas import load_atlas
    from latent_explorer.models.maps import PALETTE, colour_map

    atlas = load_atlas(models_dir / "gan2d.atlas.h5")
    labels, conf = atlas.slice2d((0, 1), (0, 0))
    rgb = colour_map(labels, np.ones_like(conf))
    assert (rgb == PALETTE[labels]).all()
