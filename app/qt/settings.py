"""Where the app keeps its settings (window geometry, splitters, last model, the last
folder a file dialog used: ``start_folder`` / ``remember_folder``, used by every dialog).

``LATENT_EXPLORER_SETTINGS`` names an INI file to use instead of the user's settings,
so tests and screenshots never touch them.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ENV = "LATENT_EXPLORER_SETTINGS"
FOLDER_KEY = "dialogs/folder"  # the folder of the last file chosen in any of the window's dialogs


def make_settings() -> QSettings:
    """The settings store: the INI file named by $LATENT_EXPLORER_SETTINGS, else the user's."""
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "latent-explorer", "latent-explorer")


def start_folder(settings: QSettings, fallback: Path | None = None) -> Path:
    """Where a file dialog starts: the folder last used by any dialog of the window (kept
    in ``settings``), else ``fallback`` when it is a folder, else the home folder."""
    folder = settings.value(FOLDER_KEY, "", type=str)
    if folder and Path(folder).is_dir():
        return Path(folder)
    return Path(fallback) if fallback is not None and Path(fallback).is_dir() else Path.home()


def remember_folder(settings: QSettings, chosen: str | os.PathLike) -> None:
    """Keep the folder of a file (or the folder itself) a dialog returned, for the next one."""
    path = Path(chosen)
    settings.setValue(FOLDER_KEY, str(path if path.is_dir() else path.parent))
