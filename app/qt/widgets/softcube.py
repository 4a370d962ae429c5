"""SoftCube: the class cube drawn in software (numpy voxels), turned by dragging.

The stand-in for the OpenGL view where OpenGL is missing (offscreen, no PyOpenGL).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from latent_explorer.models.maps import axis_name
from latent_explorer.models.voxels import box_edges, render_cube, rotation, to_screen, visible_voxels

from ..style import font
from .mapview import Ring
from .qtitems import CurveItem, FastImageItem, cache_painting

SIZE = 360  # picture size in pixels (the view scales it)
MAX_SIDE = 32  # voxels per cube edge; bigger atlases are subsampled
MAX_PICTURES = 32  # cube pictures kept (about 0.4 MB each)


class _TurnBox(pg.ViewBox):
    """A fixed view box whose left drags turn the cube instead of panning."""

    def __init__(self, turn) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.setMouseEnabled(False, False)
        self._turn = turn

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        d = ev.screenPos() - ev.lastScreenPos()
        self._turn(d.x() * 0.6, d.y() * 0.4)

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802
        ev.ignore()


class SoftCube(pg.GraphicsView):
    """Shows a labelled cube (R, R, R) and a point; drag to turn."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.azimuth, self.elevation = -50.0, 22.0
        self.box = _TurnBox(self.turn)
        self.setCentralItem(self.box)
        self.image = FastImageItem(axisOrder="row-major")
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # the ball repaints from it
        self.box.addItem(self.image)
        self.edges = [CurveItem(pg.mkPen("#444444", width=1)) for _ in range(12)]
        for e in self.edges:
            e.setZValue(-1)  # under the voxels: only edges with nothing in front show
            self.box.addItem(e)
        self.names = [pg.TextItem(axis_name(i), color=QColor("#222222"), anchor=(0.5, 0.5)) for i in range(3)]
        for t in self.names:
            t.setFont(font(10, bold=True))
            cache_painting(t)
            self.box.addItem(t)
        self.marker = Ring(13, "w", 2.5)  # a Qt item: moving it repaints only around it
        self.marker.setBrush(pg.mkBrush("k"))
        self.marker.setZValue(10)
        self.box.addItem(self.marker, ignoreBounds=True)
        self.path_item = CurveItem(pg.mkPen("#d01c8b", width=2.5))  # the walk, on top
        self.path_item.setZValue(9)
        self.box.addItem(self.path_item)
        from .pathoverlay import PROJECTION_TIP, projection_pen

        self.projection_item = CurveItem(projection_pen())  # 4-D: where the walk is not in this cube
        self.projection_item.setToolTip(PROJECTION_TIP.replace("slice", "cube"))
        self.projection_item.setZValue(8)
        self.box.addItem(self.projection_item)
        self.path: np.ndarray | None = None
        self.path_on: np.ndarray | None = None  # per point: in the cube (None: all of it)
        self.box.setRange(QRectF(0, 0, SIZE, SIZE), padding=0.02)
        self.labels: np.ndarray | None = None
        self.confidence: np.ndarray | None = None
        self.hidden: frozenset[int] = frozenset()
        self._mask: np.ndarray | None = None
        self.point = np.zeros(3)
        self._cube_key: tuple | None = None
        self._turned_to: tuple[float, float] | None = None
        self._pictures: OrderedDict = OrderedDict()  # (cube key, azimuth, elevation) -> picture
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._draw)

    def set_cube(self, labels: np.ndarray | None, confidence: np.ndarray | None,
                 hidden: frozenset[int] = frozenset(), key: tuple | None = None) -> None:
        """Show a cube; ``key`` names it, so pictures of a cube seen before are reused
        (moving back and forth along w in 4-D redraws nothing)."""
        self._cube_key = key
        if labels is not None:
            step = max(1, -(-labels.shape[0] // MAX_SIDE))  # keep turning fluid on big atlases
            labels, confidence = labels[::step, ::step, ::step], confidence[::step, ::step, ::step]
        self.labels, self.confidence, self.hidden = labels, confidence, hidden
        self._mask = None  # made when a picture of this cube is drawn (not for one seen before)
        self._timer.start()

    def set_point(self, point) -> None:
        self.point = np.asarray(point[:3], np.float64)
        self._place_marker(path=False)  # the path does not move with the point

    def set_path(self, points: np.ndarray | None, on: np.ndarray | None = None) -> None:
        """The walk's path (n, >= 3), drawn over the cube; None for none.  ``on`` marks the
        points that lie in the cube (4-D); the rest is drawn dashed, as a projection."""
        self.path = None if points is None else np.asarray(points, np.float64)[:, :3]
        self.path_on = None if on is None or self.path is None or bool(np.all(on)) else np.asarray(on, bool)
        self._place_marker()

    def turn(self, d_azimuth: float, d_elevation: float) -> None:
        self.azimuth = (self.azimuth - d_azimuth) % 360
        self.elevation = float(np.clip(self.elevation + d_elevation, -89, 89))
        self._timer.start()  # one redraw per event-loop pass, however fast the drag

    def _place_marker(self, path: bool = True) -> None:
        c, r, _ = to_screen(self.point[None, :], rotation(self.azimuth, self.elevation), SIZE)
        self.marker.setPos(float(c[0]), float(r[0]))
        if not path:
            return
        if self.path is None:
            self.path_item.setData([], [])
            self.projection_item.setData([], [])
        else:
            c, r, _ = to_screen(self.path, rotation(self.azimuth, self.elevation), SIZE)
            on = self.path_on
            if on is None:
                self.path_item.setData(c, r)
                self.projection_item.setData([], [])
            else:
                self.path_item.setData(np.where(on, c, np.nan), np.where(on, r, np.nan))
                self.projection_item.setData(c, r)

    def _draw(self) -> None:
        rot = rotation(self.azimuth, self.elevation)
        if self.labels is None:
            self.image.clear()
        else:
            key = None if self._cube_key is None else (self._cube_key, self.azimuth, self.elevation)
            img = self._pictures.get(key) if key is not None else None
            if img is None:
                if self._mask is None:  # kept while the cube turns
                    self._mask = visible_voxels(self.labels, self.hidden)
                img = render_cube(self.labels, self.confidence, self.azimuth, self.elevation, SIZE, self.hidden,
                                  mask=self._mask)
                if key is not None:
                    self._pictures[key] = img
                    while len(self._pictures) > MAX_PICTURES:
                        self._pictures.popitem(last=False)
            else:
                self._pictures.move_to_end(key)
            self.image.setImage(img, autoLevels=False, levels=None)  # uint8 RGB: no rescaling
            self.image.setRect(QRectF(0, 0, SIZE, SIZE))
        if self._turned_to != (self.azimuth, self.elevation):  # the box and names move only when turned
            self._turned_to = (self.azimuth, self.elevation)
            for item, (c, r) in zip(self.edges, box_edges(rot, SIZE)):
                item.setData(c, r)
            ends = np.eye(3) * 1.22 - (1 - np.eye(3)) * 1.0
            c, r, _ = to_screen(ends, rot, SIZE)
            for t, x, y in zip(self.names, c, r):
                t.setPos(x, y)
            self._place_marker()
