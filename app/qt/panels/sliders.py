"""One slider and one exact-value box per latent coordinate, plus Origin and Random."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from latent_explorer.models.maps import axis_name

from ..state import ExplorerState
from .base import Panel

STEPS = 1000  # slider ticks per unit: the slider moves in steps of 0.001


class SlidersPanel(Panel):
    """Writes coordinates into the state; follows the state when something else moves the point."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        box = QGroupBox("Latent point")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)
        lay = QVBoxLayout(box)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        lay.addLayout(self.grid)
        buttons = QHBoxLayout()
        self.origin_button = QPushButton("Origin")
        self.origin_button.setToolTip("Move the point to (0, ..., 0)  [Ctrl+0]")
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Jump to a random point of the box  [Ctrl+R]")
        self.origin_button.clicked.connect(state.reset_point)
        self.random_button.clicked.connect(lambda: state.random_point())
        buttons.addWidget(self.origin_button)
        buttons.addWidget(self.random_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.sliders: list[QSlider] = []
        self.spins: list[QDoubleSpinBox] = []
        self._row_widgets: list[QWidget] = []
        self.bind(state.modelChanged, self.rebuild)
        self.bind(state.pointChanged, self.sync)
        self.rebuild()

    def rebuild(self) -> None:
        """One row per coordinate of the current model."""
        for w in self._row_widgets:
            self.grid.removeWidget(w)
            w.hide()
            w.setParent(None)
            w.deleteLater()
        self._row_widgets, self.sliders, self.spins = [], [], []
        for i in range(self.state.latent_dim):
            name = QLabel(f"<b>{axis_name(i)}</b>")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"slider_{i}")
            slider.setRange(-STEPS, STEPS)
            slider.setSingleStep(10)
            slider.setPageStep(100)
            slider.setTickPosition(QSlider.TickPosition.TicksBelow)
            slider.setTickInterval(STEPS // 2)
            slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            slider.setAutoFillBackground(True)  # opaque: a move repaints the slider, not the group box under it
            slider.setToolTip(f"{axis_name(i)} from -1 to 1 (arrow keys: 0.01, Page Up/Down: 0.1)")
            spin = QDoubleSpinBox()
            spin.setObjectName(f"spin_{i}")
            spin.setRange(-1.0, 1.0)
            spin.setDecimals(3)
            spin.setSingleStep(0.01)
            spin.setKeyboardTracking(False)
            spin.setMinimumWidth(80)
            slider.valueChanged.connect(lambda v, i=i: self.state.set_coordinate(i, v / STEPS))
            spin.valueChanged.connect(lambda v, i=i: self.state.set_coordinate(i, v))
            for col, w in enumerate((name, slider, spin)):
                self.grid.addWidget(w, i, col)
                self._row_widgets.append(w)
            self.sliders.append(slider)
            self.spins.append(spin)
        enabled = self.state.latent_dim > 0
        self.origin_button.setEnabled(enabled)
        self.random_button.setEnabled(enabled)
        self.sync()

    def sync(self) -> None:
        """Show the state's point without writing it back; a control whose value stays
        is not touched (a spin box repaints on every ``setValue``, even an unchanged one)."""
        for value, slider, spin in zip(self.state.point, self.sliders, self.spins):
            for w, v, same in ((slider, round(value * STEPS), slider.value() == round(value * STEPS)),
                               (spin, value, spin.value() == round(value, spin.decimals()))):
                if same:
                    continue
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
