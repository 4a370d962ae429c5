"""Unit ranking in the background: :class:`UnitRankJob` runs ``models.unitrank.rank_units``
in a worker thread with progress and cancel; :class:`UnitRanker` runs one job at a time
for the window and keeps every result, per model and layer (and points asked for), so
coming back to a layer shows its ranking at once.

The worker ranks on a private copy of the generator and classifier: the render thread
registers hooks on the shared modules while the user moves the point.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal

from latent_explorer.models.unitrank import Cancelled, PointSet, UnitRanking, points_for, rank_screened, rank_units

from .state import ExplorerState


@dataclass(frozen=True)
class RankRequest:
    """What to rank: a layer's channels or rows over points of a kind (a digit's region,
    every digit's region, or uniform)."""

    model_digest: str
    layer: str
    kind: str = "channels"
    sampling: str = "region"
    digit: int | None = None  # the region's digit (sampling "region")
    points: int = 256
    scale: float = 0.0
    screened: int = 0  # > 0: exact only for each digit's this many most likely units (rank_screened)


def private_engine(model):
    """An Engine on copies of the model's generator and classifier, with no hooks."""
    from latent_explorer.models.engine import Engine

    g, c = copy.deepcopy(model.checkpoint), copy.deepcopy(model.classifier)
    for net in (g.model, c.model):
        for m in net.modules():  # a render's hooks copied along (registered at that moment) must not run here
            m._forward_hooks.clear()
            m._forward_pre_hooks.clear()
    return Engine(g, c)


class UnitRankJob(QThread):
    """Ranks one request; emits ``progress(done, total)`` then ``done``, ``cancelled`` or ``failed``."""

    progress = Signal(int, int)
    done = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, engine, atlas, request: RankRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.atlas, self.request = engine, atlas, request
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:  # in the worker thread
        r = self.request
        try:
            pts: PointSet = points_for(self.engine, r.points, r.sampling, r.digit, self.atlas)
            kw = dict(progress=lambda d, t: self.progress.emit(int(d), int(t)), should_stop=self._stop.is_set)
            if r.screened:
                ranking = rank_screened(self.engine, pts, r.layer, r.kind, r.scale, per_digit=r.screened, **kw)
            else:
                ranking = rank_units(self.engine, pts, r.layer, r.kind, r.scale, **kw)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported in the panel; the app keeps running
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.done.emit(ranking)


class UnitRanker(QObject):
    """One ranking at a time for the state's model; results cached by request."""

    started = Signal(object)       # the RankRequest
    progress = Signal(int, int)
    finished = Signal(str)         # "" when a ranking arrived, else why not
    ranked = Signal(object, object)  # (RankRequest, UnitRanking)

    def __init__(self, state: ExplorerState) -> None:
        super().__init__(state)
        self.state = state
        self.cache: dict[RankRequest, UnitRanking] = {}
        self.job: UnitRankJob | None = None
        self._jobs: list[UnitRankJob] = []
        self._engine: tuple[object, object] | None = None
        state.modelChanged.connect(lambda: self.cancel(quiet=True))

    @property
    def busy(self) -> bool:
        return self.job is not None

    def cached(self, request: RankRequest) -> UnitRanking | None:
        return self.cache.get(request)

    def _worker_engine(self):
        model = self.state.model
        if self._engine is None or self._engine[0] is not model:
            self._engine = (model, private_engine(model))
        return self._engine[1]

    def start(self, request: RankRequest) -> bool:
        """Rank in the background (a cached result is announced at once); False when there is no model."""
        model = self.state.model
        if model is None or model.pending:
            return False
        hit = self.cache.get(request)
        if hit is not None:
            self.ranked.emit(request, hit)
            self.finished.emit("")
            return True
        self.cancel(quiet=True)
        job = UnitRankJob(self._worker_engine(), self.state.atlas, request, parent=self)
        job.progress.connect(lambda d, t, j=job: j is self.job and self.progress.emit(d, t))
        job.done.connect(lambda ranking, j=job: self._done(j, ranking))
        job.cancelled.connect(lambda j=job: self._ended(j, "Ranking cancelled."))
        job.failed.connect(lambda msg, j=job: self._ended(j, f"Ranking failed: {msg}"))
        job.finished.connect(lambda j=job: self._reap(j))
        self.job = job
        self._jobs.append(job)
        self.started.emit(request)
        job.start(QThread.Priority.LowPriority)
        return True

    def cancel(self, quiet: bool = False) -> None:
        job = self.job
        if job is None:
            return
        job.cancel()
        self.job = None
        if not quiet:
            self.finished.emit("Ranking cancelled.")

    def _done(self, job: UnitRankJob, ranking: UnitRanking) -> None:
        self.cache[job.request] = ranking  # kept even when no longer shown: the work is done
        if job is self.job:
            self.job = None
            self.ranked.emit(job.request, ranking)
            self.finished.emit("")

    def _ended(self, job: UnitRankJob, message: str) -> None:
        if job is self.job:
            self.job = None
            self.finished.emit(message)

    def _reap(self, job: UnitRankJob) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            job.deleteLater()

    def shutdown(self) -> None:
        """Cancel and wait for the worker threads (on window close)."""
        self.cancel(quiet=True)
        for job in list(self._jobs):
            job.cancel()
            job.wait()
