"""Small multiples: N slices of the class cube along one axis, the point's slice framed.

All tiles are drawn as one mosaic image, so 16 (or 64) slices cost one image item.  The
grid's columns, and the gaps that hold the captions, are chosen for the panel's size in
screen pixels so that the tiles take as much of it as they can; the point's frame lies
between a tile and the captions around it.  Clicking a tile moves the point into that
slice, at the clicked spot.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import (QComboBox, QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem, QHBoxLayout, QLabel,
                               QSpinBox, QVBoxLayout, QWidget)

from latent_explorer.models.maps import axis_name
from latent_explorer.models.sampling import grid_index, grid_indices
from latent_explorer.models.slicepath import half_cell

from ..state import ExplorerState
from ..style import font
from ..slicecache import slices
from ..widgets.mapview import PickViewBox, Ring
from ..widgets.pathoverlay import PROJECTION_TIP, projection_pen
from ..widgets.qtitems import CurveItem, FastImageItem, pixel_text, set_pixel_text
from .base import Panel
from .common import TitleLabel, atlas_key, no_atlas_message, set_text

CAPTION_PT = 8  # point size of the tiles' captions
FRAME_PX = 1.0  # the point's frame: this far outside its tile, on screen
FRAME_PEN = 3  # ... drawn this wide, so it reaches FRAME_PX + FRAME_PEN / 2 out
CLEAR_PX = FRAME_PX + FRAME_PEN / 2 + 1  # room a tile keeps clear around it for its frame
GAP_PX = 2 * CLEAR_PX  # least room between two tiles side by side
MAX_MOSAICS = 32  # mosaics kept (4-D: one per cube visited; 16 tiles of 16^2 cells: 16 KB each)


def grid_layout(n: int, width: float, height: float, caption_h: float,
                caption_w: Callable[[float], float]) -> tuple[int, float, float]:
    """The number of columns giving the largest tiles for ``n`` tiles in a ``width`` x
    ``height`` pixel area, each with a caption of ``caption_h`` pixels above it.
    ``caption_w(tile)`` is the width of the caption used at that tile size; tiles side by
    side are at least that far apart centre to centre.  Returns (columns, tile, gap), in
    pixels."""
    best = (1, 0.0, GAP_PX)
    room_h = caption_h + 2 * CLEAR_PX  # the frame above, the caption, the frame below
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        tile = (height - rows * room_h - CLEAR_PX) / rows
        gap = GAP_PX
        for _ in range(3):  # a tile narrower than its caption widens the gaps
            gap = max(GAP_PX, caption_w(tile) + 2 - tile)
            tile = min(tile, (width - (cols - 1) * gap - 2 * CLEAR_PX) / cols)
        if tile > best[1] + 1e-9:
            best = (cols, tile, gap)
    return best


class OverviewPanel(Panel):
    """A grid of slices along ``state.options['overview_axis']``."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = TitleLabel("Overview")
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
        self.image = FastImageItem(axisOrder="col-major")
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # the marker repaints from it
        self.box.addItem(self.image)
        self.frame = QGraphicsRectItem()
        self.frame.setPen(pg.mkPen(QColor("#000000"), width=FRAME_PEN, cosmetic=True))
        self.box.addItem(self.frame)
        self.marker = Ring(7, "k", 1.5)  # a Qt item: moving it repaints only around it
        self.marker.setBrush(pg.mkBrush("w"))
        self.marker.setZValue(6)
        self.marker.setVisible(False)
        self.box.addItem(self.marker, ignoreBounds=True)
        self.path_item = CurveItem(pg.mkPen("#d01c8b", width=2))
        self.path_item.setZValue(5)
        self.box.addItem(self.path_item)
        self.projection_item = CurveItem(projection_pen(1.2))  # the rest, projected
        self.projection_item.setToolTip(PROJECTION_TIP)
        self.projection_item.setZValue(4)
        self.box.addItem(self.projection_item)
        self.message = pg.TextItem("", color=QColor("#555555"), anchor=(0.5, 0.5))
        self.box.addItem(self.message)
        self.texts: list[QGraphicsSimpleTextItem] = []  # the tiles' captions (a pool)
        lay.addWidget(self.plot, 1)
        self._key: tuple | None = None
        self._mosaics: OrderedDict = OrderedDict()  # key -> mosaic: moving back along w rebuilds nothing
        self._paths: OrderedDict = OrderedDict()  # draw_path key -> (solid, projected, projection shown)
        self._mosaics_of = None  # the atlas they belong to
        self._texts_key: tuple | None = None  # the layout the tile captions are placed for
        self.values = np.zeros(0)
        self.cols = self.rows = 1
        self.res, self.step_x, self.step_y = 2, 3, 3
        self.scale = 1.0  # screen pixels per mosaic pixel, as laid out
        self.short = False  # captions without the axis name (tiles too narrow for it)
        self._plans: dict[tuple, tuple] = {}  # (n, res, axis, size) -> plan: a move does not re-plan
        self.box.sigResized.connect(self._resized)
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
        return c * self.step_x, r * self.step_y

    def _to_pixel(self, v: float, flip: bool) -> float:
        """A latent coordinate -> pixel offset inside a tile (cell centres at +0.5)."""
        f = (v + 1) / 2
        return ((1 - f) if flip else f) * (self.res - 1) + 0.5

    def _from_pixel(self, px: float, flip: bool) -> float:
        f = min(1.0, max(0.0, (px - 0.5) / (self.res - 1)))
        return ((1 - f) if flip else f) * 2 - 1

    def current_tile(self) -> int:
        """The tile whose slice is nearest to the point, by the rounding rule of the atlas's
        cells (``grid_index``): with as many tiles as cells, it is the slices' cut."""
        axis = int(self.state.option("overview_axis"))
        return grid_index(self.state.point[axis], len(self.values)) if len(self.values) > 1 else 0

    def tile_centre(self, i: int) -> tuple[float, float]:
        """Mosaic position of tile i's centre (for tests and screenshots)."""
        x0, y0 = self._tile_origin(i)
        return x0 + self.res / 2, y0 + self.res / 2

    def _picked(self, x: float, y: float) -> None:
        if not len(self.values):
            return
        c, r = int(x // self.step_x), int(y // self.step_y)
        fx, fy = x - c * self.step_x, y - r * self.step_y
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
            self.projection_item.setData([], [])
            self._path_key = None
            self.message.setText(no_atlas_message(st))
            self.message.setVisible(True)
            self.box.setRange(QRectF(-1, -1, 2, 2), padding=0)
            return
        if self.message.isVisible():
            self.message.setText("")
            self.message.setVisible(False)  # hidden, the view's repaints skip it
        idx = atlas.cell_index(st.point)
        layout = self._plan(n, atlas.resolution)
        key = atlas_key(st) + (axis, n, tuple(idx[3:]), layout)
        if key != self._key:
            self._key = key
            self._build_mosaic(axis, n, key)
        i = self.current_tile()
        x0, y0 = self._tile_origin(i)
        pad = FRAME_PX / self.scale  # just outside the tile: clear of every caption
        rect = QRectF(x0 - pad, y0 - pad, self.res + 2 * pad, self.res + 2 * pad)
        if self.frame.rect() != rect:
            self.frame.setRect(rect)
        self.frame.setVisible(True)
        self.marker.setPos(x0 + self._to_pixel(st.point[p], False), y0 + self._to_pixel(st.point[q], True))
        self.marker.setVisible(True)
        self.draw_path()

    def draw_path(self) -> None:
        """The walk in the tiles it passes through: each stretch of the path in the tile of
        the slice nearest to it along the overview axis (breaks between tiles), solid
        where it lies in that slice (within half an atlas cell of the tile's value and, in
        4-D, of the cube's further coordinates), dashed where it is only projected."""
        walk, atlas = self.state.walk, self.state.atlas
        axis = int(self.state.option("overview_axis"))
        p, q = self._plane()
        d = self.state.latent_dim
        cube = tuple(float(atlas.axis[i]) for i in atlas.cell_index(self.state.point)[3:]) if atlas is not None else ()
        key = (walk.ready, walk.label_walk, walk.a, walk.b, walk.kind, axis, p, q, self.res, self.cols,
               self.step_x, self.step_y, tuple(self.values), cube)
        if key == getattr(self, "_path_key", None):
            return  # the point moved, the path did not
        self._path_key = key
        drawn = self._paths.get(key)
        if drawn is not None:  # a cube seen before (4-D): the same lines
            self._paths.move_to_end(key)
            for item, xy in zip((self.path_item, self.projection_item), drawn[:2]):
                item.setData(*xy)
            self.projection_item.setVisible(drawn[2])
            return
        pts = walk.fine_points(1025)
        if pts is None or not len(self.values) or pts.shape[1] < 3:
            self.path_item.setData([], [])
            self.projection_item.setData([], [])
            return
        tiles = grid_indices(pts[:, axis], len(self.values))
        tol = half_cell(self.res)
        on = np.abs(pts[:, axis] - self.values[tiles]) <= tol + 1e-9
        for i, v in zip(range(3, d), cube):
            on &= np.abs(pts[:, i] - v) <= tol + 1e-9
        r, c = np.divmod(tiles, self.cols)
        xs = c * self.step_x + ((pts[:, p] + 1) / 2) * (self.res - 1) + 0.5
        ys = r * self.step_y + (1 - (pts[:, q] + 1) / 2) * (self.res - 1) + 0.5
        moved = np.concatenate([[False], tiles[1:] != tiles[:-1]])  # a break where the tile changes

        def broken(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x, y = np.where(mask, xs, np.nan), np.where(mask, ys, np.nan)
            return np.insert(x, np.flatnonzero(moved), np.nan), np.insert(y, np.flatnonzero(moved), np.nan)

        drawn = (broken(on), broken(~on if on.any() else np.ones_like(on)), not on.all())
        self._paths[key] = drawn
        while len(self._paths) > MAX_MOSAICS:
            self._paths.popitem(last=False)
        self.path_item.setData(*drawn[0])
        self.projection_item.setData(*drawn[1])
        self.projection_item.setVisible(drawn[2])

    def _clear_texts(self) -> None:
        for t in self.texts:
            t.setVisible(False)  # kept for the next mosaic: creating text items is slow

    def _build_mosaic(self, axis: int, n: int, key: tuple) -> None:
        st, atlas = self.state, self.state.atlas
        p, q = self._plane()
        res = self.res = atlas.resolution
        self.values = np.linspace(-1.0, 1.0, n)
        cols, gap_x, gap_y, clear = self._plan(n, res)
        self.cols, self.rows = cols, math.ceil(n / cols)
        sx, sy = self.step_x, self.step_y = res + gap_x, res + gap_y
        if self._mosaics_of is not atlas:  # keys hold the atlas's id, which a later atlas may get again
            self._mosaics.clear()
            self._mosaics_of = atlas
        mosaic = self._mosaics.get(key)
        if mosaic is not None:
            self._mosaics.move_to_end(key)
        else:
            mosaic = np.full((self.cols * sx - gap_x, self.rows * sy - gap_y, 3), 255, np.uint8)
            digit = st.atlas_digit_or_none()
            for i, v in enumerate(self.values):
                where = list(st.point)
                where[axis] = float(v)
                plane = slices.get(atlas, (p, q), where, digit)  # cut and coloured once, shared with the slices
                r, c = divmod(i, self.cols)
                # mosaic is (x, y) with y downwards: flip the q axis so it points up in each tile
                mosaic[c * sx:c * sx + res, r * sy:r * sy + res] = plane.rgb[:, ::-1]
            self._mosaics[key] = mosaic
            while len(self._mosaics) > MAX_MOSAICS:
                self._mosaics.popitem(last=False)
        texts_key = (axis, n, res, cols, gap_x, gap_y, self.scale, self.short)
        if texts_key != self._texts_key:  # the captions depend on the layout only, not on the cube
            self._texts_key = texts_key
            self._place_captions(axis, n, res)
        shape = (self.image.image.shape[:2] if self.image.image is not None else None)
        self.image.setImage(mosaic, autoLevels=False, levels=None)  # uint8 RGB: no rescaling
        view = QRectF(-clear, -gap_y, mosaic.shape[0] + 2 * clear, mosaic.shape[1] + gap_y + clear)
        if shape != mosaic.shape[:2]:  # the same layout keeps its place
            self.image.setRect(QRectF(0, 0, mosaic.shape[0], mosaic.shape[1]))
        if self.box.viewRect() != view:
            self.box.setRange(view, padding=0)

    def _place_captions(self, axis: int, n: int, res: int) -> None:
        while len(self.texts) < n:
            text = pixel_text(font(CAPTION_PT))
            self.box.addItem(text, ignoreBounds=True)  # sized in pixels: no part of the data's extent
            self.texts.append(text)
        for i, v in enumerate(self.values):
            text = self.texts[i]
            caption = self._caption(axis, float(v))
            if text.text() != caption:
                set_pixel_text(text, caption, "#333333", anchor=(0.5, 1.0))
            x0, y0 = self._tile_origin(i)
            text.setPos(x0 + res / 2, y0 - CLEAR_PX / self.scale)  # its bottom just clear of the frame
            text.setVisible(True)
        for text in self.texts[n:]:
            text.setVisible(False)

    # ------------------------------------------------------------ layout
    def _caption(self, axis: int, v: float) -> str:
        return f"{v:+.2f}" if self.short else f"{axis_name(axis)}={v:+.2f}"

    def _resized(self) -> None:
        self.redraw()  # rebuilt only if the new size changes the plan

    def _plan(self, n: int, res: int) -> tuple[int, int, int, float]:
        """Columns, gaps between tiles (mosaic pixels, across and down) and the margin
        for the panel's present size; sets ``scale`` and ``short``.  The gaps are whole
        mosaic pixels and at least as wide on screen as the captions and frames need."""
        w, h = self.box.width(), self.box.height()
        if w < 40 or h < 40:
            w = h = 360.0  # not laid out yet
        key = (n, res, int(self.state.option("overview_axis")), round(w), round(h))
        if key not in self._plans:
            if len(self._plans) > 32:
                self._plans.clear()
            self._plans[key] = self._fit(n, res, w, h)
        plan, self.scale, self.short = self._plans[key]
        return plan

    def _fit(self, n: int, res: int, w: float, h: float) -> tuple[tuple[int, int, int, float], float, bool]:
        metrics = QFontMetricsF(font(CAPTION_PT))
        cap_h = metrics.height() + 2  # the text and its document margins
        axis = int(self.state.option("overview_axis"))
        long_w = metrics.horizontalAdvance(f"{axis_name(axis)}=+0.00") + 2
        short_w = metrics.horizontalAdvance("+0.00") + 2
        cols, tile, _ = grid_layout(n, w, h, cap_h, lambda t: long_w if t >= long_w else short_w)
        short = tile < long_w
        cap_w = short_w if short else long_w
        rows = math.ceil(n / cols)
        gap_x = gap_y = 1
        clear = 1.0
        for _ in range(8):  # whole mosaic pixels: grow the gaps until they hold what they must
            span_w = cols * res + (cols - 1) * gap_x + 2 * clear
            span_h = rows * (res + gap_y) + clear
            scale = min(w / span_w, h / span_h)
            need_x = max(math.ceil(GAP_PX / scale), math.ceil((cap_w + 2) / scale) - res, 1)
            need_y = max(math.ceil((cap_h + 2 * CLEAR_PX) / scale), 1)
            clear = CLEAR_PX / scale
            if (need_x, need_y) == (gap_x, gap_y):
                break
            gap_x, gap_y = need_x, need_y
        return (cols, gap_x, gap_y, round(clear, 3)), scale, short
