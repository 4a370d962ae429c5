"""Channel inspector: all channels of one layer as a grid of small heatmaps.

The whole grid is one ImageItem (``models.layers.channel_grid``), which is far cheaper than
hundreds of plots.  Hovering names the channel under the mouse; clicking one emits
``channelClicked(layer, channel)`` (the layers dock uses it to pick channels to ablate).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from latent_explorer.models import layers as L
from latent_explorer.models.frame import GENERATOR_LAYERS

from ..state import ExplorerState
from ..style import diverging_colormap
from ..widgets.qtitems import FastImageItem
from .base import LazyPanel

GAP = 1
QUANTILE = 0.995  # colour scale: the largest values beyond this share saturate


class ChannelsPanel(LazyPanel):
    """Every channel of the chosen layer, one shared symmetric colour scale."""

    channelClicked = Signal(str, int)

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer:"))
        self.layer = QComboBox()
        self.layer.setObjectName("channels_layer")
        self.layer.addItems(GENERATOR_LAYERS)
        self.layer.setCurrentText("act2")
        row.addWidget(self.layer)
        self.info = QLabel("")
        row.addWidget(self.info, 1)
        lay.addLayout(row)
        self.view = pg.GraphicsLayoutWidget()
        cmap = diverging_colormap()
        self.box = self.view.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.item = FastImageItem(axisOrder="row-major")
        self.item.setColorMap(cmap)
        self.box.addItem(self.item)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=cmap, interactive=False, width=14)
        self.view.addItem(self.bar, row=0, col=1)
        lay.addWidget(self.view, 1)
        self.hover = QLabel("Hover a tile for its channel; click to pick it for ablation.")
        lay.addWidget(self.hover)
        self.grid: np.ndarray | None = None
        self.shape: tuple[int, int, int] | None = None
        self.layer.currentIndexChanged.connect(self.frame_changed)
        self.item.hoverEvent = self._hover
        self.item.mouseClickEvent = self._click
        self.bind(state.frameChanged, self.frame_changed)
        self.bind(state.modelChanged, self.frame_changed)

    @property
    def layer_name(self) -> str:
        return self.layer.currentText()

    def redraw(self) -> None:
        self._stale = False
        frame = self.state.frame
        a = frame.activations.get(self.layer_name) if frame is not None else None
        if a is None:
            self.item.clear()
            self.grid = self.shape = None
            self.info.setText("")
            return
        self.grid, self.shape = L.channel_grid(a, GAP), a.shape
        lo, hi = L.symmetric_levels(a, QUANTILE)
        self.item.setImage(self.grid, autoLevels=False, levels=(lo, hi))
        h, w = self.grid.shape
        self.item.setRect(QRectF(0, 0, w, h))
        if self.box.viewRect() != QRectF(0, 0, w, h):
            self.box.setRange(QRectF(0, 0, w, h), padding=0.01)
        self.bar.setLevels((lo, hi))
        rows, cols = L.grid_shape(a.shape[0])
        self.info.setText(f"{L.shape_text(a)}: {a.shape[0]} channels in {rows} × {cols}; {L.stats(a).describe()}")

    def channel_at(self, pos: QPointF) -> int | None:
        """The channel under an image-item position, or None."""
        return None if self.shape is None else L.channel_at(self.shape, pos.x(), pos.y(), GAP)

    def _hover(self, event) -> None:
        if event.isExit() or self.shape is None:
            return
        k = self.channel_at(event.pos())
        if k is not None:
            a = self.state.frame.activations[self.layer_name][k]
            self.hover.setText(f"{self.layer_name} channel {k}: mean {a.mean():.3g}, max {a.max():.3g}")

    def _click(self, event) -> None:
        k = self.channel_at(event.pos())
        if k is not None:
            event.accept()
            self.channelClicked.emit(self.layer_name, k)
