"""Small helpers the map panels share: what to say when there is no atlas, and titles."""
from __future__ import annotations

from ..state import ExplorerState


def no_atlas_message(state: ExplorerState) -> str:
    if state.model is None:
        return ""
    return "Building the atlas…\n(see the status bar)" if state.atlas is None else ""


def atlas_key(state: ExplorerState) -> tuple:
    """Identifies what a map shows, apart from the point: atlas object and shown digit."""
    return (id(state.atlas), state.atlas_digit_or_none())
