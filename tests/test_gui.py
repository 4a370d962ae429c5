"""The explorer window, driven offscreen like a user would: sliders, map clicks, model
switching, conditional selectors, atlas builds, bad files, settings, clean exit."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel, QMessageBox

from latent_explorer.app.qt.panels.areas import AreasPanel
from latent_explorer.app.qt.panels.empty import EmptyPanel
from latent_explorer.app.qt.panels.map2d import Map2DPanel
from latent_explorer.app.qt.panels.overview import OverviewPanel
from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
from latent_explorer.app.qt.panels.view3d import View3DPanel

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, window, ...
ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER_PATH = ROOT / "checkpoints" / "classifier.pt"


def settle(qtbot, w) -> None:
    """Let the renderer catch up with the state."""
    qtbot.waitUntil(lambda: not w.renderer.pending and w.state.frame is not None
                    and np.allclose(w.state.frame.point, w.state.point, atol=1e-6), timeout=5000)


def click_map(qtbot, view, x: float, y: float) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.view_to_widget(x, y))


@pytest.fixture
def errors(monkeypatch):
    """Every QMessageBox.critical the window shows: (title, text)."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    return shown


# ---------------------------------------------------------------- opening


def test_opens_on_the_2d_gan_with_its_atlas(qtbot, window):
    settle(qtbot, window)
    st = window.state
    assert st.model.name == "gan2d" and st.point == (0.0, 0.0)
    assert st.atlas is not None and st.atlas.resolution == 9
    assert len(window.sliders_panel.sliders) == 2
    assert isinstance(window.map_area.panel(Map2DPanel), Map2DPanel)
    assert window.digits_panel.isHidden()
    names = [window.model_combo.itemText(i).split()[0] for i in range(window.model_combo.count())]
    assert names == ["gan2d", "gan3d", "gan4d", "cgan2d"]  # shipped order; no classifier, no junk file
    readout = window.readout_panel
    if st.frame.is_digit:
        assert readout.digit.text() == str(st.frame.predicted)
        assert f"Image class: {st.frame.predicted}" == readout.title.text()
    else:  # the classifier's check finds no digit in this random generator's image
        assert readout.digit.text() == "–"
        assert readout.title.text() == "Image class: not a digit"
        assert readout.detail.text() == f"closest: {st.frame.predicted}, {st.frame.confidence:.0%}"
    np.testing.assert_allclose(readout.probs, st.frame.probs)
    np.testing.assert_allclose(readout.bar_heights(), st.frame.probs, rtol=1e-6)  # the bars drawn
    framed = [d for d, bar in enumerate(readout.bars) if bar.pen().style() != Qt.PenStyle.NoPen]
    assert framed == [st.frame.predicted]  # the predicted digit's bar is outlined
    assert window.image_panel.pixels.shape == (28, 28)
    cell = window.point_panel.cell.text()
    label, conf = st.atlas.label_at(st.point)
    assert "(4, 4)" in cell and (f"digit <b>{label}</b>" if label != 10 else "<b>no digit</b>") in cell
    areas = window.map_area.panel(AreasPanel)
    assert areas.shares == pytest.approx(st.atlas.digit_area() + [st.atlas.no_digit_share()])
    assert areas.bars[label].value() == round(1000 * areas.shares[label])
    assert [m.text() for m in areas.marks].index("◀") == label


def test_model_argument_and_unknown_name(qtbot, make_window, errors):
    w = make_window(model="gan3d")
    assert w.state.model.name == "gan3d" and len(w.sliders_panel.sliders) == 3
    w2 = make_window(model="no-such-model")
    assert errors and "no-such-model" in errors[0][1]
    assert w2.state.model is not None  # falls back to a shipped model


