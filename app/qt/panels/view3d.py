"""The class cube in 3-D (pyqtgraph.opengl): one translucent dot per atlas cell, coloured
by digit, the point as a black-and-white ball; digits can be hidden to see inside.

Where OpenGL is missing (the offscreen platform, no PyOpenGL) the panel says so and the
rest of the window works on.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from models.maps import PALETTE, atlas_cube, axis_name

from ..gl import gl_problem
from ..state import ExplorerState
from ..style import digit_css, font
from .base import Panel
from .common import atlas_key, no_atlas_message

MAX_SIDE = 32  # dots per cube edge; bigger atlases are subsampled for the 3-D view


class View3DPanel(Panel):
    """A rotatable GL scatter of the class cube, or an explanation of why there is none."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Class cube in 3-D")
        self.title.setFont(font(10, bold=True))
        lay.addWidget(self.title)
        self.problem = gl_problem()
        self.gl = None
        self.toggles: list[QToolButton] = []
        self._key: tuple | None = None
        if self.problem:
            self.note = QLabel(self.problem + "\n\nThe slices and the overview show the same cube.")
            self.note.setObjectName("gl_note")
            self.note.setWordWrap(True)
            self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.note.setStyleSheet("color: #555; border: 1px dashed #aaa; padding: 12px;")
            lay.addWidget(self.note, 1)
            return
        self.note = QLabel("")
        self.note.setObjectName("gl_note")
        self._build_gl(lay)
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.bind(state.optionChanged, lambda name: name == "hidden_digits" and self.redraw())
        self.redraw()

    def _build_gl(self, lay: QVBoxLayout) -> None:
        import pyqtgraph.opengl as gl

        self._glmod = gl
        self.gl = gl.GLViewWidget()
        self.gl.setBackgroundColor("w")
        self.gl.setCameraPosition(distance=5.2, elevation=22, azimuth=40)
        self.gl.setMinimumSize(180, 180)
        box = gl.GLBoxItem(color=(60, 60, 60, 255))
        box.setSize(2, 2, 2)
        box.translate(-1, -1, -1)
        self.gl.addItem(box)
        for i, pos in enumerate(((1.25, -1, -1), (-1, 1.25, -1), (-1, -1, 1.25))):
            self.gl.addItem(gl.GLTextItem(pos=pos, text=axis_name(i), color=(20, 20, 20, 255), font=font(11, True)))
        self.cloud = gl.GLScatterPlotItem(pxMode=False)
        self.cloud.setGLOptions("translucent")
        self.gl.addItem(self.cloud)
        self.ball = gl.GLScatterPlotItem(pxMode=True, size=14, color=(0, 0, 0, 1))
        self.ball.setGLOptions("translucent")
        self.gl.addItem(self.ball)
        lay.addWidget(self.gl, 1)
        row = QHBoxLayout()
        row.setSpacing(2)
        row.addWidget(QLabel("Show:"))
        for d in range(10):
            b = QToolButton()
            b.setText(str(d))
            b.setObjectName(f"show_digit_{d}")
            b.setCheckable(True)
            b.setChecked(True)
            b.setFixedWidth(24)
            b.setStyleSheet(f"QToolButton:checked {{ {digit_css(d)} font-weight: bold; }}")
            b.toggled.connect(self._toggled)
            row.addWidget(b)
            self.toggles.append(b)
        row.addStretch(1)
        lay.addLayout(row)

    def _toggled(self) -> None:
        hidden = frozenset(d for d, b in enumerate(self.toggles) if not b.isChecked())
        self.state.set_option("hidden_digits", hidden)

    def redraw(self) -> None:
        if self.gl is None:
            return
        st = self.state
        atlas = st.atlas
        rest = ", ".join(f"{axis_name(i)} = {st.point[i]:+.2f}" for i in range(3, st.latent_dim))
        self.title.setText("Class cube in 3-D" + (f" at {rest}" if rest else "") + " (drag to turn)")
        p = np.array(st.point[:3], np.float32)
        self.ball.setData(pos=p[None, :], size=14, color=(0, 0, 0, 1))
        if atlas is None:
            self._key = None
            self.cloud.setData(pos=np.zeros((0, 3), np.float32))
            self.title.setText(no_atlas_message(st).splitlines()[0] if st.model else "Class cube in 3-D")
            return
        hidden = st.option("hidden_digits")
        key = atlas_key(st) + (tuple(atlas.cell_index(st.point)[3:]), hidden)
        if key == self._key:
            return
        self._key = key
        labels, conf = atlas_cube(atlas, st.point, st.atlas_digit_or_none())
        step = max(1, -(-atlas.resolution // MAX_SIDE))  # at most MAX_SIDE^3 dots
        labels, conf = labels[::step, ::step, ::step], conf[::step, ::step, ::step]
        axis = atlas.axis[::step]
        grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
        lab = labels.reshape(-1)
        keep = ~np.isin(lab, list(hidden)) if hidden else np.ones(lab.shape, bool)
        colours = np.ones((lab.size, 4), np.float32)
        colours[:, :3] = PALETTE[lab].astype(np.float32) / 255
        colours[:, 3] = 0.12 + 0.5 * conf.reshape(-1)
        size = 2.0 / (atlas.resolution - 1) * step * 0.8
        self.cloud.setData(pos=grid[keep], color=colours[keep], size=size)
