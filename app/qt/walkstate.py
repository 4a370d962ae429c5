"""WalkState: the A-to-B walk's settings and result, shared by the walk dock and the maps.

It hangs off :class:`ExplorerState` as ``state.walk``; panels read it and listen to its
signals, so the walk dock and the maps never call each other.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from latent_explorer.models.paths import PATH_KINDS, Strip, path_points


def _clamp(v: float) -> float:
    return float(min(1.0, max(-1.0, v)))


class WalkState(QObject):
    """A, B, steps, path kind, mode; the strip computed for them; the hovered frame."""

    changed = Signal()        # a setting changed: the strip is out of date
    stripChanged = Signal()   # a new strip (or none)
    hoverChanged = Signal()   # the hovered frame's point (or none)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reset(0)

    def reset(self, latent_dim: int) -> None:
        """Defaults for a model: A and B on the first axis's ends, 10 lerp steps.  Emits
        nothing: it runs inside a model switch, whose ``modelChanged`` rebuilds everything."""
        self.a: tuple[float, ...] | None = None
        self.b: tuple[float, ...] | None = None
        if latent_dim:
            self.a = (-1.0,) + (0.0,) * (latent_dim - 1)
            self.b = (1.0,) + (0.0,) * (latent_dim - 1)
        self.steps = 10
        self.kind = "lerp"
        self.label_walk: tuple[int, int] | None = None
        self.only_path_regions = False
        self.strip: Strip | None = None
        self.hover: tuple[float, ...] | None = None
        self._fine: dict[int, tuple[tuple, np.ndarray]] = {}  # n -> (path, its points), for fine_points

    # ------------------------------------------------------------ reading
    @property
    def ready(self) -> bool:
        return self.a is not None and (self.b is not None or self.label_walk is not None)

    def points(self) -> np.ndarray | None:
        """The path's frame points (steps, d), or None (no path, or a label walk)."""
        if not self.ready or self.label_walk is not None:
            return None
        return path_points(self.a, self.b, self.steps, self.kind)[1]

    def fine_points(self, n: int = 129) -> np.ndarray | None:
        """The path at ``n`` points, for drawing (slerp arcs are curves); read-only, made
        once per path and ``n`` (the 4-D views ask for it each time the point changes cube)."""
        if not self.ready or self.label_walk is not None:
            return None
        key = (self.a, self.b, n, self.kind)
        cached = self._fine.get(n)
        if cached is None or cached[0] != key:
            pts = path_points(self.a, self.b, n, self.kind)[1]
            pts.flags.writeable = False
            cached = self._fine[n] = (key, pts)
        return cached[1]

    # ------------------------------------------------------------ writing
    def set_a(self, point: Iterable[float]) -> None:
        p = tuple(_clamp(v) for v in point)
        if p != self.a:
            self.a = p
            self.changed.emit()

    def set_b(self, point: Iterable[float]) -> None:
        p = tuple(_clamp(v) for v in point)
        if p != self.b:
            self.b = p
            self.changed.emit()

    def set_steps(self, steps: int) -> None:
        steps = int(steps)
        if not 2 <= steps <= 200:
            raise ValueError(f"steps must be 2..200, got {steps}")
        if steps != self.steps:
            self.steps = steps
            self.changed.emit()

    def set_kind(self, kind: str) -> None:
        if kind not in PATH_KINDS:
            raise ValueError(f"unknown path {kind!r}")
        if kind != self.kind:
            self.kind = kind
            self.changed.emit()

    def set_label_walk(self, walk: tuple[int, int] | None) -> None:
        walk = None if walk is None else (int(walk[0]), int(walk[1]))
        if walk != self.label_walk:
            self.label_walk = walk
            self.changed.emit()

    def set_only_path_regions(self, on: bool) -> None:
        if bool(on) != self.only_path_regions:
            self.only_path_regions = bool(on)
            self.changed.emit()

    def set_strip(self, strip: Strip | None) -> None:
        self.strip = strip
        self.stripChanged.emit()

    def set_hover(self, point: Iterable[float] | None) -> None:
        p = None if point is None else tuple(float(v) for v in point)
        if p != self.hover:
            self.hover = p
            self.hoverChanged.emit()


def walk_end_for(modifiers: Qt.KeyboardModifier) -> str | None:
    """Which end a modifier-click sets: Shift -> "a", Ctrl or Alt -> "b", else None."""
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        return "a"
    if modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
        return "b"
    return None


def pick(state, modifiers: Qt.KeyboardModifier, coords: dict[int, float]) -> None:
    """A click on a map: move the point, or with a modifier set A or B there instead."""
    end = walk_end_for(modifiers)
    if end is None:
        state.set_coordinates(coords)
        return
    p = list(state.point)
    for axis, v in coords.items():
        p[axis] = v
    (state.walk.set_a if end == "a" else state.walk.set_b)(p)
