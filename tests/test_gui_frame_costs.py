"""What a move costs the UI thread, checked on the real window: a crosshair repaints a thin
band of its view, the sliders leave unchanged value boxes alone, a plane cut for the first
time while the point moves gets its region digits once the moves pause, and the software
cube's faster drawing is pixel for pixel the per-pixel z-buffer it replaced."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPointF
from PySide6.QtWidgets import QApplication

from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
from latent_explorer.app.qt.slicecache import slices
from latent_explorer.models.voxels import render_cube, rotation, to_screen, visible_voxels
from latent_explorer.models.maps import PALETTE

pytest_plugins = ("gui_fixtures",)


def settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.renderer.pending and w.state.frame is not None
                    and np.allclose(w.state.frame.point, w.state.point, atol=1e-6), timeout=5000)


class PaintCounter(QObject):
    def __init__(self, widgets) -> None:
        super().__init__()
        self.counts = {id(w): 0 for w in widgets}
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and id(obj) in self.counts:
            self.counts[id(obj)] += 1
        return False

    def __getitem__(self, w) -> int:
        return self.counts[id(w)]


def test_a_crosshair_move_repaints_a_thin_band_of_its_view(qtbot, make_window):
    w = make_window(model="gan3d")
    settle(qtbot, w)
    view = w.map_area.panel(Slices3DPanel).views[0]  # xy
    w.state.set_point((0.3, -0.4, 0.1))
    QApplication.processEvents()

    def on_screen(line):  # the line's bounding box in the view's pixels (what a move repaints)
        return line.deviceTransform(view.viewportTransform()).mapRect(line.boundingRect())

    def pixel(x, y):
        return view.mapFromScene(view.box.mapViewToScene(QPointF(x, y)))

    plot = view.mapFromScene(view.box.sceneBoundingRect()).boundingRect()
    vertical, horizontal = view.lines[:2], view.lines[2:]
    assert vertical and horizontal and all(line.isVisible() for line in view.lines)
    for line in vertical:  # through the point, and a few pixels wide (was: the whole plot)
        band = on_screen(line)
        assert band.width() < 8 and band.width() < plot.width() / 10
        assert band.center().x() == pytest.approx(pixel(0.3, -0.4).x(), abs=1.5)
        assert band.top() <= plot.top() and band.bottom() >= plot.bottom()  # crosses the whole plot
    for line in horizontal:
        band = on_screen(line)
        assert band.height() < 8 and band.center().y() == pytest.approx(pixel(0.3, -0.4).y(), abs=1.5)
        assert band.left() <= plot.left() and band.right() >= plot.right()
    # a move along x leaves the horizontal lines where they are (nothing of them repaints)
    before = [line.pos() for line in horizontal]
    w.state.set_coordinate(0, -0.5)
    assert [line.pos() for line in horizontal] == before
    assert on_screen(vertical[0]).center().x() == pytest.approx(pixel(-0.5, -0.4).x(), abs=1.5)
    settle(qtbot, w)


def test_the_sliders_leave_the_value_boxes_that_did_not_change_alone(qtbot, make_window):
    w = make_window(model="gan3d")
    settle(qtbot, w)
    spins = w.sliders_panel.spins
    qtbot.wait(300)  # the window's first paints are done
    counter = PaintCounter(spins)
    w.state.set_coordinate(0, 0.25)
    qtbot.waitUntil(lambda: counter[spins[0]] > 0, timeout=3000)  # the one that changed repaints ...
    QApplication.processEvents()
    assert counter[spins[1]] == 0 and counter[spins[2]] == 0  # ... the others do not
    assert [s.value() for s in spins] == pytest.approx([0.25, 0.0, 0.0])
    assert w.sliders_panel.sliders[0].value() == 250
    settle(qtbot, w)


class LayoutCounter(QObject):
    """Counts the layout requests that reach a widget."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_move_repaints_the_point_text_without_laying_the_left_column_out(qtbot, make_window):
    """The point's coordinates, its atlas cell and the classifier's certainty change on every
    move; they repaint themselves, and the left column is not laid out again (a QLabel's
    setText asked for a new layout each time: about 2 ms of every move)."""
    w = make_window(model="gan2d")
    settle(qtbot, w)
    qtbot.wait(300)
    w.resize(1366, 900)  # room for the whole left column (a small test window hides its last lines)
    settle(qtbot, w)
    qtbot.wait(300)
    texts = (w.point_panel.coords, w.point_panel.cell, w.readout_panel.detail)
    column = w.point_panel.parentWidget()
    before = [t.text() for t in texts]
    layouts, paints = LayoutCounter(column), PaintCounter(texts)
    for k in range(1, 6):
        w.state.set_coordinate(0, 0.05 + 0.25 * k)  # steps across the atlas' cells
        settle(qtbot, w)
        QApplication.processEvents()
    coords, cell, _ = texts
    assert coords.text() != before[0] and cell.text() != before[1]  # the texts show the new point ...
    assert "x = +1.000" in coords.text() and "atlas cell (" in cell.text()
    assert paints[coords] > 0 and paints[cell] > 0  # ... and were repainted ...
    assert layouts.count == 0  # ... without a new layout of the column


