"""The class cube in 3-D (pyqtgraph.opengl): the visible atlas cells as opaque dots,
coloured by digit, the point as a black ball; digits can be hidden to see inside.

Where OpenGL is missing (the offscreen platform, no PyOpenGL) the panel says so and
draws the cube in software instead (opaque voxels, turned by dragging).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from latent_explorer.models.maps import atlas_cube, axis_name, colour_map
from latent_explorer.models.slicepath import half_cell, in_slice
from latent_explorer.models.voxels import visible_voxels

from ..gl import gl_problem, note_for
from ..state import ExplorerState
from ..style import digit_css, font
from ..widgets.flowlayout import FlowLayout
from ..widgets.softcube import SoftCube
from .base import Panel
from .common import TitleLabel, atlas_key, no_atlas_message, set_text

MAX_SIDE = 32  # dots per cube edge; bigger atlases are subsampled for the 3-D view


class View3DPanel(Panel):
    """A rotatable GL scatter of the class cube, or an explanation of why there is none."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = TitleLabel("Class cube in 3-D")
        self.title.setFont(font(10, bold=True))
        lay.addWidget(self.title)
        self.problem = gl_problem()
        self.gl = None
        self.toggles: list[QToolButton] = []
        self._key: tuple | None = None
        self.soft: SoftCube | None = None
        self.note = QLabel("")
        self.note.setObjectName("gl_note")
        if self.problem:
            # no OpenGL: say so, and draw the cube in software instead
            self.note.setText(note_for(self.problem))  # nothing when only the optional PyOpenGL is missing
            if not self.note.text():
                self.note.hide()
            self.note.setWordWrap(True)
            self.note.setToolTip(self.problem)
            self.note.setStyleSheet("color: #666; font-size: 8pt;")
            self.soft = SoftCube()
            self.soft.setMinimumSize(180, 180)
            lay.addWidget(self.soft, 1)
            lay.addWidget(self.note)
        else:
            self._build_gl(lay)
        self._add_toggles(lay)
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.bind(state.optionChanged, lambda name: name == "hidden_digits" and self.redraw())
        self.bind(state.walk.changed, self.draw_path)
        self.redraw()
        self.draw_path()

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
        self.cloud.setGLOptions("opaque")
        self.gl.addItem(self.cloud)
        from OpenGL import GL

        on_top = {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True,
                  "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}
        self.halo = gl.GLScatterPlotItem(pxMode=True, size=18, color=(1, 1, 1, 1))
        self.ball = gl.GLScatterPlotItem(pxMode=True, size=12, color=(0, 0, 0, 1))
        self.path_line = gl.GLLinePlotItem(color=(0.82, 0.11, 0.55, 1), width=3, antialias=True)
        for depth, item in enumerate((self.path_line, self.halo, self.ball)):
            item.setGLOptions(on_top)  # the point shows even inside the cube
            item.setDepthValue(10 + depth)
            self.gl.addItem(item)
        lay.addWidget(self.gl, 1)

    def _add_toggles(self, lay: QVBoxLayout) -> None:
        chips = QWidget()  # the toggles wrap onto a second line in a narrow panel
        row = FlowLayout(chips, spacing=2)
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
        none = QToolButton()  # label 10: cells where the classifier's check finds no digit
        none.setText("no digit")
        none.setObjectName("show_digit_10")
        none.setToolTip("Show or hide the cells where the classifier's check finds no digit")
        none.setCheckable(True)
        none.setChecked(True)
        none.setStyleSheet(f"QToolButton:checked {{ {digit_css(10)} font-weight: bold; }}")
        none.toggled.connect(self._toggled)
        row.addWidget(none)
        self.toggles.append(none)  # index 10 = NO_DIGIT
        lay.addWidget(chips)

    def _toggled(self) -> None:
        hidden = frozenset(d for d, b in enumerate(self.toggles) if not b.isChecked())
        self.state.set_option("hidden_digits", hidden)

    def draw_path(self) -> None:
        """The walk's path through the cube (its first three coordinates); in 4-D solid
        only where it lies in the cube shown (within half a cell of its w), the rest a
        projection (dashed in the software cube, faint in OpenGL)."""
        st = self.state
        pts = st.walk.fine_points(1025 if st.latent_dim > 3 else 129)
        if pts is not None and pts.shape[1] < 3:
            pts = None
        on = None
        if pts is not None and st.latent_dim > 3:
            atlas = st.atlas
            idx = atlas.cell_index(st.point) if atlas is not None else None
            fixed = {i: float(atlas.axis[idx[i]]) if atlas is not None else st.point[i] for i in range(3, st.latent_dim)}
            on = in_slice(pts, fixed, half_cell(atlas.resolution if atlas is not None else None))
        self._path_cube = self._cube_of_path()
        if self.soft is not None:
            self.soft.set_path(pts, on)
        elif pts is None:
            self.path_line.setData(pos=np.zeros((0, 3), np.float32))
        else:
            colour = np.tile(np.array([0.82, 0.11, 0.55, 1.0], np.float32), (len(pts), 1))
            if on is not None:
                colour[~on, 3] = 0.25
            self.path_line.setData(pos=pts[:, :3], color=colour)

    def _cube_of_path(self) -> tuple:
        st = self.state
        if st.latent_dim <= 3:
            return ()
        return (id(st.atlas),) + (tuple(st.atlas.cell_index(st.point)[3:]) if st.atlas is not None
                                  else tuple(st.point[3:]))

    def redraw(self) -> None:
        """Cheap on a move: the cube is redrawn only when the point leaves its cube (4-D)
        or the digits shown change; the ball always follows."""
        if not self.drawing_now():
            return
        st = self.state
        atlas = st.atlas
        idx = atlas.cell_index(st.point) if atlas is not None else None
        rest = ", ".join(f"{axis_name(i)} = {float(atlas.axis[idx[i]]) if atlas is not None else st.point[i]:+.2f}"
                         for i in range(3, st.latent_dim))  # the cube's own w, not the point's
        set_text(self.title, "Class cube in 3-D" + (f" at {rest}" if rest else "") + " (drag to turn)")
        if getattr(self, "_path_cube", None) is not None and self._cube_of_path() != self._path_cube:
            self.draw_path()  # another cube: another part of the walk lies in it
        p = np.array(st.point[:3], np.float32)
        if self.soft is not None:
            self.soft.set_point(p)
        else:
            self.halo.setData(pos=p[None, :])
            self.ball.setData(pos=p[None, :])
        if atlas is None:
            self._key = None
            if self.soft is not None:
                self.soft.set_cube(None, None)
            else:
                self.cloud.setData(pos=np.zeros((0, 3), np.float32))
            set_text(self.title, no_atlas_message(st).splitlines()[0] if st.model else "Class cube in 3-D")
            return
        hidden = st.option("hidden_digits")
        for d, b in enumerate(self.toggles):  # the option can also be set from elsewhere (the walk)
            if b.isChecked() != (d not in hidden):
                b.blockSignals(True)
                b.setChecked(d not in hidden)
                b.blockSignals(False)
        key = atlas_key(st) + (tuple(idx[3:]), hidden)
        if key == self._key:
            return
        self._key = key
        labels, conf = atlas_cube(atlas, st.point, st.atlas_digit_or_none())
        if self.soft is not None:
            self.soft.set_cube(labels, conf, hidden, key=key)
            return
        step = max(1, -(-atlas.resolution // MAX_SIDE))  # at most MAX_SIDE^3 voxels
        labels, conf = labels[::step, ::step, ::step], conf[::step, ::step, ::step]
        idx = np.argwhere(visible_voxels(labels, hidden))  # the rest is hidden inside
        axis = atlas.axis[::step]
        lab = labels[tuple(idx.T)]
        rgb = colour_map(lab, conf[tuple(idx.T)], shade=0.7).astype(np.float32) / 255
        colours = np.concatenate([rgb, np.ones((len(idx), 1), np.float32)], axis=1)
        size = 2.0 / (atlas.resolution - 1) * step * 1.15
        self.cloud.setData(pos=axis[idx].astype(np.float32), color=colours, size=size)
