"""The right-hand side of the window, laid out for the model's number of dimensions.

2-D: the map, the digits' areas beside it.  3-D: orthogonal slices above, the overview
and the 3-D cube below.  4-D and more: the same for the cube the further coordinates
select, plus a plane map with a chooser of all coordinate planes.  Rebuilt whenever the
model changes.

The layout fits the width it gets (``reflow``): the panels below the slices stand side by
side while they fit at their least widths, else one above another, and the slices take
fewer columns (2-D: the areas go below the map); a narrow maps area then scrolls down,
never sideways.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QBoxLayout, QScrollArea, QSplitter, QVBoxLayout, QWidget

from .panels.areas import AreasPanel
from .panels.base import Panel
from .panels.empty import EmptyPanel
from .panels.map2d import Map2DPanel
from .panels.overview import OverviewPanel
from .panels.slices3d import Slices3DPanel
from .panels.view3d import View3DPanel
from .state import ExplorerState
from .widgets.legend import DigitLegend

REFLOW_SLACK = 24  # px of room beyond the least width before a stacked layout goes back to a row


class MapArea(QWidget):
    """Holds the map panels of one layout; ``splitters`` are saved per layout."""

    def __init__(self, state: ExplorerState, empty_html: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.panels: list[Panel | EmptyPanel] = []
        self.splitters: list[QSplitter] = []
        self.lower: QSplitter | None = None  # 3-D and more: the panels below the slices
        self.row: QBoxLayout | None = None  # 2-D: the map and the areas
        self.slices = None
        self._row_sizes: list[int] | None = None
        self._watched: QWidget | None = None
        d = state.latent_dim
        self.layout_name = f"maps{min(d, 4)}d"
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        if d == 0:
            self._add(lay, EmptyPanel(empty_html))
            return
        if d == 1:
            self._add(lay, EmptyPanel("<p>A 1-D model has no map: use the slider.</p>"))
            return
        self.legend = DigitLegend()
        lay.addWidget(self.legend)
        if d >= 3:  # slices: the walk is solid where it lies in one, dashed where projected
            state.walk.changed.connect(self._walk_changed)
            self._walk_linked = True
            self._walk_changed()
        if d == 2:
            self.row = row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
            row.addWidget(self._keep(Map2DPanel(state)), 1)
            areas = self._keep(AreasPanel(state))
            areas.setFixedWidth(areas.least_width())  # each bar holds its longest label
            row.addWidget(areas, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            lay.addLayout(row, 1)
            return
        outer = self._splitter(Qt.Orientation.Vertical)
        self.slices = Slices3DPanel(state)
        outer.addWidget(self._keep(self.slices))
        self.lower = lower = self._splitter(Qt.Orientation.Horizontal)
        lower.addWidget(self._keep(OverviewPanel(state)))
        if d >= 4:
            lower.addWidget(self._keep(Map2DPanel(state)))
        lower.addWidget(self._keep(View3DPanel(state)))
        outer.addWidget(lower)
        outer.setSizes([430, 520])
        lower.setSizes([100] * lower.count())  # equal widths until the user moves them
        lay.addWidget(outer, 1)

    def _keep(self, panel: QWidget) -> QWidget:
        self.panels.append(panel)
        return panel

    def _add(self, lay: QVBoxLayout, panel) -> None:
        lay.addWidget(self._keep(panel), 1)

    def _splitter(self, orientation: Qt.Orientation) -> QSplitter:
        s = QSplitter(orientation)
        s.setObjectName(f"{self.layout_name}_splitter{len(self.splitters)}")
        s.setChildrenCollapsible(False)
        self.splitters.append(s)
        return s

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.reflow()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:  # the scroll area's view: the room the maps have
            self.reflow()
        return False

    def _scroll(self) -> QScrollArea | None:
        """The scroll area the maps lie in (its view is watched for resizes), if any."""
        p = self.parentWidget()
        while p is not None and not isinstance(p, QScrollArea):
            p = p.parentWidget()
        if p is not None and self._watched is not p.viewport():
            self._watched = p.viewport()
            self._watched.installEventFilter(self)
        return p

    def available_width(self) -> int:
        """The width the maps would have without scrolling sideways (a layout wider than its
        scroll area's view is held at its least width and overflows by the difference)."""
        scroll = self._scroll()
        if scroll is None or scroll.widget() is None:
            return self.width()
        return self.width() - max(0, scroll.widget().width() - scroll.viewport().width())

    def row_width(self) -> int:
        """The least width of the lower panels (2-D: the map and the areas) side by side."""
        if self.row is not None:
            ws = [self.row.itemAt(i).widget() for i in range(self.row.count())]
            return sum(w.minimumSizeHint().width() for w in ws) + (len(ws) - 1) * self.row.spacing()
        lower = self.lower
        n = lower.count()
        return sum(lower.widget(i).minimumSizeHint().width() for i in range(n)) + (n - 1) * lower.handleWidth()

    def stacked(self) -> bool:
        if self.row is not None:
            return self.row.direction() == QBoxLayout.Direction.TopToBottom
        return self.lower is not None and self.lower.orientation() == Qt.Orientation.Vertical

    def _stack(self, on: bool) -> None:
        if self.row is not None:
            self.row.setDirection(QBoxLayout.Direction.TopToBottom if on else QBoxLayout.Direction.LeftToRight)
        elif on:
            self._row_sizes = self.lower.sizes()
            self.lower.setOrientation(Qt.Orientation.Vertical)
            self.lower.setSizes([100] * self.lower.count())
        else:
            self.lower.setOrientation(Qt.Orientation.Horizontal)
            self.lower.setSizes(self._row_sizes or [100] * self.lower.count())

    def reflow(self) -> None:
        """Fit the layout to the width available: the row stacks when it does not fit and
        goes back when it fits with ``REFLOW_SLACK`` to spare (a scroll bar that comes and
        goes does not flip it); the slices take as many columns as fit."""
        if self.lower is None and self.row is None:
            return
        w = self.available_width()
        row = self.row_width()
        if not self.stacked() and w < row:
            self._stack(True)
        elif self.stacked() and w >= row + REFLOW_SLACK:
            self._stack(False)
        if self.slices is None:
            return
        cols = self.slices.columns
        fit = max([n for n in (1, 2, 3) if self.slices.width_for(n) <= w] or [1])
        if fit < cols or fit > cols and self.slices.width_for(fit) + REFLOW_SLACK <= w:
            self.slices.set_columns(fit)

    def panel(self, kind: type) -> Panel | None:
        """The first panel of a class (for tests and screenshots)."""
        return next((p for p in self.panels if isinstance(p, kind)), None)

    def _walk_changed(self) -> None:
        walk = self.state.walk
        self.legend.show_walk_key(walk.ready and walk.label_walk is None)

    def detach(self) -> None:
        if self._watched is not None:
            self._watched.removeEventFilter(self)
            self._watched = None
        if getattr(self, "_walk_linked", False):
            self._walk_linked = False
            try:
                self.state.walk.changed.disconnect(self._walk_changed)
            except (RuntimeError, TypeError):
                pass
        for p in self.panels:
            p.detach()
