"""Background work: building an atlas in a worker thread with progress and cancel.

:class:`AtlasBuild` is the thread; :class:`AtlasService` decides when a model needs an
on-demand atlas, runs one build at a time, and hands the result to the state.  The worker
gets its own copy of the generator, so the UI thread keeps rendering meanwhile.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal

from latent_explorer.models.atlas import Atlas, Cancelled, build_atlas, choose_method, read_header
from latent_explorer.models.checkpoint import Checkpoint
from latent_explorer.models.registry import cached_atlas_path, quick_resolution

from .state import ExplorerState


def atlas_size(atlas: Atlas) -> str:
    """``64^2`` or, for conditional atlases, ``10 × 14^3``."""
    return f"{'10 × ' if atlas.conditional else ''}{atlas.resolution}^{atlas.latent_dim}"


class AtlasBuild(QThread):
    """Builds one atlas; emits ``progress(done, total)`` then ``built``, ``cancelled`` or ``failed``."""

    progress = Signal(int, int)
    built = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, generator: Checkpoint, classifier: Checkpoint, resolution: int, out: Path,
                 method: str = "adaptive", parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Private copies: the UI thread's renders register hooks on the shared modules.
        self.generator = copy.deepcopy(generator)
        self.classifier = copy.deepcopy(classifier)
        self.resolution, self.out, self.method = resolution, out, method
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:  # in the worker thread
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            atlas = build_atlas(self.generator, self.classifier, self.resolution, self.out, method=self.method,
                                progress=lambda done, total: self.progress.emit(int(done), int(total)),
                                should_stop=self._stop.is_set)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported to the user; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.built.emit(atlas)


class AtlasService(QObject):
    """Starts an on-demand atlas build when the state's model has none."""

    started = Signal(str)            # a description of the build
    progress = Signal(int, int)
    finished = Signal(str)           # a message: built, cancelled or failed
    idle = Signal()

    def __init__(self, state: ExplorerState, resolution: Callable[[int, bool], int] = quick_resolution,
                 method: str = "auto", autostart: bool = True) -> None:
        super().__init__(state)
        self.state = state
        self.resolution = resolution
        self.method = method
        self.autostart = autostart
        self.job: AtlasBuild | None = None
        self._retired: list[AtlasBuild] = []
        state.modelChanged.connect(self._model_changed)
        state.engineReady.connect(self._engine_ready)

    @property
    def busy(self) -> bool:
        """A build for the current model is under way."""
        return self.job is not None

    @property
    def threads_alive(self) -> int:
        """Worker threads not yet ended (cancelled ones stop at their next batch)."""
        return sum(1 for j in [self.job, *self._retired] if j is not None and not j.isFinished())

    def _model_changed(self) -> None:
        self.cancel()
        self._engine_ready()

    def _engine_ready(self) -> None:
        model = self.state.model  # a model opened before torch: built once its engine is in
        if self.autostart and model is not None and not model.pending and self.state.atlas is None:
            self.build()

    def build(self) -> None:
        """Start building the current model's missing atlas (no-op while one is building
        or when the model has an atlas)."""
        model = self.state.model
        if model is None or self.job is not None or self.state.atlas is not None:
            return
        res = int(self.resolution(model.latent_dim, model.conditional))
        out = cached_atlas_path(model.checkpoint, model.classifier, res)
        cells = res ** model.latent_dim * (10 if model.conditional else 1)
        method = self.method
        if method == "auto":  # every cell when that is cheap, else adaptive
            method = choose_method(model.latent_dim, res, model.conditional)
        job = AtlasBuild(model.checkpoint, model.classifier, res, out, method, parent=self)
        job.progress.connect(lambda done, total, j=job: self._progress(j, done, total))
        job.built.connect(lambda atlas, j=job: self._built(j, atlas))
        job.cancelled.connect(lambda j=job: self._ended(j, "Atlas build cancelled: the maps stay empty."))
        job.failed.connect(lambda msg, j=job: self._ended(j, f"Atlas build failed: {msg}"))
        job.finished.connect(lambda j=job: self._reap(j))
        self.job = job
        self.started.emit(f"Building a {'10 × ' if model.conditional else ''}{res}^{model.latent_dim} atlas "
                          f"for {model.name} ({cells:,} cells)")
        job.start(QThread.Priority.LowPriority)

    def rebuild(self) -> None:
        """Rebuild the current model's outdated atlas file in place, with its own grid and
        builder (one click; the same as ``latent-explorer atlas rebuild FILE``)."""
        model = self.state.model
        path = getattr(model, "outdated_atlas", None)
        if model is None or path is None:
            return
        head = read_header(path)
        self.cancel()  # an on-demand build for the same model is not needed any more
        method = "adaptive" if head["method"].startswith("adaptive") else "full"
        job = AtlasBuild(model.checkpoint, model.classifier, head["resolution"], path, method, parent=self)
        job.progress.connect(lambda done, total, j=job: self._progress(j, done, total))
        job.built.connect(lambda atlas, j=job: self._rebuilt(j, atlas))
        job.cancelled.connect(lambda j=job: self._ended(j, "Atlas rebuild cancelled: the old file is unchanged."))
        job.failed.connect(lambda msg, j=job: self._ended(j, f"Atlas rebuild failed: {msg}"))
        job.finished.connect(lambda j=job: self._reap(j))
        self.job = job
        self.started.emit(f"Rebuilding {path.name} ({head['resolution']} per axis)")
        job.start(QThread.Priority.LowPriority)

    def _rebuilt(self, job: "AtlasBuild", atlas: Atlas) -> None:
        model = self.state.model
        if job is self.job and model is not None and atlas.path == getattr(model, "outdated_atlas", None):
            model.outdated_atlas = None
        self._built(job, atlas)

    def cancel(self) -> None:
        """Stop the running build (it ends at its next batch)."""
        job = self.job
        if job is None:
            return
        job.cancel()
        self.job = None
        self._retired.append(job)
        self.finished.emit("Atlas build cancelled.")
        self.idle.emit()

    def _progress(self, job: AtlasBuild, done: int, total: int) -> None:
        if job is self.job:
            self.progress.emit(done, total)

    def _built(self, job: AtlasBuild, atlas: Atlas) -> None:
        if job is not self.job:
            return  # a build for a model that is no longer shown
        model = self.state.model
        self.job = None
        self._retired.append(job)
        if model is not None and atlas.generator_digest == model.digest:
            self.state.set_atlas(atlas)
            self.finished.emit(f"Atlas ready: {atlas_size(atlas)} cells in {atlas.seconds:.1f} s "
                               f"(cached in {atlas.path.parent})")
        self.idle.emit()

    def _ended(self, job: AtlasBuild, message: str) -> None:
        if job is not self.job:
            return
        self.job = None
        self._retired.append(job)
        self.finished.emit(message)
        self.idle.emit()

    def _reap(self, job: AtlasBuild) -> None:
        if job in self._retired:
            self._retired.remove(job)
            job.deleteLater()

    def shutdown(self) -> None:
        """Cancel everything and wait for the worker threads to end (on window close).

        Builds check for cancellation after every batch, so this takes at most one batch.
        """
        self.cancel()
        for job in list(self._retired):
            job.cancel()
            job.wait()
