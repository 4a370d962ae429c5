"""Start the desktop app: ``latent-explorer`` (or ``latent-explorer gui MODEL``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication

from .settings import make_settings

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = ROOT / "checkpoints"


def make_app() -> QApplication:
    """The QApplication (created once; GL contexts shared for the 3-D view)."""
    app = QApplication.instance()
    if app is None:
        from latent_explorer.models.memory import tune_allocator

        from .platformcheck import check

        tune_allocator()  # before Qt and our workers start threads: RSS that follows the live heap

        check()  # Linux/X11: name the missing system packages instead of Qt's abort
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(sys.argv[:1])
    app.setApplicationName("latent-explorer")
    app.setOrganizationName("latent-explorer")
    return app


def run_gui(model: str | None = None, models_dir: str | os.PathLike | None = None,
            classifier: str | os.PathLike | None = None) -> int:
    """Open the window on ``model`` (a shipped name or a path) and run until it closes."""
    from .window import MainWindow

    app = make_app()
    folder = Path(models_dir) if models_dir else CHECKPOINTS
    window = MainWindow(folder, Path(classifier) if classifier else folder / "classifier.pt", make_settings())
    from .errors import install as install_error_reporter

    reporter = install_error_reporter(window)  # uncaught exceptions -> a dialog, not only stderr
    window.open_initial(model)
    window.show()
    code = app.exec()
    reporter.uninstall()
    # Tear the window down while Qt and pyqtgraph still exist, so the process exits cleanly.
    window.atlases.shutdown()
    window.deleteLater()
    app.processEvents()
    del window
    return int(code)