def test_empty_folder_explains_how_to_get_models(qtbot, make_window, tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    w = make_window(folder=empty)
    assert w.state.model is None
    panel = w.map_area.panel(EmptyPanel)
    assert "latent-explorer train gan" in panel.text.text() and str(empty) in panel.text.text()
    assert w.sliders_panel.sliders == [] and not w.sliders_panel.origin_button.isEnabled()
    assert w.model_combo.currentText() == "(no models found)"


# ---------------------------------------------------------------- sliders


def test_moving_a_slider_changes_image_and_readout(qtbot, window):
    settle(qtbot, window)
    before_img = window.image_panel.pixels.copy()
    before_probs = window.readout_panel.probs.copy()
    slider = window.sliders_panel.sliders[0]
    slider.setFocus()
    for _ in range(5):
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)  # 5 x 0.1
    settle(qtbot, window)
    assert window.state.point == pytest.approx((0.5, 0.0))
    assert window.sliders_panel.spins[0].value() == pytest.approx(0.5)
    assert not np.allclose(window.image_panel.pixels, before_img)
    assert not np.allclose(window.readout_panel.probs, before_probs)
    np.testing.assert_allclose(window.readout_panel.probs, window.state.frame.probs)
    np.testing.assert_allclose(window.readout_panel.bar_heights(), window.state.frame.probs, rtol=1e-6)
    assert "x = +0.500" in window.point_panel.coords.text()
    # the map marker followed
    xs, ys = window.map_area.panel(Map2DPanel).view.ring_inner.getData()
    assert (xs[0], ys[0]) == pytest.approx((0.5, 0.0))


def test_spinbox_takes_exact_values(qtbot, window):
    spin = window.sliders_panel.spins[1]
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "-0.84")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    settle(qtbot, window)
    assert window.state.point[1] == pytest.approx(-0.84)
    assert window.sliders_panel.sliders[1].value() == -840


def test_a_fast_drag_never_queues_renders_up(qtbot, window):
    settle(qtbot, window)
    slider = window.sliders_panel.sliders[0]
    count, computed = window.renderer.renders, window.renderer.computed
    for v in range(0, 1000, 5):  # 200 slider moves before the event loop runs again
        slider.setValue(v)
    # the markers moved at once; the frame follows from the render thread
    xs, _ = window.map_area.panel(Map2DPanel).view.ring_inner.getData()
    assert xs[0] == pytest.approx(0.995)
    assert window.renderer.renders == count and window.renderer.pending
    settle(qtbot, window)
    window.renderer.wait_idle()
    # latest request wins: at most the render in progress when the drag began, then the last
    assert window.renderer.computed - computed <= 2
    assert window.renderer.renders - count <= 2
    assert window.state.frame.point[0] == pytest.approx(0.995)


def test_origin_and_random_buttons(qtbot, window):
    window.state.set_point((0.3, -0.2))
    qtbot.mouseClick(window.sliders_panel.random_button, Qt.MouseButton.LeftButton)
    p = window.state.point
    assert p != (0.3, -0.2) and all(-1 <= v <= 1 for v in p)
    qtbot.mouseClick(window.sliders_panel.origin_button, Qt.MouseButton.LeftButton)
    assert window.state.point == (0.0, 0.0)
    assert [s.value() for s in window.sliders_panel.sliders] == [0, 0]


# ---------------------------------------------------------------- maps


def test_clicking_and_dragging_on_the_map_moves_point_and_sliders(qtbot, window):
    view = window.map_area.panel(Map2DPanel).view
    tol = 3 * 2.2 / view.width()  # a few pixels
    click_map(qtbot, view, 0.5, -0.25)
    settle(qtbot, window)
    assert window.state.point == pytest.approx((0.5, -0.25), abs=tol)
    assert window.sliders_panel.sliders[0].value() == pytest.approx(500, abs=1000 * tol)
    assert window.sliders_panel.spins[1].value() == pytest.approx(-0.25, abs=tol)
    assert window.state.frame.point == pytest.approx(np.array([0.5, -0.25]), abs=tol)
    # drag: press, move, release
    vp = view.viewport()
    start, end = view.view_to_widget(-0.5, 0.5), view.view_to_widget(-0.7, 0.8)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0, 1, 6)[1:]:
        qtbot.mouseMove(vp, QPoint(round(start.x() + t * (end.x() - start.x())),
                                   round(start.y() + t * (end.y() - start.y()))))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    settle(qtbot, window)
    assert window.state.point == pytest.approx((-0.7, 0.8), abs=tol)
    # clicks beyond the box clamp to its edge
    click_map(qtbot, view, 1.04, -1.04)
    assert window.state.point == pytest.approx((1.0, -1.0))


