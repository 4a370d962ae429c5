"""PixelView: the generated image, enlarged without smoothing, drawn by a plain widget (a
new image repaints this widget and nothing else; no scene, view box or colour lookup)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget


def to_qimage(image: np.ndarray) -> QImage:
    """A [-1, 1] greyscale array as an 8-bit QImage (-1 black, 1 white)."""
    px = np.ascontiguousarray(((np.asarray(image, np.float32) + 1.0) * 127.5).clip(0, 255).astype(np.uint8))
    return QImage(px.data, px.shape[1], px.shape[0], px.shape[1], QImage.Format.Format_Grayscale8).copy()


class PixelView(QWidget):
    """Shows ``image`` (H x W in [-1, 1]) stretched over the widget, nearest-neighbour, on black."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted

    def set_image(self, image: np.ndarray) -> None:
        self.image = np.asarray(image)
        self._qimage = to_qimage(self.image)
        self.update()

    def clear(self) -> None:
        self.image = self._qimage = None
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._qimage is not None:
            p.drawImage(self.rect(), self._qimage)  # no smoothing hint: enlarged pixels stay square
        p.end()
