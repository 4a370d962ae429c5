"""The last line of defence: an exception nobody caught reaches the user as a dialog.

Expected failures (a bad file, an unwritable folder) are handled where they happen with a
specific message.  Anything else that escapes a slot, a timer or a worker thread would
otherwise only print a traceback on a terminal the user may not have; this hook shows it
in a dialog (details hold the traceback), writes it to stderr as well, and the app keeps
running.  Exceptions from worker threads are handed to the UI thread through a queued
signal, so the dialog is always opened there.
"""
from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget


class ErrorReporter(QObject):
    """Receives uncaught exceptions from any thread and shows them in the UI thread."""

    report = Signal(str, str)  # summary, traceback text

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = parent
        self.shown: list[tuple[str, str]] = []  # (summary, details), for tests and the soak
        self._open = False
        self._previous_hooks = (sys.excepthook, threading.excepthook)
        self.report.connect(self._on_report)

    # ------------------------------------------------------------ hooks
    def install(self) -> "ErrorReporter":
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hooks[0]
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_hooks[1]

    def _excepthook(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous_hooks[0](kind, value, tb)
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(details)
        self.report.emit(f"{kind.__name__}: {value}", details)  # queued when raised in another thread

    def _thread_hook(self, args) -> None:  # threading.ExceptHookArgs
        self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    # ------------------------------------------------------------ showing
    def _on_report(self, summary: str, details: str) -> None:
        self.shown.append((summary, details))
        status = getattr(self.window, "statusBar", None)
        if status is not None:
            status().showMessage(f"Unexpected error: {summary}", 10000)
        if self._open:  # one dialog at a time; later errors go to the status bar and stderr
            return
        self._open = True
        try:
            self._dialog("Unexpected error", f"Something went wrong: {summary}\n\nThe app keeps running; what you "
                                           "had open is unchanged. Details below (also written to stderr).",
                       details)
        finally:
            self._open = False

    def _dialog(self, title: str, text: str, details: str) -> None:
        show_error = getattr(self.window, "show_error", None)
        if show_error is not None:  # the window's error box (tests and the screenshot tool replace it)
            where = "".join(details.strip().splitlines(keepends=True)[-4:])
            show_error(title, f"{text}\n\n{where}")
            return
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setDetailedText(details)
        box.exec()


def install(window) -> ErrorReporter:
    """Route uncaught exceptions to dialogs on ``window`` (a MainWindow)."""
    reporter = ErrorReporter(window).install()
    window.error_reporter = reporter
    return reporter
