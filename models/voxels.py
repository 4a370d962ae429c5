"""A software picture of a class cube: opaque voxels seen from any angle, in numpy.

Used where OpenGL is missing.  Only voxels that can be seen are drawn (those on the
cube's surface or next to a hidden digit), far ones first, each as a small square.
"""
from __future__ import annotations

import numpy as np

from .maps import PALETTE


def rotation(azimuth: float, elevation: float) -> np.ndarray:
    """3 x 3 matrix: turn by ``azimuth`` about z, then tilt by ``elevation`` (degrees).

    After it, x points right, z up, and y away from the viewer.
    """
    a, e = np.radians(azimuth), np.radians(elevation)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return rx @ rz


def visible_voxels(labels: np.ndarray, hidden: frozenset[int] | set[int] = frozenset()) -> np.ndarray:
    """Boolean mask of the voxels worth drawing: shown digits with a face to the outside."""
    shown = ~np.isin(labels, list(hidden)) if hidden else np.ones(labels.shape, bool)
    padded = np.pad(shown, 1, constant_values=False)
    inner = np.ones(labels.shape, bool)
    for axis in range(3):
        for shift in (-1, 1):
            inner &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    return shown & ~inner


def to_screen(points: np.ndarray, rot: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent points (N, 3) in [-1, 1] -> pixel columns, rows (row 0 at the top) and depth."""
    p = np.asarray(points, np.float64) @ rot.T
    scale = size / (2 * np.sqrt(3)) * 0.98  # the cube's diagonal fits the picture
    return size / 2 + p[:, 0] * scale, size / 2 - p[:, 2] * scale, p[:, 1]


def render_cube(labels: np.ndarray, confidence: np.ndarray | None, azimuth: float, elevation: float,
                size: int = 320, hidden: frozenset[int] | set[int] = frozenset(),
                background: tuple[int, int, int] = (255, 255, 255), mask: np.ndarray | None = None) -> np.ndarray:
    """RGB image (size, size, 3) uint8 of the cube (R, R, R) as opaque voxels, shaded by
    depth, paler where the classifier is unsure.  ``mask`` (from :func:`visible_voxels`)
    can be passed in when drawing the same cube from many angles."""
    res = labels.shape[0]
    img = np.empty((size, size, 3), np.uint8)
    img[:] = background
    if mask is None:
        mask = visible_voxels(labels, hidden)
    idx = np.argwhere(mask)
    if len(idx) == 0:
        return img
    axis = np.linspace(-1, 1, res)
    cols, rows, depth = to_screen(axis[idx], rotation(azimuth, elevation), size)
    order = np.argsort(-depth)  # far first, near last (near ones overwrite)
    idx, cols, rows, depth = idx[order], cols[order], rows[order], depth[order]
    colour = PALETTE[labels[tuple(idx.T)]].astype(np.float32)
    if confidence is not None:
        w = np.clip(1 - confidence[tuple(idx.T)].astype(np.float32), 0, 1)[:, None] * 0.7
        colour = colour * (1 - w) + 255 * w
    shade = 0.55 + 0.45 * (1 - (depth - depth.min()) / max(1e-9, np.ptp(depth)))
    colour = np.clip(colour * shade[:, None], 0, 255).astype(np.uint8)
    half = max(1, int(np.ceil(size / (2 * np.sqrt(3)) * 0.98 * 2 / (res - 1) * 0.62)))
    r, c = np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)
    r0, r1 = np.clip(r - half, 0, size).tolist(), np.clip(r + half + 1, 0, size).tolist()
    c0, c1 = np.clip(c - half, 0, size).tolist(), np.clip(c + half + 1, 0, size).tolist()
    # each voxel a square, far to near: every pixel ends with the nearest voxel covering it
    # (a loop of slice fills is several times faster than a per-pixel z-buffer in numpy)
    for k, rgb in enumerate(colour):
        img[r0[k]:r1[k], c0[k]:c1[k]] = rgb
    return img


def box_edges(rot: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 12 edges of the latent cube on screen: (columns, rows) of each edge's ends."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    c, r, _ = to_screen(corners, rot, size)
    edges = []
    for i in range(8):
        for j in range(i + 1, 8):
            if np.sum(corners[i] != corners[j]) == 1:
                edges.append((np.array([c[i], c[j]]), np.array([r[i], r[j]])))
    return edges
