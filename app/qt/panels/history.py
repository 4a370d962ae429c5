"""The training-history view: loss curves, the map's change rate and the weak judge per
epoch with the settle epoch marked, and an epoch scrubber showing that epoch's sample grid
beside its class map.  It shows one :class:`History`; who loads it is the dock's business.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from latent_explorer.models.glossary import explain
from latent_explorer.training.history import History
from latent_explorer.training.history_frames import PANEL, map_image, plane_title
from latent_explorer.training.report import SETTLE_EPOCHS, SETTLE_THRESHOLD, grid_image, settle_epoch, smooth

G_COLOUR, D_COLOUR = (31, 119, 180), (214, 39, 40)
RATE_COLOUR, JUDGE_COLOUR = (44, 160, 44), (148, 103, 189)


def hexc(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb


def to_pixmap(pixels: np.ndarray, size: int = PANEL) -> QPixmap:
    """uint8 (H, W) grey or (H, W, 3) RGB -> a pixmap scaled (nearest) to ``size``."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        img = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        img = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.FastTransformation)


def epoch_tick(epochs: int) -> int:
    """Spacing of the epoch axis' labelled ticks: whole epochs, about ten labels at most
    (1, 2, 5, 10, 20, 50, ...)."""
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if epochs / step <= 10:
                return step
        scale *= 10


