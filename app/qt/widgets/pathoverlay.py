"""The walk drawn on a MapView: the path projected onto the view's plane, A and B
markers, and the point of the strip frame under the mouse."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from ..style import font
from .mapview import MapView

PATH_COLOUR = "#d01c8b"


class PathOverlay:
    """Items on one view; ``update`` re-reads ``state.walk`` (the owner binds the signals)."""

    def __init__(self, view: MapView, state, axes: Callable[[], tuple[int, int]]) -> None:
        self.view, self.state, self.axes = view, state, axes
        self.halo = pg.PlotDataItem(pen=pg.mkPen("w", width=5))
        self.line = pg.PlotDataItem(pen=pg.mkPen(PATH_COLOUR, width=2.5))
        self.frames = pg.ScatterPlotItem(size=6, pen=pg.mkPen("w", width=1), brush=pg.mkBrush(PATH_COLOUR))
        self.hover = pg.ScatterPlotItem(size=16, symbol="s", pen=pg.mkPen(PATH_COLOUR, width=3), brush=None)
        self.ends = []
        for name in ("A", "B"):
            t = pg.TextItem(name, color=QColor("#ffffff"), fill=pg.mkBrush(PATH_COLOUR), anchor=(0.5, 1.15))
            t.setFont(font(8 if view.compact else 10, bold=True))
            self.ends.append(t)
        for z, item in enumerate((self.halo, self.line, self.frames, self.hover, *self.ends)):
            item.setZValue(10 + z)
            view.addItem(item, ignoreBounds=True)
        self.update()

    def path_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn path's coordinates on this plane (empty without a path)."""
        x, y = self.line.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def update(self) -> None:
        walk = self.state.walk
        u, v = self.axes()
        fine = walk.fine_points()
        frames = walk.points()
        if fine is None or max(u, v) >= fine.shape[1]:
            for item in (self.halo, self.line, self.frames):
                item.setData([], [])
            for t in self.ends:
                t.setVisible(False)
        else:
            for item in (self.halo, self.line):
                item.setData(fine[:, u], fine[:, v])
            self.frames.setData(frames[:, u], frames[:, v])
            for t, p in zip(self.ends, (walk.a, walk.b)):
                t.setAnchor(((p[u] + 1) / 2, 1.15 if p[v] < 0.8 else -0.15))  # kept inside the box
                t.setPos(p[u], p[v])
                t.setVisible(True)
        self.update_hover()

    def update_hover(self) -> None:
        h = self.state.walk.hover
        u, v = self.axes()
        if h is None or max(u, v) >= len(h):
            self.hover.setData([], [])
        else:
            self.hover.setData([h[u]], [h[v]])


def attach(panel, view: MapView, axes: Callable[[], tuple[int, int]]) -> PathOverlay:
    """A PathOverlay on ``view`` kept up to date through the panel's bindings."""
    overlay = PathOverlay(view, panel.state, axes)
    walk = panel.state.walk
    panel.bind(walk.changed, overlay.update)
    panel.bind(walk.hoverChanged, overlay.update_hover)
    return overlay
