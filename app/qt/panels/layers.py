"""Layer heatmaps: every generator layer's output for the current point, first to last.

One heatmap per layer (average over channels by default; maximum, standard deviation or a
single channel on request), per-layer or shared colour scale with a colour bar, and a
table of each layer's shape and statistics.  One widget paints the tiles (made once per
panel, new colours per frame); nothing is drawn while the panel is hidden.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from latent_explorer.models import layers as L
from latent_explorer.models.frame import GENERATOR_LAYERS
from latent_explorer.models.glossary import explain

from ..state import ExplorerState
from ..widgets.heatmapgrid import HeatmapGrid, HeatmapTile
from .base import LazyPanel

COLUMNS = 4
CMAP = "viridis"
STAT_HEADERS = ("layer", "shape", "mean", "sd", "max", "shown mean", "shown sd", "shown max")


class LayersPanel(LazyPanel):
    """Heatmaps of ``state.frame.activations``, one per layer in ``GENERATOR_LAYERS``."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show:"))
        self.mode = QComboBox()
        for m in L.MODES:
            self.mode.addItem(L.MODE_LABELS[m], m)
        self.mode.setObjectName("layers_mode")
        row.addWidget(self.mode)
        self.channel = QSpinBox()
        self.channel.setPrefix("channel ")
        self.channel.setRange(0, 255)
        self.channel.setEnabled(False)
        self.channel.setToolTip("Layers with fewer channels show their last one")
        row.addWidget(self.channel)
        row.addSpacing(12)
        row.addWidget(QLabel("Colour scale:"))
        self.scale = QComboBox()
        self.scale.addItem("per layer (min to max)", "layer")
        self.scale.addItem("shared by all layers", "shared")
        row.addWidget(self.scale)
        row.addStretch(1)
        lay.addLayout(row)
        split = QSplitter(Qt.Orientation.Vertical)
        self.lut = pg.colormap.get(CMAP).getLookupTable(nPts=256, alpha=False).astype(np.uint8)
        # one widget paints every heatmap, title and the colour bar (as pyqtgraph plots, a
        # frame cost about 6 ms of the UI thread)
        self.view = HeatmapGrid(list(GENERATOR_LAYERS), COLUMNS, self.lut)
        self.items: dict[str, HeatmapTile] = dict(self.view.tiles)  # a tile's ``image``: its colours
        self.titles: dict[str, HeatmapTile] = self.items                # ... and its ``text``: its title
        self.view.setMinimumHeight(240)
        split.addWidget(self.view)
        self.table = QTableWidget(len(GENERATOR_LAYERS), len(STAT_HEADERS))
        self.table.setHorizontalHeaderLabels(STAT_HEADERS)
        for c, h in enumerate(STAT_HEADERS):
            tips = ([explain("shown")] if h.startswith("shown") else []) + ([explain("sd")] if h.endswith("sd") else [])
            if tips:
                self.table.horizontalHeaderItem(c).setToolTip("\n".join(tips))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(18)
        for r, name in enumerate(GENERATOR_LAYERS):
            for c in range(len(STAT_HEADERS)):
                cell = QTableWidgetItem(name if c == 0 else "")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter if c > 1
                                      else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, cell)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 130])
        split.setChildrenCollapsible(False)
        self.table.setMinimumHeight(80)
        lay.addWidget(split, 1)
        self.maps: dict[str, np.ndarray] = {}   # what each heatmap shows (for tests and exports)
        self.levels: dict[str, tuple[float, float]] = {}
        self.redraws = 0
        self.table_fills = 0
        self.table_frame = None  # the frame the statistics table shows (always the heatmaps')
        self.mode.currentIndexChanged.connect(self._options_changed)
        self.channel.valueChanged.connect(self._options_changed)
        self.scale.currentIndexChanged.connect(self._options_changed)
        self.bind(state.frameChanged, self.frame_changed)
        self.bind(state.modelChanged, self.frame_changed)

    # ------------------------------------------------------------ options
    @property
    def mode_name(self) -> str:
        return self.mode.currentData()

    def set_mode(self, mode: str, channel: int | None = None, shared: bool | None = None) -> None:
        """Choose the reduction (and channel / colour scale) as the controls would."""
        self.mode.setCurrentIndex(L.MODES.index(mode))
        if channel is not None:
            self.channel.setValue(channel)
        if shared is not None:
            self.scale.setCurrentIndex(1 if shared else 0)

    def _options_changed(self) -> None:
        self.channel.setEnabled(self.mode_name == "channel")
        self.frame_changed()

    # ------------------------------------------------------------ drawing
    def redraw(self) -> None:
        self._stale = False
        frame = self.state.frame
        acts = frame.activations if frame is not None else {}
        if not acts:
            for name in GENERATOR_LAYERS:
                self.items[name].clear()
                self.titles[name].setText(name)
            self.maps, self.levels = {}, {}
            return
        mode, shared = self.mode_name, self.scale.currentData() == "shared"
        maps = {}
        for name in GENERATOR_LAYERS:
            a = acts[name]
            ch = min(self.channel.value(), a.shape[0] - 1)
            maps[name] = L.reduce(a, mode, ch)
        if shared:
            lo, hi = L.levels(np.concatenate([m.ravel() for m in maps.values()]))
            levels = {name: (lo, hi) for name in maps}
            bar = ((lo, hi), "value")
        else:
            levels = {name: L.levels(m) for name, m in maps.items()}
            bar = ((0.0, 1.0), "layer min → max")
        self.view.set_bar(*bar)
        for name in GENERATOR_LAYERS:
            a = acts[name]
            self.items[name].set_colours(L.colourise(maps[name], levels[name], self.lut))
            extra = f" ch {min(self.channel.value(), a.shape[0] - 1)}" if mode == "channel" else ""
            self.titles[name].setText(f"{name} {L.shape_text(a)}{extra}")
        self.view.update()
        self.maps, self.levels = maps, levels
        self.redraws += 1
        self._fill_table(frame)

    def _fill_table(self, frame) -> None:
        """The statistics table for the frame the heatmaps show (filled with them, so the
        two never disagree while the point is dragged; a cell whose text is unchanged is
        not touched, so it does not repaint)."""
        for r, name in enumerate(GENERATOR_LAYERS):
            a, m = frame.activations[name], self.maps[name]
            whole, shown = L.stats(a), L.stats(m)
            values = (L.shape_text(a), whole.mean, whole.std, whole.max, shown.mean, shown.std, shown.max)
            for c, v in enumerate(values, start=1):
                text = v if isinstance(v, str) else f"{v:.3g}"
                item = self.table.item(r, c)
                if item.text() != text:
                    item.setText(text)
        self.table_frame = frame
        self.table_fills += 1
