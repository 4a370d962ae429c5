"""Uncaught exceptions in the GUI reach the user as a dialog (and stderr), from the UI
thread and from worker threads, and the window keeps working."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QMessageBox

from latent_explorer.app.qt.errors import install

pytest_plugins = ("gui_fixtures",)


@pytest.fixture
def reporter(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    rep = install(window)
    yield rep, shown
    rep.uninstall()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_becomes_a_dialog(qtbot, window, reporter, capsys):
    rep, shown = reporter

    def broken() -> None:
        raise RuntimeError("the slot broke")

    QTimer.singleShot(0, broken)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=3000)
    title, text = shown[0]
    assert title == "Unexpected error" and "RuntimeError: the slot broke" in text and "broken" in text
    assert "the slot broke" in capsys.readouterr().err  # also on stderr
    assert "the slot broke" in window.statusBar().currentMessage()
    # the window still works
    window.state.set_point((0.25, -0.5))
    qtbot.waitUntil(lambda: window.state.frame is not None and np.allclose(window.state.frame.point, (0.25, -0.5)),
                    timeout=3000)


@pytest.mark.qt_no_exception_capture
def test_exception_in_worker_threads_reaches_the_ui_thread(qtbot, window, reporter):
    rep, shown = reporter
    seen_in = []
    rep.report.connect(lambda *_: seen_in.append(threading.current_thread() is threading.main_thread()))

    class Broken(QThread):
        def run(self) -> None:
            raise ValueError("the worker broke")

    worker = Broken()
    worker.start()
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    worker.wait()
    t = threading.Thread(target=lambda: 1 / 0)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
    assert "ValueError: the worker broke" in shown[0][1] and "ZeroDivisionError" in shown[1][1]
    assert seen_in == [True, True]  # dialogs are opened in the UI thread


def test_uninstall_restores_the_previous_hooks(window):
    import sys

    before = (sys.excepthook, threading.excepthook)
    rep = install(window)
    assert sys.excepthook != before[0]
    rep.uninstall()
    assert (sys.excepthook, threading.excepthook) == before



def test_missing_or_damaged_classifier_is_explained(qtbot, app_env, models_dir, tmp_path, monkeypatch):
    from latent_explorer.app.qt.panels.empty import EmptyPanel
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    bad = tmp_path / "classifier.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    for path in (tmp_path / "absent.pt", bad):
        w = MainWindow(models_dir, path, make_settings())
        qtbot.addWidget(w)
        w.open_initial(None)
        text = w.map_area.panel(EmptyPanel).text.text()
        assert "The digit classifier is missing" in text and str(path) in text
        assert w.state.model is None
        # opening a model says why it cannot be explored, in a dialog
        assert not w.open_path(models_dir / "gan2d.pt")
        assert "without the classifier" in shown[-1][1] and str(path) in shown[-1][1]
        w.atlases.shutdown()
        w.close()
