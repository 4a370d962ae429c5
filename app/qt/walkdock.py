"""The walk dock: A and B (buttons, spin boxes, or Shift/Ctrl-click on any map), steps,
path (lerp/slerp) or a label walk, the strip of frames, the regions the path crosses,
and the walk's exports.  It talks to the state only; the maps draw the path themselves.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QGridLayout,
                               QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from latent_explorer.models.glossary import explain
from latent_explorer.models.maps import axis_name, count_of, label_name
from latent_explorer.models.paths import CLIPPED_NOTE, SLERP_HELP

from .state import ExplorerState
from .walkjob import WalkRunner
from .widgets.stepplot import StepPlot
from .widgets.stripview import StripView

MODES = ("points", "label")


class WalkPanel(QWidget):
    """The dock's contents; rebuilds its coordinate boxes when the model changes."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.walk = state.walk
        self.runner = WalkRunner(state)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 2)
        self.controls = controls = QVBoxLayout()
        outer.addLayout(controls)
        # A and B
        self.ends = QGridLayout()
        self.ends.setHorizontalSpacing(4)
        self.ends.setVerticalSpacing(2)
        controls.addLayout(self.ends)
        self.set_a_button = QPushButton("A = point")
        self.set_a_button.setObjectName("walk_set_a")
        self.set_a_button.setToolTip("Start the walk at the current point (or Shift-click a map)")
        self.set_a_button.clicked.connect(lambda: self.walk.set_a(state.point))
        self.set_b_button = QPushButton("B = point")
        self.set_b_button.setObjectName("walk_set_b")
        self.set_b_button.setToolTip("End the walk at the current point (or Ctrl- or Alt-click a map)")
        self.set_b_button.clicked.connect(lambda: self.walk.set_b(state.point))
        self.spins: dict[str, list[QDoubleSpinBox]] = {"a": [], "b": []}
        # steps, path, mode
        row = QHBoxLayout()
        row.addWidget(QLabel("Steps"))
        self.steps = QSpinBox()
        self.steps.setObjectName("walk_steps")
        self.steps.setRange(2, 200)
        self.steps.valueChanged.connect(lambda n: self.walk.set_steps(n))
        row.addWidget(self.steps)
        self.kind = QComboBox()
        self.kind.setObjectName("walk_kind")
        self.kind.addItem("Straight (lerp)", "lerp")
        self.kind.addItem("Spherical (slerp)", "slerp")
        self.kind.setItemData(0, explain("lerp"), Qt.ItemDataRole.ToolTipRole)
        self.kind.setItemData(1, SLERP_HELP, Qt.ItemDataRole.ToolTipRole)
        self.kind.setToolTip(f"{explain('lerp')}\n\n{SLERP_HELP}")
        self.kind.currentIndexChanged.connect(lambda i: self.walk.set_kind(self.kind.itemData(i)))
        row.addWidget(self.kind)
        controls.addLayout(row)
        lrow = QHBoxLayout()
        self.mode = QComboBox()
        self.mode.setObjectName("walk_mode")
        self.mode.addItem("Walk A → B", "points")
        self.mode.addItem("Label walk (noise A fixed)", "label")
        self.mode.setToolTip("Conditional models: keep the noise at A and move the label from one digit to another")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        lrow.addWidget(self.mode)
        self.label_from, self.label_to = QSpinBox(), QSpinBox()
        for name, box, value in (("walk_label_from", self.label_from, 0), ("walk_label_to", self.label_to, 1)):
            box.setObjectName(name)
            box.setRange(0, 9)
            box.setValue(value)
            box.valueChanged.connect(self._mode_changed)
        lrow.addWidget(self.label_from)
        self.arrow = QLabel("→")
        lrow.addWidget(self.arrow)
        lrow.addWidget(self.label_to)
        controls.addLayout(lrow)
        self.only_path = QCheckBox("3-D view: only regions on the path")
        self.only_path.setObjectName("walk_only_path")
        self.only_path.setToolTip("Hide every digit the path does not pass through in the 3-D class cube")
        self.only_path.toggled.connect(self.walk.set_only_path_regions)
        controls.addWidget(self.only_path)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("walk_progress")
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        prow.addWidget(self.progress, 1)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("walk_cancel")
        self.cancel.clicked.connect(lambda: self.runner.cancel())
        prow.addWidget(self.cancel)
        controls.addLayout(prow)
        self.message = QLabel("")
        self.message.setObjectName("walk_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #a00; font-size: 8pt;")
        controls.addWidget(self.message)
        controls.addStretch(1)
        # the strip and the crossed regions
        self.strip_view = StripView()
        self.strip_view.hovered.connect(self._hovered)
        middle = QVBoxLayout()
        middle.setSpacing(0)
        middle.addWidget(self.strip_view, 1)
        self.step_plot = StepPlot()  # the distance per step and the walk's length
        middle.addWidget(self.step_plot)
        outer.addLayout(middle, 1)
        self.regions = QTableWidget(0, 3)
        self.regions.setObjectName("walk_regions")
        self.regions.setHorizontalHeaderLabels(["Digit", "enters t", "leaves t"])
        self.regions.verticalHeader().setVisible(False)
        self.regions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.regions.setToolTip("Class regions the path passes through, found on the path at fine resolution")
        self.regions.setMaximumWidth(210)
        self.regions.resizeColumnsToContents()
        outer.addWidget(self.regions)
        self._driving = False  # the walk set the 3-D view's hidden digits
        self.runner.started.connect(self._started)
        self.runner.finished.connect(self._finished)
        self.walk.changed.connect(self.sync)
        self.walk.stripChanged.connect(self._strip_changed)
        self.walk.stripChanged.connect(self._apply_only_path)
        self.walk.changed.connect(self._apply_only_path)
        state.modelChanged.connect(self._model_changed)
        self._model_changed()

    # ------------------------------------------------------------ building
    def _model_changed(self) -> None:
        """New coordinate boxes for the model's dimensions."""
        while self.ends.count():
            w = self.ends.takeAt(0).widget()
            if w is not None and w not in (self.set_a_button, self.set_b_button):
                w.deleteLater()
        self.spins = {"a": [], "b": []}
        d = self.state.latent_dim
        for r, (end, button) in enumerate((("a", self.set_a_button), ("b", self.set_b_button))):
            self.ends.addWidget(button, r, 0)
            for i in range(d):
                box = QDoubleSpinBox()
                box.setObjectName(f"walk_{end}_{i}")
                box.setRange(-1.0, 1.0)
                box.setDecimals(2)
                box.setSingleStep(0.05)
                box.setToolTip(f"{end.upper()}'s {axis_name(i)} coordinate")
                box.valueChanged.connect(lambda _v, end=end: self._typed(end))
                self.ends.addWidget(box, r, i + 1)
                self.spins[end].append(box)
        cond = self.state.conditional
        for w in (self.mode, self.label_from, self.arrow, self.label_to):
            w.setVisible(cond)
        self.only_path.setVisible(d >= 3)
        self.setEnabled(d >= 1)
        self.sync()
        self._strip_changed()

    def _typed(self, end: str) -> None:
        values = [box.value() for box in self.spins[end]]
        (self.walk.set_a if end == "a" else self.walk.set_b)(values)

    def _mode_changed(self) -> None:
        label = self.mode.currentData() == "label"
        self.walk.set_label_walk((self.label_from.value(), self.label_to.value()) if label else None)

    def sync(self) -> None:
        """Show the walk's settings (without feeding them back)."""
        w = self.walk
        for end, point in (("a", w.a), ("b", w.b)):
            for box, v in zip(self.spins[end], point or ()):
                box.blockSignals(True)
                box.setValue(v)
                box.blockSignals(False)
            for box in self.spins[end]:
                box.setEnabled(end == "a" or w.label_walk is None)
        self.set_b_button.setEnabled(w.label_walk is None)
        self.kind.setEnabled(w.label_walk is None)
        for widget, value in ((self.steps, w.steps),):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.kind.blockSignals(True)
        self.kind.setCurrentIndex(self.kind.findData(w.kind))
        self.kind.blockSignals(False)
        self.mode.blockSignals(True)
        self.mode.setCurrentIndex(1 if w.label_walk is not None else 0)
        self.mode.blockSignals(False)
        self.only_path.blockSignals(True)
        self.only_path.setChecked(w.only_path_regions)
        self.only_path.blockSignals(False)

    # ------------------------------------------------------------ results
    def _started(self) -> None:
        self.progress.setRange(0, 0)  # busy
        self.cancel.setEnabled(True)
        self.message.setText("")

    def _finished(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if message else 1)
        self.cancel.setEnabled(False)
        strip = self.walk.strip
        if not message and strip is not None:
            self.message.setStyleSheet("color: #444; font-size: 8pt;")
            self.message.setText(walk_summary(strip))
        else:
            self.message.setStyleSheet("color: #a00; font-size: 8pt;")
            self.message.setText(message)

    def _strip_changed(self) -> None:
        strip = self.walk.strip
        if strip is None:
            self.strip_view.set_frames([], [], [])
            self.step_plot.set_length(None)
            self.regions.setRowCount(0)
            return
        self.step_plot.set_length(strip.length())
        captions = [f"t={t:.2f}{'*' if c else ''}\n" + (f"{d}  {100 * p:.0f}%" if d != 10 else f"no digit ({k})")
                    for t, c, d, k, p in zip(strip.t, strip.clipped, strip.digits, strip.closest, strip.confidence)]
        self.strip_view.set_frames(strip.images, captions, [int(d) for d in strip.digits])
        self.regions.setRowCount(len(strip.crossings))
        for r, c in enumerate(strip.crossings):
            for k, text in enumerate((label_name(c.digit), f"{c.t_enter:.3f}", f"{c.t_leave:.3f}")):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.regions.setItem(r, k, item)
        self.regions.resizeColumnsToContents()

    def region_rows(self) -> list[tuple[int, float, float]]:
        """The crossed-regions table as numbers (for tests)."""
        def label(text: str) -> int:
            return 10 if text == label_name(10) else int(text)

        return [(label(self.regions.item(r, 0).text()), float(self.regions.item(r, 1).text()),
                 float(self.regions.item(r, 2).text())) for r in range(self.regions.rowCount())]

    def _hovered(self, index: int) -> None:
        strip = self.walk.strip
        self.walk.set_hover(None if strip is None or index < 0 else strip.points[index])

    def _apply_only_path(self) -> None:
        """Drive the 3-D view's hidden digits from the crossed regions while the toggle is on."""
        w = self.walk
        if not w.only_path_regions:
            if self._driving:
                self.state.set_option("hidden_digits", frozenset())
                self._driving = False
            return
        if w.strip is None or w.label_walk is not None:
            return
        crossed = {c.digit for c in w.strip.crossings}
        self._driving = True
        self.state.set_option("hidden_digits", frozenset(range(11)) - crossed)  # 10: no digit


def walk_summary(strip) -> str:
    """``"10 frames, 3 stretches in 2 digits' regions"`` (singular where it is one), and
    what a star after a frame's t means when one has it."""
    digits = count_of(len({c.digit for c in strip.crossings}), "digit's region", "digits' regions")
    text = (f"{count_of(len(strip.t), 'frame', 'frames')}, "
            f"{count_of(len(strip.crossings), 'stretch', 'stretches')} in {digits}")
    return text + (f"; {CLIPPED_NOTE}" if strip.clipped.any() else "")


class WalkDock(QDockWidget):
    """The walk panel as a dock at the bottom of the window."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__("Walk from A to B", parent)
        self.setObjectName("walk_dock")
        self.panel = WalkPanel(state)
        self.setWidget(self.panel)
