"""The Qt-free helpers behind the window: model registry and map colouring/labelling."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import CLASSIFIER, ROOT

from latent_explorer.models.atlas import Atlas, load_atlas
from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint
from latent_explorer.models.engine import Engine
from latent_explorer.models.maps import PALETTE, atlas_cube, colour_map, compute_slice, regions
from latent_explorer.models.registry import (cache_dir, cached_atlas_path, default_entry, find_atlas, open_model, quick_resolution,
                             read_entry, resolve, scan)

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, classifier_ckpt, ...


def test_scan_lists_generators_in_shipped_order(models_dir):
    entries = scan(models_dir)
    assert [e.name for e in entries] == ["gan2d", "gan3d", "gan4d", "cgan2d"]
    e = entries[3]
    assert (e.latent_dim, e.conditional, e.kind) == (2, True, "cgan")
    assert e.atlas_path == models_dir / "cgan2d.atlas.h5" and e.history_path.name == "cgan2d.history.h5"
    assert default_entry(entries).name == "gan2d"
    assert default_entry(entries[1:]).name == "gan3d"
    assert default_entry([]) is None
    assert scan(models_dir / "missing") == []


def test_read_entry_refuses_non_generators(models_dir):
    with pytest.raises(CheckpointError, match="classifier"):
        read_entry(models_dir / "classifier.pt")
    with pytest.raises(CheckpointError, match="notes.pt"):
        read_entry(models_dir / "notes.pt")


def test_resolve_names_and_paths(models_dir, tmp_path):
    assert resolve("gan3d", models_dir) == models_dir / "gan3d.pt"
    assert resolve(str(tmp_path / "x.pt"), models_dir) == tmp_path / "x.pt"
    with pytest.raises(ValueError, match="available: gan2d, gan3d, gan4d, cgan2d"):
        resolve("gan9d", models_dir)


def test_atlases_are_found_beside_the_model_or_in_the_cache(models_dir, classifier_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    g2 = load_checkpoint(models_dir / "gan2d.pt")
    atlas, notes = find_atlas(g2, classifier_ckpt)
    assert atlas.path == models_dir / "gan2d.atlas.h5" and notes == []
    g4 = load_checkpoint(models_dir / "gan4d.pt")
    assert find_atlas(g4, classifier_ckpt) == (None, [])
    # a foreign atlas beside the model is refused with a note; a cached one is used
    path = tmp_path / "m" / "gan4d.pt"
    path.parent.mkdir()
    path.write_bytes((models_dir / "gan4d.pt").read_bytes())
    (path.parent / "gan4d.atlas.h5").write_bytes((models_dir / "gan3d.atlas.h5").read_bytes())
    g4b = load_checkpoint(path)
    atlas, notes = find_atlas(g4b, classifier_ckpt)
    assert atlas is None and "another generator" in notes[0]
    cached = cached_atlas_path(g4b, classifier_ckpt, 3)
    assert cached.parent == tmp_path / "c" / "atlases"
    cached.parent.mkdir(parents=True)
    labels = np.zeros((3,) * 4, np.uint8)
    Atlas(labels=labels, confidence=np.ones_like(labels, np.float16), latent_dim=4, conditional=False,
          resolution=3, generator_digest=g4b.digest, classifier_digest=classifier_ckpt.digest).save(cached)
    model = open_model(path, classifier_ckpt)
    assert model.atlas.path == cached and model.notes and model.describe() == "gan4d (4-D)"


def test_quick_resolutions_stay_small():
    assert [quick_resolution(d, False) for d in (2, 3, 4)] == [64, 24, 12]
    for d in (2, 3, 4):
        cells = quick_resolution(d, True) ** d * 10
        assert cells <= 150_000 and quick_resolution(d, True) < quick_resolution(d, False)


def test_colour_map_blends_towards_white_where_unsure():
    labels = np.array([[0, 3], [9, 3]], np.uint8)
    conf = np.array([[1.0, 0.0], [0.5, 1.0]], np.float32)
    rgb = colour_map(labels, conf)
    assert (rgb[0, 0] == PALETTE[0]).all() and (rgb[1, 1] == PALETTE[3]).all()
    assert (rgb[0, 1] == 255).all()
    assert np.allclose(rgb[1, 0], (PALETTE[9].astype(float) + 255) / 2, atol=1)


def test_regions_label_each_big_connected_area_inside_itself():
    labels = np.full((40, 40), 1, np.uint8)
    labels[:, 25:] = 7  # a band of 7 on the right
    labels[5:15, 5:15] = 7  # and a separate square of 7
    ring = np.zeros((40, 40), bool)  # a C-shaped region whose centroid lies outside it
    ring[20:38, 2:20] = True
    ring[24:34, 6:20] = False
    labels[ring] = 4
    labels[0, 0] = 2  # one stray cell: too small to label
    found = regions(labels)
    assert sorted(r.digit for r in found) == [1, 4, 7, 7]
    for r in found:
        assert labels[int(r.row), int(r.col)] == r.digit
    assert regions(np.zeros((0, 0))) == []


def test_compute_slice_matches_a_full_atlas(models_dir, classifier_ckpt):
    g = load_checkpoint(models_dir / "gan3d.pt")
    atlas = load_atlas(models_dir / "gan3d.atlas.h5")
    engine = Engine(g, classifier_ckpt)
    point = (atlas.axis[1], atlas.axis[3], atlas.axis[2])
    for axes in ((0, 1), (2, 0)):
        labels, conf = compute_slice(engine, axes, point, resolution=atlas.resolution)
        want, want_conf = atlas.slice2d(axes, point)
        np.testing.assert_array_equal(labels, want)
        np.testing.assert_allclose(conf, want_conf, atol=2e-3)
    cube, _ = atlas_cube(atlas, point)
    assert cube.shape == (5, 5, 5)
    with pytest.raises(ValueError):
        compute_slice(engine, (1, 1), point)


def test_voxel_rendering_draws_the_visible_faces():
    from latent_explorer.models.voxels import box_edges, render_cube, rotation, visible_voxels

    labels = np.zeros((6, 6, 6), np.uint8)
    labels[3:, :, :] = 5
    mask = visible_voxels(labels)
    assert mask.sum() == 6 ** 3 - 4 ** 3  # the surface only
    hidden = visible_voxels(labels, {5})
    assert not hidden[3:].any() and hidden[2].all()  # the 0-half shows its face towards the 5s
    img = render_cube(labels, np.ones(labels.shape, np.float32), 30, 20, size=120)
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert (255, 255, 255) in colours  # background round the cube
    assert any(abs(int(c[0]) - 140) < 60 and c[2] < 120 for c in colours)  # some brown (5), shaded
    assert len(box_edges(rotation(30, 20), 120)) == 12
    blank = render_cube(labels, None, 30, 20, size=50, hidden={0, 5})
    assert (blank == 255).all()


def test_regions_equal_scipys_connected_components():
    """The numpy labelling (no scipy at start-up) finds what scipy.ndimage.label finds:
    the same regions, sizes, centres and order, on random maps and on every shipped atlas's
    middle planes; a long serpentine region is one region."""
    from scipy import ndimage

    from latent_explorer.models.atlas import load_atlas
    from latent_explorer.models.maps import Region

    def by_scipy(labels, min_fraction, min_cells):
        threshold = max(min_cells, int(min_fraction * labels.size))
        out = []
        for digit in np.unique(labels):
            comp, _ = ndimage.label(labels == digit)
            sizes = np.bincount(comp.ravel())[1:]
            for k in np.nonzero(sizes >= threshold)[0]:
                rows, cols = np.nonzero(comp == k + 1)
                i = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))
                out.append(Region(int(digit), int(sizes[k]), float(rows[i]), float(cols[i])))
        return sorted(out, key=lambda r: -r.cells)

    rng = np.random.default_rng(0)
    for case in range(200):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        labels = rng.integers(0, int(rng.integers(1, 5)), (h, w)).astype(np.uint8)
        fraction = float(rng.choice([0.0, 0.004, 0.02]))
        assert regions(labels, fraction, 1) == by_scipy(labels, fraction, 1), (case, labels.tolist())
    for path in sorted((ROOT / "checkpoints").glob("*.atlas.h5")):
        atlas = load_atlas(path)
        labels = atlas.slice2d((0, 1), np.zeros(atlas.latent_dim), 0 if atlas.conditional else None)[0]
        assert regions(labels, 0.004) == by_scipy(labels, 0.004, 4), path.name
    snake = np.zeros((96, 96), np.uint8)
    snake[::4] = 1
    snake[1::8, -1] = snake[2::8, -1] = snake[3::8, -1] = 1
    snake[5::8, 0] = snake[6::8, 0] = snake[7::8, 0] = 1
    found = regions(snake, 0.0)
    assert [r.cells for r in found if r.digit == 1] == [int((snake == 1).sum())]
    assert found == by_scipy(snake, 0.0, 4)


def test_the_window_starts_without_scipy(tmp_path):
    """scipy's import took about half a second of the first show (connected regions of the
    first map); the app's start no longer needs it."""
    code = ("import os, sys, time; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from pathlib import Path\n"
            "from latent_explorer.app.qt.main import make_app\n"
            "from latent_explorer.app.qt.settings import make_settings\n"
            "from latent_explorer.app.qt.window import MainWindow\n"
            "app = make_app()\n"
            f"win = MainWindow(Path({str(ROOT / 'checkpoints')!r}), Path({str(CLASSIFIER)!r}), make_settings(), "
            "autobuild_atlas=False)\n"
            "win.open_initial(None); win.show(); t = time.time()\n"
            "while (win.state.frame is None or win.renderer.pending) and time.time() - t < 60:\n"
            "    app.processEvents(); time.sleep(0.001)\n"
            "app.processEvents()\n"
            "assert win.state.frame is not None and win.map_area.panels, 'no first frame'\n"
            "print('SCIPY' if any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules) else 'CLEAN', flush=True)\n"
            "os._exit(0)  # what is imported is known; the window's teardown is tested elsewhere\n")
    import os
    import subprocess
    import sys

    env = dict(os.environ, LATENT_EXPLORER_SETTINGS=str(tmp_path / "settings.ini"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "CLEAN"
