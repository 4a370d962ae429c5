"""Small helpers the map panels share: what to say when there is no atlas, and titles."""
from __future__ import annotations

from ..state import ExplorerState


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
