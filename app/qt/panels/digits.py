"""Conditional models: which digit to generate, whose atlas to show, and how much of
that atlas the classifier gives to its own digit."""
from __future__ import annotations

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QToolButton, QVBoxLayout, QWidget)

from ..state import ExplorerState
from ..style import digit_css
from .base import Panel


def _digit_row(prefix: str) -> tuple[QHBoxLayout, QButtonGroup]:
    row = QHBoxLayout()
    row.setSpacing(2)
    group = QButtonGroup()
    group.setExclusive(True)
    for d in range(10):
        b = QToolButton()
        b.setText(str(d))
        b.setObjectName(f"{prefix}_{d}")
        b.setCheckable(True)
        b.setFixedWidth(26)
        b.setStyleSheet(f"QToolButton:checked {{ {digit_css(d)} font-weight: bold; }}")
        group.addButton(b, d)
        row.addWidget(b)
    row.addStretch(1)
    return row, group


class DigitsPanel(Panel):
    """Two rows of digit buttons; hidden for unconditional models."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        box = QGroupBox("Conditional model")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)
        grid = QGridLayout(box)
        row, self.generate = _digit_row("generate_digit")
        grid.addWidget(QLabel("Generate digit:"), 0, 0)
        grid.addLayout(row, 0, 1)
        row, self.shown = _digit_row("atlas_digit")
        grid.addWidget(QLabel("Show atlas of:"), 1, 0)
        grid.addLayout(row, 1, 1)
        self.link = QCheckBox("Same as generated")
        self.link.setChecked(True)
        self.share = QLabel()
        self.share.setObjectName("atlas_share")
        self.share.setWordWrap(True)
        grid.addWidget(self.link, 2, 0)
        grid.addWidget(self.share, 2, 1)
        self.generate.idClicked.connect(self._generate_clicked)
        self.shown.idClicked.connect(self._shown_clicked)
        self.link.toggled.connect(lambda on: on and state.set_atlas_digit(state.digit))
        for signal in (state.modelChanged, state.digitChanged, state.atlasDigitChanged, state.atlasChanged):
            self.bind(signal, self.redraw)
        self.redraw()

    def _generate_clicked(self, digit: int) -> None:
        self.state.set_digit(digit)
        if self.link.isChecked():
            self.state.set_atlas_digit(digit)

    def _shown_clicked(self, digit: int) -> None:
        if digit != self.state.digit:
            self.link.setChecked(False)
        self.state.set_atlas_digit(digit)

    def redraw(self) -> None:
        st = self.state
        self.setVisible(st.conditional)
        if not st.conditional:
            return
        self.generate.button(st.digit).setChecked(True)
        self.shown.button(st.atlas_digit).setChecked(True)
        k = st.atlas_digit
        if st.atlas is None:
            self.share.setText(f"Digit {k}'s atlas: not built yet")
        else:
            share = st.atlas.digit_area(k)[k]
            self.share.setText(f"Digit {k}'s atlas: <b>{share:.1%}</b> of it is classified as {k}")
