"""The generated 28 x 28 image, large and unsmoothed."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..state import ExplorerState
from ..style import font
from ..widgets.pixelview import PixelView
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
        self.view = PixelView()
        self.view.setMinimumSize(150, 150)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        lay.addWidget(SquareBox(self.view, hint=240, top=True), 1)
        self.bind(state.frameChanged, self.redraw)
        self.bind(state.modelChanged, self.redraw)

    @property
    def pixels(self) -> np.ndarray | None:
        """The image on screen (28 x 28 in [-1, 1]) or None."""
        return self.view.image

    def redraw(self) -> None:
        frame = self.state.frame
        if frame is None:
            self.view.clear()
            self.caption.setText("Generated image")
            return
        self.view.set_image(frame.image)
        extra = f" (generated as {frame.digit})" if frame.digit is not None else ""
        set_text(self.caption, f"Generated image{extra}")
