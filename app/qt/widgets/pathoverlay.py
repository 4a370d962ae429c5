"""The walk drawn on a MapView: the path on the view's plane, A and B markers, and the
point of the strip frame under the mouse.

On a slice (a plane with the other coordinates fixed, as in 3-D and 4-D models) the path
is solid only where it lies in the slice (within half an atlas cell); the rest is its
projection onto the slice, drawn thin and dashed, and a path that only pierces the slice
gets a dot where it passes.  A and B off the slice are drawn pale."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from latent_explorer.models.slicepath import half_cell, in_slice, split_path

from ..style import font
from .mapview import MapView
from .qtitems import CurveItem, DotsItem

PATH_COLOUR = "#d01c8b"
PROJECTION_TIP = ("The walk's projection onto this slice (dashed): here the path does not pass through the slice, "
                  "its other coordinates differ from the slice's")
CROSSING_TIP = "Where the walk passes through this slice"

MAX_CUTS = 64  # slices whose split of the walk is kept, per view (64: a 64^3 cube's slices of one plane; about 20 KB each)

Fixed = Callable[[], "tuple[dict[int, float], float] | None"]


def projection_pen(width: float = 1.5) -> "pg.QtGui.QPen":
    """The dashed, paler pen of a path's projection (also drawn in the legend)."""
    colour = QColor(PATH_COLOUR)
    colour.setAlpha(170)
    pen = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine)
    return pen


