"""The window's exports of the walk and the view: the strip (PNG, SVG, PDF), the walk as a
GIF, the path as CSV and JSON (all through ``models.strip_export.export``, the same as
``latent-explorer export strip``), the layers along the walk as a GIF or MP4 (in the
background, ``app/qt/layersvideojob.py``; the same as ``latent-explorer export
layers-video``), the current image (28 x 28 and enlarged) and the maps.

Save dialogs start in the last folder any dialog used (``settings.start_folder``); an existing
file is replaced only after the user said so; a failed write is reported in a dialog that
names the file, and leaves nothing behind (every write is atomic).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMenu, QMessageBox, QProgressDialog, QPushButton

from latent_explorer.models.fileio import atomic_path

from .settings import remember_folder, start_folder
from .walkdock import WalkDock
from .widgets.stripview import to_pixmap

ENLARGED = 280  # pixels per side of the enlarged image
# kind -> (menu text, file suffixes offered, dialog filter)
WALK_KINDS = {
    "strip": ("Walk: strip as image…", ("png", "svg", "pdf"), "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)"),
    "gif": ("Walk: animated GIF…", ("gif",), "Animated GIF (*.gif)"),
    "csv": ("Walk: path as CSV…", ("csv",), "CSV (*.csv)"),
    "json": ("Walk: path as JSON…", ("json",), "JSON (*.json)"),
}


def save_pixmap(pixmap: QPixmap, path: Path) -> Path:
    """Write a pixmap as PNG atomically (OSError naming the file when it cannot)."""
    with atomic_path(path) as tmp:
        if not pixmap.save(str(tmp), "PNG"):
            raise OSError(f"{path}: could not write the PNG image")
    return path


class WalkExports(QObject):
    """The export actions of one window (menu entries and the dock's buttons)."""

    def __init__(self, window, dock: WalkDock) -> None:
        super().__init__(window)
        self.window, self.dock, self.state = window, dock, window.state
        self.actions: dict[str, QAction] = {}
        self.video_job = None  # the layers video being written
        self._video_jobs: list = []

    # ------------------------------------------------------------ dialogs
    def ask_path(self, title: str, name: str, suffixes: tuple[str, ...], filters: str) -> Path | None:
        """A save dialog in the last export folder; None when cancelled or refused.

        The suffix is added when missing.  The dialog's own overwrite question is turned off
        so the user is asked exactly once, by us, for the final name (which the dialog may
        not have seen when we add the suffix)."""
        settings = self.window.settings
        start = start_folder(settings)
        chosen, selected = QFileDialog.getSaveFileName(self.window, title, str(start / name), filters, "",
                                                       QFileDialog.Option.DontConfirmOverwrite)
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lstrip(".").lower() not in suffixes:
            wanted = next((s for s in suffixes if f"*.{s}" in (selected or "")), suffixes[0])
            path = path.with_name(path.name + f".{wanted}")
        remember_folder(settings, path.parent)
        if path.exists() and not self.confirm_overwrite(path):
            return None
        return path

    def confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(self.window, "Replace the file?",
                                      f"{path} already exists. Replace it?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _write(self, path: Path, write: Callable[[Path], object]) -> Path | None:
        try:
            write(path)
        except (OSError, ValueError) as exc:
            self.window.show_error(f"Cannot write {path.name}", f"{path} could not be written:\n{exc}")
            return None
        self.window.statusBar().showMessage(f"Wrote {path}", 5000)
        return path

    def _stem(self) -> str:
        return self.state.model.name if self.state.model else "latent-explorer"

    # ------------------------------------------------------------ exports
    def export_walk(self, kind: str) -> Path | None:
        """Ask for a file and write the walk in the chosen format."""
        try:
            strip = self.dock.panel.runner.current_strip()
        except ValueError as exc:
            self.window.show_error("Cannot compute the walk", str(exc))
            return None
        if strip is None:
            self.window.show_error("Nothing to export", "There is no walk yet: set A and B first.")
            return None
        text, suffixes, filters = WALK_KINDS[kind]
        name = f"{self._stem()}_walk.{suffixes[0]}"
        path = self.ask_path(text.rstrip("…"), name, suffixes, filters)
        if path is None:
            return None
        from latent_explorer.models.strip_export import export as export_strip  # matplotlib: only when exporting

        return self._write(path, lambda p: export_strip(strip, p, overwrite=True))

    def export_layers_video(self) -> Path | None:
        """Ask for a file (.gif, or .mp4 where imageio-ffmpeg is installed) and write the
        layers along the walk in the background."""
        from latent_explorer.models.layersvideo import mp4_available

        from .layersvideojob import walk_request

        try:
            walk_request(self.state, Path("check"))
        except ValueError as exc:
            self.window.show_error("Nothing to export", str(exc))
            return None
        mp4 = mp4_available()
        suffixes = ("gif", "mp4") if mp4 else ("gif",)
        filters = "Animated GIF (*.gif);;MP4 video (*.mp4)" if mp4 else "Animated GIF (*.gif)"
        path = self.ask_path("Layers along the walk", f"{self._stem()}_layers.gif", suffixes, filters)
        if path is None:
            return None
        return path if self.start_layers_video(path) is not None else None

    def start_layers_video(self, path: Path):
        """Render and write the layers video to ``path`` in a worker thread (an existing file
        is replaced: the caller has asked); a progress dialog can cancel it.  Returns the job."""
        from .layersvideojob import LayersVideoJob, walk_request
        from .unitjob import private_engine

        try:
            request = walk_request(self.state, Path(path))
        except ValueError as exc:
            self.window.show_error("Nothing to export", str(exc))
            return None
        if self.state.model.pending:
            self.window.show_error("Not ready", "The model is still loading; try again in a moment.")
            return None
        self.cancel_layers_video()
        job = LayersVideoJob(private_engine(self.state.model), self.state.atlas, request, parent=self)
        dialog = QProgressDialog(f"Writing {request.path.name}…", "Cancel", 0, request.steps, self.window)
        dialog.setWindowTitle("Layers video")
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)
        job.progress.connect(lambda d, _t: dialog.setValue(d))
        job.done.connect(lambda p: self.window.statusBar().showMessage(f"Wrote {p}", 5000))
        job.cancelled.connect(lambda: self.window.statusBar().showMessage("Layers video cancelled.", 5000))
        job.failed.connect(lambda msg, p=request.path: self.window.show_error(
            f"Cannot write {p.name}", f"{p} could not be written:\n{msg}"))
        job.finished.connect(lambda j=job, d=dialog: self._video_ended(j, d))
        self.video_job = job
        self._video_jobs.append(job)
        job.start(QThread.Priority.LowPriority)
        return job

    def _video_ended(self, job, dialog) -> None:
        dialog.close()
        dialog.deleteLater()
        if job is self.video_job:
            self.video_job = None
        if job in self._video_jobs:
            self._video_jobs.remove(job)
            job.deleteLater()

    def cancel_layers_video(self) -> None:
        if self.video_job is not None:
            self.video_job.cancel()

    def shutdown(self) -> None:
        """Cancel the layers video and wait for its thread (on window close)."""
        for job in list(self._video_jobs):
            job.cancel()
            job.wait()

    def export_image(self, enlarged: bool) -> Path | None:
        """The current generated image, 28 x 28 or enlarged without smoothing."""
        st = self.state
        if self.window.renderer.pending:  # the frame for the point named in the file, not the one before
            self.window.renderer.render_now()
        if st.frame is None:
            return None
        size = ENLARGED if enlarged else 28
        name = f"{self._stem()}_" + "_".join(f"{v:+.2f}" for v in st.point) + f"_{size}px.png"
        path = self.ask_path("Export the image", name, ("png",), "PNG image (*.png)")
        if path is None:
            return None
        image = np.asarray(st.frame.image, np.float32)
        return self._write(path, lambda p: save_pixmap(to_pixmap(image, size), p))

    def export_maps(self) -> Path | None:
        """The map area as shown (map, slices, overview, cube) as a PNG."""
        area = self.window.map_area
        if area is None or self.state.model is None:
            return None
        path = self.ask_path("Export the maps", f"{self._stem()}_maps.png", ("png",), "PNG image (*.png)")
        if path is None:
            return None
        return self._write(path, lambda p: save_pixmap(area.grab(), p))

    # ------------------------------------------------------------ wiring
    def add_to_menu(self, menu: QMenu) -> None:
        sub = menu.addMenu("Export &walk and views")
        for kind, (text, _s, _f) in WALK_KINDS.items():
            self.actions[kind] = self._action(sub, text, lambda k=kind: self.export_walk(k))
        self.actions["layers_video"] = self._action(sub, "Walk: layers video (GIF, MP4)…", self.export_layers_video)
        sub.addSeparator()
        self.actions["image"] = self._action(sub, "Image, 28 × 28 PNG…", lambda: self.export_image(False))
        self.actions["image_large"] = self._action(sub, f"Image, {ENLARGED} × {ENLARGED} PNG…",
                                                   lambda: self.export_image(True))
        self.actions["maps"] = self._action(sub, "Maps and slices as PNG…", self.export_maps)

    def _action(self, menu: QMenu, text: str, slot: Callable) -> QAction:
        act = QAction(text, self.window)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def add_buttons(self) -> None:
        """Export buttons under the dock's controls."""
        row = QHBoxLayout()
        row.addWidget(self._button("Strip…", "walk_export_strip", lambda: self.export_walk("strip")))
        row.addWidget(self._button("GIF…", "walk_export_gif", lambda: self.export_walk("gif")))
        row.addWidget(self._button("CSV…", "walk_export_csv", lambda: self.export_walk("csv")))
        row.addWidget(self._button("JSON…", "walk_export_json", lambda: self.export_walk("json")))
        layers = self._button("Layers video…", "walk_export_layers", self.export_layers_video)
        layers.setToolTip("Every layer's heatmap beside the image and the map, frame by frame along the walk")
        row.addWidget(layers)
        self.dock.panel.controls.insertLayout(self.dock.panel.controls.count() - 1, row)

    def add_view_toggle(self) -> QAction:
        """"Walk from A to B" (Ctrl+J) in the View menu (made before Help if missing)."""
        bar = self.window.menuBar()
        menus = [a for a in bar.actions() if a.menu() is not None]
        view = next((a.menu() for a in menus if a.text().replace("&", "") == "View"), None)
        if view is None:
            view = QMenu("&View", self.window)
            help_action = next((a for a in menus if a.text().replace("&", "") == "Help"), None)
            bar.insertMenu(help_action, view) if help_action else bar.addMenu(view)
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Walk from A to B (strip, regions crossed)")
        toggle.setShortcut(QKeySequence("Ctrl+J"))
        view.addAction(toggle)
        return toggle

    @staticmethod
    def _button(text: str, name: str, slot: Callable) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip("Export the walk")
        b.clicked.connect(lambda _checked=False: slot())
        return b


def install(window, file_menu: QMenu) -> WalkExports:
    """Add the walk dock (bottom) and its exports (File menu, dock buttons) to a window."""
    dock = WalkDock(window.state, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    exports = WalkExports(window, dock)
    exports.add_to_menu(file_menu)
    exports.add_buttons()
    return exports
