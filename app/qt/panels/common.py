"""Small helpers the map panels share: what to say when there is no atlas, and titles."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel

from ..state import ExplorerState

TITLE_MIN_PX = 48  # a panel's title gives up width down to this (elided), so the maps keep theirs


def no_atlas_message(state: ExplorerState) -> str:
    if state.model is None:
        return ""
    if state.atlas is not None:
        return ""
    outdated = getattr(state.model, "outdated_atlas", None)
    if outdated is not None:
        return f"{outdated.name} predates 'not a digit':\nRebuild atlas in the status bar"
    return "Building the atlas…\n(see the status bar)"


def atlas_key(state: ExplorerState) -> tuple:
    """Identifies what a map shows, apart from the point: atlas object and shown digit."""
    return (id(state.atlas), state.atlas_digit_or_none())


def set_text(label, text: str) -> None:
    """Set a label's text only when it changes (a new text relays the label out)."""
    if label.text() != text:
        label.setText(text)


class TitleLabel(QLabel):
    """A one-line panel title that asks for its full width but makes do with less: it is
    elided to the room it gets (the full text in its tooltip), so a long title never sets
    how wide the maps must be."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), TITLE_MIN_PX), hint.height())

    def shown_text(self) -> str:
        """The text as drawn: elided to the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        p.setFont(self.font())
        p.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())
        p.end()

    def _tip(self) -> None:
        self.setToolTip(self.text() if self.shown_text() != self.text() else "")

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self._tip()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._tip()


_OVERLAY_CACHE: dict[tuple, object] = {}
_OVERLAY_CACHE_SIZE = 96


def overlay_plane(state: ExplorerState, axes: tuple[int, int], where) -> tuple[tuple | None, object]:
    """(key, (uint8 RGB, arrow segments or None) or None): the chosen geometry overlay's
    plane through ``where``, coloured on the overlay's own scale, with arrows along the
    steepest increase for the attributes.  The key changes only when the plane does (the
    point leaving an overlay cell), so a move within a cell redraws nothing; coloured planes
    are cached, shared by every view."""
    name = state.options.get("overlay")
    ov = state.overlays
    if name is None or ov is None or state.model is None or ov.latent_dim != state.latent_dim:
        return None, None
    from ..overlayjob import has_digit

    digit = state.atlas_digit_or_none()
    if not has_digit(ov, digit):
        return None, None
    idx = ov.cell_index(where)
    key = (id(ov), name, digit, tuple(axes), tuple(v for k, v in enumerate(idx) if k not in axes))
    shown = _OVERLAY_CACHE.get(key)
    if shown is None:
        from latent_explorer.models.geometry import ATTRIBUTES, arrow_segments, colour_range, colourise

        lo, hi = colour_range(ov, name, digit)
        rgb = colourise(ov.slice2d(name, axes, where, digit), name, lo, hi)
        arrows = arrow_segments(ov, name, axes, where, digit) if name in ATTRIBUTES else None
        shown = (rgb, arrows)
        if len(_OVERLAY_CACHE) >= _OVERLAY_CACHE_SIZE:
            _OVERLAY_CACHE.pop(next(iter(_OVERLAY_CACHE)))
        _OVERLAY_CACHE[key] = shown
    return key, shown
