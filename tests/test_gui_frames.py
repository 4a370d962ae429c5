"""The frame pipeline, driven in the real window: the render runs in its own thread and the
latest request wins, markers move at once and the image follows, a move repaints only what
it changed, hidden views wait, and a failure in the render thread reaches the error dialog."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from latent_explorer.app.qt.errors import install
from latent_explorer.app.qt.panels.map2d import Map2DPanel
from latent_explorer.app.qt.panels.overview import OverviewPanel
from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
from latent_explorer.app.qt.slicecache import SliceCache
from latent_explorer.models.atlas import load_atlas
from latent_explorer.models.engine import Ablation

pytest_plugins = ("gui_fixtures",)


def settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.renderer.pending and w.state.frame is not None
                    and np.allclose(w.state.frame.point, w.state.point, atol=1e-6), timeout=5000)


def test_the_render_runs_off_the_ui_thread_and_the_image_follows_the_marker(qtbot, window):
    settle(qtbot, window)
    before = window.image_panel.pixels.copy()
    computed = window.renderer.computed
    window.state.set_point((0.7, -0.6))
    # the marker is there at once, in the slider's (here the state's) own handler ...
    xs, ys = window.map_area.panel(Map2DPanel).view.ring_inner.getData()
    assert (xs[0], ys[0]) == pytest.approx((0.7, -0.6))
    # ... the frame is computed by the render thread while the UI thread is busy elsewhere
    assert window.renderer.wait_idle()
    assert window.renderer.computed == computed + 1
    assert window.renderer.pending and np.array_equal(window.image_panel.pixels, before)
    settle(qtbot, window)  # the image follows once its frame reaches the UI thread
    assert not np.allclose(window.image_panel.pixels, before)
    np.testing.assert_array_equal(window.image_panel.pixels, window.state.frame.image)
    assert window.renderer._worker.name == "frame-renderer" and window.renderer._worker.is_alive()


def test_the_render_thread_uses_the_traced_render_once_the_first_frame_is_out(qtbot, window):
    """The render thread's engine traces itself after its first frame (one TorchScript call
    per render, models/tracedrender.py), and its frames are the UI thread's eager ones."""
    settle(qtbot, window)
    assert window.renderer.wait_idle()
    engine = window.renderer._worker_engine()
    assert engine.is_traced and engine is not window.state.model.engine
    window.state.set_point((0.3, -0.45))
    settle(qtbot, window)
    shown = window.state.frame
    window.renderer.render_now()  # the same point, eagerly, on the UI thread
    eager = window.state.frame
    assert eager is not shown
    np.testing.assert_array_equal(shown.image, eager.image)
    np.testing.assert_array_equal(shown.probs, eager.probs)


def test_latest_request_wins(qtbot, window):
    settle(qtbot, window)
    computed = window.renderer.computed
    for v in np.linspace(-1, 1, 300):  # 300 requests before the event loop runs
        window.state.set_point((float(v), 0.25))
    settle(qtbot, window)
    window.renderer.wait_idle()
    assert window.renderer.computed - computed <= 2  # the render in progress at most, then the last
    assert tuple(window.state.frame.point) == pytest.approx((1.0, 0.25))


def test_a_move_repaints_only_what_it_changed(qtbot, make_window):
    w = make_window(model="gan3d")
    settle(qtbot, w)
    slices = w.map_area.panel(Slices3DPanel)
    xy, xz, yz = slices.views
    qtbot.waitUntil(lambda: xy.labels is not None, timeout=5000)
    images = [v.image.image for v in slices.views]
    yz_marker = yz.ring_inner.getData()
    w.state.set_coordinate(2, 0.9)  # along z: the xy slice is recut, xz and yz keep their images
    assert xy.image.image is not images[0]
    assert xz.image.image is images[1] and yz.image.image is images[2]
    assert yz.ring_inner.getData()[1][0] == pytest.approx(0.9)  # ... but their markers moved
    assert slices.captions[0].startswith("xy at z = +1.00")  # the cut's cell, not the point
    images = [v.image.image for v in slices.views]
    w.state.set_coordinate(2, 0.95)  # the same atlas cell: no slice is recut, no caption changes
    assert all(v.image.image is img for v, img in zip(slices.views, images))
    assert slices.captions[0].startswith("xy at z = +1.00")
    w.state.set_coordinate(0, 0.1)  # along x: the yz slice's marker stays where it was
    assert yz.ring_inner.getData()[0][0] == yz_marker[0][0]
    settle(qtbot, w)