def test_a_new_cut_while_moving_gets_its_region_digits_when_the_moves_pause(qtbot, make_window):
    w = make_window(model="gan3d")
    settle(qtbot, w)
    view = w.map_area.panel(Slices3DPanel).views[0]  # xy, cut across z
    qtbot.waitUntil(lambda: view.labels is not None and bool(view.region_texts()), timeout=5000)
    atlas = w.state.atlas
    # a z whose plane is cut but not yet labelled (the cache is shared by every view)
    for z in np.linspace(-1, 1, 2 * atlas.resolution + 1):
        point = (0.0, 0.0, float(z))
        plane = slices.get(atlas, (0, 1), point)
        if not plane.has_regions(view.min_region) and view.labels is not plane.labels:
            break
    else:
        pytest.skip("every plane of this atlas is labelled already")
    w.state.set_point(point)
    assert view.labels is plane.labels  # the map at once ...
    assert view.region_texts() == []  # ... its region digits not yet
    qtbot.waitUntil(lambda: bool(view.region_texts()), timeout=3000)
    assert plane.has_regions(view.min_region)
    for digit, x, y in view.region_texts():  # written inside their regions of this plane
        assert atlas.label_at((x, y, point[2]))[0] == (10 if digit == "no digit" else int(digit))
    w.state.set_coordinate(2, 0.0)  # back to a plane labelled before: its digits at once
    assert view.region_texts() != []
    settle(qtbot, w)


def _z_buffer_cube(labels, confidence, azimuth, elevation, size, hidden=frozenset()):
    """The per-pixel z-buffer the software cube used before (nearest voxel per pixel)."""
    res = labels.shape[0]
    img = np.full((size, size, 3), 255, np.uint8)
    idx = np.argwhere(visible_voxels(labels, hidden))
    if len(idx) == 0:
        return img
    cols, rows, depth = to_screen(np.linspace(-1, 1, res)[idx], rotation(azimuth, elevation), size)
    order = np.argsort(-depth)
    idx, cols, rows, depth = idx[order], cols[order], rows[order], depth[order]
    colour = PALETTE[labels[tuple(idx.T)]].astype(np.float32)
    if confidence is not None:
        wgt = np.clip(1 - confidence[tuple(idx.T)].astype(np.float32), 0, 1)[:, None] * 0.7
        colour = colour * (1 - wgt) + 255 * wgt
    shade = 0.55 + 0.45 * (1 - (depth - depth.min()) / max(1e-9, np.ptp(depth)))
    colour = np.clip(colour * shade[:, None], 0, 255).astype(np.uint8)
    half = max(1, int(np.ceil(size / (2 * np.sqrt(3)) * 0.98 * 2 / (res - 1) * 0.62)))
    offsets = np.arange(-half, half + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    r = np.rint(rows)[:, None].astype(np.int64) + dy.ravel()[None, :]
    c = np.rint(cols)[:, None].astype(np.int64) + dx.ravel()[None, :]
    ok = (r >= 0) & (r < size) & (c >= 0) & (c < size)
    n = np.broadcast_to(np.arange(len(idx))[:, None], r.shape)
    last = np.full(size * size, -1, np.int64)
    np.maximum.at(last, (r * size + c)[ok], n[ok])
    hit = last >= 0
    img.reshape(-1, 3)[hit] = colour[last[hit]]
    return img


def test_the_software_cube_draws_what_the_per_pixel_z_buffer_drew():
    rng = np.random.default_rng(7)
    for _ in range(12):
        res = int(rng.integers(2, 14))
        labels = rng.integers(0, 11, (res,) * 3).astype(np.uint8)
        conf = rng.random((res,) * 3).astype(np.float32)
        hidden = frozenset(int(d) for d in rng.choice(11, int(rng.integers(0, 3)), replace=False))
        for size in (9, 64, 150):
            az, el = float(rng.uniform(0, 360)), float(rng.uniform(-89, 89))
            want = _z_buffer_cube(labels, conf, az, el, size, hidden)
            assert np.array_equal(render_cube(labels, conf, az, el, size, hidden), want)
            assert np.array_equal(render_cube(labels, None, az, el, size, hidden),
                                  _z_buffer_cube(labels, None, az, el, size, hidden))
