"""Class maps as pictures: the digit palette, confidence shading, region labels, and
direct computation of one map plane when no atlas is at hand.

Plain numpy; shared by the desktop app and the
matplotlib figures so both draw the same colours.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from typing import TYPE_CHECKING

from .frame import NO_DIGIT
from .sampling import grid_axis

if TYPE_CHECKING:
    from .engine import Engine

# matplotlib's tab10, one colour per digit 0..9 (RGB, 0..255), then one neutral dark slate for
# label 10, "no digit" (models/digitness.py: the classifier's check says the image is not a digit).
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (52, 56, 64),
], dtype=np.uint8)
NO_DIGIT_NAME = "no digit"
AXIS_NAMES = ("x", "y", "z", "w")


def axis_name(i: int) -> str:
    """``x, y, z, w`` for the first four coordinates, then ``z5, z6, ...``."""
    return AXIS_NAMES[i] if i < len(AXIS_NAMES) else f"z{i + 1}"


def readable_on(rgb) -> tuple[int, int, int]:
    """Black or white, whichever reads better on the colour ``rgb`` (0..255)."""
    r, g, b = (float(v) for v in rgb[:3])
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def text_colour(digit: int) -> tuple[int, int, int]:
    """Black or white, whichever reads better on the digit's full colour (10: no digit)."""
    return readable_on(PALETTE[digit])


def count_of(n: int, one: str, many: str) -> str:
    """``"1 stretch"``, ``"3 stretches"``: a number and its noun, singular or plural."""
    return f"{n} {one if n == 1 else many}"


def label_name(label: int) -> str:
    """``"7"`` for a digit, ``"no digit"`` for label 10."""
    return NO_DIGIT_NAME if int(label) == NO_DIGIT else str(int(label))


def colour_map(labels: np.ndarray, confidence: np.ndarray | None = None, shade: float = 1.0) -> np.ndarray:
    """RGB uint8 image (same shape as ``labels`` + 3): each cell in its digit's colour,
    blended towards white by ``shade * (1 - confidence)``, so unsure cells look pale;
    "no digit" cells (label 10) in the neutral colour, never shaded."""
    lab = np.clip(labels, 0, NO_DIGIT).astype(np.intp)
    rgb = PALETTE[lab].astype(np.float32)
    if confidence is not None and shade > 0:
        w = np.clip(shade * (1.0 - np.asarray(confidence, np.float32)), 0.0, 1.0)[..., None]
        w = np.where(lab[..., None] == NO_DIGIT, 0.0, w)
        rgb = rgb * (1.0 - w) + 255.0 * w
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Region:
    """One connected region of a map: its digit, size in cells and centre (row, col)."""

    digit: int
    cells: int
    row: float
    col: float


def regions(labels: np.ndarray, min_fraction: float = 0.01, min_cells: int = 4) -> list[Region]:
    """Connected regions (4-neighbour) of each digit that are big enough to carry a label,
    largest first (ties: by digit, then by where the region starts in row-major order).

    The centre is the region's cell closest to its centroid, so the label lies inside
    the region even when the region is curved.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0:
        return []
    threshold = max(min_cells, int(min_fraction * labels.size))
    roots = components(labels)
    sizes = np.bincount(roots.ravel(), minlength=labels.size)
    big = np.nonzero(sizes >= threshold)[0]  # roots: each region's first cell in row-major order
    flat = labels.ravel()
    out: list[Region] = []
    for root in sorted(big, key=lambda r: (flat[r], r)):
        rows, cols = np.nonzero(roots == root)
        cr, cc = rows.mean(), cols.mean()
        i = int(np.argmin((rows - cr) ** 2 + (cols - cc) ** 2))
        out.append(Region(int(flat[root]), int(sizes[root]), float(rows[i]), float(cols[i])))
    return sorted(out, key=lambda r: -r.cells)


def components(labels: np.ndarray) -> np.ndarray:
    """Connected components of equal labels (4-neighbour), as each cell's root: the flat
    index of its component's first cell in row-major order.  Plain numpy (union by
    minimum with pointer jumping, a few passes), so the app needs no scipy to start."""
    labels = np.asarray(labels)
    h, w = labels.shape
    idx = np.arange(h * w).reshape(h, w)
    same_x = labels[:, :-1] == labels[:, 1:]
    same_y = labels[:-1] == labels[1:]
    a = np.concatenate([idx[:, :-1][same_x], idx[:-1][same_y]])
    b = np.concatenate([idx[:, 1:][same_x], idx[1:][same_y]])
    parent = idx.ravel().copy()
    while True:
        pa, pb = parent[a], parent[b]
        if np.array_equal(pa, pb):
            return parent.reshape(h, w)
        low = np.minimum(pa, pb)
        np.minimum.at(parent, pa, low)  # hook each root under the smaller of the two
        np.minimum.at(parent, pb, low)
        while True:  # pointer jumping: every cell straight to its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def cell_extent(resolution: int) -> tuple[float, float]:
    """Latent coordinates of the outer edges of a grid's first and last cells."""
    half = 1.0 / (resolution - 1)
    return -1.0 - half, 1.0 + half


def index_to_coord(index: float, resolution: int) -> float:
    """A (fractional) grid index -> latent coordinate."""
    return -1.0 + 2.0 * index / (resolution - 1)


def compute_slice(engine: Engine, axes: tuple[int, int], point, digit: int | None = None,
                  resolution: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Label a ``resolution`` x ``resolution`` plane through ``point`` directly (no atlas):
    (labels uint8, confidence float32), rows along ``axes[0]``, columns along ``axes[1]``."""
    a, b = axes
    d = engine.latent_dim
    if a == b or not (0 <= a < d and 0 <= b < d):
        raise ValueError(f"bad axes {axes} for a {d}-D model")
    ax = grid_axis(resolution)
    pts = np.repeat(np.asarray(point, np.float32)[None, :], resolution * resolution, axis=0)
    ga, gb = np.meshgrid(ax, ax, indexing="ij")
    pts[:, a], pts[:, b] = ga.ravel(), gb.ravel()
    digits = None if not engine.conditional else np.full(len(pts), int(digit if digit is not None else 0))
    verdict = engine.judge(engine.images(pts, digits))
    labels = verdict.map_labels.reshape(resolution, resolution)  # 10 where there is no digit
    conf = verdict.confidence.reshape(resolution, resolution)
    return labels, conf


def atlas_cube(atlas, point, digit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 3-D cube of an atlas over the first three axes, at the point's cell along any
    further axes: (labels (R, R, R), confidence float32)."""
    if atlas.latent_dim < 3:
        raise ValueError(f"a {atlas.latent_dim}-D atlas has no cube")
    labels, conf = atlas.volume(digit)
    idx = atlas.cell_index(point)
    sel = (slice(None),) * 3 + tuple(idx[3:])
    return labels[sel], conf[sel].astype(np.float32)
