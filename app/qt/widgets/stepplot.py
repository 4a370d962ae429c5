"""The walk's distance per step (classifier features) as bars under the strip, steps that
cross a class border in red, with the walk's total and the share spent crossing borders."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

BORDER = (200, 40, 40)
INSIDE = (90, 110, 140)


class StepPlot(QWidget):
    """Bars of the distance between neighbouring frames; ``summary`` states the figures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("walk_step_plot")
        self.plot.setMaximumHeight(90)
        self.plot.setMinimumHeight(60)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "distance")
        self.plot.getAxis("bottom").setHeight(16)
        self.plot.setToolTip("Distance of the classifier's unit-length features between neighbouring frames; "
                             "red: the two frames are different digits (the step crosses a class border)")
        self.bars: pg.BarGraphItem | None = None
        lay.addWidget(self.plot)
        self.summary = QLabel("")
        self.summary.setObjectName("walk_length")
        self.summary.setStyleSheet("font-size: 8pt; color: #444;")
        lay.addWidget(self.summary)
        self.figures: dict | None = None

    def set_length(self, length: dict | None) -> None:
        """Show ``Strip.length()`` (None clears)."""
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.figures = length
        if not length or not length["steps"]:
            self.summary.setText("")
            return
        steps = np.asarray(length["steps"], float)
        crossing = np.asarray(length["crossing"], bool)
        brushes = [pg.mkBrush(*(BORDER if c else INSIDE)) for c in crossing]
        self.bars = pg.BarGraphItem(x=np.arange(len(steps)) + 0.5, height=steps, width=0.8, brushes=brushes,
                                    pen=pg.mkPen(None))
        self.plot.addItem(self.bars)
        self.plot.setXRange(0, len(steps) + 1, padding=0)
        self.plot.setYRange(0, max(float(steps.max()), 1e-6) * 1.05, padding=0)
        self.summary.setText(f"Walk length {length['total']:.3f} (classifier features); "
                             f"{100 * length['border_share']:.0f}% of it on steps crossing a class border")
