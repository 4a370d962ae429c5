"""SquareBox: keeps one child square and centred, so maps never show space beyond the box."""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QSizePolicy, QWidget


class SquareBox(QWidget):
    """A container whose single child gets the largest centred square that fits."""

    def __init__(self, child: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.child = child
        child.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.child.minimumSize().expandedTo(QSize(120, 120))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, 400)

    def resizeEvent(self, event) -> None:  # noqa: N802
        side = min(self.width(), self.height())
        self.child.setGeometry((self.width() - side) // 2, (self.height() - side) // 2, side, side)
        super().resizeEvent(event)
