"""The digit legend: ten colour swatches, one per digit, and one for "no digit".  Its
entries wrap onto a second line when the map area is narrow, so none is cut off."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..style import digit_css
from .flowlayout import FlowLayout


class DigitLegend(QWidget):
    """``digits: [0][1]...[9]`` in the map palette."""

    def __init__(self, parent: QWidget | None = None, caption: str = "Digit") -> None:
        super().__init__(parent)
        lay = FlowLayout(self, spacing=2, line_spacing=3)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
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
        self.hint = hint
        self.walk_key: list[QLabel] = []  # "walk: ━ in the slice ┄ projected", for slices of 3-D and 4-D models
        for k, (text, tip) in enumerate((("in the slice", "Solid: the walk from A to B where it lies in the slice "
                                                          "(a dot: where it passes through)"),
                                         ("projected", "Dashed: the walk's projection, where it does not lie "
                                                       "in the slice (its other coordinates differ)"))):
            swatch = QLabel()
            swatch.setPixmap(_line_swatch(dashed=k == 1))
            label = QLabel(text)
            for w in (swatch, label):
                w.setToolTip(tip)
                w.setVisible(False)
            if k == 0:
                lay.addSpacing(8)
                walk = QLabel("walk:")
                walk.setVisible(False)
                lay.addWidget(walk)
                self.walk_key.append(walk)
            lay.addWidget(swatch)
            lay.addWidget(label)
            self.walk_key += [swatch, label]

    def show_walk_key(self, on: bool) -> None:
        for w in self.walk_key:
            w.setVisible(on)


def _line_swatch(dashed: bool) -> QPixmap:
    """A short stretch of the walk's line as the maps draw it (solid or dashed)."""
    from .pathoverlay import PATH_COLOUR, projection_pen

    pix = QPixmap(26, 12)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if dashed:
        painter.setPen(projection_pen())
    else:
        painter.setPen(QPen(QColor("white"), 5))
        painter.drawLine(QPointF(1, 6), QPointF(25, 6))
        painter.setPen(QPen(QColor(PATH_COLOUR), 2.5))
    painter.drawLine(QPointF(1, 6), QPointF(25, 6))
    painter.end()
    return pix
