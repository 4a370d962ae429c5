"""Defects of the window met by a newcomer (issue 30), each on the real window: a dock
shortcut that raises a dock tabbed behind another, the overview and the slices agreeing
on the current slice, views cleared when they go stale, exports that say what they mean,
and the terms, shortcuts and keys that explain themselves."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

pytest_plugins = ("gui_fixtures",)


def _settle(qtbot, n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()
        qtbot.wait(20)


def on_top(dock) -> bool:
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def test_ctrl_j_raises_the_walk_dock_tabbed_behind_compare_and_hides_it_only_on_top(qtbot, window):
    walk, compare = window.walk.dock, window.compare_dock
    if not walk.isVisible():
        walk.toggleViewAction().trigger()
    qtbot.keySequence(window, QKeySequence("Ctrl+K"))
    qtbot.waitUntil(lambda: on_top(compare), timeout=3000)
    if walk not in window.tabifiedDockWidgets(compare):
        window.tabifyDockWidget(walk, compare)
        compare.raise_()
    qtbot.waitUntil(lambda: not on_top(walk), timeout=3000)
    assert not walk.isHidden()  # behind the tab, not closed
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))
    qtbot.waitUntil(lambda: on_top(walk), timeout=3000)  # raised, not hidden
    assert walk.toggleViewAction().isChecked() and not walk.isHidden()
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))  # now on top: the shortcut hides it
    qtbot.waitUntil(lambda: walk.isHidden(), timeout=3000)
    assert not walk.toggleViewAction().isChecked()
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))  # and shows it again
    qtbot.waitUntil(lambda: on_top(walk), timeout=3000)
