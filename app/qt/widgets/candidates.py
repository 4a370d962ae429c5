"""Numbered candidate points (a projection's next-best matches) drawn on a MapView; a click
on one reports its number."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from ..style import font
from .mapview import MapView

CANDIDATE_COLOUR = "#1b7837"


class CandidateOverlay:
    """Markers 1..n at the candidates' coordinates on the view's plane (``axes()``)."""

    def __init__(self, view: MapView, axes: Callable[[], tuple[int, int]], visit: Callable[[int], None]) -> None:
        self.view, self.axes, self.visit = view, axes, visit
        self.points: np.ndarray = np.zeros((0, 0))
        size = 15 if view.compact else 22
        self.markers = pg.ScatterPlotItem(size=size, pen=pg.mkPen("w", width=2), brush=pg.mkBrush(CANDIDATE_COLOUR),
                                          hoverable=True, hoverPen=pg.mkPen("k", width=2))
        self.markers.setZValue(30)
        self.markers.sigClicked.connect(self._clicked)
        view.addItem(self.markers, ignoreBounds=True)
        self.labels: list[pg.TextItem] = []

    def _clicked(self, _item, spots, _ev=None) -> None:
        if len(spots):
            self.visit(int(spots[0].data()))

    def set_points(self, points: np.ndarray) -> None:
        """Candidates (n, d), numbered from 1 in order."""
        self.points = np.asarray(points, np.float64).reshape(len(points), -1) if len(points) else np.zeros((0, 0))
        self.update()

    def update(self) -> None:
        u, v = self.axes()
        pts = self.points
        if len(pts) == 0 or max(u, v) >= pts.shape[1]:
            self.markers.setData([], [])
            for t in self.labels:
                t.setVisible(False)
            return
        self.markers.setData(x=pts[:, u], y=pts[:, v], data=list(range(1, len(pts) + 1)))
        while len(self.labels) < len(pts):
            t = pg.TextItem("", color=QColor("#ffffff"), anchor=(0.5, 0.5))
            t.setFont(font(7 if self.view.compact else 9, bold=True))
            t.setZValue(31)
            self.view.addItem(t, ignoreBounds=True)
            self.labels.append(t)
        for k, t in enumerate(self.labels):
            if k < len(pts):
                t.setText(str(k + 1))
                t.setPos(pts[k, u], pts[k, v])
                t.setVisible(True)
            else:
                t.setVisible(False)

    def remove(self) -> None:
        for item in (self.markers, *self.labels):
            try:
                self.view.removeItem(item)
            except (RuntimeError, ValueError):  # the view is already gone
                pass
