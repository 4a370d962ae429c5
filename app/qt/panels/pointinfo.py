"""Where the point is: its coordinates and the atlas cell it falls in."""
from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from latent_explorer.models.maps import axis_name

from ..state import ExplorerState
from ..widgets.livetext import LiveText
from .base import Panel
from .common import set_text


# what the layer edits (state.ablations) change: the renderer's frame (the image, its class,
# the layer views and exports of the point) and the walk's strip and regions (walkjob.py);
# the atlas maps, slices and overview stay those of the unedited generator
EDITED_VIEWS = "the image, its class, the layer views and the walk from A to B (strip and regions crossed)"


class PointInfoPanel(Panel):
    """Coordinates, the atlas cell index, and the atlas label and confidence there."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        # redrawn on every move: LiveText repaints itself without relaying the column out
        self.coords = LiveText(wrap=True)
        self.coords.setObjectName("point_coords")
        self.cell = LiveText(wrap=True)
        self.cell.setObjectName("atlas_cell")
        for w in (self.coords, self.cell):
            lay.addWidget(w)
        for signal in (state.modelChanged, state.pointChanged, state.atlasChanged, state.atlasDigitChanged,
                       state.ablationsChanged):
            self.bind(signal, self.redraw)
        self.redraw()

    def redraw(self) -> None:
        st = self.state
        if st.model is None:
            set_text(self.coords, "No model loaded.")
            set_text(self.cell, "")
            return
        set_text(self.coords, "Point: " + ", ".join(f"{axis_name(i)} = {v:+.3f}" for i, v in enumerate(st.point)))
        atlas = st.atlas
        if atlas is None:
            set_text(self.cell, "Atlas cell: no atlas yet")
            return
        idx = atlas.cell_index(st.point)
        digit, conf = atlas.label_at(st.point, st.atlas_digit_or_none())
        size = "×".join([str(atlas.resolution)] * atlas.latent_dim)
        whose = f" in digit {st.atlas_digit}'s atlas" if st.conditional else ""
        what = (f"digit <b>{digit}</b> (confidence {conf:.0%})" if digit != 10 else  # 10: no digit
                "<b>no digit</b> (the classifier's check)")
        # the map labels each cell by the image at the cell's centre, the readout above by this
        # point's own image: say which is which, so two different digits do not read as a contradiction
        edited = (f"; the map shows the <b>unedited</b> generator (the layer edits apply to {EDITED_VIEWS} "
                  f"only)" if st.ablations else "")
        set_text(self.cell, f"Map (atlas cell {tuple(idx)} of {size}{whose}, judged at the cell's centre): {what}"
                            f" (the image class above is this point's own image){edited}")