def test_region_digits_are_written_inside_their_regions(qtbot, window):
    panel = window.map_area.panel(Map2DPanel)
    atlas = window.state.atlas
    texts = panel.view.region_texts()
    assert texts, "at least one region is labelled"
    for digit, x, y in texts:  # "no digit" regions (label 10) are written as such
        assert atlas.label_at((x, y))[0] == (10 if digit == "no digit" else int(digit))
    # each digit is drawn centred on its place, at its font's pixel size whatever the view's scale
    view = panel.view
    shown = [item for item in view.region_items if item.isVisible()]
    for item in shown:
        box = item.deviceTransform(view.viewportTransform()).mapRect(item.boundingRect())
        at = view.view_to_widget(item.pos().x(), item.pos().y())
        assert abs(box.center().x() - at.x()) <= 1.5 and abs(box.center().y() - at.y()) <= 1.5
        assert box.height() == pytest.approx(item.boundingRect().height(), abs=1.5)
    # hovering shows the digit and confidence under the mouse
    digit, x, y = texts[0]
    qtbot.mouseMove(panel.view.viewport(), panel.view.view_to_widget(x, y))
    qtbot.waitUntil(panel.view.hover.isVisible, timeout=3000)
    label, conf = atlas.label_at((x, y))
    assert panel.view.hover.textItem.toPlainText().endswith(f": {label} ({conf:.0%})" if label != 10 else ": no digit")


# ---------------------------------------------------------------- switching models


def test_switching_models_rebuilds_the_controls(qtbot, window, models_dir):
    w = window
    assert w.open_path(models_dir / "gan3d.pt")
    settle(qtbot, w)
    assert len(w.sliders_panel.sliders) == 3 and w.state.point == (0.0, 0.0, 0.0)
    assert [type(p) for p in w.map_area.panels] == [Slices3DPanel, OverviewPanel, View3DPanel]
    view3d = w.map_area.panel(View3DPanel)
    note = view3d.findChild(QLabel, "gl_note")
    if importlib.util.find_spec("OpenGL") is None:  # the default install: the software cube, no note
        assert note.text() == "" and note.isHidden() and "PyOpenGL" in note.toolTip()
    else:  # PyOpenGL, but the offscreen platform has no OpenGL: explained, drawn in software
        assert "OpenGL" in note.text() and "software" in note.text()
    qtbot.waitUntil(lambda: view3d.soft.image.image is not None, timeout=5000)
    before = view3d.soft.image.image.copy()
    view3d.soft.turn(40, 10)
    qtbot.waitUntil(lambda: not np.array_equal(view3d.soft.image.image, before), timeout=5000)
    view3d.toggles[int(w.state.atlas.labels.flat[0])].click()  # hide a digit
    assert w.state.option("hidden_digits")
    assert w.model_combo.currentText().startswith("gan3d")

    assert w.open_path(models_dir / "gan4d.pt")  # no atlas: built on demand
    assert len(w.sliders_panel.sliders) == 4
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=30000)
    assert w.state.atlas.resolution == 4 and "cache" in str(w.state.atlas.path)
    plane = w.map_area.panel(Map2DPanel)
    assert plane.chooser.count() == 6
    plane.chooser.setCurrentIndex(plane.chooser.findText("yw"))
    assert w.state.option("plane") == (1, 3)
    assert plane.view.getAxis("bottom").labelText == "y"

    assert w.open_path(models_dir / "cgan2d.pt")
    settle(qtbot, w)
    assert len(w.sliders_panel.sliders) == 2 and not w.digits_panel.isHidden()
    assert isinstance(w.map_area.panel(Map2DPanel), Map2DPanel)

    w.model_combo.setCurrentIndex(w.model_combo.findText("gan2d", Qt.MatchFlag.MatchStartsWith))
    w.model_combo.activated.emit(w.model_combo.currentIndex())
    assert w.state.model.name == "gan2d" and w.digits_panel.isHidden()


