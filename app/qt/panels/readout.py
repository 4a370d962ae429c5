"""The classifier's verdict: the predicted digit, large, and all ten probabilities; or
"not a digit" with "closest: 1, 97%" beside it when the classifier's check finds no digit."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsRectItem, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from latent_explorer.models.frame import INVALID_IMAGE

from ..state import ExplorerState
from ..style import digit_colour, digit_css, font
from ..widgets.livetext import LiveText
from ..widgets.qtitems import cache_painting
from .base import Panel


class ReadoutPanel(Panel):
    """``Image class: 9`` with its confidence, and a bar chart of the probabilities."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        box = QGroupBox("Classifier")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)
        grid = QGridLayout(box)
        self.digit = QLabel("–")
        self.digit.setObjectName("predicted_digit")
        self.digit.setFont(font(34, bold=True))
        self.digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digit.setFixedSize(76, 76)
        self.title = QLabel("Image class: –")
        self.title.setFont(font(12, bold=True))
        self.detail = LiveText()  # changes on every frame: repainted without relaying the column out
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.detail)
        grid.addWidget(self.digit, 0, 0, 2, 1)
        grid.addLayout(head, 0, 1)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(False, False)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setXRange(-0.6, 9.6, padding=0)
        self.plot.getAxis("bottom").setTicks([[(d, str(d)) for d in range(10)]])
        self.plot.hideAxis("left")
        self.plot.setFixedHeight(66)
        cache_painting(self.plot.getAxis("bottom"))
        # one plain Qt rectangle per digit (painted in C++; a BarGraphItem rebuilt and replayed
        # a picture of all ten bars on every frame); a frame moves only the bars that changed
        self.bars: list[QGraphicsRectItem] = []
        self._no_pen, self._frame_pen = pg.mkPen(None), pg.mkPen("k", width=2)
        for d in range(10):
            bar = QGraphicsRectItem(d - 0.4, 0.0, 0.8, 0.0)
            bar.setBrush(pg.mkBrush(digit_colour(d)))
            bar.setPen(self._no_pen)
            self.plot.addItem(bar)
            self.bars.append(bar)
        self._framed: int | None = None  # the digit whose bar is outlined
        grid.addWidget(self.plot, 1, 1)
        grid.setColumnStretch(1, 1)
        self.probs = np.zeros(10, np.float32)
        self._badge: int | None | str = "unset"  # the digit whose colours the badge shows
        self.bind(state.frameChanged, self.redraw)
        self.bind(state.modelChanged, self.redraw)
        self.redraw()

    def redraw(self) -> None:
        frame = self.state.frame
        if frame is None:
            self.probs = np.zeros(10, np.float32)
            self.digit.setText("–")
            if self._badge is not None:
                self._badge = None
                self.digit.setStyleSheet("border-radius: 8px; background-color: #ddd;")
            self.title.setText("Image class: –")
            self.detail.setText("")
        else:
            self.probs = np.asarray(frame.probs, np.float32).copy()
            k = frame.predicted
            label = frame.label  # the digit, or 10: not a digit
            self.digit.setText(str(k) if label == k else "–")
            if self._badge != label:  # restyling a widget is slow: only when the digit changes
                self._badge = label
                self.digit.setStyleSheet(digit_css(label) + "border-radius: 8px;")
            order = np.argsort(self.probs)[::-1]
            runner = order[1]
            if not frame.valid:  # NaN or infinite pixels: no class at all
                self.title.setText("Image class: none")
                self.detail.setText(INVALID_IMAGE)
            elif frame.is_digit:
                self.title.setText(f"Image class: {k}")
                self.detail.setText(f"{frame.confidence:.1%} sure, next {runner} ({self.probs[runner]:.1%})")
            else:
                # the closest digit beside the title, not in it: one line narrow enough for the
                # left column at 1366 x 768 (a longer title widened the column past its view)
                self.title.setText("Image class: not a digit")
                self.detail.setText(f"closest: {k}, {frame.confidence:.0%}")
            self.digit.setToolTip(INVALID_IMAGE if not frame.valid else "" if frame.is_digit else "The classifier's check finds no digit in this image; "
                                  "the bars show its probabilities for the closest digits")
        self._draw_bars(frame.predicted if frame is not None else None)

    def _draw_bars(self, framed: int | None) -> None:
        """Bar heights from ``self.probs``; the predicted digit's bar outlined."""
        for d, (bar, h) in enumerate(zip(self.bars, self.probs)):
            if bar.rect().height() != float(h):
                bar.setRect(d - 0.4, 0.0, 0.8, float(h))
        if framed != self._framed:
            for d in (self._framed, framed):
                if d is not None:
                    self.bars[d].setPen(self._frame_pen if d == framed else self._no_pen)
            self._framed = framed

    def bar_heights(self) -> np.ndarray:
        """The heights drawn (for tests)."""
        return np.array([bar.rect().height() for bar in self.bars], np.float32)
