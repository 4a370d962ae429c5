"""The geometry overlay's controls beside the class maps: a toggle, a chooser (sensitivity in
pixels or classifier features, ink, thickness, slant, width, height), the colour bar with
its ends and units, the value at the point, and the progress of a computation with Cancel."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QProgressBar, QPushButton, QSizePolicy,
                               QWidget)

from latent_explorer.models.geometry import OVERLAYS, TITLES, UNITS

from ..state import ExplorerState
from .flowlayout import FlowLayout

BAR_W, BAR_H = 120, 12
HELP = ("Colour the class maps by how fast the image changes with the point (sensitivity: class borders show as "
        "ridges) or by what the image draws (ink, stroke thickness, slant, width, height, from image moments). "
        "Computed in the background once per model, or read from the model's atlas.")


class OverlayBar(QWidget):
    """Writes ``state.options['overlay']``; shows the colour scale of ``state.overlays``."""

    def __init__(self, state: ExplorerState, service, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.service = state, service
        lay = FlowLayout(self, spacing=4, line_spacing=3)  # wraps in a narrow maps area, never widens it
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.toggle = QCheckBox("Overlay")
        self.toggle.setObjectName("overlay_toggle")
        self.toggle.setToolTip(HELP)
        self.toggle.toggled.connect(self._changed)
        lay.addWidget(self.toggle)
        self.chooser = QComboBox()
        self.chooser.setObjectName("overlay_chooser")
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.chooser.setMinimumContentsLength(14)
        for name in OVERLAYS:
            self.chooser.addItem(TITLES[name], name)
            self.chooser.setItemData(self.chooser.count() - 1, UNITS[name], 3)  # tooltip role: the unit
        self.chooser.currentIndexChanged.connect(self._changed)
        lay.addWidget(self.chooser)
        self.low = QLabel("")
        self.low.setObjectName("overlay_low")
        self.bar = QLabel()
        self.bar.setObjectName("overlay_colour_bar")
        self.bar.setFixedSize(BAR_W, BAR_H)
        self.high = QLabel("")
        self.high.setObjectName("overlay_high")
        self.unit = QLabel("")
        self.unit.setObjectName("overlay_unit")
        self.unit.setStyleSheet("color: #555;")
        self.here = QLabel("")
        self.here.setObjectName("overlay_here")
        for w in (self.low, self.bar, self.high, self.unit, self.here):
            lay.addWidget(w)
        self.progress = QProgressBar()
        self.progress.setObjectName("overlay_progress")
        self.progress.setMaximumWidth(120)
        self.progress.setMaximumHeight(14)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("overlay_cancel")
        self.cancel.clicked.connect(lambda: service.cancel())
        lay.addWidget(self.progress)
        lay.addWidget(self.cancel)
        self.message = QLabel("")
        self.message.setObjectName("overlay_message")
        self.message.setStyleSheet("color: #a00;")
        lay.addWidget(self.message)
        for label in (self.unit, self.here, self.message):
            label.setMaximumWidth(260)
            label.setWordWrap(True)
        self._busy(False)
        service.started.connect(lambda _text: self._busy(True))
        service.progress.connect(self._progress)
        service.finished.connect(self._finished)
        state.overlaysChanged.connect(self.refresh)
        state.modelChanged.connect(self.refresh)
        state.atlasDigitChanged.connect(self.refresh)
        state.optionChanged.connect(lambda name: name == "overlay" and self.refresh())
        state.pointChanged.connect(self._point)
        self._range: tuple[float, float] | None = None
        self.refresh()

    @property
    def chosen(self) -> str | None:
        return self.chooser.currentData() if self.toggle.isChecked() else None

    def _changed(self, *_args) -> None:
        self.state.set_option("overlay", self.chosen)

    def _busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel.setVisible(on)
        if on:
            self.progress.setRange(0, 0)
            self.message.setText("")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _finished(self, message: str) -> None:
        self._busy(False)
        self.message.setText(message)

    def refresh(self) -> None:
        st = self.state
        self.setVisible(st.model is not None and st.latent_dim >= 2)
        name = st.option("overlay") if st.model is not None else None
        for w, on in ((self.toggle, name is not None),):
            if w.isChecked() != on:
                w.blockSignals(True)
                w.setChecked(on)
                w.blockSignals(False)
        if name is not None and self.chooser.currentData() != name:
            self.chooser.blockSignals(True)
            self.chooser.setCurrentIndex(OVERLAYS.index(name))
            self.chooser.blockSignals(False)
        self._range = None
        ov = st.overlays
        from ..overlayjob import has_digit

        if name is None or not has_digit(ov, st.atlas_digit_or_none()):
            for w in (self.low, self.high, self.unit, self.here):
                w.setText("")
            self.bar.clear()
            return
        from latent_explorer.models.geometry import colour_range, colourise

        lo, hi = colour_range(ov, name, st.atlas_digit_or_none())
        self._range = (lo, hi)
        ramp = colourise(np.linspace(lo, hi, BAR_W)[:, None].repeat(BAR_H, 1).T, name, lo, hi)
        ramp = np.ascontiguousarray(ramp)
        img = QImage(ramp.data, BAR_W, BAR_H, 3 * BAR_W, QImage.Format.Format_RGB888).copy()
        self.bar.setPixmap(QPixmap.fromImage(img))
        self.low.setText(f"{lo:.3g}")
        self.high.setText(f"{hi:.3g}")
        self.unit.setText(UNITS[name] + f"  ({ov.resolution} per axis)")
        self._point()

    def _point(self) -> None:
        st = self.state
        name = st.option("overlay") if st.model is not None else None
        if self._range is None or name is None or st.overlays is None or len(st.point) != st.overlays.latent_dim:
            return
        self.here.setText(f"| at the point: {st.overlays.value_at(name, st.point, st.atlas_digit_or_none()):.3g}")
