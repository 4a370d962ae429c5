"""The classifier, and the first model opened before torch is loaded.

Importing torch is half of the app's start on a 2-core machine.  When the window starts
in a process without torch, the loader reads the classifier and the first model with
``models/previewengine.py`` (numpy), so the first frame is shown without torch.  Once the
frames pause (a drag goes on in numpy frames: torch's import would hold the GIL for up to
0.2 s at a time), a background thread imports torch and loads the model for real
(``LoadedModel.complete``: every check of ``load_checkpoint``, the torch engine), and
``state.engineReady`` tells the views that wait for it (the walk's strip, an atlas build).
Anything that asks for the torch model earlier gets it at once (it waits for the thread).
The classifier itself is loaded with torch the first time it is asked for.
"""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from latent_explorer.models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from latent_explorer.models.registry import LoadedModel

from .state import ExplorerState

LOAD_TIMEOUT_S = 120.0
# torch's import holds the GIL for up to 0.2 s at a time, so it starts once the frames pause:
# this long after the last frame (the first frame is painted; a drag goes on in numpy frames)
START_DELAY_MS = 250


class ModelLoader(QObject):
    """Owns the classifier; opens previews and completes them in the background."""

    failed = Signal(str, str)        # title, message: a preview that could not be loaded with torch
    _finished = Signal(object, object)  # model, error: from the loader thread, queued

    def __init__(self, state: ExplorerState, classifier_path: Path, preview: bool) -> None:
        super().__init__(state)
        self.state = state
        self.classifier_path = Path(classifier_path)
        self.classifier_error = ""
        self._classifier: Checkpoint | None = None
        self._classifier_done = False
        self._lock = threading.Lock()
        self._read = None  # read_classifier's answer, for previews
        self._thread: threading.Thread | None = None
        self._closed = False
        self._finished.connect(self._ended)
        self._start = QTimer(self)
        self._start.setSingleShot(True)
        self._start.setInterval(START_DELAY_MS)
        self._start.timeout.connect(self._start_loading)
        state.frameChanged.connect(self._frame_shown)
        if preview:
            from latent_explorer.models.previewengine import PreviewUnavailable, read_classifier

            try:
                self._read = read_classifier(self.classifier_path)
            except CheckpointError as exc:  # missing or damaged: what load_checkpoint says too
                self._classifier_done, self.classifier_error = True, str(exc)
            except PreviewUnavailable:
                self.classifier  # noqa: B018 -- loaded with torch now, as without previews
        else:
            self.classifier  # noqa: B018

    @property
    def classifier(self) -> Checkpoint | None:
        """The digit classifier (loaded with torch at the first call), or None when it is
        missing or damaged (``classifier_error`` says why)."""
        with self._lock:  # the loader thread asks for it too
            if not self._classifier_done:
                try:
                    self._classifier = load_checkpoint(self.classifier_path, expect="classifier")
                except CheckpointError as exc:
                    self._classifier, self.classifier_error = None, str(exc)
                self._classifier_done = True
        return self._classifier

    def _torch_classifier(self) -> Checkpoint:
        classifier = self.classifier
        if classifier is None:  # as MainWindow.open_path says it
            raise CheckpointError(f"cannot explore models without the classifier: {self.classifier_error}")
        return classifier

    @property
    def classifier_missing(self) -> bool:
        """The classifier is known to be unusable (without loading it)."""
        return self._classifier_done and self._classifier is None

    def open_preview(self, path: Path) -> LoadedModel | None:
        """The model at ``path`` for a first frame without torch, or None where that is not
        possible (no preview of the classifier, or a file the preview does not read: the
        caller then opens it the usual way, which names any problem)."""
        if self._read is None:
            return None
        from latent_explorer.models.atlas import AtlasError
        from latent_explorer.models.previewengine import PreviewUnavailable, open_preview

        try:
            model = open_preview(path, self._read, self._torch_classifier)
        except (PreviewUnavailable, CheckpointError, AtlasError, OSError, ValueError, KeyError, TypeError):
            return None
        # loaded in the background or by anything that asked for it first: engineReady either way
        model.preview.on_loaded.append(lambda: self._report(model, None))
        return model

    @property
    def loading(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _frame_shown(self) -> None:
        model = self.state.model
        if model is not None and model.pending and self.state.frame is not None and not self.loading:
            self._start.start()  # (again: every frame puts the start off)

    def _start_loading(self) -> None:
        model = self.state.model
        if model is not None and model.pending and not self.loading and not self._closed:
            self._thread = threading.Thread(target=self._load, args=(model,), name="model-loader", daemon=True)
            self._thread.start()

    def _load(self, model: LoadedModel) -> None:  # in the loader thread
        try:
            model.complete()  # success reports through preview.on_loaded
        except Exception as exc:  # noqa: BLE001 -- handed to the UI thread, which reports it
            self._report(model, exc)

    def _report(self, model: LoadedModel, error) -> None:
        try:
            self._finished.emit(model, error)  # queued to the UI thread from the loader thread
        except RuntimeError:  # the window was closed meanwhile
            pass

    def _ended(self, model: LoadedModel, error) -> None:
        if self._closed or model is not self.state.model:
            return
        if error is not None:
            name = model.path.name if model.path else "the model"
            self.state.set_model(None)
            self.failed.emit(f"Cannot open {name}", str(error) if isinstance(error, CheckpointError)
                             else f"{type(error).__name__}: {error}")
            return
        self.state.engineReady.emit()

    def wait(self, timeout: float = LOAD_TIMEOUT_S) -> bool:
        """Block until the current preview is loaded with torch (its signal may still be
        queued); a load not started yet starts now."""
        self._start.stop()
        self._start_loading()  # (only where the model is a preview not yet loading)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def shutdown(self) -> None:
        """On close: start no load, let one under way end (torch must not be half imported
        when the interpreter exits), and start nothing when it reports."""
        self._closed = True
        self._start.stop()
        if self._thread is not None:
            self._thread.join(LOAD_TIMEOUT_S)
