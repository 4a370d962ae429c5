"""Computing the walk's strip in a worker thread, with progress and cancel.

:class:`WalkRunner` watches the state and the walk settings, waits for the settings to
settle (a spin-box drag is one strip, not twenty), then runs ``models.paths.make_strip``
off the UI thread on a private copy of the model, and hands the result to ``state.walk``.
A strip asked for while one is computing replaces it; stale results are dropped.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from latent_explorer.models.paths import Strip, make_strip

from .state import ExplorerState

if TYPE_CHECKING:
    from latent_explorer.models.engine import Engine


@dataclass(frozen=True)
class StripRequest:
    a: tuple[float, ...]
    b: tuple[float, ...] | None
    steps: int
    kind: str
    digit: int | None
    label_walk: tuple[int, int] | None
    model: str
    ablations: tuple = ()


class StripJob(QThread):
    """One strip; emits ``done(strip)`` or ``failed(message)``."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, engine: Engine, request: StripRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.request = engine, request
        self.cancelled = False

    def run(self) -> None:  # in the worker thread
        r = self.request
        try:
            strip = make_strip(self.engine, r.a, r.b, r.steps, r.kind, digit=r.digit, label_walk=r.label_walk,
                               model=r.model, ablations=r.ablations)
        except Exception as exc:  # reported in the dock; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(strip)


class WalkRunner(QObject):
    """Keeps ``state.walk.strip`` up to date; ``busy`` while a strip is computing."""

    started = Signal()
    progress = Signal(int, int)   # (done, total): 0/1 while computing, 1/1 when done
    finished = Signal(str)        # "" when a strip arrived, else why not

    def __init__(self, state: ExplorerState, delay_ms: int = 40) -> None:
        super().__init__(state)
        self.state = state
        self.job: StripJob | None = None
        self.done_request: StripRequest | None = None  # what state.walk.strip was computed for
        self._jobs: list[StripJob] = []
        self._engine: tuple[object, Engine] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.start)
        state.walk.changed.connect(self.request)
        state.modelChanged.connect(self.request)
        state.engineReady.connect(self.request)
        state.digitChanged.connect(self._digit_changed)
        state.ablationsChanged.connect(self.request)  # the layer edits change every frame

    @property
    def busy(self) -> bool:
        return self.job is not None or self._timer.isActive()

    def _digit_changed(self) -> None:
        if self.state.walk.label_walk is None:
            self.request()

    def request(self) -> None:
        self._timer.start()

    def _worker_engine(self) -> Engine:
        """A private copy of the model for the worker (the UI thread renders meanwhile)."""
        model = self.state.model
        if self._engine is None or self._engine[0] is not model:
            from latent_explorer.models.engine import Engine

            self._engine = (model, Engine(copy.deepcopy(model.checkpoint), copy.deepcopy(model.classifier)))
        return self._engine[1]

    def current_request(self) -> StripRequest | None:
        st, walk = self.state, self.state.walk
        if st.model is None or not walk.ready or len(walk.a) != st.latent_dim:
            return None
        if walk.label_walk is not None and not st.conditional:
            return None
        return StripRequest(walk.a, walk.b, walk.steps, walk.kind,
                            None if walk.label_walk is not None else st.digit_or_none(),
                            walk.label_walk, st.model.name, tuple(st.ablations))

    def start(self) -> None:
        """Compute the strip for the current settings now (replacing any running one)."""
        self._timer.stop()
        self.cancel(quiet=True)
        request = self.current_request()
        if request is None:
            self.state.walk.set_strip(None)
            return
        if self.state.model.pending:  # opened before torch: the strip follows state.engineReady
            return
        job = StripJob(self._worker_engine(), request, parent=self)
        job.done.connect(lambda strip, j=job: self._done(j, strip))
        job.failed.connect(lambda msg, j=job: self._ended(j, f"Cannot compute the walk: {msg}"))
        job.finished.connect(lambda j=job: self._reap(j))
        self.job = job
        self._jobs.append(job)
        self.started.emit()
        self.progress.emit(0, 1)
        job.start()

    def current_strip(self) -> Strip | None:
        """The strip for the current settings: the one shown when it is up to date, else
        computed now on the UI thread (for exports, which must match what the user set)."""
        request = self.current_request()
        if request is None:
            return None
        if request == self.done_request and self.state.walk.strip is not None:
            return self.state.walk.strip
        r = request
        strip = make_strip(self.state.model.engine, r.a, r.b, r.steps, r.kind, digit=r.digit,
                           label_walk=r.label_walk, model=r.model, ablations=r.ablations)
        self.cancel(quiet=True)
        self.done_request = request
        self.state.walk.set_strip(strip)
        return strip

    def cancel(self, quiet: bool = False) -> None:
        """Drop the running computation (its result is ignored)."""
        self._timer.stop()
        if self.job is not None:
            self.job.cancelled = True
            self.job = None
            if not quiet:
                self.finished.emit("Walk computation cancelled.")

    def _done(self, job: StripJob, strip: Strip) -> None:
        if job is not self.job or job.cancelled:
            return
        self.job = None
        self.done_request = job.request
        self.progress.emit(1, 1)
        self.state.walk.set_strip(strip)
        self.finished.emit("")

    def _ended(self, job: StripJob, message: str) -> None:
        if job is self.job:
            self.job = None
            self.finished.emit(message)

    def _reap(self, job: StripJob) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            job.deleteLater()

    def shutdown(self) -> None:
        """Cancel and wait for the worker threads (on window close)."""
        self.cancel(quiet=True)
        for job in list(self._jobs):
            job.wait()
