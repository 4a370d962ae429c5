"""MapView: one class-map plane, coloured by digit, with region digits, the current
point and optional crosshairs.  A left click or drag emits the latent coordinates.

The point's ring and crosshairs are plain Qt graphics items (painted in C++, not in
Python like pyqtgraph's scatter plots and infinite lines) and move only when the point
does: they are what a drag repaints."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsLineItem, QGraphicsSimpleTextItem

from latent_explorer.models.maps import cell_extent, colour_map, index_to_coord, label_name, readable_on, regions
from latent_explorer.models.sampling import grid_index

from ..style import font
from .qtitems import FastImageItem, cache_painting, pixel_text, set_pixel_text


CAPTION_PT = 9  # point size of a view's title
OVERLAY_OPACITY = 0.88  # the class colours show faintly through a geometry overlay
REGIONS_DELAY_MS = 150  # a plane first cut during a move gets its region digits this long after the last cut


class PickViewBox(pg.ViewBox):
    """A fixed view (no pan or zoom) that reports left clicks and drags in view coordinates."""

    picked = Signal(float, float)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self.setMouseEnabled(False, False)
        self.modifiers = Qt.KeyboardModifier.NoModifier  # of the last click or drag (Shift/Ctrl set A/B)

    def _emit(self, ev) -> None:
        self.modifiers = ev.modifiers()
        p = self.mapSceneToView(ev.scenePos())
        self.picked.emit(float(p.x()), float(p.y()))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._emit(ev)
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._emit(ev)
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - the map does not zoom
        ev.ignore()


class Ring(QGraphicsEllipseItem):
    """A circle of fixed pixel size centred on a point in view coordinates."""

    def __init__(self, size: float, colour: str, width: float) -> None:
        super().__init__(-size / 2, -size / 2, size, size)
        self.setPen(pg.mkPen(colour, width=width))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 - as pyqtgraph's items
        """The centre, as ([x], [y])."""
        return np.array([self.pos().x()]), np.array([self.pos().y()])


CROSSHAIR_PX = 10000.0  # a crosshair line's half length in pixels: past any view; the view box clips it


def _crosshair_line(colour: str, width: float, vertical: bool) -> QGraphicsLineItem:
    """A dashed line through the item's position, drawn in pixels (it ignores the view's
    scaling): its bounding box is then the line and its pen's pixel width, so moving it
    repaints a thin band of the view, not all of it (a cosmetic pen's width counts in data
    units in a scaled item's bounding box, which covered the whole plot)."""
    pen = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    far = CROSSHAIR_PX
    line = QGraphicsLineItem(QLineF(0, -far, 0, far) if vertical else QLineF(-far, 0, far, 0))
    line.setPen(pen)
    line.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    line.setVisible(False)  # until the first point
    return line


class MapView(pg.PlotWidget):
    """A class map over [-1, 1]^2 for the latent axes it is given."""

    picked = Signal(float, float)

    def __init__(self, parent=None, compact: bool = False, crosshair: bool = False) -> None:
        self.box = PickViewBox()
        super().__init__(parent, viewBox=self.box)
        self.compact = compact
        self.box.picked.connect(self._picked)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.image = FastImageItem(axisOrder="col-major")
        # kept as a screen-sized picture: a moving marker repaints from it instead of scaling
        # the map again (the picture is redrawn when the map or the view's size changes)
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.addItem(self.image)
        # a geometry overlay (heatmap) over the class colours; hidden when none is chosen
        self.overlay = FastImageItem(axisOrder="col-major")
        self.overlay.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.overlay.setOpacity(OVERLAY_OPACITY)
        self.overlay.setZValue(1)
        self.overlay.setVisible(False)
        self.addItem(self.overlay)
        self._overlay_res = 0
        # arrows along the steepest increase of an attribute overlay: one item of paired segments
        self.arrows = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 230), width=1.5), connect="pairs")
        self.arrows.setZValue(2)
        self.arrows.setVisible(False)
        self.addItem(self.arrows, ignoreBounds=True)
        self.lines: list[QGraphicsLineItem] = []  # vertical (white, black), then horizontal
        if crosshair:
            for vertical in (True, False):
                for colour, width in (("w", 3), ("k", 1)):
                    line = _crosshair_line(colour, width, vertical)
                    self.addItem(line, ignoreBounds=True)
                    self.lines.append(line)
        size = 12 if compact else 18
        self.ring_outer = Ring(size, "w", 4)
        self.ring_inner = Ring(size, "k", 2)
        for ring in (self.ring_outer, self.ring_inner):
            ring.setZValue(5)
            ring.setVisible(False)
            self.addItem(ring, ignoreBounds=True)
        self._point: tuple[float, float] | None = None
        self.message = pg.TextItem("", color=QColor("#555555"), anchor=(0.5, 0.5))
        self.message.setFont(font(9 if compact else 11))
        self.addItem(self.message)
        self.region_items: list[QGraphicsSimpleTextItem] = []  # a pool; the first ones are shown
        self._region_cache: dict[tuple, list] = {}
        self.hover = pg.TextItem("", color=QColor("#222222"), fill=pg.mkBrush(255, 255, 255, 215), anchor=(0, 0))
        self.hover.setFont(font(8 if compact else 9))
        self.hover.setZValue(20)
        self.hover.setVisible(False)
        self.addItem(self.hover, ignoreBounds=True)
        # (not the hover text: a TextItem's fill box follows its text without an update of its own)
        cache_painting(self.message, self.getPlotItem().titleLabel,
                       *(self.getAxis(side) for side in ("left", "bottom", "top", "right")))
        self.axis_names = ("x", "y")
        self._named = False
        self.caption = ""  # the full title; the shown one is elided to the view's width
        self._caption_shown: str | None = None
        self.box.sigResized.connect(self._fit_caption)
        self.scene().sigMouseMoved.connect(self._hovered)
        self.labels: np.ndarray | None = None
        self._unlabelled = None  # a Slice shown without its region digits yet (see show_slice)
        self._regions_timer = QTimer(self)
        self._regions_timer.setSingleShot(True)
        self._regions_timer.setInterval(REGIONS_DELAY_MS)
        self._regions_timer.timeout.connect(self._label_regions)
        self.confidence: np.ndarray | None = None
        self.resolution = 0
        self._set_extent(-1.0, 1.0)
        if compact:
            for name in ("left", "bottom"):
                self.getAxis(name).setStyle(tickFont=font(7))
        for name in ("left", "bottom"):  # the axes never change on a move: a marker passing by
            self.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # repaints from a picture

    def _set_extent(self, lo: float, hi: float) -> None:
        self.box.setRange(xRange=(lo, hi), yRange=(lo, hi), padding=0)

    def _picked(self, x: float, y: float) -> None:
        self.picked.emit(float(np.clip(x, -1, 1)), float(np.clip(y, -1, 1)))

    def _hovered(self, scene_pos) -> None:
        """Show the digit under the mouse in the view's top-left corner."""
        if self.labels is None or not self.box.sceneBoundingRect().contains(scene_pos):
            self.hover.setVisible(False)
            return
        p = self.box.mapSceneToView(scene_pos)
        x, y = float(np.clip(p.x(), -1, 1)), float(np.clip(p.y(), -1, 1))
        res = self.resolution
        i, j = (grid_index(v, res) for v in (x, y))  # the atlas's cell: the same rule
        digit = int(self.labels[i, j])
        conf = f" ({float(self.confidence[i, j]):.0%})" if self.confidence is not None else ""
        what = f"{digit}{conf}" if digit != 10 else "no digit"  # 10: the classifier's check finds none
        self.hover.setText(f"{self.axis_names[0]} {x:+.2f}, {self.axis_names[1]} {y:+.2f}: {what}")
        top_left = self.box.viewRange()
        self.hover.setPos(top_left[0][0], top_left[1][1])
        self.hover.setVisible(True)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.hover.setVisible(False)
        super().leaveEvent(event)

    def viewportEvent(self, event) -> bool:  # noqa: N802
        """The readout goes when the pointer leaves the plot's viewport, even when the view
        itself is not told (a floating dock or another window over the map)."""
        if event.type() == QEvent.Type.Leave:
            self.hover.setVisible(False)
        return super().viewportEvent(event)

    def set_axis_names(self, horizontal: str, vertical: str) -> None:
        if (horizontal, vertical) == self.axis_names and self._named:
            return  # relabelling an axis relays out and repaints the whole plot
        self._named = True
        self.axis_names = (horizontal, vertical)
        self.setLabel("bottom", horizontal)
        self.setLabel("left", vertical)

    def set_caption(self, text: str) -> None:
        """The title above the plot, elided to fit the view (the full text in its tooltip)."""
        if text != self.caption:
            self.caption = text
            self._fit_caption()

    def caption_room(self) -> float:
        """Width the title may take: it is centred over the plot and must stay inside the view."""
        centre = self.mapFromScene(self.box.sceneBoundingRect().center()).x()
        return max(0.0, 2 * min(centre, self.width() - centre) - 10)  # 10: the text item's margins

    def _fit_caption(self) -> None:
        if not self.caption:
            return
        label = self.getPlotItem().titleLabel
        f = label.item.font()
        f.setPointSizeF(CAPTION_PT)
        shown = QFontMetricsF(f).elidedText(self.caption, Qt.TextElideMode.ElideRight, self.caption_room())
        if shown != self._caption_shown:
            if self._caption_shown is None:  # the first title sets the row up
                self.setTitle(shown, size=f"{CAPTION_PT:g}pt")
                label.setMinimumWidth(0)  # the title never widens the plot past the view
                # the later ones are plain text: in the title's font and colour
                label.item.setFont(f)
                label.item.setDefaultTextColor(pg.mkColor(label.opts.get("color") or pg.getConfigOption("foreground")))
            else:  # later ones only change the words: no new size hints, so no relayout of the plot
                # (LabelItem.setText relaid the whole plot out: a slice moving to another cell paid it),
                # as plain text (no HTML to parse on every new cell)
                label.text = shown
                label.item.setPlainText(shown)
                label.resizeEvent(None)  # centred again
            self._caption_shown = shown
            label.setToolTip(self.caption if shown != self.caption else "")

    @property
    def min_region(self) -> float:
        """Smallest region (fraction of the plane) that gets its digit written on it."""
        return 0.02 if self.compact else 0.004

    def set_map(self, labels: np.ndarray, confidence: np.ndarray | None, label_regions: bool = True) -> None:
        """Show a plane: rows of ``labels`` run along the horizontal axis, columns vertically."""
        self._show(labels, confidence, colour_map(labels, confidence),
                   self._regions(labels) if label_regions else [])

    def show_slice(self, plane) -> None:
        """Show a :class:`~latent_explorer.app.qt.slicecache.Slice` (cut, coloured and
        labelled once, whichever view shows it)."""
        if self.labels is None or plane.has_regions(self.min_region):
            # the view's first map, or a plane labelled before: its digits at once
            self._regions_timer.stop()
            self._unlabelled = None
            self._show(plane.labels, plane.confidence, plane.rgb, plane.regions(self.min_region))
            return
        # a plane cut for the first time while the point moves: the map at once, its region
        # digits (connected regions, the costly part of a new cut) once the moves pause
        self._unlabelled = plane
        self._show(plane.labels, plane.confidence, plane.rgb, [])
        self._regions_timer.start()

    def _label_regions(self) -> None:
        plane, self._unlabelled = self._unlabelled, None
        if plane is not None and plane.labels is self.labels:  # still the plane shown
            self._place_regions(plane.regions(self.min_region), plane.rgb, self.resolution)

    def _show(self, labels: np.ndarray, confidence: np.ndarray | None, rgb: np.ndarray, found: list) -> None:
        self.labels = labels
        self.confidence = confidence
        res = labels.shape[0]
        lo, hi = cell_extent(res)
        self.image.setImage(rgb, autoLevels=False, levels=None)  # uint8 RGB: no rescaling
        if res != self.resolution:  # same size: the image keeps its place and the view its range
            self.image.setRect(QRectF(lo, lo, hi - lo, hi - lo))
            self._set_extent(lo, hi)
        self.resolution = res
        if self.message.isVisible():
            self.message.setText("")
            self.message.setVisible(False)  # hidden, its view's repaints skip it
        self._place_regions(found, rgb, res)

    def _place_regions(self, found: list, rgb: np.ndarray, res: int) -> None:
        shown = 0
        if found:
            for r in found:
                colour = readable_on(rgb[int(r.row), int(r.col)])
                item, name, qc = self._region_item(shown), label_name(r.digit), QColor(*colour)  # 10: "no digit"
                if item.text() != name or item.brush().color() != qc:  # a new text repaints its cached picture
                    set_pixel_text(item, name, qc)
                item.setPos(index_to_coord(r.row, res), index_to_coord(r.col, res))
                item.setVisible(True)
                shown += 1
        self._hide_regions(shown)

    def _regions(self, labels: np.ndarray):
        """The labelled regions of a plane, cached: slices through a cube repeat as the point moves."""
        key = (labels.shape, labels.dtype.str, hash(labels.tobytes()))
        found = self._region_cache.get(key)
        if found is None:
            found = regions(labels, min_fraction=self.min_region)
            if len(self._region_cache) >= 64:
                self._region_cache.pop(next(iter(self._region_cache)))
            self._region_cache[key] = found
        return found

    def _region_item(self, k: int) -> QGraphicsSimpleTextItem:
        """The k-th region label, reused between maps."""
        while len(self.region_items) <= k:
            item = pixel_text(font(8 if self.compact else 13, bold=True))
            self.addItem(item, ignoreBounds=True)  # sized in pixels: no part of the data's extent
            self.region_items.append(item)
        return self.region_items[k]

    def _hide_regions(self, first: int) -> None:
        for item in self.region_items[first:]:
            item.setVisible(False)

    def clear_map(self, message: str = "") -> None:
        """No map to show: an empty plane with a message in the middle."""
        self.labels = self.confidence = None
        self.resolution = 0
        self.hover.setVisible(False)
        self.image.clear()
        self.overlay.setVisible(False)
        self.arrows.setVisible(False)
        self._hide_regions(0)
        self.message.setText(message)
        self.message.setPos(0, 0)
        self.message.setVisible(bool(message))
        self._set_extent(-1.0, 1.0)

    def set_overlay(self, rgb: np.ndarray | None) -> None:
        """A heatmap (uint8 RGB, rows along the horizontal axis) over the class map, on its
        own grid over [-1, 1]^2; None hides it."""
        if rgb is None:
            if self.overlay.isVisible():
                self.overlay.setVisible(False)
            return
        res = rgb.shape[0]
        self.overlay.setImage(rgb, autoLevels=False, levels=None)
        if res != self._overlay_res:
            lo, hi = cell_extent(res)
            self.overlay.setRect(QRectF(lo, lo, hi - lo, hi - lo))
            self._overlay_res = res
        self.overlay.setVisible(True)

    def set_arrows(self, segments: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Arrows as (x, y) of segments in pairs (``models.geometry.arrow_segments``); None hides them."""
        if segments is None or not len(segments[0]):
            if self.arrows.isVisible():
                self.arrows.setVisible(False)
            return
        self.arrows.setData(segments[0], segments[1], connect="pairs")
        self.arrows.setVisible(True)

    def set_point(self, x: float, y: float) -> None:
        """The current point (ring) and, if enabled, its crosshair lines; nothing is
        repainted when they stay where they are."""
        x, y = float(x), float(y)
        if (x, y) == self._point:
            return
        self._point = (x, y)
        for item in (self.ring_outer, self.ring_inner):
            item.setPos(x, y)
            item.setVisible(True)
        for k, line in enumerate(self.lines):  # a vertical line stays put when only y changes, and so on
            line.setPos(x, 0.0) if k < 2 else line.setPos(0.0, y)
            line.setVisible(True)

    def region_texts(self) -> list[tuple[str, float, float]]:
        """The digits written on the map and where (for tests and screenshots)."""
        return [(item.text(), item.pos().x(), item.pos().y()) for item in self.region_items
                if item.isVisible()]

    def view_to_widget(self, x: float, y: float) -> QPoint:
        """Widget pixel position of latent coordinates (x, y) (used to simulate clicks)."""
        scene = self.box.mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene)
