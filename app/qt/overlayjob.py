"""Computing the geometry overlays (models/geometry.py) in a worker thread, with progress
and cancel, cached per model.

:class:`OverlayService` hands the state the overlays stored in the model's atlas when it
has them; otherwise, once an overlay is chosen, it computes them off the UI thread on
private copies of the networks (for a conditional model, the shown digit only; others
are added as the digit changes).  Results are kept per model digest, so switching back
to a model shows its overlays at once.
"""
from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from latent_explorer.models.geometry import Cancelled, Overlays, overlays_for

from .state import ExplorerState


class OverlayJob(QThread):
    """One computation; emits ``progress(done, total)`` then ``done(overlays)`` or ``failed``."""

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, model, digit: int | None, resolution: int | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.checkpoint, self.classifier = model.checkpoint, model.classifier  # copied in overlays_for
        self.digest, self.digit, self.resolution = model.digest, digit, resolution
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:  # in the worker thread
        try:
            ov = overlays_for(self.checkpoint, self.classifier, self.resolution,
                              digits=[self.digit] if self.digit is not None else None,
                              progress=lambda d, t: self.progress.emit(int(d), int(t)), should_stop=self._stop.is_set)
        except Cancelled:
            return
        except Exception as exc:  # reported to the user; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(ov)


def has_digit(overlays: Overlays | None, digit: int | None) -> bool:
    """Whether ``overlays`` hold the maps of ``digit`` (always, for unconditional ones)."""
    if overlays is None:
        return False
    if not overlays.conditional:
        return True
    first = next(iter(overlays.maps.values()))
    return digit is not None and bool(np.isfinite(first[digit]).all())


def merged(old: Overlays | None, new: Overlays, digit: int | None) -> Overlays:
    """``new`` with the digits ``old`` already had (conditional models, same grid)."""
    if old is None or not new.conditional or old.resolution != new.resolution:
        return new
    maps = {k: v.copy() for k, v in old.maps.items()}
    for k in maps:
        maps[k][digit] = new.maps[k][digit]
    return Overlays(new.latent_dim, True, new.resolution, maps, new.seconds + old.seconds,
                    new.evaluations + old.evaluations)


class OverlayService(QObject):
    """Keeps ``state.overlays`` filled for the shown model (and digit) while an overlay is chosen."""

    started = Signal(str)
    progress = Signal(int, int)
    finished = Signal(str)  # "" when overlays arrived, else why not

    def __init__(self, state: ExplorerState, resolution: int | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.resolution = resolution  # None: models.geometry.default_resolution
        self.cache: dict[str, Overlays] = {}  # model digest -> overlays
        self.job: OverlayJob | None = None
        self._jobs: list[OverlayJob] = []
        state.modelChanged.connect(self._model_changed)
        state.engineReady.connect(self.ensure)
        state.atlasChanged.connect(self._atlas_changed)
        state.atlasDigitChanged.connect(self.ensure)
        state.optionChanged.connect(lambda name: name == "overlay" and self.ensure())

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _model_changed(self) -> None:
        self.cancel(quiet=True)
        model = self.state.model
        if model is not None and self.state.overlays is None and model.digest in self.cache:
            self.state.set_overlays(self.cache[model.digest])
        self.ensure()

    def _atlas_changed(self) -> None:
        stored = getattr(self.state.atlas, "overlays", None)
        if stored is not None:
            self.state.set_overlays(stored)
        self.ensure()

    def ensure(self) -> None:
        """Start computing when an overlay is chosen and the shown digit's maps are missing."""
        st = self.state
        model = st.model
        if model is None or st.option("overlay") is None or model.latent_dim < 2:
            return
        digit = st.atlas_digit_or_none()
        if has_digit(st.overlays, digit):
            return
        if self.job is not None and self.job.digest == model.digest and self.job.digit == digit:
            return  # under way
        if model.pending:  # opened before torch: computed once the engine is in (engineReady)
            return
        self.cancel(quiet=True)
        job = OverlayJob(model, digit, self.resolution, parent=self)
        job.progress.connect(lambda d, t, j=job: j is self.job and self.progress.emit(d, t))
        job.done.connect(lambda ov, j=job: self._done(j, ov))
        job.failed.connect(lambda msg, j=job: self._failed(j, msg))
        job.finished.connect(lambda j=job: self._reap(j))
        self.job = job
        self._jobs.append(job)
        self.started.emit(f"Computing the geometry overlays of {model.name}"
                          + (f" for digit {digit}" if digit is not None else ""))
        job.start(QThread.Priority.LowPriority)

    def _done(self, job: OverlayJob, overlays: Overlays) -> None:
        if job is not self.job:
            return
        self.job = None
        model = self.state.model
        if model is None or model.digest != job.digest:
            return
        ov = merged(self.cache.get(job.digest) or self.state.overlays, overlays, job.digit)
        self.cache[job.digest] = ov
        self.state.set_overlays(ov)
        self.finished.emit("")
        self.ensure()  # the digit may have changed meanwhile

    def _failed(self, job: OverlayJob, message: str) -> None:
        if job is self.job:
            self.job = None
            self.finished.emit(f"Cannot compute the overlays: {message}")

    def cancel(self, quiet: bool = False) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.cancel()
            if not quiet:
                self.finished.emit("Overlay computation cancelled.")

    def _reap(self, job: OverlayJob) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            job.deleteLater()

    def shutdown(self) -> None:
        """Cancel and wait for the worker threads (on window close)."""
        self.cancel(quiet=True)
        for job in list(self._jobs):
            job.cancel()
            job.wait()
