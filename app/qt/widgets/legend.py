"""The digit legend: ten colour swatches, one per digit, and one for "no digit"."""
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
        none = QLabel("no digit")
        none.setObjectName("legend_no_digit")
        none.setAlignment(Qt.AlignmentFlag.AlignCenter)
        none.setFixedHeight(20)
        none.setStyleSheet(digit_css(10) + "font-weight: bold; border-radius: 3px; padding: 0 4px;")
        none.setToolTip("The classifier's check finds no digit there (blank, blob, noise or a blend)")
        lay.addWidget(none)
        self.no_digit = none
        hint = QLabel("paler = classifier less sure")
        hint.setStyleSheet("color: #666;")
        lay.addSpacing(8)
        lay.addWidget(hint)
        lay.addStretch(1)
