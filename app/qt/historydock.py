"""The training-history dock: shows the loaded model's history, or a run being followed,
and keeps up with a history file that a trainer is still writing.

Live mode polls the file's modification time and size (every 2 s, while the dock is
visible); when they change, a worker thread reloads it, so the UI never waits on the
file.  The trainer replaces the file atomically, so a reader sees a whole file; a load
that fails anyway is retried quietly a few times before it is reported.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QMessageBox

from latent_explorer.training.history import History, HistoryError
from latent_explorer.training.history_frames import history_file_for, write_gif

from .panels.history import HistoryView
from .settings import remember_folder, start_folder

POLL_MS = 2000
QUIET_RETRIES = 3  # failed loads of one file version before the error is shown
Stamp = tuple[int, int]  # (mtime_ns, size)


def file_stamp(path: Path) -> Stamp | None:
    """(mtime_ns, size) of ``path``, or None when it does not exist (or cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class HistoryLoad(QThread):
    """Reads one history file in a worker thread."""

    loaded = Signal(object, object)  # History, the stamp it was read at
    failed = Signal(str, object)     # message, stamp

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path

    def run(self) -> None:  # in the worker thread
        stamp = file_stamp(self.path)
        try:
            history = History.load(self.path)
        except HistoryError as exc:
            self.failed.emit(str(exc), stamp)
        except Exception as exc:  # reported in the dock; the app keeps running
            self.failed.emit(f"{self.path}: {type(exc).__name__}: {exc}", stamp)
        else:
            self.loaded.emit(history, stamp)


class HistoryDock(QDockWidget):
    """Dock with a :class:`HistoryView` that follows one history file."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Training history", window)
        self.setObjectName("history_dock")
        self.window_ = window
        self.settings = window.settings
        self.view = HistoryView()
        self.view.exportRequested.connect(self.export_dialog)
        self.setWidget(self.view)
        self.path: Path | None = None
        self.digest: str | None = None   # the generator the next load must belong to
        self.run_key: tuple | None = None  # name and config of the run being followed
        self.stamp: Stamp | None = None  # the file version shown (or refused)
        self.failures = 0
        self.missing = ""
        self.loader: HistoryLoad | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.visibilityChanged.connect(lambda visible: visible and self.poll())
        window.state.modelChanged.connect(self.follow_model)

    # ------------------------------------------------------------ what to follow
    def follow_model(self) -> None:
        """Show the loaded model's own ``<stem>.history.h5`` (it must be that generator's)."""
        model = self.window_.state.model
        if model is None or model.path is None:
            self._watch(None, None, "<p>Open a generator to see how its training went.</p>")
            return
        path = model.path.with_name(model.path.stem + ".history.h5")
        missing = (f"<p><b>No training history for {model.name}.</b></p><p>The trainer writes one beside "
                   f"the checkpoint, as <code>{path.name}</code>; this model came without it. Use "
                   f"<b>File &gt; Follow training run…</b> to watch a run in progress.</p>")
        self._watch(path, model.digest, missing)

    def follow(self, path: str | os.PathLike) -> None:
        """Follow a run picked by the user: a history file, a checkpoint or a run folder."""
        try:
            target = history_file_for(path)
        except HistoryError as exc:
            self.view.show_message(f"<p><b>Cannot follow this run.</b></p><p>{exc}</p>")
            return
        self._watch(target, None, f"<p>Waiting for <code>{target}</code>: the run has not written its "
                                  f"history yet.</p>")
        self.show()
        self.raise_()

    def _watch(self, path: Path | None, digest: str | None, missing: str) -> None:
        self.path, self.digest, self.run_key = path, digest, None
        self.stamp, self.failures, self.missing = None, 0, missing
        self.view.show_message(missing, str(path or ""))
        self.poll()

    # ------------------------------------------------------------ live mode
    def poll(self) -> None:
        """Reload when the file changed (only while the dock is shown and no load runs)."""
        if self.path is None or self.loader is not None or not self.isVisible():
            return
        stamp = file_stamp(self.path)
        if stamp is None:
            if self.view.history is None:
                self.view.show_message(self.missing, str(self.path))
            return  # a followed file that vanished for a moment: keep what is shown
        if stamp == self.stamp:
            return
        self.loader = HistoryLoad(self.path, self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.finished.connect(self._load_finished)
        self.loader.start()

    def _load_finished(self) -> None:
        loader, self.loader = self.loader, None
        if loader is not None:
            loader.deleteLater()
            if loader.path != self.path:
                self.poll()  # the dock moved on to another file while this one loaded

    def _loaded(self, history: History, stamp: Stamp | None) -> None:
        if self.loader is None or self.loader.path != self.path:
            return  # the dock moved on to another file meanwhile
        self.stamp, self.failures = stamp, 0
        key = (history.name, repr(sorted(history.config.items())))
        try:
            history.check_belongs(self.digest, None, self.path)
            if self.run_key is not None and key != self.run_key:
                raise HistoryError(f"{self.path}: now holds another run ({history.name}) than the one followed")
        except HistoryError as exc:
            self.view.show_message(f"<p><b>This history was refused.</b></p><p>{exc}</p>", str(self.path))
            return
        # accepted: from now on the trainer's later epochs (each with a new generator) are followed
        self.digest, self.run_key = None, key
        self.view.set_history(history, f"{self.path}  ·  {history.epochs} epochs")

    def _failed(self, message: str, stamp: Stamp | None) -> None:
        if self.loader is None or self.loader.path != self.path:
            return
        self.failures += 1
        if self.failures < QUIET_RETRIES:
            return  # e.g. the trainer replaced the file while it was read: try again next poll
        self.stamp, self.failures = stamp, 0  # wait for the file to change before trying again
        if self.view.history is None:
            self.view.show_message(f"<p><b>Cannot read this history.</b></p><p>{message}</p>", str(self.path))
        else:
            self.view.source.setText(f"{self.path}  ·  {self.view.history.epochs} epochs  ·  "
                                     f"last reload failed: {message}")

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.window_ and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def shutdown(self) -> None:
        self.timer.stop()
        if self.loader is not None:
            self.loader.wait(5000)

    # ------------------------------------------------------------ GIF export
    def export_gif(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the shown history as an animated GIF (plane as chosen in the view)."""
        h = self.view.history
        if h is None:
            raise ValueError("no training history is shown")
        return write_gif(h, path, plane=max(0, self.view.plane.currentIndex()), overwrite=overwrite)

    def export_dialog(self) -> None:
        h = self.view.history
        if h is None:
            return
        start = start_folder(self.settings)
        path, _ = QFileDialog.getSaveFileName(self, "Export the training animation",
                                              str(start / f"{h.name}-training.gif"), "GIF animations (*.gif)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return
        path = Path(path)
        if path.suffix.lower() != ".gif":
            path = path.with_name(path.name + ".gif")
        remember_folder(self.settings, path.parent)
        overwrite = False
        if path.exists():
            answer = QMessageBox.question(self, "Replace the file?", f"{path} already exists. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        try:
            self.export_gif(path, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            QMessageBox.critical(self, "Cannot export the animation", str(exc))
            return
        self.window_.statusBar().showMessage(f"Animation written to {path} ({h.epochs} frames)", 8000)

    def follow_dialog(self, folder: bool = False) -> None:
        start = str(start_folder(self.settings))
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Follow a training run folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Follow a training run", start,
                                                  "Training histories (*.history.h5);;Checkpoints (*.pt);;"
                                                  "All files (*)")
        if path:
            remember_folder(self.settings, Path(path) if folder else Path(path).parent)
            self.follow(path)


def _menu(window: QMainWindow, title: str) -> QMenu:
    """The window's menu called ``title`` (made before Help when there is none yet)."""
    bar = window.menuBar()
    for act in bar.actions():
        if act.menu() is not None and act.text().replace("&", "") == title.replace("&", ""):
            return act.menu()
    menu = QMenu(title, window)
    help_ = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    bar.insertMenu(help_, menu) if help_ is not None else bar.addMenu(menu)
    return menu


def install(window: QMainWindow) -> HistoryDock:
    """Add the history dock (hidden at first) and its menu entries to the main window."""
    dock = HistoryDock(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    file_menu = _menu(window, "&File")
    quit_ = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"), None)
    for text, slot in (("Follow training &run…", dock.follow_dialog),
                       ("Follow training run &folder…", lambda: dock.follow_dialog(folder=True))):
        act = QAction(text, window)
        act.triggered.connect(lambda _checked=False, s=slot: s())
        file_menu.insertAction(quit_, act) if quit_ is not None else file_menu.addAction(act)
    if quit_ is not None:
        file_menu.insertSeparator(quit_)
    toggle = dock.toggleViewAction()
    toggle.setText("Training &history")
    toggle.setShortcut(QKeySequence("Ctrl+H"))
    _menu(window, "&View").addAction(toggle)
    window.installEventFilter(dock)  # the loader thread ends before the window closes
    window.history_dock = dock
    dock.follow_model()
    return dock
