"""Which stretches of a walk lie in a 2-D slice of the latent box.

A slice fixes every coordinate but two (an xy slice of a 4-D model fixes z and w).  A
point of the path lies in the slice when each fixed coordinate is within ``tol`` of the
slice's value: half an atlas cell, the part of the box whose labels the slice shows.  The
rest of the path is only a projection onto the slice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def half_cell(resolution: int | None) -> float:
    """Half the spacing of an atlas grid of this many cells per axis (a small tolerance
    when there is no atlas)."""
    return 1.0 / (resolution - 1) if resolution and resolution > 1 else 0.02


def in_slice(points: np.ndarray, fixed: dict[int, float], tol: float) -> np.ndarray:
    """A boolean per point (rows of ``points``): does it lie in the slice ``fixed``?"""
    pts = np.asarray(points, np.float64)
    on = np.ones(len(pts), bool)
    for axis, value in fixed.items():
        on &= np.abs(pts[:, axis] - value) <= tol + 1e-9
    return on


@dataclass
class SlicePath:
    """A path split for drawing on one slice.

    ``solid``: the points in the slice, NaN rows between stretches (draw with breaks);
    ``crossings``: the middle of each stretch too short to see as a line, where the path
    passes through the slice; ``on``: the per-point mask."""

    solid: np.ndarray
    crossings: np.ndarray
    on: np.ndarray

    @property
    def passes(self) -> bool:
        return bool(self.on.any())

    @property
    def whole(self) -> bool:
        return bool(self.on.all())


def split_path(points: np.ndarray, fixed: dict[int, float], tol: float, axes: tuple[int, int],
               short: float = 0.06) -> SlicePath:
    """Split ``points`` (n, d) for a slice showing ``axes`` with the other coordinates
    ``fixed``; a stretch shorter than ``short`` on the slice is a crossing."""
    pts = np.asarray(points, np.float64)
    on = in_slice(pts, fixed, tol)
    u, v = axes
    solid = np.full((len(pts), 2), np.nan)
    solid[on] = pts[on][:, [u, v]]
    crossings = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        seg = pts[start:stop][:, [u, v]]
        if np.linalg.norm(seg[-1] - seg[0]) < short and np.abs(np.diff(seg, axis=0)).sum() < short:
            crossings.append(seg[len(seg) // 2])
    return SlicePath(solid, np.array(crossings).reshape(-1, 2), on)
