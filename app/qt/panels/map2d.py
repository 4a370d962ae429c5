"""The map of class areas: one coordinate plane through the point.

2-D models show their whole latent square; with more dimensions a plane chooser picks
any two coordinates (the plane passes through the point).  Clicking or dragging on the
map moves the point.
"""
from __future__ import annotations

import itertools

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

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


class Map2DPanel(Panel):
    """A large MapView of ``state.options['plane']``."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        d = state.latent_dim
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.title = TitleLabel()
        self.title.setFont(font(10, bold=True))
        head.addWidget(self.title, 1)
        self.planes = list(itertools.combinations(range(d), 2))
        self.chooser: QComboBox | None = None
        if d > 2:
            head.addWidget(QLabel("Plane:"))
            self.chooser = QComboBox()
            self.chooser.setObjectName("plane_chooser")
            for a, b in self.planes:
                self.chooser.addItem(f"{axis_name(a)}{axis_name(b)}")
            self.chooser.currentIndexChanged.connect(lambda i: state.set_option("plane", self.planes[i]))
            head.addWidget(self.chooser)
        lay.addLayout(head)
        self.view = MapView(crosshair=d > 2)
        self.view.setMinimumSize(240, 240)
        self.view.picked.connect(self._picked)
        lay.addWidget(SquareBox(self.view, plot_box(self.view)), 1)
        self.caption = ""
        self._key: tuple | None = None
        for signal in (state.atlasChanged, state.atlasDigitChanged, state.pointChanged):
            self.bind(signal, self.redraw)
        self.bind(state.optionChanged, lambda name: name in ("plane", "overlay") and self.redraw())
        self.bind(state.overlaysChanged, self.redraw)
        self._overlay_key: tuple | None = None
        self.path = attach(self, self.view, lambda: self.axes, lambda: slice_fixed(state, state.point, self.axes))
        self.redraw()

    @property
    def axes(self) -> tuple[int, int]:
        return tuple(self.state.option("plane"))  # type: ignore[return-value]

    def _picked(self, u: float, v: float) -> None:
        a, b = self.axes
        pick(self.state, self.view.box.modifiers, {a: u, b: v})

    def redraw(self) -> None:
        """Cheap on a move: the plane's image changes only when the point leaves its atlas
        cell, the caption names the cut's cell (not the point), the marker always follows."""
        if not self.drawing_now():
            return
        st = self.state
        a, b = self.axes
        if self.chooser is not None and (a, b) in self.planes and self.chooser.currentIndex() != self.planes.index((a, b)):
            self.chooser.blockSignals(True)
            self.chooser.setCurrentIndex(self.planes.index((a, b)))
            self.chooser.blockSignals(False)
        whose = f" (digit {st.atlas_digit}'s atlas)" if st.conditional else ""
        atlas = st.atlas
        idx = atlas.cell_index(st.point) if atlas is not None else None
        if st.latent_dim > 2:
            set_text(self.title, f"Plane {axis_name(a)}{axis_name(b)} through the point{whose}")
            rest = [i for i in range(st.latent_dim) if i not in (a, b)]
            cut = [float(atlas.axis[idx[i]]) if atlas is not None else st.point[i] for i in rest]
            caption = f"{axis_name(a)}{axis_name(b)} plane at " + ", ".join(
                f"{axis_name(i)} = {v:+.2f}" for i, v in zip(rest, cut))
            if caption != self.caption:
                self.caption = caption
                self.view.set_caption(caption)
        else:
            set_text(self.title, f"Map of class areas{whose}")
        self.view.set_axis_names(axis_name(a), axis_name(b))
        if atlas is None:
            self._key = None
            self.view.clear_map(no_atlas_message(st))
        else:
            key = atlas_key(st) + ((a, b), tuple(v for k, v in enumerate(idx) if k not in (a, b)))
            if key != self._key:
                self._key = key
                self.view.show_slice(slices.get(atlas, (a, b), st.point, st.atlas_digit_or_none()))
        okey, shown = overlay_plane(st, (a, b), st.point) if atlas is not None else (None, None)
        if okey != self._overlay_key:
            self._overlay_key = okey
            self.view.set_overlay(shown[0] if shown else None)
            self.view.set_arrows(shown[1] if shown else None)
        self.view.set_point(st.point[a], st.point[b])
        plane = ((a, b), slice_fixed(st, st.point, (a, b)))
        if hasattr(self, "path") and plane != getattr(self, "_path_plane", None):
            self._path_plane = plane
            self.path.update()  # the plane or its cut changed: which part of the walk lies in it too