def test_hidden_views_do_no_work_and_catch_up_when_shown(qtbot, make_window):
    w = make_window(model="gan3d")
    settle(qtbot, w)
    slices = w.map_area.panel(Slices3DPanel)
    overview = w.map_area.panel(OverviewPanel)
    slices.hide()
    w.state.set_point((0.5, -0.5, 0.25))
    assert slices.views[0].ring_inner.getData()[0][0] != pytest.approx(0.5)  # not drawn while hidden
    slices.show()
    qtbot.waitUntil(lambda: slices.isVisible(), timeout=3000)
    assert slices.views[0].ring_inner.getData()[0][0] == pytest.approx(0.5)
    assert overview.marker.isVisible()
    settle(qtbot, w)


def test_overview_text_items_are_reused_when_the_cube_changes(qtbot, make_window):
    w = make_window(model="gan4d")
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=60000)  # built on demand (4^4)
    settle(qtbot, w)
    overview = w.map_area.panel(OverviewPanel)
    qtbot.waitUntil(lambda: len(overview.texts) > 0, timeout=5000)
    texts = list(overview.texts)
    mosaic = overview.image.image
    w.state.set_coordinate(3, 0.9)  # along w: another cube, a new mosaic, the same captions
    assert overview.image.image is not mosaic
    assert overview.texts[:len(texts)] == texts
    settle(qtbot, w)


@pytest.mark.qt_no_exception_capture
def test_a_failure_in_the_render_thread_reaches_the_error_dialog(qtbot, window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    reporter = install(window)
    seen_in = []
    reporter.report.connect(lambda *_: seen_in.append(threading.current_thread() is threading.main_thread()))
    try:
        # an edit makes the render thread's renders eager (the traced render's weights are its own)
        window.state.set_ablations([Ablation("act2", channels=(0,), scale=0.5)])
        settle(qtbot, window)
        # the render thread's own copy of the model gets a weight of the wrong shape (a real
        # torch error in the forward pass, raised in the render thread)
        engine = window.renderer._worker_engine()
        first = next(m for m in engine.generator.modules() if isinstance(m, torch.nn.Linear))
        first.weight = torch.nn.Parameter(torch.zeros(3, 3))
        window.state.set_point((0.1, 0.2))
        qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
        assert shown[0][0] == "Unexpected error" and "RuntimeError" in shown[0][1]
        assert seen_in == [True]
        window.renderer.render_now()  # the window's own model is intact
        assert tuple(window.state.frame.point) == pytest.approx((0.1, 0.2))
    finally:
        reporter.uninstall()


def test_slice_cache_cuts_each_plane_once_and_stays_bounded(models_dir):
    atlas = load_atlas(models_dir / "gan3d.atlas.h5")
    one = SliceCache().get(atlas, (0, 1), (0.0, 0.0, 0.0)).nbytes
    cache = SliceCache(max_bytes=4 * one)
    first = cache.get(atlas, (0, 1), (0.0, 0.0, 0.0))
    assert cache.get(atlas, (0, 1), (0.3, -0.2, 0.0)) is first  # same plane, same position: the same cut
    assert (cache.hits, cache.misses) == (1, 1)
    labels, conf = atlas.slice2d((0, 1), (0.0, 0.0, 0.0))
    np.testing.assert_array_equal(first.labels, labels)
    for z in np.linspace(-1, 1, 5):
        for axes in ((0, 1), (0, 2), (1, 2)):
            cache.get(atlas, axes, (float(z), float(z), float(z)))
    assert cache.nbytes(atlas) <= 4 * one  # least recently used planes dropped
    del atlas
    import gc

    gc.collect()
    assert cache.nbytes() == 0  # an atlas that is gone takes its planes with it
