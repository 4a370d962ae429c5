"""The mouse wheel scrolls the panel under the cursor: it moves a slider, value box or
chooser only when that control has the keyboard focus (clicked or tabbed to), so scrolling
a column never changes a value that happens to pass under the cursor."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QScrollBar

GUARDED = (QAbstractSlider, QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    """Application-wide filter for one window's controls."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        # every event of the application passes here: the cheapest test first
        if not isinstance(event, QWheelEvent) or not isinstance(obj, GUARDED) or isinstance(obj, QScrollBar):
            return False
        if obj.hasFocus() or obj.window() is not self.window:
            return False
        area = obj.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:  # scroll the column instead
            bar = area.verticalScrollBar() if area.verticalScrollBar().isVisible() else area.horizontalScrollBar()
            QApplication.sendEvent(bar, event)
        return True


def install(window) -> WheelGuard:
    guard = WheelGuard(window)
    QApplication.instance().installEventFilter(guard)
    return guard