def test_conditional_digit_and_atlas_selectors(qtbot, make_window):
    w = make_window(model="cgan2d")
    settle(qtbot, w)
    panel = w.digits_panel
    qtbot.mouseClick(panel.generate.button(3), Qt.MouseButton.LeftButton)
    settle(qtbot, w)
    assert w.state.frame.digit == 3 and w.state.atlas_digit == 3  # linked by default
    assert "generated as 3" in w.image_panel.caption.text()
    share = w.state.atlas.digit_area(3)[3]
    assert f"{share:.1%}" in panel.share.text()
    labels3 = w.map_area.panel(Map2DPanel).view.labels.copy()
    np.testing.assert_array_equal(labels3, w.state.atlas.labels[3])
    qtbot.mouseClick(panel.shown.button(7), Qt.MouseButton.LeftButton)
    assert w.state.atlas_digit == 7 and w.state.digit == 3 and not panel.link.isChecked()
    np.testing.assert_array_equal(w.map_area.panel(Map2DPanel).view.labels, w.state.atlas.labels[7])
    assert "Digit 7" in panel.share.text()


def test_3d_slices_overview_and_fixed_mode(qtbot, make_window):
    w = make_window(model="gan3d")
    slices = w.map_area.panel(Slices3DPanel)
    xz = slices.views[1]
    click_map(qtbot, xz, -0.5, 0.6)
    tol = 3 * 2.4 / xz.width()
    assert w.state.point == pytest.approx((-0.5, 0.0, 0.6), abs=tol)
    assert "y = +0.00" in slices.captions[1]
    # the overview: 16 tiles along z, the point's tile framed; a click moves into a tile
    ov = w.map_area.panel(OverviewPanel)
    assert len(ov.values) == 16 and ov.current_tile() == int(np.argmin(abs(ov.values - w.state.point[2])))
    cx, cy = ov.tile_centre(2)
    scene = ov.box.mapViewToScene(QPointF(cx, cy))
    qtbot.mouseClick(ov.plot.viewport(), Qt.MouseButton.LeftButton, pos=ov.plot.mapFromScene(scene))
    assert w.state.point[2] == pytest.approx(ov.values[2])
    assert w.state.point[:2] == pytest.approx((0.0, 0.0), abs=0.15)
    assert ov.current_tile() == 2
    # fixed slices stay while the point moves
    slices.follow.setChecked(False)
    anchor = w.state.point
    w.state.set_point((0.9, -0.9, -0.9))
    assert w.state.slice_point() == anchor
    cut = w.state.atlas.axis[w.state.atlas.cell_index(anchor)[0]]  # captions name the cut's atlas cell
    assert f"x = {cut:+.2f}" in slices.captions[2] and cut != pytest.approx(0.9, abs=0.3)
    slices.follow.setChecked(True)
    assert "x = +1.00" in slices.captions[2]  # x = 0.9 lies in the atlas's last cell (5 cells per axis)


# ---------------------------------------------------------------- atlas builds


def test_atlas_build_runs_in_the_background_and_can_be_cancelled(qtbot, make_window, app_env):
    w = make_window(model="gan4d", resolution=16, method="full")  # 65,536 generator runs: takes a while
    assert w.atlases.busy and w.atlas_status.cancel.isVisible()
    assert w.atlas_status.label.text().startswith("Building a 16^4 atlas for gan4d (65,536 cells)")
    # the window stays usable meanwhile
    w.sliders_panel.sliders[3].setValue(-400)
    settle(qtbot, w)
    assert w.state.frame.point[3] == pytest.approx(-0.4)
    qtbot.mouseClick(w.atlas_status.cancel, Qt.MouseButton.LeftButton)
    assert not w.atlases.busy and "cancelled" in w.atlas_status.label.text()
    qtbot.waitUntil(lambda: w.atlases.threads_alive == 0, timeout=20000)
    assert w.state.atlas is None and w.atlas_status.build.isVisible()
    assert not list((app_env / "cache").rglob("*.atlas.h5"))
    qtbot.mouseClick(w.atlas_status.build, Qt.MouseButton.LeftButton)  # start again (resumes finished blocks)
    assert w.atlases.busy and not w.atlas_status.build.isVisible()
    w.atlases.cancel()
    qtbot.waitUntil(lambda: w.atlases.threads_alive == 0, timeout=20000)


