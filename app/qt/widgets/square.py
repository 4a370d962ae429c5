"""SquareBox: keeps a child's plot area square and centred, so maps show the latent box
and nothing beyond it whatever the panel's shape."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QSizePolicy, QWidget


class SquareBox(QWidget):
    """A container whose single child is sized so that its inner area is square.

    ``inner`` returns the (width, height) of the part that must be square (a plot's view
    box); the child's margins around it (axes, labels) are kept as they are.
    """

    def __init__(self, child: QWidget, inner: Callable[[], tuple[float, float]] | None = None,
                 parent: QWidget | None = None, hint: int = 400, top: bool = False) -> None:
        super().__init__(parent)
        self.child = child
        self.hint = hint
        self.top = top
        self.inner = inner
        child.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._margins = (0, 0)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.child.minimumSize().expandedTo(QSize(120, 120))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.hint, self.hint)

    def _place(self) -> None:
        mx, my = self._margins
        side = max(10, min(self.width() - mx, self.height() - my))
        w, h = side + mx, side + my
        self.child.setGeometry((self.width() - w) // 2, 0 if self.top else (self.height() - h) // 2, w, h)

    def _measure(self) -> None:
        """Learn the child's margins around its inner area once it is laid out."""
        if self.inner is None:
            return
        iw, ih = self.inner()
        margins = (max(0, round(self.child.width() - iw)), max(0, round(self.child.height() - ih)))
        if iw > 0 and ih > 0 and margins != self._margins:
            self._margins = margins
            self._place()

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._place()
        super().resizeEvent(event)
        if self.inner is not None:
            QTimer.singleShot(0, self._measure)


def plot_box(plot) -> Callable[[], tuple[float, float]]:
    """``inner`` for a pyqtgraph PlotWidget: the size of its view box."""
    def size() -> tuple[float, float]:
        r = plot.getPlotItem().getViewBox().sceneBoundingRect()
        return r.width(), r.height()
    return size
