"""FlowLayout: widgets left to right, wrapping onto a new line when the row is full
(Qt's flow layout example), so a row of chips never runs past its parent's edge."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items keep their size hints; a line that is full wraps.  ``addSpacing`` leaves room
    before the next item on the same line."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 2, line_spacing: int = 2) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._gaps: list[int] = []  # extra room before each item
        self._pending_gap = 0
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)
        self.line_spacing = line_spacing

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt naming)
        self._items.append(item)
        self._gaps.append(self._pending_gap)
        self._pending_gap = 0

    def addSpacing(self, size: int) -> None:  # noqa: N802
        self._pending_gap += int(size)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        if 0 <= index < len(self._items):
            self._gaps.pop(index)
            return self._items.pop(index)
        return None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        """No: a scroll area would then size its whole page by preferred heights.  The
        owner sets its height from ``height_for`` when it is resized instead."""
        return False

    def height_for(self, width: int) -> int:
        """The height the items take at this width."""
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)
        owner = self.parentWidget()
        if owner is not None and rect.width() > 0:
            h = self.height_for(rect.width())
            if owner.minimumHeight() != h:
                owner.setMinimumHeight(h)  # a wrapped line pushes what lies below down

    def sizeHint(self) -> QSize:  # noqa: N802
        """One line holding every item."""
        w = sum(i.sizeHint().width() + g for i, g in zip(self._items, self._gaps))
        w += self.spacing() * max(0, len(self._items) - 1)
        h = max((i.sizeHint().height() for i in self._items), default=0)
        m = self.contentsMargins()
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802
        """The widest item: everything else wraps."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _arrange(self, rect: QRect, move: bool) -> int:
        """Place the items in ``rect`` (or only measure), each centred on its line's
        height; returns the height they take."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        lines: list[list[tuple[QLayoutItem, int]]] = [[]]
        x = area.x()
        for item, gap in zip(self._items, self._gaps):
            if item.isEmpty():
                continue
            w = item.sizeHint().width()
            step = gap if lines[-1] else 0
            if lines[-1] and x + step + w > area.right() + 1:
                lines.append([])
                x, step = area.x(), 0
            lines[-1].append((item, x + step))
            x += step + w + self.spacing()
        y = area.y()
        for k, line in enumerate(lines):
            line_h = max((item.sizeHint().height() for item, _ in line), default=0)
            if move:
                for item, left in line:
                    hint = item.sizeHint()
                    item.setGeometry(QRect(QPoint(left, y + (line_h - hint.height()) // 2), hint))
            y += line_h + (self.line_spacing if k < len(lines) - 1 else 0)
        return y - rect.y() + m.bottom()
