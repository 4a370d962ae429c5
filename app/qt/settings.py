"""Where the app keeps its settings (window geometry, splitters, last model).

``LATENT_EXPLORER_SETTINGS`` names an INI file to use instead of the user's settings,
so tests and screenshots never touch them.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ENV = "LATENT_EXPLORER_SETTINGS"


def make_settings() -> QSettings:
    """The settings store: the INI file named by $LATENT_EXPLORER_SETTINGS, else the user's."""
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "latent-explorer", "latent-explorer")
