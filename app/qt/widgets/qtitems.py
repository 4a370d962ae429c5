"""Plot items painted by Qt itself: a polyline and a set of dots; and an image item
drawn from Qt's fastest image format.

pyqtgraph's PlotDataItem and ScatterPlotItem paint in Python (0.1-0.3 ms per item per
repaint), and every marker move repaints the items under the crosshairs, so the walk
drawn on six views cost milliseconds a move.  These have the small part of their API that
the views use (``setData``, ``getData``, ``opts["pen"]``) and paint in C++.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainterPath, QTransform
from PySide6.QtWidgets import (QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem,
                               QGraphicsSimpleTextItem)


class CurveItem(QGraphicsPathItem):
    """A polyline through (x, y) in view coordinates; NaN breaks it ("finite" connection)."""

    def __init__(self, pen) -> None:
        super().__init__()
        self.setPen(pen)
        self.opts = {"pen": pen}
        self._x = self._y = np.zeros(0)

    def setData(self, x, y) -> None:  # noqa: N802 - as pyqtgraph's items
        x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
        self._x, self._y = x, y
        self.setPath(pg.arrayToQPath(x, y, connect="finite") if np.isfinite(x).any() else QPainterPath())

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
        return self._x, self._y

    def set_like(self, other: "CurveItem") -> None:
        """The same polyline as ``other`` (its path shared, not built again)."""
        self._x, self._y = other._x, other._y
        self.setPath(other.path())


class DotsItem(QGraphicsPathItem):
    """Dots of a fixed pixel size at (x, y) in view coordinates: one Qt item per dot
    (reused), each ignoring the view's scaling as a scatter plot's symbols do."""

    def __init__(self, size: float, pen, brush=None, square: bool = False) -> None:
        super().__init__()  # an empty path: the item itself draws nothing, its dots do
        self.size, self.square = size, square
        self.dot_pen, self.dot_brush = pen, brush
        self.opts = {"pen": pen}
        self.data = np.zeros((0, 2))
        self._dots: list[QGraphicsItem] = []
        self._tip = ""

    def _dot(self, k: int) -> QGraphicsItem:
        while len(self._dots) <= k:
            s = self.size
            dot = (QGraphicsRectItem if self.square else QGraphicsEllipseItem)(-s / 2, -s / 2, s, s, self)
            dot.setPen(self.dot_pen)
            if self.dot_brush is not None:
                dot.setBrush(self.dot_brush)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setToolTip(self._tip)
            self._dots.append(dot)
        return self._dots[k]

    def setData(self, x, y) -> None:  # noqa: N802
        x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
        keep = np.isfinite(x) & np.isfinite(y)
        self.data = np.stack([x[keep], y[keep]], 1)
        for k, (u, v) in enumerate(self.data):
            dot = self._dot(k)
            dot.setPos(float(u), float(v))
            dot.setVisible(True)
        for dot in self._dots[len(self.data):]:
            dot.setVisible(False)

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
        return self.data[:, 0].copy(), self.data[:, 1].copy()

    def setToolTip(self, text: str) -> None:  # noqa: N802 - the dots carry it: they are what the mouse is over
        self._tip = text
        super().setToolTip(text)
        for dot in self._dots:
            dot.setToolTip(text)


class FastImageItem(pg.ImageItem):
    """pyqtgraph's ImageItem, its picture kept in Qt's own 32-bit format.

    pyqtgraph makes a QImage in the array's layout (RGB888 for uint8 RGB), and Qt scales
    that format through its generic path on every paint: 0.30 ms to draw a 64 x 64 map at
    260 px, against 0.04 ms from RGB32, and a jump in 4-D repaints about a dozen maps,
    tiles and heatmaps.  The picture is converted once, when it is made."""

    def render(self) -> None:
        super().render()
        q = self.qimage
        if q is not None and q.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32_Premultiplied):
            self.qimage = q.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied if q.hasAlphaChannel()
                                            else QImage.Format.Format_RGB32)


def cache_painting(*items: QGraphicsItem) -> None:
    """Keep each item's painting as a screen-sized picture, drawn again only when the item
    changes (axes, titles, region digits): a view repainting under a moving marker then
    copies pixels instead of running pyqtgraph's Python paint methods (about 0.1 ms an
    axis, a few hundredths a text item, every repaint)."""
    for item in items:
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def pixel_text(font: QFont) -> QGraphicsSimpleTextItem:
    """A text item of fixed pixel size, anchored on its position in view coordinates
    (``set_pixel_text``), that Qt paints and places itself (pyqtgraph's TextItem runs Python on every repaint of its
    view: its bounding box, and its transform undone against the view's scaling)."""
    item = QGraphicsSimpleTextItem()
    item.setFont(font)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    cache_painting(item)
    return item


def set_pixel_text(item: QGraphicsSimpleTextItem, text: str, colour, anchor: tuple[float, float] = (0.5, 0.5)) -> None:
    """New words and colour for a ``pixel_text`` item; ``anchor``: the point of its box
    that sits on its position ((0.5, 0.5): centred; (0.5, 1): bottom centre)."""
    item.setText(text)
    item.setBrush(QBrush(QColor(colour)))
    r = item.boundingRect()
    item.setTransform(QTransform.fromTranslate(-r.width() * anchor[0], -r.height() * anchor[1]))
