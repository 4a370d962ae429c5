"""The atlas build's progress in the status bar, with Cancel (and Build to start again)."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from latent_explorer.models.atlas import rebuild_command

from ..jobs import AtlasService, atlas_size
from ..state import ExplorerState
from .base import Panel


class AtlasStatusPanel(Panel):
    """Shows what the :class:`AtlasService` is doing; its buttons start or cancel builds."""

    def __init__(self, state: ExplorerState, service: AtlasService, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.service = service
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setObjectName("atlas_status")
        self.bar = QProgressBar()
        self.bar.setObjectName("atlas_progress")
        self.bar.setFixedWidth(180)
        self.bar.setRange(0, 1000)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("atlas_cancel")
        self.cancel.setToolTip("Stop building the atlas (the sliders and image keep working)")
        self.build = QPushButton("Build atlas")
        self.build.setObjectName("atlas_build")
        self.build.setToolTip("Label a grid over the latent box with the classifier, for the maps")
        self.rebuild = QPushButton("Rebuild atlas")
        self.rebuild.setObjectName("atlas_rebuild")
        for w in (self.label, self.bar, self.cancel, self.build, self.rebuild):
            lay.addWidget(w)
        self.cancel.clicked.connect(service.cancel)
        self.build.clicked.connect(service.build)
        self.rebuild.clicked.connect(service.rebuild)
        self.bind(service.started, self._started)
        self.bind(service.progress, self._progress)
        self.bind(service.finished, self._finished)
        self.bind(state.modelChanged, self._reset)
        self.bind(state.atlasChanged, self._refresh)
        self._refresh()

    def _reset(self) -> None:
        if not self.service.busy:  # a build may already have started for the new model
            self.label.setText("")
        self._refresh()

    def _started(self, text: str) -> None:
        self.label.setText(text + "…")
        self.bar.setRange(0, 0)  # busy indicator until the first progress report
        self._refresh()

    def _progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * min(1.0, done / max(1, total))))

    def _finished(self, text: str) -> None:
        self.label.setText(text)
        self._refresh()

    def _refresh(self) -> None:
        busy = self.service.busy
        self.bar.setVisible(busy)
        self.cancel.setVisible(busy)
        missing = self.state.model is not None and self.state.atlas is None
        outdated = getattr(self.state.model, "outdated_atlas", None)
        rebuilding = busy and self.service.job is not None and outdated is not None and self.service.job.out == outdated
        self.rebuild.setVisible(outdated is not None and not rebuilding)
        if outdated is not None:
            self.rebuild.setToolTip(f"{outdated.name} was made before the classifier could say 'not a digit'; "
                                    f"rebuild it in place with its own grid (the same as "
                                    f"'{rebuild_command(outdated)}')")
        self.build.setVisible(missing and not busy and outdated is None)
        if not busy and self.state.atlas is not None and not self.label.text():
            a = self.state.atlas
            self.label.setText(f"Atlas: {atlas_size(a)} cells ({a.method})"
                               + (f", {a.path.name}" if a.path else ""))
            self.label.setToolTip(method_help(a.method))
        if missing and not busy and not self.label.text():
            self.label.setText(f"{outdated.name} is from an older version (no 'not a digit'): rebuild it."
                               if outdated is not None else "No atlas for this model: the maps are empty.")
        if self.state.model is None:
            self.label.setText("")
        if self.state.atlas is None:
            self.label.setToolTip("")


def method_help(method: str) -> str:
    """The tooltip for an atlas's method (``adaptive(stride=4)``, ``full``): what it means."""
    from latent_explorer.models.glossary import explain

    try:
        return explain(method)
    except KeyError:
        return ""
