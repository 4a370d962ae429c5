"""Panel: a widget bound to the state, which it can cleanly let go of."""
from __future__ import annotations

import warnings
from typing import Callable

from PySide6.QtWidgets import QWidget

from ..state import ExplorerState


class Panel(QWidget):
    """Remembers its signal connections so a window can detach it before deleting it."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._links: list[tuple[object, Callable]] = []

    def bind(self, signal, slot: Callable) -> None:
        signal.connect(slot)
        self._links.append((signal, slot))

    def drawing_now(self) -> bool:
        """True while the panel is shown; a hidden panel does no work, marks itself stale
        and redraws (``self.redraw()``) when it is shown again."""
        if self.isVisible():
            return True
        self._hidden_stale = True
        return False

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if getattr(self, "_hidden_stale", False):
            self._hidden_stale = False
            self.redraw()

    def detach(self) -> None:
        """Disconnect from the state (called before the panel is removed)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for signal, slot in self._links:
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self._links.clear()


class LazyPanel(Panel):
    """A panel that redraws only while visible: a new frame while hidden just marks it
    stale, and it catches up when shown.  Subclasses implement ``redraw``."""

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self._stale = True

    def frame_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.redraw()

    def showEvent(self, event) -> None:  # noqa: N802
        QWidget.showEvent(self, event)
        if self._stale:
            self.redraw()

    def redraw(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
