"""The window's layers video: the walk's frames with every layer's heatmap, the image and the
class map, rendered and written (GIF or MP4, ``models/layersvideo.py``) in a worker thread
on a private copy of the model, with progress and cancel."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from latent_explorer.models.unitrank import Cancelled


@dataclass(frozen=True)
class VideoRequest:
    a: tuple[float, ...]
    b: tuple[float, ...]
    steps: int
    kind: str
    digit: int | None
    ablations: tuple
    model: str
    path: Path
    fps: float = 6.0


def walk_request(state, path: Path) -> VideoRequest:
    """The walk the dock shows, as a video request (ValueError when there is none to film)."""
    walk = state.walk
    if state.model is None or not walk.ready:
        raise ValueError("There is no walk yet: set A and B first.")
    if walk.label_walk is not None:
        raise ValueError("A label walk moves no latent point: the layers video follows a walk from A to B.")
    return VideoRequest(tuple(walk.a), tuple(walk.b), int(walk.steps), walk.kind, state.digit_or_none(),
                        tuple(state.ablations), state.model.name, Path(path))


class LayersVideoJob(QThread):
    """Renders and writes one video; ``progress(done, total)`` per frame, then ``done(path)``,
    ``cancelled`` or ``failed(message)``."""

    progress = Signal(int, int)
    done = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, engine, atlas, request: VideoRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.atlas, self.request = engine, atlas, request
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:  # in the worker thread
        from latent_explorer.models.layersvideo import layer_walk, write_video

        r = self.request
        try:
            walk = layer_walk(self.engine, r.a, r.b, r.steps, r.kind, r.digit, r.ablations, self.atlas,
                              model=r.model, progress=lambda d, t: self.progress.emit(int(d), int(t)),
                              should_stop=self._stop.is_set)
            write_video(walk, r.path, fps=r.fps, overwrite=True)  # the user has agreed to replace it
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported in a dialog; the app keeps running
            self.failed.emit(f"{exc}")
        else:
            self.done.emit(r.path)
