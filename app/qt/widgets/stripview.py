"""The strip: the walk's frames in a row, each with t, the digit and the confidence.
Hovering a frame reports its index (the dock turns that into the hover point)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from ..style import digit_css
from .pixelview import to_qimage

TILE = 84  # pixels per frame (3x the 28-pixel image)


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A [-1, 1] greyscale image, enlarged without smoothing."""
    return QPixmap.fromImage(to_qimage(image)).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation)


class FrameTile(QFrame):
    """One frame: image and caption; ``pixels`` is what it shows."""

    def __init__(self, index: int, image: np.ndarray, caption: str, digit: int) -> None:
        super().__init__()
        self.index = index
        self.pixels = image
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(1)
        self.image = QLabel()
        self.image.setPixmap(to_pixmap(image, TILE))
        lay.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet(f"font-size: 8pt; {digit_css(digit)}")
        lay.addWidget(self.caption)


class StripView(QScrollArea):
    """A horizontally scrolling row of FrameTiles."""

    hovered = Signal(int)  # frame index, or -1 when the mouse leaves the strip

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("walk_strip")
        self.setWidgetResizable(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumHeight(TILE + 62)
        self.tiles: list[FrameTile] = []
        self._inner = QWidget()
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(2, 2, 2, 2)
        self._row.setSpacing(3)
        self._row.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._row.addStretch(1)
        self.setWidget(self._inner)

    def set_frames(self, images: np.ndarray, captions: list[str], digits: list[int]) -> None:
        for tile in self.tiles:
            self._row.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        for i, (img, cap, d) in enumerate(zip(images, captions, digits)):
            tile = FrameTile(i, img, cap, d)
            tile.installEventFilter(self)
            self._row.insertWidget(i, tile)
            self.tiles.append(tile)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if isinstance(obj, FrameTile):
            if event.type() == QEvent.Type.Enter:
                self.hovered.emit(obj.index)
            elif event.type() == QEvent.Type.Leave:
                self.hovered.emit(-1)
        return super().eventFilter(obj, event)