class HistoryView(QWidget):
    """Curves and scrubber for one history; :meth:`set_history` keeps the epoch the user
    looks at (or follows the newest one when the scrubber was at the end)."""

    exportRequested = Signal()  # the "Export GIF…" button

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: History | None = None
        self.grid_pixels: np.ndarray | None = None
        self.map_pixels: np.ndarray | None = None
        self.settled: int | None = None
        self.stack = QStackedWidget()
        self.message = QLabel()
        self.message.setObjectName("history_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack.addWidget(self.message)
        self.stack.addWidget(self._build_views())
        self.source = QLabel()
        self.source.setObjectName("history_source")
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(self.source)
        lay.addWidget(self.stack, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self._next_frame)
        self.show_message("<p>No training history yet.</p>")

    # ------------------------------------------------------------ building
    def _build_views(self) -> QWidget:
        curves = QSplitter(Qt.Orientation.Vertical)  # stacked: the dock often shares its row
        curves.setObjectName("history_curves_splitter")
        curves.setChildrenCollapsible(False)
        curves.addWidget(self._build_losses())
        curves.addWidget(self._build_rates())
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("history_splitter")
        split.setChildrenCollapsible(False)
        split.addWidget(curves)
        split.addWidget(self._build_scrubber())
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        return split

    def _build_losses(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setMinimumSize(280, 130)
        p = self.loss_plot.getPlotItem()
        p.setLabel("bottom", "step")
        p.showGrid(x=True, y=True, alpha=0.2)
        self.g_curve = p.plot(name="generator", pen=pg.mkPen(G_COLOUR, width=1.5))
        self.d_curve = p.plot(name="discriminator", pen=pg.mkPen(D_COLOUR, width=1.5))
        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing window:"))
        self.smoothing = QSpinBox()
        self.smoothing.setObjectName("history_smoothing")
        self.smoothing.setRange(1, 10_000)
        self.smoothing.setSuffix(" steps")
        self.smoothing.setToolTip("Moving average over this many steps (1: raw losses)")
        self.smoothing.valueChanged.connect(self._draw_losses)
        row.addWidget(self.smoothing)
        row.addStretch(1)
        lay.addWidget(self.loss_plot, 1)
        lay.addLayout(row)
        return box

    def _build_rates(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        self.rate_plot = pg.PlotWidget()
        self.rate_plot.setMinimumSize(280, 130)
        p = self.rate_plot.getPlotItem()
        p.setTitle(f"<span style='color:{hexc(RATE_COLOUR)}'>map change rate</span> and "
                   f"<span style='color:{hexc(JUDGE_COLOUR)}'>weak judge accuracy</span> per epoch", size="10pt")
        p.setLabel("bottom", "epoch")
        p.showGrid(x=True, y=True, alpha=0.2)
        p.setYRange(0, 1.05)
        self.rate_curve = p.plot(name="map change rate", pen=pg.mkPen(RATE_COLOUR, width=2), symbol="o",
                                 symbolSize=6, symbolBrush=RATE_COLOUR)
        self.rate_plot.setToolTip(explain("weak judge"))
        self.judge_curve = p.plot(name="weak judge accuracy", pen=pg.mkPen(JUDGE_COLOUR, width=2), symbol="s",
                                  symbolSize=6, symbolBrush=JUDGE_COLOUR)
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DotLine),
                                              label="settle threshold", labelOpts={"position": 0.12,
                                                                                   "color": (110, 110, 110)})
        p.addItem(self.threshold_line)
        self.settle_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((0, 140, 0), width=2, style=Qt.PenStyle.DashLine),
                                           label="settled", labelOpts={"position": 0.95, "color": (0, 110, 0)})
        p.addItem(self.settle_line)
        self.epoch_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((90, 90, 90, 120), width=1))
        p.addItem(self.epoch_line)
        form = QFormLayout()
        form.setContentsMargins(4, 0, 4, 0)
        rule = QHBoxLayout()
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("history_threshold")
        self.threshold.setRange(0.1, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setSingleStep(0.5)
        self.threshold.setSuffix(" % of cells")
        self.threshold.setValue(100 * SETTLE_THRESHOLD)
        self.k = QSpinBox()
        self.k.setObjectName("history_k")
        self.k.setRange(1, 1000)
        self.k.setValue(SETTLE_EPOCHS)
        self.k.setSuffix(" epochs")
        for w in (self.threshold, self.k):
            w.valueChanged.connect(self._draw_rates)
        rule.addWidget(QLabel("change <"))
        rule.addWidget(self.threshold)
        rule.addWidget(QLabel("for"))
        rule.addWidget(self.k)
        rule.addStretch(1)
        form.addRow("Settle rule:", rule)
        self.settle_label = QLabel()
        self.settle_label.setObjectName("history_settled")
        form.addRow("Settled:", self.settle_label)
        lay.addWidget(self.rate_plot, 1)
        lay.addLayout(form)
        return box

    def _build_scrubber(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        pics = QGridLayout()
        self.grid_label, self.map_label = QLabel(), QLabel()
        for col, (label, title) in enumerate(((self.grid_label, "Fixed-noise samples"), (self.map_label, "Class map"))):
            label.setFixedSize(PANEL, PANEL)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            pics.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
            pics.addWidget(label, 1, col)
        self.plane = QComboBox()
        self.plane.setObjectName("history_plane")
        self.plane.currentIndexChanged.connect(lambda _i: self._draw_epoch())
        self.plane_label = QLabel()  # the one plane's name, when there is no choice
        self.plane_label.setObjectName("history_plane_label")
        pics.addWidget(self.plane, 2, 1)
        pics.addWidget(self.plane_label, 2, 1)
        pics.addWidget(QLabel("the same 64 latent points each epoch"), 2, 0)
        pics.setColumnStretch(2, 1)
        row = QHBoxLayout()
        self.play = QPushButton("Play")
        self.play.setObjectName("history_play")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._play_toggled)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("history_epoch")
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(lambda _v: self._draw_epoch())
        self.epoch_label = QLabel()
        self.epoch_label.setMinimumWidth(110)
        self.export = QPushButton("Export GIF…")
        self.export.setObjectName("history_export")
        self.export.clicked.connect(self.exportRequested)
        for w, stretch in ((self.play, 0), (self.slider, 1), (self.epoch_label, 0), (self.export, 0)):
            row.addWidget(w, stretch)
        lay.addLayout(pics)
        lay.addLayout(row)
        lay.addStretch(1)
        return box

    # ------------------------------------------------------------ content
    def show_message(self, html: str, source: str = "") -> None:
        """Show an explanation instead of the views (no history, or one that was refused)."""
        self.play.setChecked(False)
        self.history = None
        self.message.setText(html)
        self.source.setText(source)
        self.stack.setCurrentIndex(0)

    def set_history(self, history: History, source: str = "") -> None:
        """Show ``history``; a scrubber at the last epoch stays at the (new) last epoch."""
        if history.epochs == 0:
            self.show_message("<p>The run has not finished its first epoch yet.</p>", source)
            return
        old = self.history
        at_end = old is None or self.slider.value() >= self.slider.maximum()
        self.history = history
        self.source.setText(source)
        planes = [plane_title(p) for p in history.planes]
        if [self.plane.itemText(i) for i in range(self.plane.count())] != planes:
            self.plane.blockSignals(True)
            self.plane.clear()
            self.plane.addItems(planes)
            self.plane.blockSignals(False)
        self.plane.setVisible(len(planes) > 1)
        self.plane_label.setVisible(len(planes) == 1)
        self.slider.blockSignals(True)
        self.slider.setRange(1, history.epochs)
        if at_end:
            self.slider.setValue(history.epochs)
        self.slider.blockSignals(False)
        self.smoothing.setMaximum(max(1, len(history.steps()[0])))
        if old is None:
            self.smoothing.setValue(max(1, len(history.steps()[0]) // 100))
        self.stack.setCurrentIndex(1)
        self._draw_losses()
        self._draw_rates()
        self._draw_epoch()

    @property
    def epoch(self) -> int:
        """The 1-based epoch the scrubber shows."""
        return self.slider.value()

    def set_epoch(self, epoch: int) -> None:
        self.slider.setValue(epoch)

    def settle_rule(self) -> tuple[float, int]:
        """(threshold as a fraction of cells, k epochs) as edited."""
        return self.threshold.value() / 100.0, self.k.value()

    def _draw_losses(self) -> None:
        if self.history is None:
            return
        g, d, _ = self.history.steps()
        every = max(1, len(g) // 20_000)  # a history declaring millions of steps draws at most ~20,000 points
        x = np.arange(1, len(g) + 1, every)
        w = self.smoothing.value()
        self.g_curve.setData(x, smooth(g, w, every))
        self.d_curve.setData(x, smooth(d, w, every))
        self.loss_plot.getPlotItem().setTitle(
            f"<span style='color:{hexc(G_COLOUR)}'>generator</span> and <span style='color:{hexc(D_COLOUR)}'>"
            f"discriminator</span> loss, {len(g):,} steps", size="10pt")

    def _draw_rates(self) -> None:
        h = self.history
        if h is None:
            return
        ep = np.arange(1, h.epochs + 1)
        rates = np.array(h.change_rate, np.float64)
        finite = np.isfinite(rates)  # the first epoch has no previous map to compare with
        self.rate_curve.setData(ep[finite], rates[finite])
        self.judge_curve.setData(ep, np.array(h.weak_judge_acc, np.float64))
        self.rate_plot.getPlotItem().setXRange(0.5, h.epochs + 0.5, padding=0)
        self.rate_plot.getAxis("bottom").setTickSpacing(epoch_tick(h.epochs), 1)  # whole epochs only
        threshold, k = self.settle_rule()
        self.threshold_line.setValue(threshold)
        self.settled = settle_epoch(h.change_rate, threshold, k)
        self.settle_line.setVisible(self.settled is not None)
        if self.settled is not None:
            self.settle_line.setValue(self.settled)
            self.settle_label.setText(f"<b>epoch {self.settled}</b> (change below {100 * threshold:g}% "
                                      f"of cells for {k} epochs in a row)")
        else:
            last = next((v for v in reversed(h.change_rate) if math.isfinite(v)), None)
            now = f"; last change {100 * last:.1f}%" if last is not None else ""
            self.settle_label.setText(f"not yet after {h.epochs} epochs{now}")

    def _draw_epoch(self) -> None:
        h = self.history
        if h is None:
            return
        e = self.epoch - 1
        plane = max(0, self.plane.currentIndex())
        self.grid_pixels = grid_image(h.grids[e])
        self.map_pixels = map_image(h, e, plane)
        self.grid_label.setPixmap(to_pixmap(self.grid_pixels))
        self.map_label.setPixmap(to_pixmap(self.map_pixels))
        self.map_label.setToolTip(f"{plane_title(h.planes[plane])}: each cell in its digit's colour, "
                                  f"pale where the classifier is unsure, dark slate where it sees no digit")
        self.epoch_label.setText(f"epoch {e + 1} / {h.epochs}")
        self.plane_label.setText(f"{plane_title(h.planes[plane])}, paler = less sure")
        self.epoch_line.setValue(e + 1)

    # ------------------------------------------------------------ animation
    def _play_toggled(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        if on and self.history is not None:
            if self.epoch >= self.history.epochs:
                self.set_epoch(1)
            self.timer.start()
        else:
            self.timer.stop()

    def _next_frame(self) -> None:
        if self.history is None:
            self.play.setChecked(False)
            return
        self.set_epoch(self.epoch % self.history.epochs + 1)
