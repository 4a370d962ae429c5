"""How much of the shown atlas each digit covers, and where there is no digit, with the
point's digit marked.

A digit with no area at all is one the generator never makes there (mode collapse)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from ..state import ExplorerState
from ..style import digit_colour, digit_css, font
from .base import Panel

WIDEST_LABEL = "no digit 100.0%"  # the longest text a bar shows
LABEL_PAD_PX = 3 + 1  # the bars' right padding and border (their style sheet)
ROOM_PX = 40  # bar beyond its widest label, so a share shows as a bar and not only as text


class AreasPanel(Panel):
    """Ten bars: each digit's share of the atlas cells."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Area of each digit")
        self.title.setFont(font(10, bold=True))
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        grid = QGridLayout()
        grid.setVerticalSpacing(3)
        self.bars: list[QProgressBar] = []
        self.marks: list[QLabel] = []
        self.grid = grid
        for d in range(11):  # 10: no digit (the classifier's check)
            swatch = QLabel(str(d) if d < 10 else "–")
            swatch.setToolTip("" if d < 10 else "no digit: the classifier's check finds no digit there")
            swatch.setAlignment(Qt.AlignmentFlag.AlignCenter)
            swatch.setFixedSize(22, 18)
            swatch.setStyleSheet(digit_css(d) + "font-weight: bold; border-radius: 3px;")
            bar = QProgressBar()
            bar.setObjectName(f"area_{d}")
            bar.setRange(0, 1000)
            bar.setFixedHeight(16)
            bar.setMinimumWidth(bar.fontMetrics().horizontalAdvance(WIDEST_LABEL) + 2 * LABEL_PAD_PX + ROOM_PX)
            bar.setTextVisible(True)
            bar.setStyleSheet(f"QProgressBar {{ border: 1px solid #bbb; border-radius: 3px; text-align: right; "
                              f"padding-right: 3px; background: #f4f4f4; }} QProgressBar::chunk {{ background: "
                              f"{digit_colour(d).name()}; }}")
            mark = QLabel("")
            mark.setFixedWidth(14)
            grid.addWidget(swatch, d, 0)
            grid.addWidget(bar, d, 1)
            grid.addWidget(mark, d, 2)
            self.bars.append(bar)
            self.marks.append(mark)
        lay.addLayout(grid)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #666;")
        lay.addWidget(self.note)
        lay.addStretch(1)
        self._key: tuple | None = None
        self.shares: list[float] = [0.0] * 10
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.redraw()

    def redraw(self) -> None:
        st = self.state
        atlas = st.atlas
        digit = st.atlas_digit_or_none()
        key = (id(atlas), digit)
        if key != self._key:
            self._key = key
            self._here = None
            self.shares = (atlas.digit_area(digit) + [atlas.no_digit_share(digit)]) if atlas is not None \
                else [0.0] * 11  # ten digits, then "no digit"
            for d, (bar, share) in enumerate(zip(self.bars, self.shares)):
                bar.setValue(round(1000 * share))
                bar.setFormat(("no digit " if d == 10 else "") + f"{share:.1%}" if atlas is not None else "")
            whose = f" in digit {digit}'s atlas" if digit is not None else ""
            self.title.setText(f"Area of each digit{whose}")
            missing = [str(d) for d, s in enumerate(self.shares[:10]) if s == 0]
            self.note.setText(f"Never generated here: {', '.join(missing)}" if atlas is not None and missing else "")
        here = atlas.label_at(st.point, digit)[0] if atlas is not None else -1
        if here != getattr(self, "_here", None):  # the marks change only when the point's digit does
            self._here = here
            for d, mark in enumerate(self.marks):
                mark.setText("◀" if d == here else "")
                mark.setToolTip("the digit at the point" if d == here else "")

    def least_width(self) -> int:
        """The panel's width: every bar wide enough for its longest label (from the font)."""
        return self.grid.minimumSize().width()
