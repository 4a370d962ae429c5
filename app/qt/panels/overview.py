"""Small multiples: N slices of the class cube along one axis, the point's slice framed.

All tiles are drawn as one mosaic image, so 16 (or 64) slices cost one image item.
Clicking a tile moves the point into that slice, at the clicked spot.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QGraphicsRectItem, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from latent_explorer.models.maps import axis_name

from ..state import ExplorerState
from ..style import font
from ..slicecache import slices
from ..widgets.mapview import PickViewBox, Ring
from .base import Panel
from .common import atlas_key, no_atlas_message, set_text

GAP = 0.4  # gap between tiles (room for the captions), as a fraction of a tile


class OverviewPanel(Panel):
    """A grid of slices along ``state.options['overview_axis']``."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel("Overview")
        self.title.setFont(font(10, bold=True))
        head.addWidget(self.title, 1)
        head.addWidget(QLabel("Slices along"))
        self.axis = QComboBox()
        self.axis.setObjectName("overview_axis")
        for i in range(min(3, state.latent_dim)):
            self.axis.addItem(axis_name(i))
        self.axis.currentIndexChanged.connect(lambda i: state.set_option("overview_axis", int(i)))
        head.addWidget(self.axis)
        self.count = QSpinBox()
        self.count.setObjectName("overview_count")
        self.count.setRange(2, 64)
        self.count.setToolTip("Number of slices")
        self.count.valueChanged.connect(lambda n: state.set_option("overview_count", int(n)))
        head.addWidget(self.count)
        lay.addLayout(head)
        self.box = PickViewBox()
        self.box.invertY(True)
        self.plot = pg.GraphicsView()
        self.plot.setCentralItem(self.box)
        self.plot.setMinimumSize(180, 180)
        self.box.picked.connect(self._picked)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # the marker repaints from it
        self.box.addItem(self.image)
        self.frame = QGraphicsRectItem()
        self.frame.setPen(pg.mkPen(QColor("#000000"), width=3, cosmetic=True))
        self.box.addItem(self.frame)
        self.marker = Ring(7, "k", 1.5)  # a Qt item: moving it repaints only around it
        self.marker.setBrush(pg.mkBrush("w"))
        self.marker.setZValue(6)
        self.marker.setVisible(False)
        self.box.addItem(self.marker, ignoreBounds=True)
        self.path_item = pg.PlotDataItem(pen=pg.mkPen("#d01c8b", width=2), connect="finite")
        self.path_item.setZValue(5)
        self.box.addItem(self.path_item)
        self.message = pg.TextItem("", color=QColor("#555555"), anchor=(0.5, 0.5))
        self.box.addItem(self.message)
        self.texts: list[pg.TextItem] = []
        lay.addWidget(self.plot, 1)
        self._key: tuple | None = None
        self.values = np.zeros(0)
        self.cols = self.rows = 1
        self.res, self.step = 2, 3
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.bind(state.optionChanged,
                  lambda name: name in ("overview_axis", "overview_count") and self.redraw())
        self.bind(state.walk.changed, self.draw_path)
        self.redraw()

    # ------------------------------------------------------------ geometry
    # The mosaic is laid out in pixels (one pixel per atlas cell), y pointing down.
    def _plane(self) -> tuple[int, int]:
        axis = int(self.state.option("overview_axis"))
        p, q = [i for i in range(3) if i != axis]
        return p, q

    def _tile_origin(self, i: int) -> tuple[float, float]:
        """Top-left corner of tile i in mosaic pixels."""
        r, c = divmod(i, self.cols)
        return c * self.step, r * self.step

    def _to_pixel(self, v: float, flip: bool) -> float:
        """A latent coordinate -> pixel offset inside a tile (cell centres at +0.5)."""
        f = (v + 1) / 2
        return ((1 - f) if flip else f) * (self.res - 1) + 0.5

    def _from_pixel(self, px: float, flip: bool) -> float:
        f = min(1.0, max(0.0, (px - 0.5) / (self.res - 1)))
        return ((1 - f) if flip else f) * 2 - 1

    def current_tile(self) -> int:
        """The tile whose slice is nearest to the point."""
        axis = int(self.state.option("overview_axis"))
        return int(np.argmin(np.abs(self.values - self.state.point[axis]))) if len(self.values) else 0

    def tile_centre(self, i: int) -> tuple[float, float]:
        """Mosaic position of tile i's centre (for tests and screenshots)."""
        x0, y0 = self._tile_origin(i)
        return x0 + self.res / 2, y0 + self.res / 2

    def _picked(self, x: float, y: float) -> None:
        if not len(self.values):
            return
        c, r = int(x // self.step), int(y // self.step)
        fx, fy = x - c * self.step, y - r * self.step
        i = r * self.cols + c
        if not (0 <= c < self.cols and 0 <= i < len(self.values)) or not (0 <= fx <= self.res and 0 <= fy <= self.res):
            return
        p, q = self._plane()
        axis = int(self.state.option("overview_axis"))
        self.state.set_coordinates({axis: float(self.values[i]), p: self._from_pixel(fx, False),
                                    q: self._from_pixel(fy, True)})

    # ------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Cheap on a move: the mosaic is rebuilt only when its cube changes (4-D), the
        frame and marker always follow."""
        if not self.drawing_now():
            return
        st = self.state
        axis, n = int(st.option("overview_axis")), int(st.option("overview_count"))
        for w, v in ((self.axis, axis), (self.count, n)):
            if (w.currentIndex() if isinstance(w, QComboBox) else w.value()) != v:
                w.blockSignals(True)
                w.setCurrentIndex(v) if isinstance(w, QComboBox) else w.setValue(v)
                w.blockSignals(False)
        p, q = self._plane()
        whose = f", digit {st.atlas_digit}'s atlas" if st.conditional else ""
        set_text(self.title, f"{n} {axis_name(p)}{axis_name(q)} slices{whose}")
        atlas = st.atlas
        if atlas is None:
            self._key = None
            self.values = np.zeros(0)
            self.image.clear()
            self._clear_texts()
            self.frame.setVisible(False)
            self.marker.setVisible(False)
            self.path_item.setData([], [])
            self._path_key = None
            self.message.setText(no_atlas_message(st))
            self.box.setRange(QRectF(-1, -1, 2, 2), padding=0)
            return
        if self.message.textItem.toPlainText():
            self.message.setText("")
        idx = atlas.cell_index(st.point)
        key = atlas_key(st) + (axis, n, tuple(idx[3:]))
        if key != self._key:
            self._key = key
            self._build_mosaic(axis, n)
        i = self.current_tile()
        x0, y0 = self._tile_origin(i)
        pad = max(0.5, self.res * 0.015)  # a thin margin: the frame stays below the tile's caption
        rect = QRectF(x0 - pad, y0 - pad, self.res + 2 * pad, self.res + 2 * pad)
        if self.frame.rect() != rect:
            self.frame.setRect(rect)
        self.frame.setVisible(True)
        self.marker.setPos(x0 + self._to_pixel(st.point[p], False), y0 + self._to_pixel(st.point[q], True))
        self.marker.setVisible(True)
        self.draw_path()

    def draw_path(self) -> None:
        """The walk in the tiles it passes through: each stretch of the path in the tile of
        the slice nearest to it along the overview axis (breaks between tiles)."""
        walk = self.state.walk
        axis = int(self.state.option("overview_axis"))
        p, q = self._plane()
        key = (walk.ready, walk.label_walk, walk.a, walk.b, walk.kind, axis, p, q, self.res, self.cols,
               tuple(self.values))
        if key == getattr(self, "_path_key", None):
            return  # the point moved, the path did not
        self._path_key = key
        pts = walk.fine_points(513)
        if pts is None or not len(self.values) or pts.shape[1] < 3:
            self.path_item.setData([], [])
            return
        tiles = np.abs(pts[:, axis][:, None] - self.values[None, :]).argmin(1)
        xs, ys = [], []
        for k, (pt, i) in enumerate(zip(pts, tiles)):
            if k and i != tiles[k - 1]:
                xs.append(np.nan)
                ys.append(np.nan)
            x0, y0 = self._tile_origin(int(i))
            xs.append(x0 + self._to_pixel(float(pt[p]), False))
            ys.append(y0 + self._to_pixel(float(pt[q]), True))
        self.path_item.setData(np.array(xs), np.array(ys))

    def _clear_texts(self) -> None:
        for t in self.texts:
            t.setVisible(False)  # kept for the next mosaic: creating text items is slow

    def _build_mosaic(self, axis: int, n: int) -> None:
        st, atlas = self.state, self.state.atlas
        p, q = self._plane()
        res = self.res = atlas.resolution
        self.values = np.linspace(-1.0, 1.0, n)
        self.cols = math.ceil(math.sqrt(n))
        self.rows = math.ceil(n / self.cols)
        gap = max(2, round(GAP * res))
        step = self.step = res + gap
        mosaic = np.full((self.cols * step - gap, self.rows * step - gap, 3), 255, np.uint8)
        digit = st.atlas_digit_or_none()
        while len(self.texts) < n:
            text = pg.TextItem("", color=QColor("#333333"), anchor=(0.5, 1.0))
            text.setFont(font(7))
            self.box.addItem(text)
            self.texts.append(text)
        for i, v in enumerate(self.values):
            where = list(st.point)
            where[axis] = float(v)
            plane = slices.get(atlas, (p, q), where, digit)  # cut and coloured once, shared with the slices
            r, c = divmod(i, self.cols)
            # mosaic is (x, y) with y downwards: flip the q axis so it points up in each tile
            mosaic[c * step:c * step + res, r * step:r * step + res] = plane.rgb[:, ::-1]
            text = self.texts[i]
            caption = f"{axis_name(axis)}={v:+.2f}"
            if text.textItem.toPlainText() != caption:
                text.setText(caption)
            x0, y0 = self._tile_origin(i)
            text.setPos(x0 + res / 2, y0 - 0.15 * gap)
            text.setVisible(True)
        for text in self.texts[n:]:
            text.setVisible(False)
        shape = (self.image.image.shape[:2] if self.image.image is not None else None)
        self.image.setImage(mosaic, autoLevels=False, levels=(0, 255))
        if shape != mosaic.shape[:2]:  # the same layout keeps its place and range
            self.image.setRect(QRectF(0, 0, mosaic.shape[0], mosaic.shape[1]))
            self.box.setRange(QRectF(-gap, -2.5 * gap, mosaic.shape[0] + 2 * gap, mosaic.shape[1] + 3.5 * gap),
                              padding=0)
