"""Ablation: zero or scale channels, rows or columns of a layer and watch what changes.

Edits go into ``state.ablations``, so every render (the image, the readout, the later
layers, exports) applies them until they are removed; the panel also shows the unedited
image (``Frame.reference_image``) and the difference edited − unedited.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QPushButton, QVBoxLayout, QWidget)

from latent_explorer.models.frame import GENERATOR_LAYERS, Ablation
from latent_explorer.models.layers import LAYER_SHAPES

from ..state import ExplorerState
from ..style import diverging_colormap
from ..widgets.qtitems import FastImageItem
from .base import Panel

TARGETS = ("channels", "rows", "cols")
TARGET_AXIS = {"channels": 0, "rows": 1, "cols": 2}


def parse_indices(text: str, size: int) -> tuple[int, ...] | None:
    """``0-7,12`` -> indices (sorted, unique); ``*`` or empty -> None (all).  Raises ValueError."""
    text = text.replace(" ", "")
    if text in ("", "*"):
        return None
    ab = Ablation.parse(f"out:{text}")  # the engine's own range syntax
    idx = tuple(sorted(set(ab.channels or ())))
    bad = [i for i in idx if not 0 <= i < size]
    if bad:
        raise ValueError(f"index {bad[0]} out of range 0..{size - 1}")
    return idx


class AblationPanel(Panel):
    """Build edits, list those in force, reset them; unedited and difference images."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        box = QGroupBox("Ablation: zero or scale part of a layer")
        outer.addWidget(box)
        grid = QGridLayout(box)
        self.layer = QComboBox()
        self.layer.setObjectName("ablation_layer")
        self.layer.addItems(GENERATOR_LAYERS)
        self.layer.setCurrentText("act2")
        self.target = QComboBox()
        self.target.addItems(TARGETS)
        self.indices = QLineEdit()
        self.indices.setObjectName("ablation_indices")
        self.indices.setPlaceholderText("e.g. 0-7,12  (* = all)")
        self.scale = QDoubleSpinBox()
        self.scale.setRange(-5.0, 5.0)
        self.scale.setSingleStep(0.1)
        self.scale.setDecimals(2)
        self.scale.setValue(0.0)
        self.scale.setPrefix("× ")
        self.scale.setToolTip("0 zeroes the selection; other values scale it")
        self.apply = QPushButton("Apply")
        self.apply.setObjectName("ablation_apply")
        grid.addWidget(QLabel("Layer"), 0, 0)
        grid.addWidget(self.layer, 0, 1)
        grid.addWidget(self.target, 0, 2)
        grid.addWidget(self.indices, 0, 3)
        grid.addWidget(self.scale, 0, 4)
        grid.addWidget(self.apply, 0, 5)
        grid.setColumnStretch(3, 1)
        self.hint = QLabel("")
        grid.addWidget(self.hint, 1, 0, 1, 6)
        self.list = QListWidget()
        self.list.setMaximumHeight(52)
        grid.addWidget(self.list, 2, 0, 1, 4)
        buttons = QVBoxLayout()
        self.remove = QPushButton("Remove")
        self.reset = QPushButton("Reset all")
        self.reset.setObjectName("ablation_reset")
        buttons.addWidget(self.remove)
        buttons.addWidget(self.reset)
        grid.addLayout(buttons, 2, 4, 1, 2)
        images = QHBoxLayout()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setFixedHeight(118)
        self.ref_item, self.diff_item = FastImageItem(axisOrder="row-major"), FastImageItem(axisOrder="row-major")
        self.diff_item.setColorMap(diverging_colormap())
        for col, (title, item) in enumerate((("unedited", self.ref_item), ("edited − unedited", self.diff_item))):
            self.view.addLabel(title, row=0, col=col, size="8pt")
            vb = self.view.addViewBox(row=1, col=col, lockAspect=True, invertY=True, enableMouse=False,
                                      enableMenu=False)
            vb.addItem(item)
            vb.setRange(QRectF(0, 0, 28, 28), padding=0)
        images.addWidget(self.view, 1)
        self.change = QLabel("")
        self.change.setWordWrap(True)
        images.addWidget(self.change, 1)
        grid.addLayout(images, 3, 0, 1, 6)
        self.layer.currentIndexChanged.connect(self._update_hint)
        self.target.currentIndexChanged.connect(self._update_hint)
        self.indices.returnPressed.connect(self.apply_edit)
        self.apply.clicked.connect(self.apply_edit)
        self.remove.clicked.connect(self.remove_selected)
        self.reset.clicked.connect(state.clear_ablations)
        self.bind(state.ablationsChanged, self._list_changed)
        self.bind(state.modelChanged, self._list_changed)
        self.bind(state.frameChanged, self.redraw)
        self._update_hint()
        self._list_changed()

    # ------------------------------------------------------------ editing
    def _size(self) -> int:
        return LAYER_SHAPES[self.layer.currentText()][TARGET_AXIS[self.target.currentText()]]

    def _update_hint(self, error: str = "") -> None:
        if error:
            self.hint.setText(f"<span style='color:#b00'>{error}</span>")
            return
        self.hint.setText(f"{self.layer.currentText()} has {self._size()} {self.target.currentText()} "
                          f"(0..{self._size() - 1}); the edit stays in force while the point moves.")

    def edit(self) -> Ablation:
        """The edit the controls describe (ValueError when the indices are bad)."""
        idx = parse_indices(self.indices.text(), self._size())
        return Ablation(self.layer.currentText(), **{self.target.currentText(): idx}, scale=float(self.scale.value()))

    def apply_edit(self) -> bool:
        """Add the edit to those in force (the same region of the same layer is replaced)."""
        try:
            ab = self.edit()
        except ValueError as exc:
            self._update_hint(str(exc))
            return False
        keep = [a for a in self.state.ablations
                if (a.layer, a.channels, a.rows, a.cols) != (ab.layer, ab.channels, ab.rows, ab.cols)]
        self.state.set_ablations([*keep, ab])
        self._update_hint()
        return True

    def pick_channel(self, layer: str, channel: int) -> None:
        """Add (or remove) one channel of ``layer`` in the indices field."""
        if self.layer.currentText() != layer or self.target.currentText() != "channels":
            self.layer.setCurrentText(layer)
            self.target.setCurrentText("channels")
            self.indices.clear()
        try:
            current = set(parse_indices(self.indices.text(), self._size()) or ())
        except ValueError:
            current = set()
        current ^= {channel}
        self.indices.setText(",".join(map(str, sorted(current))))

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.list.selectedIndexes()}
        if rows:
            self.state.set_ablations(a for i, a in enumerate(self.state.ablations) if i not in rows)

    def _list_changed(self) -> None:
        self.list.clear()
        for a in self.state.ablations:
            self.list.addItem(a.describe())
        if not self.state.ablations:
            self.list.addItem("(no edits: the generator as trained)")
        self.reset.setEnabled(bool(self.state.ablations))
        self.remove.setEnabled(bool(self.state.ablations))

    # ------------------------------------------------------------ drawing
    def redraw(self) -> None:
        frame = self.state.frame
        if not self.isVisible() and frame is not None:
            return
        if frame is None or frame.reference_image is None:
            message = "No edit in force." if frame is not None else ""
            if self.ref_item.image is not None or self.change.text() != message:  # else blank already: no repaint
                self.ref_item.clear()
                self.diff_item.clear()
                self.change.setText(message)
            return
        diff = frame.image - frame.reference_image
        self.ref_item.setImage(frame.reference_image, autoLevels=False, levels=(-1.0, 1.0))
        self.diff_item.setImage(diff, autoLevels=False, levels=(-2.0, 2.0))
        self.change.setText(f"Largest pixel change {np.abs(diff).max():.3f} (of 2);\n"
                            f"mean change {np.abs(diff).mean():.3f}.\nRed: brighter, blue: darker.")

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.redraw()
