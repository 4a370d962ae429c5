"""The geometry overlays in the real window, offscreen: the toggle and chooser beside the
class maps, the heatmap on the 2-D map and the 3-D slices against the engine's overlays,
the colour bar's ends and units, computing off the UI thread with Cancel, the cache per model."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from latent_explorer.app.qt.panels.map2d import Map2DPanel
from latent_explorer.app.qt.panels.slices3d import PLANES, Slices3DPanel
from latent_explorer.models.geometry import UNITS, arrow_segments, colour_range, colourise, overlays_for

pytest_plugins = ("gui_fixtures",)

RES = 7  # overlay grid of the tests: 49 images in 2-D, 343 in 3-D


def choose(qtbot, w, name: str) -> None:
    bar = w.overlay_bar
    bar.chooser.setCurrentIndex(bar.chooser.findData(name))
    if not bar.toggle.isChecked():
        qtbot.mouseClick(bar.toggle, Qt.MouseButton.LeftButton)


def wait_overlays(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.state.overlays is not None and not w.overlay_service.busy, timeout=60000)


def shown(view) -> np.ndarray:
    return np.asarray(view.overlay.image)


def switch(qtbot, w, name: str) -> None:
    w.model_combo.setCurrentIndex(w.model_combo.findText(name, Qt.MatchFlag.MatchStartsWith))
    w.model_combo.activated.emit(w.model_combo.currentIndex())
    qtbot.waitUntil(lambda: w.state.model is not None and w.state.model.name == name, timeout=30000)


def test_overlay_toggle_and_chooser_on_the_2d_map(qtbot, make_window, classifier_ckpt):
    w = make_window(model="gan2d")
    w.overlay_service.resolution = RES
    view = w.map_area.panel(Map2DPanel).view
    assert w.state.option("overlay") is None and not view.overlay.isVisible()
    choose(qtbot, w, "sensitivity")
    assert w.state.option("overlay") == "sensitivity"
    wait_overlays(qtbot, w)
    expected = overlays_for(w.state.model.checkpoint, classifier_ckpt, RES)
    np.testing.assert_allclose(w.state.overlays.maps["sensitivity"], expected.maps["sensitivity"], rtol=1e-5)
    qtbot.waitUntil(view.overlay.isVisible, timeout=5000)
    lo, hi = colour_range(expected, "sensitivity")
    np.testing.assert_array_equal(shown(view), colourise(expected.maps["sensitivity"], "sensitivity", lo, hi))
    assert not view.arrows.isVisible()  # arrows for the attributes only
    bar = w.overlay_bar
    assert bar.low.text() == f"{lo:.3g}" and bar.high.text() == f"{hi:.3g}"
    assert UNITS["sensitivity"] in bar.unit.text() and not bar.bar.pixmap().isNull()
    w.state.set_point((0.5, -0.5))
    assert bar.here.text().endswith(f"{expected.value_at('sensitivity', (0.5, -0.5)):.3g}")
    # another overlay: no new computation, the map shows its colours
    choose(qtbot, w, "slant")
    assert not w.overlay_service.busy
    lo, hi = colour_range(expected, "slant")
    assert lo == -hi
    np.testing.assert_array_equal(shown(view), colourise(expected.maps["slant"], "slant", lo, hi))
    # off: the heatmap goes, the class map stays
    qtbot.mouseClick(bar.toggle, Qt.MouseButton.LeftButton)
    assert w.state.option("overlay") is None and not view.overlay.isVisible()
    assert view.labels is not None


def test_overlays_on_the_3d_slices_follow_the_point_and_are_cached_per_model(qtbot, make_window, classifier_ckpt):
    w = make_window(model="gan3d")
    w.overlay_service.resolution = RES
    choose(qtbot, w, "ink")
    wait_overlays(qtbot, w)
    ov = w.state.overlays
    slices = w.map_area.panel(Slices3DPanel)
    point = (0.3, -0.7, 0.9)
    w.state.set_point(point)
    lo, hi = colour_range(ov, "ink")
    for view, axes in zip(slices.views, PLANES):
        assert view.overlay.isVisible()
        np.testing.assert_array_equal(shown(view), colourise(ov.slice2d("ink", axes, point), "ink", lo, hi))
        # arrows along the steepest increase of the attribute in that plane
        xs, ys = arrow_segments(ov, "ink", axes, point)
        assert view.arrows.isVisible() and len(xs) > 0
        np.testing.assert_allclose(view.arrows.getData()[0], xs, rtol=1e-6)
        np.testing.assert_allclose(view.arrows.getData()[1], ys, rtol=1e-6)
    # another model and back: the overlays come from the cache at once, no computation
    switch(qtbot, w, "gan2d")
    assert w.state.option("overlay") == "ink"  # the chosen overlay stays
    wait_overlays(qtbot, w)
    switch(qtbot, w, "gan3d")
    assert w.state.overlays is ov and not w.overlay_service.busy


def test_overlay_computation_can_be_cancelled(qtbot, make_window):
    w = make_window(model="gan2d")
    w.overlay_service.resolution = 300  # 90,000 images: long enough to cancel
    choose(qtbot, w, "sensitivity")
    assert w.overlay_service.busy and w.overlay_bar.cancel.isVisible()
    qtbot.mouseClick(w.overlay_bar.cancel, Qt.MouseButton.LeftButton)
    assert not w.overlay_service.busy
    assert "cancelled" in w.overlay_bar.message.text() and w.state.overlays is None