def test_built_atlases_are_cached_and_reused(qtbot, make_window, app_env, models_dir):
    w = make_window(model="gan4d")
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=30000)
    cached = w.state.atlas.path
    assert cached.is_file() and (app_env / "cache") in cached.parents
    assert not (models_dir / "gan4d.atlas.h5").exists()  # never written into the models folder
    w.open_path(models_dir / "gan2d.pt")
    w.open_path(models_dir / "gan4d.pt")
    assert not w.atlases.busy and w.state.atlas.path == cached


# ---------------------------------------------------------------- bad files


def test_bad_files_show_a_dialog_and_the_window_keeps_its_model(qtbot, window, errors, tmp_path, models_dir):
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes((models_dir / "gan3d.pt").read_bytes()[:5000])
    assert not window.open_path(damaged)
    title, text = errors[-1]
    assert "damaged.pt" in title and str(damaged) in text and "damaged" in text
    assert window.state.model.name == "gan2d" and len(window.sliders_panel.sliders) == 2

    assert not window.open_path(CLASSIFIER_PATH)  # a checkpoint, but not a generator
    assert "classifier" in errors[-1][1] and "classifier.pt" in errors[-1][0]

    assert not window.open_path(models_dir / "gan3d.atlas.h5")  # an atlas of another model
    assert "another generator" in errors[-1][1] and "gan3d.atlas.h5" in errors[-1][1]
    assert window.state.atlas.path == models_dir / "gan2d.atlas.h5"
    settle(qtbot, window)
    assert window.state.frame is not None and len(errors) == 3


def test_dropping_a_file_opens_it(qtbot, window, errors, models_dir):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(models_dir / "gan3d.pt"))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.state.model.name == "gan3d", timeout=5000)
    assert not errors


# ---------------------------------------------------------------- settings and exit


def test_geometry_and_last_model_are_remembered(qtbot, make_window, models_dir):
    w1 = make_window()
    w1.resize(1111, 777)
    w1.open_path(models_dir / "cgan2d.pt")
    w1.splitter.setSizes([500, 611])
    split = w1.splitter.saveState()
    w1.close()
    from latent_explorer.app.qt.settings import make_settings

    stored = make_settings()  # the same file a new window reads
    assert stored.value("splitter/main") == split
    assert not stored.value("window/geometry").isEmpty()
    assert stored.value("model/last") == str((models_dir / "cgan2d.pt").resolve())
    w2 = make_window()
    assert w2.state.model.name == "cgan2d"
    # (offscreen screens are 800 x 600, so restored sizes are clamped; compare no pixels)


def test_export_writes_the_render_figure(qtbot, window, tmp_path):
    out = window.export(tmp_path / "point.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("platform", ["offscreen"])
def test_the_app_process_exits_cleanly(platform, models_dir, tmp_path):
    """Closed while an on-demand atlas (gan4d has none) is being built: exit code 0."""
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QTimer
        from latent_explorer.app.qt.main import make_app, run_gui
        app = make_app()
        QTimer.singleShot(1500, lambda: [w.close() for w in app.topLevelWidgets() if w.isWindow()])
        sys.exit(run_gui("gan4d", models_dir={str(models_dir)!r}, classifier={str(CLASSIFIER_PATH)!r}))
    """)
    env = dict(os.environ, QT_QPA_PLATFORM=platform, LATENT_EXPLORER_SETTINGS=str(tmp_path / "s.ini"),
               LATENT_EXPLORER_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_model_opened_by_a_relative_path_is_selected_in_the_chooser(qtbot, window, models_dir, monkeypatch):
    monkeypatch.chdir(models_dir.parent)
    assert window.open_path(Path(models_dir.name) / "gan3d.pt")
    assert window.model_combo.currentText().split()[0] == "gan3d"