class PathOverlay:
    """Items on one view; ``update`` re-reads ``state.walk`` (the owner binds the signals)."""

    def __init__(self, view: MapView, state, axes: Callable[[], tuple[int, int]], fixed: Fixed | None = None) -> None:
        """``fixed()`` gives the slice's fixed coordinates and the tolerance within which
        the path lies in it, or None when the view shows a whole plane."""
        self.view, self.state, self.axes, self.fixed = view, state, axes, fixed
        self.projection = CurveItem(projection_pen())
        self.projection.setToolTip(PROJECTION_TIP)
        self.halo = CurveItem(pg.mkPen("w", width=5))
        self.line = CurveItem(pg.mkPen(PATH_COLOUR, width=2.5))
        self.crossings = DotsItem(11, pg.mkPen("w", width=2), pg.mkBrush(PATH_COLOUR))
        self.crossings.setToolTip(CROSSING_TIP)
        self.frames = DotsItem(6, pg.mkPen("w", width=1), pg.mkBrush(PATH_COLOUR))
        self.hover = DotsItem(16, pg.mkPen(PATH_COLOUR, width=3), square=True)
        self.ends = []
        for name in ("A", "B"):
            t = pg.TextItem(name, color=QColor("#ffffff"), fill=pg.mkBrush(PATH_COLOUR), anchor=(0.5, 1.15))
            t.setFont(font(8 if view.compact else 10, bold=True))
            self.ends.append(t)
        self.split = None  # the last SlicePath (None: the whole path lies in the view's plane)
        self._geometry_key: tuple | None = None  # the walk the cached points belong to
        self._geometry_cache: tuple | None = None  # (fine points, frame points) or None: no path
        self._drawn: tuple | None = None  # what the items show now (None: nothing)
        self._hover_drawn: tuple | None = ()  # the hover marker's point now
        self._cuts: OrderedDict = OrderedDict()  # (walk, plane, slice) -> (split, frames on it, A/B on it)
        for z, item in enumerate((self.projection, self.halo, self.line, self.crossings, self.frames, self.hover,
                                  *self.ends)):
            item.setZValue(10 + z)
            view.addItem(item, ignoreBounds=True)
        self.update()

    def path_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """The path's projection on this plane (empty without a path): all of it, whether
        it lies in the slice or not."""
        return self.projection.getData()

    def solid_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """The part drawn solid, in the slice (NaN between stretches; empty: none)."""
        x, y = self.line.getData()
        keep = np.isfinite(x)
        return (x, y) if keep.any() else (np.zeros(0), np.zeros(0))

    def _geometry(self) -> tuple | None:
        """The walk's fine and frame points, computed once per walk (a moving slice reuses them)."""
        walk = self.state.walk
        fixed = self.fixed is not None
        key = (walk.a, walk.b, walk.steps, walk.kind, walk.label_walk, fixed)
        if key != self._geometry_key:
            self._geometry_key = key
            fine = walk.fine_points(1025 if fixed else 129)  # dense: a crossing stretch is short
            self._geometry_cache = None if fine is None else (fine, walk.points())
        return self._geometry_cache

    def update(self) -> None:
        """Redraw for the walk and this view's plane or slice; items are only touched when
        what they show changed (a slice moving with the point usually changes nothing)."""
        walk = self.state.walk
        u, v = self.axes()
        fixed = self.fixed() if self.fixed is not None else None
        geometry = self._geometry()
        if geometry is None or max(u, v) >= geometry[0].shape[1]:
            if self._drawn is not None:
                for item in (self.projection, self.halo, self.line, self.frames, self.crossings):
                    item.setData([], [])
                for t in self.ends:
                    t.setVisible(False)
                self._drawn = None
            self.split = None
            self.update_hover()
            return
        fine, frames = geometry
        split, on, here = self._cut(fine, frames, (u, v), fixed)
        self.split = split
        drawn = (self._geometry_key, (u, v), None if split is None else split.on.tobytes(), on.tobytes(), tuple(here))
        if drawn != self._drawn:
            if self._drawn is None or self._drawn[:2] != drawn[:2]:  # the path or the plane changed
                self.projection.setData(fine[:, u], fine[:, v])
            self._drawn = drawn
            if split is None or split.whole:
                solid, cross = fine[:, [u, v]], np.zeros((0, 2))
            else:
                solid, cross = split.solid, split.crossings
            self.projection.setVisible(split is not None and not split.whole)
            self.line.setData(solid[:, 0], solid[:, 1])
            self.halo.set_like(self.line)  # the white halo under the line: the same polyline
            self.crossings.setData(cross[:, 0], cross[:, 1])
            self.frames.setData(frames[on, u], frames[on, v])
            for t, p, inside in zip(self.ends, (walk.a, walk.b), here):
                t.setAnchor(((p[u] + 1) / 2, 1.15 if p[v] < 0.8 else -0.15))  # kept inside the box
                t.setPos(p[u], p[v])
                colour = QColor(PATH_COLOUR)
                colour.setAlpha(255 if inside else 110)
                t.fill = pg.mkBrush(colour)
                t.setToolTip("" if inside else f"{t.textItem.toPlainText()}, projected: it does not lie in this slice")
                t.update()
                t.setVisible(True)
        self.update_hover()

    def _cut(self, fine: np.ndarray, frames: np.ndarray, axes: tuple[int, int], fixed) -> tuple:
        """The path split by the slice, which frames and which of A and B lie in it; kept
        per slice for the walk (moving back and forth over a cube splits each slice once)."""
        key = (self._geometry_key, axes, None if fixed is None else (tuple(sorted(fixed[0].items())), fixed[1]))
        found = self._cuts.get(key)
        if found is None:
            walk = self.state.walk
            split = split_path(fine, *fixed, axes) if fixed else None
            on = in_slice(frames, *fixed) if fixed else np.ones(len(frames), bool)  # which points only
            here = in_slice(np.array([walk.a, walk.b]), *fixed).tolist() if fixed else [True, True]
            found = self._cuts[key] = (split, on, here)
            while len(self._cuts) > MAX_CUTS:
                self._cuts.popitem(last=False)
        else:
            self._cuts.move_to_end(key)
        return found

    def update_hover(self) -> None:
        h = self.state.walk.hover
        u, v = self.axes()
        shown = None if h is None or max(u, v) >= len(h) else (float(h[u]), float(h[v]))
        if shown == self._hover_drawn:
            return
        self._hover_drawn = shown
        if shown is None:
            self.hover.setData([], [])
        else:
            self.hover.setData([shown[0]], [shown[1]])


def slice_fixed(state, where, axes: tuple[int, int]) -> tuple[dict[int, float], float] | None:
    """The coordinates a slice through ``where`` fixes for a view of ``axes`` (the atlas
    cell's centres, as the slice shows them) and half a cell; None for a whole plane."""
    rest = [i for i in range(len(where)) if i not in axes]
    if not rest:
        return None
    atlas = state.atlas
    if atlas is None:
        return {i: float(where[i]) for i in rest}, half_cell(None)
    idx = atlas.cell_index(where)
    return {i: float(atlas.axis[idx[i]]) for i in rest}, half_cell(atlas.resolution)


def attach(panel, view: MapView, axes: Callable[[], tuple[int, int]], fixed: Fixed | None = None) -> PathOverlay:
    """A PathOverlay on ``view`` kept up to date through the panel's bindings (the panel
    calls ``update`` when the slice moves)."""
    overlay = PathOverlay(view, panel.state, axes, fixed)
    walk = panel.state.walk
    panel.bind(walk.changed, overlay.update)
    panel.bind(walk.hoverChanged, overlay.update_hover)
    return overlay
