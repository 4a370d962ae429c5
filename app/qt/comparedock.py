"""The comparison dock: the current point through every generator that shares the loaded
model's latent space (the activation variants), with their evaluation figures in a table.

The generators are the loaded one plus every checkpoint in the models folder with the same
latent size and conditioning.  They are loaded in a worker thread when the dock is first
shown for a model; after that each new point costs one forward per generator, done only
while the dock is visible.  Layer edits (ablations) apply to the loaded model only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QFont, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from latent_explorer.models.glossary import TERMS, explain
from latent_explorer.models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from latent_explorer.models.compare import (ACTIVATION_LABEL, TABLE_HEADER, Column, Comparison, comparable_in, comparison_figure,
                            row_cells)
from latent_explorer.models.registry import GENERATOR_KINDS

from .layersdock import _view_menu
from .panels.base import LazyPanel
from .state import ExplorerState
from .widgets.stripview import to_pixmap

TILE = 132  # pixels per generated image


class CompareLoad(QThread):
    """Loads the comparable checkpoints in a worker thread."""

    loaded = Signal(object, object, list)  # key, Comparison, notes on files skipped
    failed = Signal(object, str)           # key, message

    def __init__(self, key: tuple, current: Checkpoint, paths: list[Path], classifier: Checkpoint,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key, self.current, self.paths, self.classifier = key, current, paths, classifier

    def run(self) -> None:  # in the worker thread
        generators, notes = [self.current], []
        for path in self.paths:
            try:
                ckpt = load_checkpoint(path, expect=GENERATOR_KINDS)
            except CheckpointError as exc:
                notes.append(str(exc))
                continue
            if ckpt.digest != self.current.digest:
                generators.append(ckpt)
        try:
            comparison = Comparison(generators, self.classifier)
        except Exception as exc:  # reported in the dock; the app keeps running
            self.failed.emit(self.key, f"{type(exc).__name__}: {exc}")
            return
        self.loaded.emit(self.key, comparison, notes)


class ComparePanel(LazyPanel):
    """One column per generator (name, activation, image, the classifier's digit) and a table."""

    def __init__(self, state: ExplorerState, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.models_dir = Path(models_dir)
        self.comparison: Comparison | None = None
        self.columns: list[Column] = []
        self.loader: CompareLoad | None = None
        self._key: tuple | None = None     # the model the comparison belongs to
        self._wanted: tuple | None = None  # the model a load is running for
        lay = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.tiles = QWidget()
        self.grid = QGridLayout(self.tiles)
        self.grid.setHorizontalSpacing(10)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.tiles)
        scroll.setMinimumHeight(TILE + 80)
        lay.addWidget(scroll, 1)
        self.table = QTableWidget(0, len(TABLE_HEADER) + 1)
        self.table.setHorizontalHeaderLabels([h.replace(" (", "\n(").replace("strong judge ", "strong judge\n")
                                              for h in TABLE_HEADER] + ["at the point"])
        for i, h in enumerate(TABLE_HEADER):
            if h in TERMS:
                self.table.horizontalHeaderItem(i).setToolTip(explain(h))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.table)
        buttons = QHBoxLayout()
        self.reload_button = QPushButton("Rescan models")
        self.reload_button.setToolTip("Look for new checkpoints in the models folder")
        self.reload_button.clicked.connect(self.reload)
        self.export_button = QPushButton("Export figure…")
        self.export_button.setObjectName("compare_export")
        buttons.addWidget(self.reload_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        lay.addLayout(buttons)
        self._tile_widgets: list[tuple[QLabel, QLabel, QLabel]] = []
        self.bind(state.modelChanged, self.model_changed)
        self.bind(state.frameChanged, self.frame_changed)

    # ------------------------------------------------------------ models
    def model_key(self) -> tuple | None:
        m = self.state.model
        return None if m is None else (m.digest, m.latent_dim, m.conditional)

    def model_changed(self) -> None:
        self.comparison, self.columns, self._key = None, [], None
        self.frame_changed()

    def reload(self) -> None:
        self.comparison, self._key = None, None
        self.redraw()

    def _start_load(self, key: tuple) -> None:
        m = self.state.model
        classifier = m.engine.classifier_checkpoint
        paths = [e.path for e in comparable_in(self.models_dir, m.latent_dim, m.conditional)
                 if m.path is None or e.path.resolve() != Path(m.path).resolve()]
        self._wanted = key
        self.status.setText(f"Loading {len(paths)} other generator{'s' * (len(paths) != 1)} "
                            f"with a {m.latent_dim}-D latent space…")
        loader = CompareLoad(key, m.checkpoint, paths, classifier, self)
        loader.loaded.connect(self._loaded)
        loader.failed.connect(self._failed)
        loader.finished.connect(self._load_finished)
        self.loader = loader
        loader.start()

    def _load_finished(self) -> None:
        loader = self.sender()
        if loader is self.loader:
            self.loader = None
        if loader is not None:
            loader.deleteLater()

    def _loaded(self, key: tuple, comparison: Comparison, notes: list) -> None:
        if key != self.model_key():
            return  # the model changed meanwhile
        self.comparison, self._key, self._wanted = comparison, key, None
        self._build_tiles()
        self._fill_table()
        skipped = f"  Skipped: {'; '.join(notes)}" if notes else ""
        alone = "" if len(comparison.engines) > 1 else (
            "  No other generator with this latent space in the models folder: train variants with "
            "`latent-explorer train gan --activation relu|prelu|elu --name ...`.")
        self.status.setText(f"{len(comparison.engines)} generator(s) with a {comparison.latent_dim}-D latent "
                            f"space; the loaded one is in bold.{alone}{skipped}")
        self.redraw()

    def _failed(self, key: tuple, message: str) -> None:
        if key == self.model_key():
            self._wanted = None
            self.status.setText(f"Cannot compare: {message}")

    # ------------------------------------------------------------ drawing
    def _build_tiles(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._tile_widgets = []
        bold = QFont()
        bold.setBold(True)
        for i, engine in enumerate(self.comparison.engines):
            ckpt = engine.checkpoint
            act = str(ckpt.config.get("activation", "leaky_relu"))
            title = QLabel(f"{ckpt.name}\n{ACTIVATION_LABEL.get(act, act)}")
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if i == 0:
                title.setFont(bold)
            image = QLabel()
            image.setFixedSize(TILE, TILE)
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image.setStyleSheet("background: black;")
            caption = QLabel("")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            for row, w in enumerate((title, image, caption)):
                self.grid.addWidget(w, row, i)
            self._tile_widgets.append((title, image, caption))
        self.grid.setColumnStretch(len(self._tile_widgets), 1)

    def _fill_table(self) -> None:
        rows = self.comparison.rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row_cells(row)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        self.table.setFixedHeight(self.table.horizontalHeader().height() + sum(
            self.table.rowHeight(r) for r in range(len(rows))) + 4)

    def redraw(self) -> None:
        self._stale = False
        st = self.state
        key = self.model_key()
        if key is None:
            self.status.setText("No model loaded.")
            return
        if self.comparison is None or self._key != key:
            if self._wanted != key:
                self._start_load(key)
            return
        frame = st.frame
        reuse = (frame is not None and not st.ablations and frame.digit == st.digit_or_none()
                 and np.array_equal(frame.point, np.asarray(st.point, np.float32)))
        try:  # the loaded model's column is the window's own frame unless layer edits change it
            self.columns = self.comparison.render(st.point, st.digit_or_none(), first=frame if reuse else None)
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        last = self.table.columnCount() - 1
        for (title, image, caption), col in zip(self._tile_widgets, self.columns):
            image.setPixmap(to_pixmap(col.image, TILE))
            caption.setText(f"digit {col.verdict}" if col.valid and col.is_digit else col.verdict)
        for r, col in enumerate(self.columns):
            self.table.setItem(r, last, QTableWidgetItem(col.verdict if col.valid and col.is_digit
                                                         else "invalid image" if not col.valid
                                                         else f"no digit ({col.predicted})"))

    def shutdown(self) -> None:
        """Wait for a running load (called when the window closes)."""
        if self.loader is not None:
            try:
                self.loader.wait(5000)
            except RuntimeError:  # already deleted
                pass
            self.loader = None

    def figure(self):
        """The comparison at the current point as a matplotlib figure (None before it is loaded)."""
        if self.comparison is None or not self.columns:
            return None
        return comparison_figure(self.columns, self.comparison.rows(), self.state.point, self.state.digit_or_none())


class CompareDock(QDockWidget):
    """Dock holding a :class:`ComparePanel`."""

    def __init__(self, state: ExplorerState, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__("Compare generators", parent)
        self.setObjectName("compare_dock")
        self.panel = ComparePanel(state, models_dir)
        self.setWidget(self.panel)


def export_comparison(window, dock: CompareDock) -> Path | None:
    """Ask for a file and write the comparison figure (PNG, PDF or SVG)."""
    fig = dock.panel.figure()
    if fig is None:
        window.show_error("Nothing to export", "The comparison is not ready yet: show the dock and wait for it.")
        return None
    exports = window.walk
    name = f"{window.state.model.name}_compare_" + "_".join(f"{v:+.2f}" for v in window.state.point) + ".png"
    path = exports.ask_path("Export the comparison", name, ("png", "pdf", "svg"),
                            "PNG image (*.png);;PDF (*.pdf);;SVG (*.svg)")
    if path is None:
        return None
    from latent_explorer.models.figures import save_figure  # matplotlib: only when exporting

    return exports._write(path, lambda p: save_figure(fig, p))


def install(window) -> CompareDock:
    """Add the dock to ``window`` (hidden), with a View-menu toggle (Ctrl+K)."""
    dock = CompareDock(window.state, window.models_dir, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    walk = getattr(getattr(window, "walk", None), "dock", None)
    if walk is not None:
        window.tabifyDockWidget(walk, dock)  # shares the bottom area with the walk, as a tab
    dock.hide()
    dock.visibilityChanged.connect(lambda visible: visible and dock.raise_())
    toggle = dock.toggleViewAction()
    toggle.setText("&Compare generators (activation variants)")
    toggle.setShortcut(QKeySequence("Ctrl+K"))
    _view_menu(window).addAction(toggle)
    dock.panel.export_button.clicked.connect(lambda: export_comparison(window, dock))
    window.compare_dock = dock
    return dock
