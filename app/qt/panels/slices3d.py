"""Three orthogonal slices of the class cube (xy, xz, yz) with crosshairs at the point.

The slices follow the point, or stay where they were when "Slices follow the point" is
switched off (a fixed view to move the point through).  For 4-D models the cube is the
one selected by the point's w coordinate.
"""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from latent_explorer.models.maps import axis_name

from ..state import ExplorerState
from ..style import font
from ..walkstate import pick
from ..widgets.mapview import MapView
from ..widgets.pathoverlay import attach, slice_fixed
from ..slicecache import slices
from ..widgets.square import SquareBox, plot_box
from .base import Panel
from .common import TitleLabel, atlas_key, no_atlas_message, overlay_plane, set_text

PLANES = ((0, 1), (0, 2), (1, 2))
SLICE_MIN_PX = 150  # a slice map is never narrower than this (fewer columns instead)


class Slices3DPanel(Panel):
    """Three MapViews; each click moves the two coordinates of its plane."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = TitleLabel()
        self.title.setFont(font(10, bold=True))
        head.addWidget(self.title, 1)
        self.follow = QCheckBox("Slices follow the point")
        self.follow.setObjectName("follow_point")
        self.follow.setToolTip("Off: the three slices stay where they are while the point moves")
        self.follow.toggled.connect(lambda on: state.set_option("follow", bool(on)))
        head.addWidget(self.follow)
        lay.addLayout(head)
        self.grid = grid = QGridLayout()
        grid.setSpacing(6)
        self.views: list[MapView] = []
        self.boxes: list[SquareBox] = []
        self.columns = len(PLANES)  # fewer in a narrow maps area (``set_columns``)
        self.captions: list[str] = ["", "", ""]
        for k, (a, b) in enumerate(PLANES):
            view = MapView(compact=True, crosshair=True)
            view.setMinimumSize(SLICE_MIN_PX, SLICE_MIN_PX)
            view.set_axis_names(axis_name(a), axis_name(b))
            view.picked.connect(lambda u, v, a=a, b=b, view=view: pick(state, view.box.modifiers, {a: u, b: v}))
            self.boxes.append(SquareBox(view, plot_box(view)))
            grid.addWidget(self.boxes[-1], 0, k)
            grid.setColumnStretch(k, 1)
            self.views.append(view)
        grid.setRowStretch(0, 1)
        lay.addLayout(grid, 1)
        self._keys: list[tuple | None] = [None] * 3
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.bind(state.optionChanged, lambda name: name in ("follow", "anchor", "overlay") and self.redraw())
        self.bind(state.overlaysChanged, self.redraw)
        self._overlay_keys: list[tuple | None] = [None] * 3
        self.paths = [attach(self, v, lambda ab=ab: ab, lambda ab=ab: slice_fixed(state, state.slice_point(), ab))
                      for v, ab in zip(self.views, PLANES)]
        self._path_keys: list[tuple | None] = [None] * 3
        self.redraw()

    def width_for(self, columns: int) -> int:
        """The least width of the slices laid out in this many columns."""
        return columns * SLICE_MIN_PX + (columns - 1) * self.grid.spacing()

    def set_columns(self, columns: int) -> None:
        """Lay the three slices out in this many columns (1 to 3), row by row."""
        columns = max(1, min(len(PLANES), columns))
        if columns == self.columns:
            return
        self.columns = columns
        for box in self.boxes:
            self.grid.removeWidget(box)
        for k, box in enumerate(self.boxes):
            self.grid.addWidget(box, k // columns, k % columns)
        rows = -(-len(self.boxes) // columns)
        for k in range(len(PLANES)):
            self.grid.setColumnStretch(k, 1 if k < columns else 0)
            self.grid.setRowStretch(k, 1 if k < rows else 0)

    def redraw(self) -> None:
        """Cheap on a move: a slice is recut (from the shared cache) only when the point
        leaves its atlas cell, captions name the cut's cell, markers always follow."""
        if not self.drawing_now():
            return
        st = self.state
        d = st.latent_dim
        follow = bool(st.option("follow"))
        if self.follow.isChecked() != follow:
            self.follow.blockSignals(True)
            self.follow.setChecked(follow)
            self.follow.blockSignals(False)
        where = st.slice_point()
        atlas = st.atlas
        idx = atlas.cell_index(where) if atlas is not None else None

        def cut(i: int) -> float:  # where the shown slices are cut along axis i
            return float(atlas.axis[idx[i]]) if atlas is not None else where[i]

        cube = "Class cube" if d == 3 else f"Class cube at {', '.join(f'{axis_name(i)} = {cut(i):+.2f}' for i in range(3, d))}"
        whose = f" (digit {st.atlas_digit}'s atlas)" if st.conditional else ""
        set_text(self.title, f"{cube}{whose}: orthogonal slices" + ("" if follow else " (fixed)"))
        for k, (a, b) in enumerate(PLANES):
            c = 3 - a - b  # the axis the slice is cut across
            caption = f"{axis_name(a)}{axis_name(b)} at {axis_name(c)} = {cut(c):+.2f}"
            if caption != self.captions[k]:
                self.captions[k] = caption
                self.views[k].set_caption(caption)
            view = self.views[k]
            if atlas is None:
                self._keys[k] = None
                view.clear_map(no_atlas_message(st))
            else:
                key = atlas_key(st) + (tuple(v for i, v in enumerate(idx) if i not in (a, b)),)
                if key != self._keys[k]:
                    self._keys[k] = key
                    view.show_slice(slices.get(atlas, (a, b), where, st.atlas_digit_or_none()))
            okey, shown = overlay_plane(st, (a, b), where) if atlas is not None else (None, None)
            if okey != self._overlay_keys[k]:
                self._overlay_keys[k] = okey
                view.set_overlay(shown[0] if shown else None)
                view.set_arrows(shown[1] if shown else None)
            view.set_point(st.point[a], st.point[b])
            fixed = slice_fixed(st, where, (a, b))
            if fixed != self._path_keys[k]:  # the slice moved: which part of the walk lies in it changed
                self._path_keys[k] = fixed
                self.paths[k].update()
