"""LiveText: a text that changes on every move of the point (its coordinates, the
classifier's certainty), drawn by the widget itself.

A QLabel's ``setText`` asks its layout again each time, and the left column is then laid
out anew: about 2 ms of every slider move for three labels.  LiveText repaints only
itself and asks for a new layout only when the new text needs a different height (or,
unwrapped, more width).  Rich text (``<b>``) and word wrap as in a QLabel; a right click
copies the plain text."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import Qt as GuiQt  # Qt.mightBeRichText lives in QtGui's Qt namespace
from PySide6.QtGui import QAbstractTextDocumentLayout, QAction, QGuiApplication, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_WIDTH_PX = 40  # a wrapped text gives up width down to this (it grows taller instead)


class LiveText(QWidget):
    """Rich text, optionally word-wrapped, that is cheap to change."""

    def __init__(self, text: str = "", wrap: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wrap = wrap
        self._text = ""
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        self._laid_at: float | None = None  # the width the text is laid out at
        self._doc.setDefaultFont(self.font())
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(wrap)
        self.setSizePolicy(policy)
        copy = QAction("Copy", self)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(self.plain_text()))
        self.addAction(copy)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def plain_text(self) -> str:
        return self._doc.toPlainText()

    def _set_doc(self, text: str) -> None:
        if GuiQt.mightBeRichText(text):
            self._doc.setHtml(text)
        else:
            self._doc.setPlainText(text)

    def _lay_out_at(self, width: float) -> None:
        """Lay the text out at this width (-1: unwrapped); QTextDocument.setTextWidth lays
        it out again even when the width is the same, so only a new width is set."""
        if width != self._laid_at:
            self._laid_at = width
            self._doc.setTextWidth(width)

    def _height_at(self, width: int) -> int:
        self._lay_out_at(width if self.wrap else -1)
        return int(self._doc.size().height() + 0.999)

    def setText(self, text: str) -> None:  # noqa: N802 - as QLabel
        if text == self._text:
            return
        width = max(1, self.width())
        before = self._height_at(width), self._doc.idealWidth()  # the current text: laid out already
        self._text = text
        self._set_doc(text)
        after = self._height_at(width), self._doc.idealWidth()
        if after[0] != before[0] or (not self.wrap and after[1] > self.width()):
            self.updateGeometry()  # a new height (or, unwrapped, more width than it has): lay out again
        self.update()

    # ------------------------------------------------------------ sizes
    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return self.wrap

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._height_at(width)

    def sizeHint(self) -> QSize:  # noqa: N802
        self._lay_out_at(-1)
        ideal = int(self._doc.idealWidth() + 0.999)
        if self.wrap:
            width = max(MIN_WIDTH_PX, min(ideal, 360))
            return QSize(width, self._height_at(width))
        return QSize(ideal, self._height_at(ideal))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        if self.wrap:
            return QSize(MIN_WIDTH_PX, self._height_at(max(MIN_WIDTH_PX, self.width())))
        return QSize(0, self._height_at(-1))

    # ------------------------------------------------------------ drawing
    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.FontChange:
            self._doc.setDefaultFont(self.font())
            self._laid_at = None
            self.updateGeometry()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        self._lay_out_at(self.width() if self.wrap else -1)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, self.palette().color(self.foregroundRole()))
        self._doc.documentLayout().draw(p, ctx)
        p.end()
