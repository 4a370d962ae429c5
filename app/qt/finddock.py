"""The "Find a digit" dock: draw or load a digit, find the closest image the generator can
make, and see the current image's nearest MNIST training images.

The projection and the neighbour index's one-off build run in worker threads with
cancel; the answer moves the explorer to the best point and draws the next-best points,
numbered, on the map and the slices (a click visits one).  The nearest training images
follow the current frame while the dock is shown (one query takes milliseconds).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QVBoxLayout,
                               QWidget)

from latent_explorer.models.atlas import Cancelled
from latent_explorer.models.digitimage import DigitImageError, load_digit_image, mnist_like

from .layersdock import _view_menu
from .panels.base import Panel
from .settings import remember_folder, start_folder
from .state import ExplorerState
from .widgets.candidates import CandidateOverlay
from .widgets.stripview import to_pixmap

if TYPE_CHECKING:
    from latent_explorer.models.projection import Projection, Projector, Weights

TILE = 84
THUMB = 56
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"


class Job(QThread):
    """Runs ``fn(cancelled, progress)`` in a worker thread; emits ``done``, ``cancelled`` or ``failed``."""

    done = Signal(object)
    cancelled = Signal()
    failed = Signal(str)
    progress = Signal(float, str)

    def __init__(self, fn: Callable, parent=None) -> None:
        super().__init__(parent)
        self.fn = fn
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:  # in the worker thread
        try:
            result = self.fn(self._stop.is_set, lambda f, msg: self.progress.emit(float(f), str(msg)))
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported in the dock; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(result)


class DrawPad(QWidget):
    """A 28 x 28 ink grid drawn with the mouse or a pen: soft round brush, eraser, undo."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("draw_pad")
        self.ink = np.zeros((28, 28), np.float32)  # 0 background .. 1 full ink
        self.brush = 1.3                           # radius in pad cells
        self.erase = False
        self.undo_stack: list[np.ndarray] = []
        self._last: tuple[float, float] | None = None
        self._centres = np.stack(np.meshgrid(np.arange(28) + 0.5, np.arange(28) + 0.5, indexing="xy"), -1)
        self.setMinimumSize(196, 196)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit (left button or pen); the eraser and brush size are beside the pad")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(224, 224)

    # ------------------------------------------------------------ editing
    def push_undo(self) -> None:
        self.undo_stack.append(self.ink.copy())
        del self.undo_stack[:-50]

    def undo(self) -> None:
        if self.undo_stack:
            self.ink = self.undo_stack.pop()
            self.update()
            self.changed.emit()

    def clear(self) -> None:
        if self.ink.any():
            self.push_undo()
            self.ink = np.zeros((28, 28), np.float32)
            self.update()
            self.changed.emit()

    def set_ink(self, ink: np.ndarray) -> None:
        self.push_undo()
        self.ink = np.clip(np.asarray(ink, np.float32), 0, 1).reshape(28, 28).copy()
        self.update()
        self.changed.emit()

    def stroke(self, a: tuple[float, float], b: tuple[float, float], radius: float | None = None) -> None:
        """Ink (or erase) a segment between pad coordinates ``a`` and ``b`` (cells, x right, y down)."""
        r = self.brush if radius is None else radius
        p, q = np.asarray(a, np.float32), np.asarray(b, np.float32)
        seg = q - p
        length2 = float(seg @ seg)
        rel = self._centres - p
        t = np.clip((rel @ seg) / length2, 0.0, 1.0) if length2 > 0 else np.zeros((28, 28), np.float32)
        dist = np.linalg.norm(rel - t[..., None] * seg, axis=-1)
        value = np.clip(r + 0.5 - dist, 0.0, 1.0).astype(np.float32)
        self.ink = np.minimum(self.ink, 1.0 - value) if self.erase else np.maximum(self.ink, value)
        self.update()
        self.changed.emit()

    def cell_at(self, pos: QPointF) -> tuple[float, float]:
        side = min(self.width(), self.height())
        return float(pos.x()) * 28.0 / side, float(pos.y()) * 28.0 / side

    # ------------------------------------------------------------ input
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.push_undo()
            self._last = self.cell_at(event.position())
            self.stroke(self._last, self._last)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._last is not None and event.buttons() & Qt.MouseButton.LeftButton:
            here = self.cell_at(event.position())
            self.stroke(self._last, here)
            self._last = here
            event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._last = None
        event.accept()

    def tabletEvent(self, event) -> None:  # noqa: N802 - a pen: pressure scales the brush
        here = self.cell_at(event.position())
        radius = self.brush * max(0.35, float(event.pressure()) or 1.0)
        kind = event.type()
        if kind == event.Type.TabletPress:
            self.push_undo()
            self._last = here
            self.stroke(here, here, radius)
        elif kind == event.Type.TabletMove and self._last is not None:
            self.stroke(self._last, here, radius)
            self._last = here
        elif kind == event.Type.TabletRelease:
            self._last = None
        event.accept()

    def paintEvent(self, _event) -> None:  # noqa: N802
        side = min(self.width(), self.height())
        px = np.ascontiguousarray((self.ink * 255).astype(np.uint8))
        img = QImage(px.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        p = QPainter(self)
        p.drawImage(QRectF(0, 0, side, side), img)
        p.setPen(QPen(QColor(70, 70, 70), 1))
        for k in (4, 24):  # MNIST's 20 x 20 box
            x = k * side / 28
            p.drawLine(QPointF(x, 0), QPointF(x, side))
            p.drawLine(QPointF(0, x), QPointF(side, x))
        p.end()


def _tile(caption: str, size: int = TILE) -> tuple[QWidget, QLabel, QLabel]:
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    img = QLabel()
    img.setFixedSize(size, size)
    img.setStyleSheet("background: #000;")
    cap = QLabel(caption)
    cap.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    cap.setWordWrap(True)
    cap.setMaximumWidth(max(size, 90))
    lay.addWidget(img, 0, Qt.AlignmentFlag.AlignHCenter)
    lay.addWidget(cap)
    return box, img, cap


def _diff_pixmap(diff: np.ndarray, size: int):
    """Signed difference (-2..2): blue where the best image has less ink, red where more."""
    from PySide6.QtGui import QPixmap

    v = np.clip(diff / 2.0, -1, 1)
    rgb = np.empty((28, 28, 3), np.uint8)
    white = 1.0 - np.abs(v)
    rgb[..., 0] = (255 * np.where(v > 0, 1.0, white)).astype(np.uint8)
    rgb[..., 2] = (255 * np.where(v < 0, 1.0, white)).astype(np.uint8)
    rgb[..., 1] = (255 * white).astype(np.uint8)
    q = QImage(np.ascontiguousarray(rgb).data, 28, 28, 28 * 3, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(q).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation)


class FindPanel(Panel):
    """Drawing pad, search controls, the answer, and the nearest training images."""

    def __init__(self, state: ExplorerState, window, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.window = window
        self.projector: Projector | None = None
        self.projector_key: str | None = None
        self.result: Projection | None = None
        self.job: Job | None = None
        self.index = None               # NeighbourIndex once built or read from the cache
        self.index_job: Job | None = None
        self.index_error = ""
        self.index_limit: int | None = None  # index only the first N training images (tests)
        self.data_dir: str | None = None     # MNIST folder (default: the usual data folder)
        self.grid_per_axis: int | None = None  # coarse grid size (default: the projector's choice)
        self.overlays: list[CandidateOverlay] = []
        self._overlay_area = None
        self.last_query_ms = 0.0
        outer = QVBoxLayout(self)

        # --- the pad and its tools
        row = QHBoxLayout()
        self.pad = DrawPad()
        row.addWidget(self.pad)
        tools = QVBoxLayout()
        self.brush = QDoubleSpinBox()
        self.brush.setObjectName("find_brush")
        self.brush.setRange(0.5, 4.0)
        self.brush.setSingleStep(0.25)
        self.brush.setValue(self.pad.brush)
        self.brush.setPrefix("brush ")
        self.brush.valueChanged.connect(lambda v: setattr(self.pad, "brush", float(v)))
        self.erase = QCheckBox("Erase")
        self.erase.toggled.connect(lambda on: setattr(self.pad, "erase", bool(on)))
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.pad.undo)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.pad.clear)
        self.load_button = QPushButton("Load image…")
        self.load_button.setToolTip("A PNG or JPEG of one digit, any size: made MNIST-like (greyscale, inverted "
                                    "when the background is light, centred by mass in a 20 x 20 box)")
        self.load_button.clicked.connect(self.load_dialog)
        self.fit = QCheckBox("Centre like MNIST")
        self.fit.setChecked(True)
        self.fit.setToolTip("Scale the drawing's box to 20 x 20 and centre it by mass, as MNIST digits are")
        for w in (self.brush, self.erase, self.undo_button, self.clear_button, self.load_button, self.fit):
            tools.addWidget(w)
        tools.addStretch(1)
        row.addLayout(tools)
        row.addStretch(1)
        outer.addLayout(row)

        # --- search controls
        form = QHBoxLayout()
        form.addWidget(QLabel("Distance ="))
        self.pixel_weight = QDoubleSpinBox()
        self.feature_weight = QDoubleSpinBox()
        for spin, value, name in ((self.pixel_weight, 1.0, "pixel"), (self.feature_weight, 0.5, "feature")):
            spin.setRange(0.0, 10.0)
            spin.setSingleStep(0.1)
            spin.setValue(value)
            spin.setObjectName(f"find_{name}_weight")
        form.addWidget(self.pixel_weight)
        form.addWidget(QLabel("× pixel +"))
        form.addWidget(self.feature_weight)
        form.addWidget(QLabel("× feature"))
        form.addStretch(1)
        outer.addLayout(form)
        buttons = QHBoxLayout()
        self.digit_choice = QComboBox()
        self.digit_choice.addItems(["all digits", "the current digit"])
        self.digit_choice.setToolTip("Conditional models: search every label, or only the one shown")
        buttons.addWidget(self.digit_choice)
        self.find_button = QPushButton("Find")
        self.find_button.setObjectName("find_button")
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.find)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.find_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.status = QLabel("Draw a digit on the pad or load an image, then Find.")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)

        # --- the answer
        answer = QHBoxLayout()
        t1, self.target_img, _ = _tile("your digit")
        t2, self.best_img, self.best_cap = _tile("best image")
        t3, self.diff_img, self.diff_cap = _tile("difference")
        for t in (t1, t2, t3):
            answer.addWidget(t)
        answer.addStretch(1)
        outer.addLayout(answer)
        self.sentence = QLabel("")
        self.sentence.setObjectName("find_sentence")
        self.sentence.setWordWrap(True)
        outer.addWidget(self.sentence)
        cand_row = QHBoxLayout()
        cand_row.addWidget(QLabel("Visit:"))
        self.best_button = QPushButton("best")
        self.best_button.clicked.connect(lambda: self.visit(0))
        cand_row.addWidget(self.best_button)
        self.candidate_buttons: list[QPushButton] = []
        for k in range(1, 6):
            b = QPushButton(str(k))
            b.setFixedWidth(34)
            b.clicked.connect(lambda _c=False, k=k: self.visit(k))
            cand_row.addWidget(b)
            self.candidate_buttons.append(b)
        cand_row.addStretch(1)
        outer.addLayout(cand_row)

        # --- nearest training images
        self.neighbours_box = QGroupBox("Nearest MNIST training images (current image)")
        self.neighbours_box.setCheckable(True)
        self.neighbours_box.setChecked(True)
        self.neighbours_box.toggled.connect(self._neighbours_toggled)
        nb = QVBoxLayout(self.neighbours_box)
        top = QHBoxLayout()
        top.addWidget(QLabel("in"))
        self.space = QComboBox()
        self.space.addItem("classifier features", "feature")
        self.space.addItem("pixels", "pixel")
        self.space.currentIndexChanged.connect(lambda _i: self.refresh_neighbours())
        top.addWidget(self.space)
        top.addStretch(1)
        nb.addLayout(top)
        grid = QGridLayout()
        self.thumbs: list[tuple[QLabel, QLabel]] = []
        for k in range(8):
            box, img, cap = _tile("", THUMB)
            grid.addWidget(box, k // 4, k % 4)
            self.thumbs.append((img, cap))
        nb.addLayout(grid)
        self.gauge = QLabel("")
        self.gauge.setObjectName("find_gauge")
        self.gauge.setWordWrap(True)
        nb.addWidget(self.gauge)
        outer.addWidget(self.neighbours_box)
        outer.addStretch(1)
        self._show_result()
        self.digit_choice.setEnabled(state.conditional)
        self.bind(state.modelChanged, self.model_changed)
        self.bind(state.frameChanged, self.refresh_neighbours)
        self.bind(state.optionChanged, lambda _name: [ov.update() for ov in self.overlays])

    # ------------------------------------------------------------ input
    def weights(self) -> Weights:
        from latent_explorer.models.projection import Weights

        return Weights(float(self.pixel_weight.value()), float(self.feature_weight.value()))

    def target(self) -> np.ndarray:
        """The pad as an MNIST-like target; DigitImageError when it is blank."""
        return mnist_like(self.pad.ink, "the drawing", fit=self.fit.isChecked())

    def load_dialog(self) -> None:
        settings = getattr(self.window, "settings", None)
        start = start_folder(settings) if settings is not None else Path.home()
        path, _ = QFileDialog.getOpenFileName(self, "Load a digit image", str(start), IMAGE_FILTER)
        if path:
            if settings is not None:
                remember_folder(settings, Path(path).parent)
            self.load_image(Path(path))

    def load_image(self, path: Path) -> bool:
        """Put an image file, made MNIST-like, on the pad (a dialog names any problem)."""
        try:
            image = load_digit_image(path, fit=True)
        except DigitImageError as exc:
            self.window.show_error("Cannot use this image", str(exc))
            return False
        self.pad.set_ink((image + 1.0) / 2.0)
        self.status.setText(f"Loaded {Path(path).name}; Find searches for it.")
        return True

    # ------------------------------------------------------------ projection
    def find(self) -> None:
        m = self.state.model
        if m is None:
            self.window.show_error("Nothing to search", "Open a generator first.")
            return
        if m.latent_dim > 4:
            self.window.show_error("Cannot search", f"{m.name} has a {m.latent_dim}-D latent space; the search "
                                                    f"covers up to 4-D")
            return
        try:
            target = self.target()
            weights = self.weights()
        except (DigitImageError, ValueError) as exc:
            self.window.show_error("Nothing to find", str(exc))
            return
        self.cancel()
        digit = self.state.digit if (m.conditional and self.digit_choice.currentIndex() == 1) else None
        key = m.digest
        from latent_explorer.models.projection import Projector  # torch: imported when first used

        projector = self.projector if self.projector_key == key else None
        engine, per_axis, classifier_digest = m.engine, self.grid_per_axis, m.classifier_digest

        def work(cancelled, progress):
            from latent_explorer.models.projection import open_reach

            pr = projector
            if pr is None:
                progress(0.0, "computing the coarse grid (once per model)…")
                pr = Projector(engine, weights, per_axis=per_axis)
                pr.prepare(digit, cancelled)
            pr.weights = weights
            # "close" against what this generator reaches for real digits, where `latent-explorer
            # project` measured it for these weights (a file read; never measured here)
            pr.reach = None
            open_reach(pr, key, classifier_digest, measure=False)
            progress(0.5, "searching…")
            return key, pr, pr.project(target, digit, cancelled)

        self.job = job = Job(work, self)
        job.done.connect(lambda res, j=job: self._found(j, res))
        job.cancelled.connect(lambda j=job: self._ended(j, "Search cancelled."))
        job.failed.connect(lambda msg, j=job: self._ended(j, f"Search failed: {msg}"))
        job.progress.connect(lambda _f, msg, j=job: j is self.job and self.status.setText(msg))
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("searching…")
        self._started = time.perf_counter()
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _ended(self, job: Job, message: str) -> None:
        if job is not self.job:
            return
        self.job = None
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(message)

    def _found(self, job: Job, res) -> None:
        if job is not self.job:
            return
        key, projector, proj = res
        m = self.state.model
        if m is None or m.digest != key:
            self._ended(job, "The model changed during the search; search again.")
            return
        self.projector, self.projector_key = projector, key
        self._ended(job, f"Found in {time.perf_counter() - self._started:.2f} s "
                         f"({proj.evaluations:,} images evaluated); weights {proj.weights.describe()}.")
        self.result = proj
        self._show_result()
        self._draw_candidates()
        self.visit(0)

    def visit(self, k: int) -> None:
        """Move the explorer to the best point (0) or candidate ``k``."""
        if self.result is None or k >= len(self.result.matches):
            return
        m = self.result.matches[k]
        if m.digit is not None and self.state.conditional:
            self.state.set_digit(m.digit)
            self.state.set_atlas_digit(m.digit)
        self.state.set_point(tuple(float(v) for v in m.point))

    def _show_result(self) -> None:
        r = self.result
        for k, b in enumerate(self.candidate_buttons, start=1):
            ok = r is not None and k < len(r.matches)
            b.setEnabled(ok)
            if ok:
                m = r.matches[k]
                b.setToolTip(f"({', '.join(f'{v:+.2f}' for v in m.point)})"
                             + (f" label {m.digit}" if m.digit is not None else "")
                             + f": class {m.predicted}, distance {m.distance:.3f}")
        self.best_button.setEnabled(r is not None)
        if r is None:  # nothing found yet, or the model changed: no word of an old answer stays
            for lab in (self.target_img, self.best_img, self.diff_img):
                lab.clear()
            self.best_cap.setText("best image")
            self.diff_cap.setText("difference")
            self.sentence.setText("")
            return
        b = r.best
        self.target_img.setPixmap(to_pixmap(r.target, TILE))
        self.best_img.setPixmap(to_pixmap(b.image, TILE))
        self.diff_img.setPixmap(_diff_pixmap(b.image - r.target, TILE))
        self.best_cap.setText(f"class {b.predicted} ({b.confidence:.0%})")
        self.diff_cap.setText(f"distance {b.distance:.3f}\npixel {b.pixel:.3f}, feature {b.feature:.3f}")
        more = f" Next-best points are numbered 1-{len(r.candidates)} on the map." if r.candidates else ""
        self.sentence.setText(r.sentence() + more)
        self.sentence.setStyleSheet("color: #a50026;" if r.poor else "")

    # ------------------------------------------------------------ candidates on the maps
    def _map_overlays(self) -> list[tuple]:
        """(view, axes) of every map view that draws the walk: the map and the slices."""
        area = getattr(self.window, "map_area", None)
        found = []
        for panel in getattr(area, "panels", []):
            for ov in [getattr(panel, "path", None), *(getattr(panel, "paths", None) or [])]:
                if ov is not None and hasattr(ov, "view") and hasattr(ov, "axes"):
                    found.append((ov.view, ov.axes))
        return found

    def _draw_candidates(self) -> None:
        area = getattr(self.window, "map_area", None)
        if area is not self._overlay_area:
            self._remove_overlays()
            self._overlay_area = area
            self.overlays = [CandidateOverlay(view, axes, self.visit) for view, axes in self._map_overlays()]
        points = np.stack([m.point for m in self.result.candidates]) if self.result and self.result.candidates \
            else np.zeros((0, 0))
        for ov in self.overlays:
            ov.set_points(points)

    def _remove_overlays(self) -> None:
        for ov in self.overlays:
            ov.remove()
        self.overlays = []

    def model_changed(self) -> None:
        self.cancel()
        self.digit_choice.setEnabled(self.state.conditional)
        if self.result is not None or self.status.text().startswith("Found"):
            self.status.setText("The model changed: Find searches this model.")
        self.result = None
        self.projector = self.projector_key = None
        self.overlays = []  # the map area (and its views) is rebuilt with the model
        self._overlay_area = None
        self._show_result()
        self.refresh_neighbours()

    # ------------------------------------------------------------ nearest training images
    def _want_neighbours(self) -> bool:
        return self.neighbours_box.isChecked() and self.isVisible() and self.state.model is not None

    def refresh_neighbours(self) -> None:
        if not self._want_neighbours():
            return
        if self.index is None:
            self._start_index()
            return
        frame = self.state.frame
        if frame is None:
            return
        space = self.space.currentData()
        t0 = time.perf_counter()
        nb = self.index.query(frame.image, 8, space)
        self.last_query_ms = (time.perf_counter() - t0) * 1e3
        for (img, cap), i, lab, dist, pix in zip(self.thumbs, nb.indices, nb.labels, nb.distances, nb.images):
            img.setPixmap(to_pixmap(pix.astype(np.float32) / 127.5 - 1.0, THUMB))
            cap.setText(f"#{int(i)} ({int(lab)})\n{float(dist):.3f}")
        self.neighbours = nb
        g = self.index.gauge(float(nb.distances[0]), space)
        self.gauge.setText(f"Nearest at {g.distance:.3f}; a real test digit's nearest training digit is typically "
                           f"{g.median:.3f} (5-95%: {g.p5:.3f}-{g.p95:.3f}): {g.verdict()}.")
        self.gauge.setToolTip(f"Distances: {'classifier features (unit length)' if space == 'feature' else 'RMS pixel'}"
                              f"; this query took {self.last_query_ms:.1f} ms")

    def _neighbours_toggled(self, on: bool) -> None:
        if on:
            self.index_error = ""  # turning it on again retries a failed index (e.g. MNIST downloaded since)
        self.refresh_neighbours()

    def _start_index(self) -> None:
        if self.index_job is not None or self.index_error:
            return
        from latent_explorer.models.neighbours import open_index
        from latent_explorer.training.data import DataError

        classifier = self.state.model.classifier
        limit, data = self.index_limit, self.data_dir
        notes: list[str] = []

        def work(cancelled, progress):
            try:
                return open_index(classifier, data, limit=limit, progress=progress, cancelled=cancelled, notes=notes)
            except DataError as exc:
                raise RuntimeError(f"MNIST is needed for the nearest training images: {exc}") from None

        self.index_job = job = Job(work, self)
        job.progress.connect(lambda f, msg: self.gauge.setText(f"Indexing MNIST (once; cached): {msg} ({f:.0%})"))
        job.done.connect(self._index_ready)
        job.failed.connect(self._index_failed)
        job.cancelled.connect(lambda: setattr(self, "index_job", None))
        self.gauge.setText("Reading the MNIST training images…")
        job.start()

    def _index_ready(self, index) -> None:
        self.index_job = None
        self.index = index
        self.refresh_neighbours()

    def _index_failed(self, message: str) -> None:
        self.index_job = None
        self.index_error = message
        self.gauge.setText(message)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh_neighbours()

    def shutdown(self) -> None:
        """Stop the workers (the window is closing)."""
        for job in (self.job, self.index_job):
            if job is not None:
                job.cancel()
                job.wait(30000)  # a search or an index batch notices the cancel within seconds


class FindDock(QDockWidget):
    def __init__(self, state: ExplorerState, window) -> None:
        super().__init__("Find a digit", window)
        self.setObjectName("find_dock")
        self.panel = FindPanel(state, window)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        self.setWidget(scroll)


def install(window) -> FindDock:
    """Add the dock to ``window`` (hidden) with a View-menu toggle (Ctrl+F)."""
    dock = FindDock(window.state, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setText("&Find a digit (draw, project, nearest training images)")
    toggle.setShortcut(QKeySequence("Ctrl+F"))
    _view_menu(window).addAction(toggle)
    window.find_dock = dock
    return dock
