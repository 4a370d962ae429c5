"""The renderer: turns the state into a :class:`Frame` through ``Engine.render``, off the
UI thread.

Every change of the point, digit, edits or capture hands a request to one worker thread
through a slot that holds one request: a newer request replaces one not yet started, so a
drag never queues work up and never waits for a stale frame.  The first request of a pass
of the event loop goes to the worker at once (it renders while the UI thread moves the
markers); later ones in the same pass wait for the pass to end and only the last is sent.  The worker renders with its
own copy of the model (the UI thread's exports and walks register hooks on the shared
one) and hands each frame back through a queued signal; the UI thread stores it in the
state only when it is still what the state asks for (a superseded frame is dropped, unless
nothing has been shown for ``STALE_OK_S``, so a long fast drag still shows progress).
Map markers follow the state's point at once; the image follows when its frame arrives.

``render_now`` renders on the UI thread and waits for nothing (exports, screenshots).
Exceptions other than a refused point reach ``sys.excepthook`` in the UI thread, where
the window's error reporter shows them.
"""
from __future__ import annotations

import copy
import sys
import threading
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from latent_explorer.models.frame import RenderRequest

from .state import ExplorerState

if TYPE_CHECKING:
    from latent_explorer.models.engine import Engine

STALE_OK_S = 0.05  # a superseded frame is still shown when nothing was shown for this long
SWITCH_INTERVAL_S = 0.0005  # the GIL hand-over between the UI and render threads (Python's default: 5 ms)


