"""The renderer: turns the state into a :class:`Frame` through ``Engine.render``.

A single point renders in milliseconds, so it runs on the UI thread, but never once per
event: changes only mark the frame stale and a zero-delay timer renders the latest point
after the pending events are handled.  A fast slider drag therefore costs at most one
render per pass of the event loop and never queues work up.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from latent_explorer.models.engine import RenderRequest

from .state import ExplorerState


class Renderer(QObject):
    """Listens to the state; writes frames into it."""

    failed = Signal(str)

    def __init__(self, state: ExplorerState, capture: bool = False) -> None:
        super().__init__(state)
        self.state = state
        self.capture = capture
        self.renders = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.render_now)
        for signal in (state.modelChanged, state.pointChanged, state.digitChanged, state.ablationsChanged):
            signal.connect(self.request)

    def set_capture(self, capture: bool) -> None:
        """Capture every layer's activations (on while a layer view is shown); re-renders
        when turned on so the view gets them at once."""
        if capture != self.capture:
            self.capture = capture
            if capture:
                self.request()

    def request(self) -> None:
        """Mark the frame stale; it is rendered once the event loop is idle."""
        if not self._timer.isActive():
            self._timer.start()

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

    def render_now(self) -> None:
        """Render the state's current point at once (also used by tests and screenshots)."""
        self._timer.stop()
        st = self.state
        if st.model is None:
            st.set_frame(None)
            return
        try:
            frame = st.model.engine.render(RenderRequest(point=st.point, digit=st.digit_or_none(),
                                                         capture=self.capture, ablations=st.ablations))
        except ValueError as exc:  # cannot happen for points the state clamps; reported, not raised
            self.failed.emit(str(exc))
            return
        self.renders += 1
        st.set_frame(frame)
