"""A grid of small heatmaps with titles and one colour bar, painted by one widget.

The layer heatmaps change on every frame, all eleven at once.  As pyqtgraph plots (a
view box, an image item and a title per layer, in a graphics layout) a frame cost about
6 ms of the UI thread: each image went through pyqtgraph's Python image pipeline, and
each repaint walked some forty graphics items with Python methods.  Here a tile is a
QImage made from ready colours, and one ``paintEvent`` draws every tile, title and the
colour bar with a handful of QPainter calls.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..style import font

GAP_PX = 4           # between tiles
BAR_WIDTH_PX = 14    # the colour bar's strip
BAR_ROOM_PX = 78     # the strip, its numbers and its rotated label


def rgb_qimage(rgb: np.ndarray) -> QImage:
    """A 32-bit QImage (Qt's fastest to draw) of an (H, W, 3) uint8 array (a copy)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)


class HeatmapTile:
    """One tile: its title and its picture (``image``: the (H, W, 3) uint8 colours shown)."""

    def __init__(self, grid: "HeatmapGrid", title: str) -> None:
        self.grid = grid
        self.text = title
        self.image: np.ndarray | None = None
        self.qimage: QImage | None = None

    def setText(self, text: str) -> None:  # noqa: N802 - as the label it replaces
        if text != self.text:
            self.text = text
            self.grid.update()  # (its background picture is made again: the titles are in it)

    def set_colours(self, rgb: np.ndarray) -> None:
        """Show these colours (the grid repaints when asked: ``grid.update()``)."""
        self.image = rgb
        self.qimage = rgb_qimage(rgb)

    def clear(self) -> None:
        self.image = self.qimage = None
        self.grid.update()


class HeatmapGrid(QWidget):
    """Tiles in rows of ``columns``, each image as large as its cell allows (square pixels,
    no smoothing), its title above; a vertical colour bar on the right."""

    def __init__(self, titles: list[str], columns: int, lut: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.tiles = {t: HeatmapTile(self, t) for t in titles}
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # it fills its own background
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._title_font = font(8)
        self._bar_font = font(7)
        self._bar_image = rgb_qimage(np.ascontiguousarray(lut[::-1, None, :]))  # high values at the top
        self._levels = (0.0, 1.0)
        self._label = ""
        self._rects: tuple | None = None       # (size and shapes, tile_rects)
        self._background: tuple | None = None  # (titles and bar, picture)

    # ------------------------------------------------------------ colour bar
    def set_bar(self, levels: tuple[float, float], label: str) -> None:
        levels = (float(levels[0]), float(levels[1]))
        if (levels, label) != (self._levels, self._label):
            self._levels, self._label = levels, label
            self.update()

    # ------------------------------------------------------------ geometry
    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, 300)

    def tile_rects(self) -> dict[str, tuple[QRectF, QRectF]]:
        """Each tile's (title, image) rectangles in widget pixels."""
        rows = -(-len(self.tiles) // self.columns)
        title_h = QFontMetricsF(self._title_font).height() + 1
        cw = max(1.0, (self.width() - BAR_ROOM_PX - GAP_PX * (self.columns - 1)) / self.columns)
        ch = max(1.0, (self.height() - GAP_PX * (rows - 1)) / rows)
        out = {}
        for i, (name, tile) in enumerate(self.tiles.items()):
            r, c = divmod(i, self.columns)
            x, y = c * (cw + GAP_PX), r * (ch + GAP_PX)
            room_w, room_h = cw, max(1.0, ch - title_h)
            h, w = tile.image.shape[:2] if tile.image is not None else (1, 1)
            scale = min(room_w / w, room_h / h)
            iw, ih = w * scale, h * scale
            out[name] = (QRectF(x, y, cw, title_h),
                         QRectF(x + (room_w - iw) / 2, y + title_h + (room_h - ih) / 2, iw, ih))
        return out

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802
        """The background picture (titles, colour bar), then the tiles' images."""
        rects = self._layout()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._painted_background(rects))
        for name, (_, image) in rects.items():
            q = self.tiles[name].qimage
            if q is not None:
                p.drawImage(image, q)
        p.end()

    def _layout(self) -> dict[str, tuple[QRectF, QRectF]]:
        """``tile_rects``, worked out again only for a new size or new image shapes."""
        key = (self.width(), self.height(), tuple(None if t.image is None else t.image.shape[:2]
                                                  for t in self.tiles.values()))
        if self._rects is None or self._rects[0] != key:
            self._rects = (key, self.tile_rects())
            self._background = None
        return self._rects[1]

    def _painted_background(self, rects) -> QPixmap:
        """Everything but the images, painted again only when a title, the bar or the size
        changes (titles and numbers took half of a repaint)."""
        key = (tuple(t.text for t in self.tiles.values()), self._levels, self._label)
        if self._background is None or self._background[0] != key:
            dpr = self.devicePixelRatioF()
            pix = QPixmap(QSize(round(self.width() * dpr), round(self.height() * dpr)))
            pix.setDevicePixelRatio(dpr)
            pix.fill(self.palette().base().color())
            p = QPainter(pix)
            p.setFont(self._title_font)
            p.setPen(QColor("#222222"))
            centre = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
            for name, (title, _) in rects.items():
                p.drawText(title, centre, self.tiles[name].text)
            self._paint_bar(p)
            p.end()
            self._background = (key, pix)
        return self._background[1]

    def _paint_bar(self, p: QPainter) -> None:
        fm = QFontMetricsF(self._bar_font)
        x = self.width() - BAR_ROOM_PX + 6
        top, bottom = fm.height() / 2 + 2, self.height() - fm.height() / 2 - 2
        strip = QRectF(x, top, BAR_WIDTH_PX, max(1.0, bottom - top))
        p.drawImage(strip, self._bar_image)
        p.setPen(QPen(QColor("#555555")))
        p.drawRect(strip)
        p.setFont(self._bar_font)
        lo, hi = self._levels
        tx = x + BAR_WIDTH_PX + 6  # clear of the tick, which would read as a minus sign
        for value, y in ((hi, top), ((lo + hi) / 2, (top + bottom) / 2), (lo, bottom)):
            p.drawLine(QPointF(x + BAR_WIDTH_PX, y), QPointF(x + BAR_WIDTH_PX + 2, y))
            p.drawText(QPointF(tx, y + fm.ascent() / 2 - 1), f"{value:.3g}")
        if self._label:  # along the bar, reading upwards
            p.save()
            p.translate(self.width() - 4, (top + bottom) / 2)
            p.rotate(-90)
            p.drawText(QRectF(-(bottom - top) / 2, -fm.height(), bottom - top, fm.height()),
                       Qt.AlignmentFlag.AlignCenter, self._label)
            p.restore()
