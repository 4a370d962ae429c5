"""The digit legend: ten colour swatches, one per digit."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ..style import digit_css


class DigitLegend(QWidget):
    """``digits: [0][1]...[9]`` in the map palette."""

    def __init__(self, parent: QWidget | None = None, caption: str = "Digit") -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(QLabel(caption + ":"))
        self.swatches: list[QLabel] = []
        for d in range(10):
            sw = QLabel(str(d))
            sw.setAlignment(Qt.AlignmentFlag.AlignCenter)
            sw.setFixedSize(24, 20)
            sw.setStyleSheet(digit_css(d) + "font-weight: bold; border-radius: 3px;")
            lay.addWidget(sw)
            self.swatches.append(sw)
        hint = QLabel("paler = classifier less sure")
        hint.setStyleSheet("color: #666;")
        lay.addSpacing(8)
        lay.addWidget(hint)
        lay.addStretch(1)
