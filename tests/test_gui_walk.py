"""The A-to-B walk in the real window, offscreen: setting A and B (buttons, spin boxes,
modifier-clicks), the strip and crossed regions against the engine, the path on the
maps, slerp, the conditional label walk, the 3-D "only regions on the path" filter, and
every export (files that open and hold what they claim, overwrite refusal, write errors)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from latent_explorer.app.qt.panels.map2d import Map2DPanel
from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
from latent_explorer.app.qt.panels.view3d import View3DPanel
from latent_explorer.models.paths import label_walk_images, make_strip, path_points
from latent_explorer.models.strip_export import json_text

pytest_plugins = ("gui_fixtures",)


def wait_strip(qtbot, w) -> None:
    """Until the strip for the current walk settings has arrived."""
    panel = w.walk.dock.panel

    def current() -> bool:
        walk, req = w.state.walk, panel.runner.current_request()
        s = walk.strip
        return (not panel.runner.busy and s is not None and req is not None and len(s.t) == req.steps
                and np.allclose(s.a, req.a) and (req.label_walk is not None or np.allclose(s.b, req.b))
                and s.label_walk == req.label_walk and (s.kind == req.kind or req.label_walk is not None))

    qtbot.waitUntil(current, timeout=60000)  # a wait, not a speed check: generous for a loaded machine


def click(qtbot, view, x: float, y: float, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, pos=view.view_to_widget(x, y))


@pytest.fixture
def saves(monkeypatch):
    """Save dialogs answer with the next queued path; the start folders they got are kept."""
    queue: list[Path] = []
    starts: list[str] = []

    def fake(parent, title, start, filters, selected="", options=None):
        starts.append(start)
        return (str(queue.pop(0)), "") if queue else ("", "")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake)
    return queue, starts


@pytest.fixture
def errors(window, monkeypatch):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(window, "show_error", lambda title, text: shown.append((title, text)))
    return shown


def strip_of(w):
    st, walk = w.state, w.state.walk
    return make_strip(st.model.engine, walk.a, walk.b, walk.steps, walk.kind, digit=st.digit_or_none(),
                      label_walk=walk.label_walk, model=st.model.name)


# ---------------------------------------------------------------- A, B and the strip


def test_buttons_set_a_and_b_strip_regions_and_path(qtbot, window):
    w, st = window, window.state
    panel = w.walk.dock.panel
    st.set_point((-0.8, 0.3))
    qtbot.mouseClick(panel.set_a_button, Qt.MouseButton.LeftButton)
    st.set_point((0.9, -0.6))
    qtbot.mouseClick(panel.set_b_button, Qt.MouseButton.LeftButton)
    panel.steps.setValue(7)
    wait_strip(qtbot, w)
    walk = st.walk
    assert walk.a == pytest.approx((-0.8, 0.3)) and walk.b == pytest.approx((0.9, -0.6))
    assert [b.value() for b in panel.spins["a"]] == pytest.approx([-0.8, 0.3])
    _, pts, _ = path_points(walk.a, walk.b, 7, "lerp")
    expected = st.model.engine.images(pts)
    assert len(panel.strip_view.tiles) == 7
    for tile, img in zip(panel.strip_view.tiles, expected):
        np.testing.assert_allclose(tile.pixels, img, atol=1e-5)
    verdict = st.model.engine.judge(expected)  # frames the classifier's check finds no digit in say so
    for tile, p, ok in zip(panel.strip_view.tiles, verdict.probs, verdict.is_digit):
        assert (f"{p.argmax()}  {100 * p.max():.0f}%" if ok else f"no digit ({p.argmax()})") in tile.caption.text()
    truth_strip = strip_of(w)
    truth = truth_strip.crossings
    # the distance per step under the strip, with the walk's length and the share on borders
    length = truth_strip.length()
    assert panel.step_plot.figures["steps"] == pytest.approx(length["steps"], rel=1e-5)
    assert f"Walk length {length['total']:.3f}" in panel.step_plot.summary.text()
    assert f"{100 * length['border_share']:.0f}% of it on steps crossing" in panel.step_plot.summary.text()
    assert [r[0] for r in panel.region_rows()] == [c.digit for c in truth]
    np.testing.assert_allclose(np.array([r[1:] for r in panel.region_rows()], float).reshape(-1, 2),
                               np.array([(c.t_enter, c.t_leave) for c in truth], float).reshape(-1, 2), atol=1e-3)
    x, y = w.map_area.panel(Map2DPanel).path.path_xy()
    assert (x[0], y[0]) == pytest.approx((-0.8, 0.3)) and (x[-1], y[-1]) == pytest.approx((0.9, -0.6))
    assert np.allclose(np.diff(y) / np.diff(x), -0.9 / 1.7, atol=1e-3)  # a straight line


def test_typed_coordinates_and_slerp_change_the_points(qtbot, window):
    w, walk = window, window.state.walk
    panel = w.walk.dock.panel
    for box, v in zip(panel.spins["a"], (0.9, 0.2)):
        box.setValue(v)
    for box, v in zip(panel.spins["b"], (-0.2, 0.9)):
        box.setValue(v)
    wait_strip(qtbot, w)
    lerp = walk.strip.points.copy()
    assert walk.a == pytest.approx((0.9, 0.2)) and walk.b == pytest.approx((-0.2, 0.9))
    slerp_index = panel.kind.findData("slerp")
    assert "Spherical" in panel.kind.itemData(slerp_index, Qt.ItemDataRole.ToolTipRole)
    panel.kind.setCurrentIndex(slerp_index)
    wait_strip(qtbot, w)
    assert walk.strip.kind == "slerp"
    np.testing.assert_allclose(walk.strip.points, path_points(walk.a, walk.b, walk.steps, "slerp")[1])
    assert not np.allclose(walk.strip.points, lerp)
    x, y = w.map_area.panel(Map2DPanel).path.path_xy()
    np.testing.assert_allclose(np.hypot(x, y)[[0, -1]], [np.hypot(0.9, 0.2), np.hypot(-0.2, 0.9)], rtol=1e-5)
    assert np.hypot(x, y)[len(x) // 2] == pytest.approx(np.hypot(0.9, 0.2), rel=1e-3)  # an arc, not a chord


def test_modifier_clicks_set_a_and_b_on_the_map(qtbot, window):
    w, st = window, window.state
    view = w.map_area.panel(Map2DPanel).view
    click(qtbot, view, -0.5, 0.5, Qt.KeyboardModifier.ShiftModifier)
    click(qtbot, view, 0.5, -0.25, Qt.KeyboardModifier.ControlModifier)
    assert st.point == (0.0, 0.0)  # the point stays
    assert st.walk.a == pytest.approx((-0.5, 0.5), abs=0.03)
    assert st.walk.b == pytest.approx((0.5, -0.25), abs=0.03)
    click(qtbot, view, 0.25, 0.25, Qt.KeyboardModifier.AltModifier)
    assert st.walk.b == pytest.approx((0.25, 0.25), abs=0.03)
    click(qtbot, view, 0.5, 0.5)
    assert st.point == pytest.approx((0.5, 0.5), abs=0.03)


def test_3d_slices_modifier_click_path_and_only_path_regions(qtbot, make_window):
    w = make_window(model="gan3d")
    st = w.state
    st.set_point((0.0, 0.0, 0.4))
    slices = w.map_area.panel(Slices3DPanel)
    click(qtbot, slices.views[0], -0.6, -0.6, Qt.KeyboardModifier.ShiftModifier)  # xy plane
    click(qtbot, slices.views[2], 0.7, 0.7, Qt.KeyboardModifier.ControlModifier)  # yz plane
    assert st.walk.a == pytest.approx((-0.6, -0.6, 0.4), abs=0.03)
    assert st.walk.b == pytest.approx((0.0, 0.7, 0.7), abs=0.03)
    assert st.point == pytest.approx((0.0, 0.0, 0.4))
    for overlay, (u, v) in zip(slices.paths, ((0, 1), (0, 2), (1, 2))):
        x, y = overlay.path_xy()
        assert (x[0], y[0]) == pytest.approx((st.walk.a[u], st.walk.a[v]))
        assert (x[-1], y[-1]) == pytest.approx((st.walk.b[u], st.walk.b[v]))
    cube = w.map_area.panel(View3DPanel)
    if cube.soft is not None:  # offscreen: the software cube draws the path too
        assert cube.soft.path[0] == pytest.approx(st.walk.a) and cube.soft.path[-1] == pytest.approx(st.walk.b)
    else:
        assert cube.path_line.pos[0] == pytest.approx(st.walk.a)
    wait_strip(qtbot, w)
    panel = w.walk.dock.panel
    panel.only_path.setChecked(True)
    crossed = {c.digit for c in st.walk.strip.crossings}
    assert st.option("hidden_digits") == frozenset(range(10)) - crossed
    toggles = w.map_area.panel(View3DPanel).toggles
    assert {d for d, b in enumerate(toggles) if b.isChecked()} == crossed
    panel.only_path.setChecked(False)
    assert st.option("hidden_digits") == frozenset()


def test_hovering_a_frame_marks_its_point(qtbot, window):
    w = window
    wait_strip(qtbot, w)
    tiles = w.walk.dock.panel.strip_view.tiles
    pos = tiles[3].rect().center().toPointF()
    QApplication.sendEvent(tiles[3], QEnterEvent(pos, pos, pos))
    assert w.state.walk.hover == pytest.approx(tuple(w.state.walk.strip.points[3]))
    x, y = w.map_area.panel(Map2DPanel).path.hover.getData()
    assert (x[0], y[0]) == pytest.approx(tuple(w.state.walk.strip.points[3]))
    QApplication.sendEvent(tiles[3], QEvent(QEvent.Type.Leave))
    assert w.state.walk.hover is None


def test_conditional_label_walk(qtbot, make_window):
    w = make_window(model="cgan2d")
    st, panel = w.state, w.walk.dock.panel
    assert panel.mode.isVisibleTo(panel)
    panel.label_from.setValue(2)
    panel.label_to.setValue(7)
    panel.mode.setCurrentIndex(panel.mode.findData("label"))
    panel.steps.setValue(6)
    wait_strip(qtbot, w)
    s = st.walk.strip
    assert s.label_walk == (2, 7) and s.kind == "label"
    expected = label_walk_images(st.model.engine, st.walk.a, (2, 7), np.linspace(0, 1, 6))
    for tile, img in zip(panel.strip_view.tiles, expected):
        np.testing.assert_allclose(tile.pixels, img, atol=1e-5)
    assert [r[0] for r in panel.region_rows()] == [c.digit for c in strip_of(w).crossings]
    assert not panel.set_b_button.isEnabled()
    assert w.map_area.panel(Map2DPanel).path.path_xy()[0].size == 0  # no path in latent space
    panel.mode.setCurrentIndex(panel.mode.findData("points"))
    st.set_digit(4)
    wait_strip(qtbot, w)
    assert st.walk.strip.label_walk is None and st.walk.strip.digit == 4


# ---------------------------------------------------------------- exports


def test_walk_exports_write_what_they_claim(qtbot, window, saves, tmp_path, errors):
    w = window
    queue, starts = saves
    wait_strip(qtbot, w)
    strip = w.state.walk.strip
    n = len(strip.t)
    ex = w.walk
    for name in ("s.png", "s.svg", "s.pdf", "walk.gif", "path.csv", "path.json"):
        queue.append(tmp_path / name)
    for kind in ("strip", "strip", "strip", "gif", "csv", "json"):
        assert ex.export_walk(kind) is not None
    assert not errors
    with Image.open(tmp_path / "s.png") as im:
        assert im.format == "PNG" and im.width > im.height > 100
    assert (tmp_path / "s.svg").read_text().lstrip().startswith("<?xml") and "<svg" in (tmp_path / "s.svg").read_text()
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(tmp_path / "walk.gif") as im:
        assert im.format == "GIF" and im.n_frames == n
    rows = list(csv.DictReader((tmp_path / "path.csv").open()))
    assert len(rows) == n and [int(r["digit"] or 10) for r in rows] == strip.digits.tolist()
    np.testing.assert_allclose([[float(r["x"]), float(r["y"])] for r in rows], strip.points, atol=1e-6)
    # the same file as `latent-explorer export strip` writes for this walk
    assert (tmp_path / "path.json").read_text() == json_text(strip_of(w))
    data = json.loads((tmp_path / "path.json").read_text())
    assert [10 if r["no_digit"] else r["digit"] for r in data["regions"]] == [c.digit for c in strip.crossings]
    assert w.settings.value("dialogs/folder") == str(tmp_path)
    assert Path(starts[-1]).parent == tmp_path  # the next dialog starts in the last folder


def test_image_and_map_exports(qtbot, window, saves, tmp_path, errors):
    w = window
    queue, _ = saves
    w.state.set_point((0.3, -0.4))
    w.renderer.render_now()
    queue.extend([tmp_path / "small", tmp_path / "big.png", tmp_path / "maps.png"])  # suffix is added
    assert w.walk.export_image(False) == tmp_path / "small.png"
    assert w.walk.export_image(True) == tmp_path / "big.png"
    assert w.walk.export_maps() == tmp_path / "maps.png"
    expected = ((w.state.frame.image + 1) * 127.5).clip(0, 255)
    with Image.open(tmp_path / "small.png") as im:
        assert im.size == (28, 28)
        assert np.abs(np.asarray(im.convert("L"), float) - expected).max() <= 1
    with Image.open(tmp_path / "big.png") as im:
        assert im.size == (280, 280)
        assert np.abs(np.asarray(im.convert("L"), float)[5::10, 5::10] - expected).max() <= 1
    with Image.open(tmp_path / "maps.png") as im:
        assert im.width > 200 and im.height > 200
    assert not errors


def test_overwrite_is_refused_unless_confirmed(qtbot, window, saves, tmp_path, monkeypatch):
    w = window
    queue, _ = saves
    wait_strip(qtbot, w)
    target = tmp_path / "walk.csv"
    target.write_text("keep me")
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: (asked.append(text), answers.pop(0))[1])
    queue.append(target)
    assert w.walk.export_walk("csv") is None
    assert target.read_text() == "keep me" and str(target) in asked[0]
    queue.append(target)
    assert w.walk.export_walk("csv") == target
    assert target.read_text().startswith("t,x,y,")


def test_unwritable_path_reports_the_file_and_leaves_nothing(qtbot, window, saves, tmp_path, errors):
    w = window
    queue, _ = saves
    wait_strip(qtbot, w)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for name, kind in (("strip.png", "strip"), ("walk.gif", "gif"), ("walk.json", "json")):
        queue.append(blocker / name)
        assert w.walk.export_walk(kind) is None
    queue.append(tmp_path / "missing" / "img.png")
    assert w.walk.export_image(True) is None
    assert len(errors) == 4
    for (title, text), name in zip(errors, ("strip.png", "walk.gif", "walk.json", "img.png")):
        assert name in title and name in text
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("afile", "settings.ini", "cache")]
    assert leftovers == []  # no partial or temporary files
    assert blocker.read_text() == "x"


def test_file_menu_and_view_toggle(qtbot, window, saves, tmp_path):
    w = window
    queue, _ = saves
    wait_strip(qtbot, w)
    file_menu = next(a.menu() for a in w.menuBar().actions() if a.text().replace("&", "") == "File")
    sub = next(a.menu() for a in file_menu.actions() if a.menu() is not None and "walk" in a.text())
    assert {a.text() for a in sub.actions() if a.text()} >= {w.walk.actions[k].text() for k in w.walk.actions}
    queue.append(tmp_path / "menu.json")
    w.walk.actions["json"].trigger()
    assert json.loads((tmp_path / "menu.json").read_text())["model"] == "gan2d"
    view_menu = next(a.menu() for a in w.menuBar().actions() if a.text().replace("&", "") == "View")
    toggle = next(a for a in view_menu.actions() if "Walk" in a.text())
    assert w.walk.dock.isVisible()
    toggle.trigger()
    assert not w.walk.dock.isVisible()


def test_export_right_after_a_change_matches_the_new_settings(qtbot, window, saves, tmp_path):
    w = window
    queue, _ = saves
    wait_strip(qtbot, w)
    w.state.walk.set_b((0.5, 0.5))  # the strip is now out of date and not recomputed yet
    queue.append(tmp_path / "now.json")
    assert w.walk.export_walk("json") is not None
    assert json.loads((tmp_path / "now.json").read_text())["b"] == pytest.approx([0.5, 0.5])
    assert (tmp_path / "now.json").read_text() == json_text(strip_of(w))


def test_cancel_keeps_the_last_strip(qtbot, window):
    w = window
    wait_strip(qtbot, w)
    panel = w.walk.dock.panel
    before = w.state.walk.strip
    w.state.walk.set_steps(12)
    panel.runner.start()
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    assert not panel.runner.busy and "cancelled" in panel.message.text()
    qtbot.waitUntil(lambda: not panel.runner._jobs, timeout=20000)  # the worker ended and was reaped
    assert w.state.walk.strip is before  # its cancelled result was dropped


def test_overview_draws_the_path_in_the_slices_it_crosses(qtbot, make_window):
    from latent_explorer.app.qt.panels.overview import OverviewPanel

    w = make_window(model="gan3d")
    walk = w.state.walk
    walk.set_a((-0.5, -0.5, -1.0))
    walk.set_b((0.5, 0.5, 1.0))  # crosses every z slice
    ov = w.map_area.panel(OverviewPanel)
    x, y = ov.path_item.getData()
    pieces = np.isnan(x).sum() + 1
    assert pieces == len(ov.values)  # one stretch per slice
    x0, y0 = ov._tile_origin(0)
    assert (x[0], y[0]) == pytest.approx((x0 + ov._to_pixel(-0.5, False), y0 + ov._to_pixel(-0.5, True)))


def test_4d_slices_draw_the_walk_solid_only_where_it_passes(qtbot, make_window):
    """On a slice of a 4-D model the walk is solid only within half an atlas cell of the
    slice's fixed coordinates; the rest is a dashed projection that says so, A and B off
    the slice are pale, and a slice the path never meets has no solid part at all."""
    from latent_explorer.app.qt.panels.overview import OverviewPanel
    from latent_explorer.app.qt.widgets.pathoverlay import PROJECTION_TIP

    w = make_window(model="gan4d")  # the window builds a 4^4 atlas: cells at -1, -1/3, +1/3, +1
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=60000)
    st, walk = w.state, w.state.walk
    third = 1 / 3

    def x_at(w4: float) -> float:  # x where the path's w is w4
        return -0.8 + 1.6 * (w4 + 1) / 2

    walk.set_a((-0.8, -0.6, third, -1.0))
    walk.set_b((0.8, 0.6, third, 1.0))  # z stays at a cell centre, w runs through every cell
    st.set_point((0.0, 0.0, third, 0.86))  # slices at w = +1: the path is in them for w >= 2/3 only
    xy = w.map_area.panel(Slices3DPanel).paths[0]
    x, y = xy.solid_xy()
    x = x[np.isfinite(x)]
    assert x.min() == pytest.approx(x_at(1 - third), abs=0.01) and x.max() == pytest.approx(0.8)
    px, _ = xy.path_xy()
    assert px[0] == pytest.approx(-0.8) and px[-1] == pytest.approx(0.8)  # the projection: all of it
    assert xy.projection.isVisible() and xy.projection.toolTip() == PROJECTION_TIP
    assert xy.projection.opts["pen"].style() == Qt.PenStyle.DashLine
    a, b = xy.ends
    assert a.fill.color().alpha() < 255 and "projected" in a.toolTip()  # A (w = -1) is not in this slice
    assert b.fill.color().alpha() == 255 and not b.toolTip()
    plane = w.map_area.panel(Map2DPanel).path  # the xy plane through the point: the same cut
    np.testing.assert_allclose(plane.solid_xy()[0], xy.solid_xy()[0])
    st.set_point((0.0, 0.0, third, -0.2))  # w = -1/3: the middle stretch
    x = xy.solid_xy()[0]
    x = x[np.isfinite(x)]
    assert x.min() == pytest.approx(x_at(-2 * third), abs=0.01) and x.max() == pytest.approx(x_at(0.0), abs=0.01)
    assert a.fill.color().alpha() < 255 and b.fill.color().alpha() < 255
    st.set_point((0.0, 0.0, -1.0, 0.86))  # z = -1: the path (z = 1/3) never meets this xy slice
    assert xy.solid_xy()[0].size == 0 and not len(xy.crossings.data)
    assert xy.projection.isVisible() and xy.path_xy()[0].size
    assert w.map_area.legend.walk_key[0].isVisible()  # the map legend explains solid and dashed
    st.set_point((0.0, 0.0, third, 0.86))
    ov = w.map_area.panel(OverviewPanel)  # xy tiles along z; tile 10 is at z = +1/3
    assert ov.values[10] == pytest.approx(third)
    x, y = ov.path_item.getData()
    assert len(ov._paths) >= 2  # back in a cube seen before: its lines came from the overview's cache ...
    ov._paths.clear()
    ov._path_key = None
    ov.draw_path()  # ... and are the lines drawn afresh
    np.testing.assert_array_equal(ov.path_item.getData()[0], x)
    np.testing.assert_array_equal(ov.path_item.getData()[1], y)
    keep = np.isfinite(x)
    assert keep.sum() > 0 and ov.projection_item.isVisible()
    x0, _ = ov._tile_origin(10)
    assert np.all((x[keep] >= x0) & (x[keep] <= x0 + ov.res))  # solid only in z = 1/3's tile ...
    assert x[keep].min() == pytest.approx(x0 + ov._to_pixel(x_at(1 - third), False), abs=0.05)
    cube = w.map_area.panel(View3DPanel)  # the 3-D cube at w = +1: the same rule
    if cube.soft is not None:
        on = cube.soft.path_on
        assert on is not None and on.any() and not on.all()
        assert cube.soft.projection_item.getData()[0].size and np.isnan(cube.soft.path_item.getData()[0]).any()
    else:
        assert (cube.path_line.color[:, 3] < 1).any() and (cube.path_line.color[:, 3] == 1).any()


def test_slice_path_follows_the_moving_slice(qtbot, make_window):
    """The xy slice of a 3-D model draws solid only the part of the walk within half a cell
    of its z; moving the point in z moves that part, moving it in x (same slice) keeps it,
    and the drawing matches a fresh split of the path at every step (the overlay redraws
    only what changed, so a stale cache would show here)."""
    from latent_explorer.models.slicepath import half_cell, split_path

    w = make_window(model="gan3d")
    st = w.state
    st.walk.set_a((-0.8, 0.0, 0.5))
    st.walk.set_b((0.8, 0.0, -0.5))
    xy = w.map_area.panel(Slices3DPanel).paths[0]
    res = st.atlas.resolution if st.atlas is not None else None
    fine = st.walk.fine_points(1025)
    seen = []
    for point in ((0.0, 0.0, 0.5), (0.3, 0.0, 0.5), (0.0, 0.0, -0.5), (0.0, 0.2, 0.0), (-0.4, 0.0, 0.0), (0.0, 0.0, 0.5)):
        st.set_point(point)
        qtbot.wait(1)
        z = float(st.atlas.axis[st.atlas.cell_index(point)[2]]) if st.atlas is not None else point[2]
        expect = split_path(fine, {2: z}, half_cell(res), (0, 1))
        x, y = xy.solid_xy()
        want = expect.solid[np.isfinite(expect.solid[:, 0])]
        assert len(want) > 0
        np.testing.assert_allclose(np.c_[x[np.isfinite(x)], y[np.isfinite(y)]], want)
        seen.append(float(np.nanmean(x)))
    assert seen[0] < -0.3 and seen[2] > 0.3 and abs(seen[3]) < 0.2  # near A, near B, the middle
    assert seen[0] == seen[1] == seen[5]  # moving along x keeps the slice and its path
