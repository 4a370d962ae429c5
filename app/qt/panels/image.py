"""The generated 28 x 28 image, large and unsmoothed."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..state import ExplorerState
from ..style import font
from ..widgets.square import SquareBox
from .base import Panel
from .common import set_text


class ImagePanel(Panel):
    """Draws ``state.frame.image``; nearest-neighbour pixels, -1 black to 1 white."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel("Generated image")
        self.caption.setFont(font(10, bold=True))
        lay.addWidget(self.caption)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("k")
        self.view.ci.setContentsMargins(0, 0, 0, 0)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        self.box.setRange(QRectF(0, 0, 28, 28), padding=0)
        self.view.setMinimumSize(150, 150)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        lay.addWidget(SquareBox(self.view, hint=240, top=True), 1)
        self.bind(state.frameChanged, self.redraw)
        self.bind(state.modelChanged, self.redraw)

    @property
    def pixels(self) -> np.ndarray | None:
        """The image on screen (28 x 28 in [-1, 1]) or None."""
        return self.item.image

    def redraw(self) -> None:
        frame = self.state.frame
        if frame is None:
            self.item.clear()
            self.caption.setText("Generated image")
            return
        placed = self.item.image is not None
        self.item.setImage(frame.image, autoLevels=False, levels=(-1.0, 1.0))
        if not placed:
            self.item.setRect(QRectF(0, 0, 28, 28))
        extra = f" (generated as {frame.digit})" if frame.digit is not None else ""
        set_text(self.caption, f"Generated image{extra}")
