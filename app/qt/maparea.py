"""The right-hand side of the window, laid out for the model's number of dimensions.

2-D: the map.  3-D: orthogonal slices above, the overview and the 3-D cube below.
4-D and more: the same for the cube the further coordinates select, plus a plane map with
a chooser of all coordinate planes.  Rebuilt whenever the model changes.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from .panels.areas import AreasPanel
from .panels.base import Panel
from .panels.empty import EmptyPanel
from .panels.map2d import Map2DPanel
from .panels.overview import OverviewPanel
from .panels.slices3d import Slices3DPanel
from .panels.view3d import View3DPanel
from .state import ExplorerState
from .widgets.legend import DigitLegend


class MapArea(QWidget):
    """Holds the map panels of one layout; ``splitters`` are saved per layout."""

    def __init__(self, state: ExplorerState, empty_html: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.panels: list[Panel | EmptyPanel] = []
        self.splitters: list[QSplitter] = []
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
            row = QHBoxLayout()
            row.addWidget(self._keep(Map2DPanel(state)), 1)
            areas = self._keep(AreasPanel(state))
            areas.setFixedWidth(220)
            row.addWidget(areas)
            lay.addLayout(row, 1)
            return
        outer = self._splitter(Qt.Orientation.Vertical)
        self.slices = Slices3DPanel(state)
        outer.addWidget(self._keep(self.slices))
        lower = self._splitter(Qt.Orientation.Horizontal)
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

    def panel(self, kind: type) -> Panel | None:
        """The first panel of a class (for tests and screenshots)."""
        return next((p for p in self.panels if isinstance(p, kind)), None)

    def _walk_changed(self) -> None:
        walk = self.state.walk
        self.legend.show_walk_key(walk.ready and walk.label_walk is None)

    def detach(self) -> None:
        if getattr(self, "_walk_linked", False):
            self._walk_linked = False
            try:
                self.state.walk.changed.disconnect(self._walk_changed)
            except (RuntimeError, TypeError):
                pass
        for p in self.panels:
            p.detach()