class _Worker(threading.Thread):
    """Renders the latest request it was given; one slot, latest wins."""

    def __init__(self, done) -> None:
        super().__init__(name="frame-renderer", daemon=True)
        self._done = done  # called in this thread with (key, frame or None, error or None)
        self._cond = threading.Condition()
        self._slot: tuple | None = None
        self._stopping = False
        self.busy = False
        self.computed = 0

    def submit(self, key: tuple, engine: Engine, request: RenderRequest) -> None:
        with self._cond:
            self._slot = (key, engine, request)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._slot = None
            self._cond.notify()

    @property
    def idle(self) -> bool:
        with self._cond:
            return self._slot is None and not self.busy

    def run(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                (key, engine, request), self._slot = self._slot, None
                self.busy = True
            frame = error = None
            try:
                frame = engine.render(request)
            except BaseException as exc:  # noqa: BLE001 - handed to the UI thread, never lost
                error = exc
            self.computed += 1
            self._done(key, frame, error)
            del request, frame, error  # nothing of a finished render stays alive here
            with self._cond:
                idle = self._slot is None
            if idle and engine.trace_pending:  # the first frame is out: trace while nothing waits
                engine.prepare_trace()
            del engine
            with self._cond:
                self.busy = False


class Renderer(QObject):
    """Listens to the state; writes frames into it."""

    failed = Signal(str)
    _delivered = Signal(object, object, object)  # key, frame, error: from the worker, queued

    def __init__(self, state: ExplorerState, capture: bool = False) -> None:
        super().__init__(state)
        self.state = state
        self.capture = capture
        self.renders = 0   # frames stored in the state
        self.dropped = 0   # frames that arrived superseded and were not shown
        self._engine: tuple[object, Engine] | None = None  # (model, the worker's private engine)
        self._asked: tuple | None = None   # key of the latest request handed to the worker
        self._shown: tuple | None = None   # key of the frame in the state
        self._shown_at = 0.0
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._delivered.connect(self._arrived)
        self._pass = QTimer(self)  # runs out at the end of this pass of the event loop
        self._pass.setSingleShot(True)
        self._pass.setInterval(0)
        self._pass.timeout.connect(self._end_of_pass)
        self._deferred = False
        self._worker = _Worker(self._hand_over)
        self._worker.start()
        self.destroyed.connect(self._worker.stop)
        for signal in (state.modelChanged, state.pointChanged, state.digitChanged, state.ablationsChanged):
            signal.connect(self.request)
        state.modelChanged.connect(self._model_changed)

    # ------------------------------------------------------------ requests
    def _key(self) -> tuple:
        st = self.state
        return (id(st.model), st.point, st.digit_or_none(), self.capture, st.ablations)

    def _request(self) -> RenderRequest:
        st = self.state
        return RenderRequest(point=st.point, digit=st.digit_or_none(), capture=self.capture, ablations=st.ablations)

    def _worker_engine(self) -> Engine:
        """The worker's own copy of the current model, made once per model (a model opened
        before torch renders with its numpy preview engine, which shares nothing)."""
        model = self.state.model
        if model.pending:
            return model.render_engine
        if self._engine is None or self._engine[0] is not model:
            from latent_explorer.models.engine import Engine

            self._engine = (model, Engine(copy.deepcopy(model.checkpoint), copy.deepcopy(model.classifier),
                                          traced=True))
        return self._engine[1]

    def _model_changed(self) -> None:
        if self.state.model is None:
            self._engine = None

    def set_capture(self, capture: bool) -> None:
        """Capture every layer's activations (on while a layer view is shown); re-renders
        when turned on so the view gets them at once."""
        if capture != self.capture:
            self.capture = capture
            self.request()  # off: one cheap render without capture, so nothing waits on a stale key

    def request(self) -> None:
        """Hand the state's current request to the worker (replacing one not yet started);
        within one pass of the event loop only the first and the last are sent."""
        st = self.state
        if st.model is None:
            self._asked = self._shown = None
            self._deferred = False
            st.set_frame(None)
            return
        if self._pass.isActive():
            self._deferred = True
            return
        self._pass.start()
        self._submit()

    def _end_of_pass(self) -> None:
        if self._deferred:
            self._deferred = False
            if self.state.model is not None:
                self._submit()

    def _submit(self) -> None:
        key = self._key()
        if key == self._asked or key == self._shown:
            return
        self._asked = key
        self._worker.submit(key, self._worker_engine(), self._request())

    @property
    def pending(self) -> bool:
        """True until the state holds the frame for its current request."""
        if self.state.model is None:
            return False
        return self._shown != self._key()

    @property
    def computed(self) -> int:
        """Frames the worker has rendered (shown or dropped)."""
        return self._worker.computed

    # ------------------------------------------------------------ results
    def _hand_over(self, key: tuple, frame, error) -> None:  # in the worker thread
        try:
            self._delivered.emit(key, frame, error)  # queued to the UI thread
        except RuntimeError:  # the renderer was deleted meanwhile (window closed)
            self._worker.stop()

    def _arrived(self, key: tuple, frame, error) -> None:
        if key == self._asked and error is None:
            self._asked = None
        if error is not None:
            if key == self._asked:
                self._asked = None
            if isinstance(error, ValueError):  # a refused point: the status bar says why
                self.failed.emit(str(error))
            else:  # anything else: the window's error reporter (a dialog), as in any slot
                sys.excepthook(type(error), error, error.__traceback__)
            return
        current = self._key()
        if key == self._shown:  # already shown (render_now got there first)
            return
        if key != current:
            # a superseded frame: shown only when the state's frame is old and of the same
            # model, digit, capture and edits (a long fast drag still shows progress)
            stale_ok = (self._shown is not None and self._shown != current and key[0] == current[0]
                        and key[2:] == current[2:] and time.perf_counter() - self._shown_at > STALE_OK_S)
            if not stale_ok:
                self.dropped += 1
                return
        self._store(key, frame)

    def _store(self, key: tuple, frame) -> None:
        self._shown, self._shown_at = key, time.perf_counter()
        self.renders += 1
        self.state.set_frame(frame)

    def render_now(self) -> None:
        """Render the state's current point on the UI thread, at once (exports, tests)."""
        st = self.state
        if st.model is None:
            self._shown = None
            st.set_frame(None)
            return
        key = self._key()
        try:
            frame = st.model.render_engine.render(self._request())
        except ValueError as exc:  # cannot happen for points the state clamps; reported, not raised
            self.failed.emit(str(exc))
            return
        self._store(key, frame)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until the worker has nothing to do (the frame may still be queued to the UI)."""
        end = time.perf_counter() + timeout
        while not self._worker.idle:
            if time.perf_counter() > end:
                return False
            time.sleep(0.001)
        return True

    def shutdown(self) -> None:
        """Stop the worker thread (on window close); a render in progress finishes first."""
        self._worker.stop()
        self._worker.join(timeout=5)
