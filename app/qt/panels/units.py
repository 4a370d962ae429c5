"""Rank units: which channels (or rows) of a layer make the current digit.

Pick a layer and the points (the current digit's region of the atlas, every digit's
region, or a uniform sample), press **Rank**: every unit is switched off in turn at every
point in the background (``app/qt/unitjob.py``; the fast way switches off exactly only each
digit's 32 likeliest units, picked by a first-order estimate), and the table lists the units by how much
the chosen digit's probability drops, with the image change; the unit x digit matrix sits
beside it (**Save matrix…** writes it as a picture or CSV).  Clicking a unit shows its
activation map at the current point and switches it off in the live view (**Switch back
on** undoes that; other edits stay).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from latent_explorer.models.frame import GENERATOR_LAYERS
from latent_explorer.models.unitrank import UnitRanking, unit_count

from ..state import ExplorerState
from ..style import diverging_colormap
from ..unitjob import RankRequest, UnitRanker, private_engine
from ..widgets.qtitems import FastImageItem
from .base import Panel

SAMPLINGS = (("region", "the current digit's region"), ("classes", "every digit's region"),
             ("uniform", "a uniform sample"))
HEADERS = ("rank", "unit", "drop of p(digit)", "image change")
SCREENED = 32  # units per digit switched off exactly by the fast ranking
MAP_DELAY_MS = 120  # the clicked unit's map is redrawn this long after the last frame


class UnitsPanel(Panel):
    """Controls, the ranked table, the clicked unit's activation map and the matrix."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.ranker = UnitRanker(state)
        self.ranking: UnitRanking | None = None
        self.request: RankRequest | None = None
        self.unit: int | None = None  # the unit clicked (and switched off)
        self._applied = None          # the Ablation this panel put in force
        self._map_engine = None       # (model, engine) private to the UI thread, for unit maps
        self._map_timer = QTimer(self)  # the unit's map follows the point once it rests (a forward pass each)
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(MAP_DELAY_MS)
        self._map_timer.timeout.connect(self.draw_map)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        self.layer = QComboBox()
        self.layer.setObjectName("units_layer")
        self.layer.addItems(GENERATOR_LAYERS)
        self.layer.setCurrentText("act1")
        self.kind = QComboBox()
        self.kind.addItems(("channels", "rows"))
        self.sampling = QComboBox()
        for key, text in SAMPLINGS:
            self.sampling.addItem(text, key)
        self.points = QSpinBox()
        self.points.setRange(8, 2048)
        self.points.setValue(256)
        self.how = QComboBox()
        self.how.setObjectName("units_how")
        self.how.addItem(f"fast: exact for each digit's top {SCREENED}", SCREENED)
        self.how.addItem("every unit exactly (slow)", 0)
        self.how.setToolTip("Fast: a first-order estimate of every unit's effect picks each digit's likeliest units, "
                            "which are then switched off exactly; the others are left out of the table")
        self.points.setSuffix(" points")
        self.rank = QPushButton("Rank")
        self.rank.setObjectName("units_rank")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        grid.addWidget(QLabel("Layer"), 0, 0)
        grid.addWidget(self.layer, 0, 1)
        grid.addWidget(self.kind, 0, 2)
        grid.addWidget(QLabel("over"), 0, 3)
        grid.addWidget(self.points, 0, 4)
        grid.addWidget(QLabel("in"), 0, 5)
        grid.addWidget(self.sampling, 0, 6)
        grid.addWidget(self.how, 1, 1, 1, 6)
        grid.addWidget(self.rank, 0, 7)
        grid.addWidget(self.cancel, 0, 8)
        grid.setColumnStretch(6, 1)
        outer.addLayout(grid)
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setMaximumHeight(14)
        self.status = QLabel("Switch each unit off in turn and see which digit suffers.")
        self.status.setWordWrap(True)
        row.addWidget(self.progress, 1)
        row.addWidget(self.status, 3)
        outer.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Units that matter for digit"))
        self.digit = QComboBox()
        self.digit.setObjectName("units_digit")
        self.digit.addItem("current", None)
        for k in range(10):
            self.digit.addItem(str(k), k)
        row.addWidget(self.digit)
        row.addStretch(1)
        self.restore = QPushButton("Switch back on")
        self.restore.setEnabled(False)
        self.save = QPushButton("Save matrix…")
        self.save.setEnabled(False)
        row.addWidget(self.restore)
        row.addWidget(self.save)
        outer.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("units_table")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        split.addWidget(self.table)
        self.view = pg.GraphicsLayoutWidget()
        cmap = diverging_colormap()
        self.map_title = self.view.addLabel("click a unit", row=0, col=0, size="8pt")
        self.map_box = self.view.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.map_item = FastImageItem(axisOrder="row-major")
        self.map_item.setColorMap(cmap)
        self.map_box.addItem(self.map_item)
        self.view.addLabel("unit × digit: drop of p(digit)", row=2, col=0, size="8pt")
        self.matrix_box = self.view.addViewBox(row=3, col=0, invertY=True, enableMenu=False)
        self.matrix_item = FastImageItem(axisOrder="row-major")
        self.matrix_item.setColorMap(cmap)
        self.matrix_box.addItem(self.matrix_item)
        split.addWidget(self.view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        outer.addWidget(split, 1)
        self.rank.clicked.connect(self.start)
        self.cancel.clicked.connect(lambda: self.ranker.cancel())
        self.restore.clicked.connect(self.switch_back_on)
        self.save.clicked.connect(self.save_dialog)
        self.table.cellClicked.connect(lambda r, _c: self.pick_row(r))
        self.digit.currentIndexChanged.connect(lambda _i: self.fill_table())
        for w in (self.layer, self.kind, self.sampling, self.how):
            w.currentIndexChanged.connect(lambda _i: self.show_cached())
        self.points.valueChanged.connect(lambda _v: self.show_cached())
        self.ranker.started.connect(self._started)
        self.ranker.progress.connect(self._progress)
        self.ranker.finished.connect(self._finished)
        self.ranker.ranked.connect(self._ranked)
        self.bind(state.modelChanged, self._model_changed)
        self.bind(state.frameChanged, self._frame_changed)
        self.bind(state.ablationsChanged, self._ablations_changed)

    # ------------------------------------------------------------ requests
    def current_digit(self) -> int | None:
        """The digit of the current point: the conditional model's label, else the classifier's."""
        st = self.state
        if st.conditional:
            return st.digit
        return st.frame.predicted if st.frame is not None else None

    def shown_digit(self) -> int | None:
        d = self.digit.currentData()
        return self.current_digit() if d is None else int(d)

    def make_request(self) -> RankRequest | None:
        model = self.state.model
        if model is None:
            return None
        sampling = self.sampling.currentData()
        digit = self.current_digit() if sampling == "region" else None
        if sampling == "region" and digit is None:
            return None
        return RankRequest(model.digest, self.layer.currentText(), self.kind.currentText(), sampling, digit,
                           int(self.points.value()), screened=int(self.how.currentData()))

    def start(self) -> None:
        """Rank the chosen layer now (a cached ranking shows at once)."""
        request = self.make_request()
        if request is None:
            self.status.setText("No model or no point yet.")
            return
        if request.sampling != "uniform" and self.state.atlas is None:
            self.status.setText("This model has no atlas yet (no digit regions): rank over a uniform sample, or "
                                "wait for the atlas.")
            return
        self.ranker.start(request)

    def show_cached(self) -> None:
        """Show the ranking for the controls' settings if it was computed before."""
        request = self.make_request()
        hit = self.ranker.cached(request) if request is not None else None
        if hit is not None:
            self._show(request, hit)

    # ------------------------------------------------------------ job signals
    def _started(self, request: RankRequest) -> None:
        self.rank.setEnabled(False)
        self.cancel.setEnabled(True)
        n = unit_count(request.layer, request.kind)
        self.progress.setRange(0, min(n, request.screened or n) * request.points)
        self.progress.setValue(0)
        where = f"digit {request.digit}'s region" if request.sampling == "region" else dict(SAMPLINGS)[request.sampling]
        self.status.setText(f"Switching off each of {n} {request.kind} of {request.layer} at {request.points} points "
                            f"in {where}…")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _finished(self, message: str) -> None:
        self.rank.setEnabled(True)
        self.cancel.setEnabled(False)
        if message:
            self.progress.setValue(0)
            self.status.setText(message)

    def _ranked(self, request: RankRequest, ranking: UnitRanking) -> None:
        model = self.state.model
        if model is None or request.model_digest != model.digest:
            return
        self._show(request, ranking)

    def _show(self, request: RankRequest, ranking: UnitRanking) -> None:
        self.request, self.ranking = request, ranking
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        how = f", exact for each digit's top {ranking.screened}" if ranking.screened else ", every unit exactly"
        self.status.setText(f"{ranking.model} {ranking.layer}: {ranking.units} {ranking.kind} × "
                            f"{len(ranking.points.classes)} points ({ranking.points.description}{how}) in "
                            f"{ranking.seconds:.1f} s.")
        self.save.setEnabled(True)
        m = np.nan_to_num(ranking.matrix(), nan=0.0)
        lim = float(np.abs(m).max()) or 1.0
        self.matrix_item.setImage(m, autoLevels=False, levels=(-lim, lim))
        self.matrix_item.setRect(QRectF(0, 0, 10 * max(1, ranking.units // 20), ranking.units))
        self.matrix_box.autoRange(padding=0.02)
        self.fill_table()

    # ------------------------------------------------------------ table
    def rows(self) -> list[tuple[int, float, float]]:
        """The table's content: (unit, drop, image change), largest drop first."""
        if self.ranking is None:
            return []
        digit = self.shown_digit()
        if digit is not None and self.ranking.counts()[digit] == 0:
            return []
        return self.ranking.top(digit, self.ranking.units)

    def fill_table(self) -> None:
        rows = self.rows()
        self.table.setRowCount(len(rows))
        for i, (u, drop, change) in enumerate(rows):
            for j, text in enumerate((str(i + 1), self.ranking.unit_name(u), f"{drop:+.4f}", f"{change:.4f}")):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, u)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        if self.ranking is not None and not rows:
            d = self.shown_digit()
            self.status.setText(f"No points stand for digit {d} in this ranking: rank over its region or every "
                                f"digit's region.")

    def pick_row(self, row: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.pick_unit(int(item.data(Qt.ItemDataRole.UserRole)))

    def pick_unit(self, unit: int) -> None:
        """Show the unit's activation map and switch it off in the live view (replacing the
        unit this panel switched off before; other edits stay)."""
        if self.ranking is None:
            return
        self.unit = unit
        ab = self.ranking.ablation(unit)
        keep = [a for a in self.state.ablations if a != self._applied and a != ab]
        self._applied = ab
        self.restore.setEnabled(True)
        self.state.set_ablations([*keep, ab])
        self.draw_map()

    def switch_back_on(self) -> None:
        if self._applied is not None:
            self.state.set_ablations(a for a in self.state.ablations if a != self._applied)
        self._applied = None
        self.restore.setEnabled(False)

    # ------------------------------------------------------------ the unit's map
    def unit_map(self) -> np.ndarray | None:
        """The clicked unit's activation at the current point, with the other edits in force
        but the unit itself on: a channel's (H, W) map or a row's (C, W) slice."""
        st, r = self.state, self.ranking
        if r is None or self.unit is None or st.model is None or st.model.pending or not st.point:
            return None
        if self._map_engine is None or self._map_engine[0] is not st.model:
            self._map_engine = (st.model, private_engine(st.model))
        import torch

        engine = self._map_engine[1]
        z = torch.tensor([st.point], dtype=torch.float32)
        labels = torch.tensor([st.digit]) if st.conditional else None
        others = tuple(a for a in st.ablations if a != self._applied)
        _img, acts = engine._forward(z, labels, True, others)
        a = acts[r.layer][0].float().numpy()
        return a[self.unit] if r.kind == "channels" else a[:, self.unit, :]

    def draw_map(self) -> None:
        m = self.unit_map()
        if m is None:
            self.map_item.clear()
            return
        lim = float(np.abs(m).max()) or 1.0
        self.map_item.setImage(m, autoLevels=False, levels=(-lim, lim))
        self.map_item.setRect(QRectF(0, 0, m.shape[1], m.shape[0]))
        self.map_box.setRange(QRectF(0, 0, m.shape[1], m.shape[0]), padding=0.02)
        r = self.ranking
        self.map_title.setText(f"{r.layer} {r.unit_name(self.unit)} at the point (switched off in the view); "
                               f"max {m.max():.3g}")

    def _frame_changed(self) -> None:
        if self.unit is not None and self.isVisible():
            self._map_timer.start()
        if self.digit.currentData() is None and self.ranking is not None and self.isVisible():
            self.fill_table()

    def _ablations_changed(self) -> None:
        if self._applied is not None and self._applied not in self.state.ablations:
            self._applied = None  # reset from the ablation panel
            self.restore.setEnabled(False)

    def _model_changed(self) -> None:
        self.ranking = self.request = self.unit = self._applied = None
        self._map_engine = None
        self.table.setRowCount(0)
        self.map_item.clear()
        self.matrix_item.clear()
        self.save.setEnabled(False)
        self.restore.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText("Switch each unit off in turn and see which digit suffers.")

    # ------------------------------------------------------------ saving
    def save_matrix(self, path: Path) -> Path:
        """Write the matrix as a picture (.png, .pdf, .svg) or table (.csv)."""
        from latent_explorer.models.fileio import atomic_write_bytes
        from latent_explorer.models.figures import save_figure
        from latent_explorer.models.unitrank import matrix_figure

        if path.suffix.lower() == ".csv":
            atomic_write_bytes(path, self.ranking.csv_text().encode())
        else:
            save_figure(matrix_figure(self.ranking), path)
        return path

    def save_dialog(self) -> Path | None:
        if self.ranking is None:
            return None
        r = self.ranking
        name = f"{r.model}_{r.layer}_{r.kind}.png"
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the unit × digit matrix", str(Path.home() / name),
                                                "PNG image (*.png);;PDF (*.pdf);;SVG (*.svg);;CSV (*.csv)")
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() not in (".png", ".pdf", ".svg", ".csv"):
            path = path.with_name(path.name + ".png")
        try:
            return self.save_matrix(path)
        except (OSError, ValueError) as exc:
            QMessageBox.critical(self, f"Cannot write {path.name}", f"{path} could not be written:\n{exc}")
            return None

    def shutdown(self) -> None:
        self.ranker.shutdown()
