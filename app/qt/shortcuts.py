"""Help > Keyboard shortcuts: a dialog listing every shortcut the window has, read from its
actions and QShortcuts each time it opens (so it cannot go stale when one is added)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMainWindow,
                               QMenu, QTableWidget, QTableWidgetItem, QVBoxLayout)


def _name(text: str) -> str:
    """A menu text as read: without the mnemonic's ``&`` and the trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".").strip()


def _menu_of(action: QAction) -> str:
    """The menu an action sits in (``View``), or "" when it is in none."""
    for widget in action.associatedObjects():
        if isinstance(widget, QMenu) and widget.title():
            return _name(widget.title())
    return ""


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(keys, what it does, menu) for every action and QShortcut of ``window`` that has a
    shortcut, sorted by menu, then keys."""
    rows = set()
    for action in window.findChildren(QAction):
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                         for s in action.shortcuts() if not s.isEmpty())
        if keys and action.text():
            rows.add((keys, _name(action.text()), _menu_of(action)))
    for shortcut in window.findChildren(QShortcut):
        keys = shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.add((keys, shortcut.whatsThis() or shortcut.objectName() or "(unnamed)", ""))
    return sorted(rows, key=lambda r: (r[2] or "~", r[0]))


class ShortcutsDialog(QDialog):
    """A table: keys, what they do, where the command lives."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Every keyboard shortcut of this window:"))
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Menu"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        rows = shortcut_rows(self.parent())
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.resize(max(420, self.table.horizontalHeader().length() + 40),
                    min(640, 90 + self.table.verticalHeader().length() + 30))

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    """Open (or bring back, refreshed) the window's shortcuts dialog; not modal."""
    dialog = window.findChild(ShortcutsDialog)
    if dialog is None:
        dialog = ShortcutsDialog(window)
    else:
        dialog.refresh()
    dialog.show()
    dialog.raise_()
    return dialog
