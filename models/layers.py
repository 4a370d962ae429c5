"""Qt-free reductions and statistics of captured layer activations.

An activation is one layer's output for one point, shaped (C, H, W) (flat layers are
already reshaped to 256 x 7 x 7 by the engine).  ``reduce`` turns it into one (H, W)
heatmap; ``stats`` summarises it; ``channel_grid`` tiles all channels into one image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("mean", "max", "std", "channel")
MODE_LABELS = {"mean": "average over channels", "max": "maximum over channels",
               "std": "standard deviation over channels", "channel": "one channel"}


def _check(activation: np.ndarray) -> np.ndarray:
    a = np.asarray(activation, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"an activation is (C, H, W), got shape {a.shape}")
    return a


def reduce(activation: np.ndarray, mode: str = "mean", channel: int = 0) -> np.ndarray:
    """One (H, W) map of a (C, H, W) activation: mean, max or std over channels, or one channel."""
    a = _check(activation)
    if mode == "mean":
        return a.mean(axis=0)
    if mode == "max":
        return a.max(axis=0)
    if mode == "std":
        return a.std(axis=0)
    if mode == "channel":
        if not 0 <= channel < a.shape[0]:
            raise ValueError(f"channel {channel} out of range 0..{a.shape[0] - 1}")
        return a[channel]
    raise ValueError(f"unknown reduction {mode!r} (one of {', '.join(MODES)})")


@dataclass(frozen=True)
class Stats:
    """Mean, standard deviation, minimum and maximum of some values."""

    mean: float
    std: float
    min: float
    max: float

    def describe(self) -> str:
        return f"mean {self.mean:.3g}  sd {self.std:.3g}  max {self.max:.3g}"


def stats(values: np.ndarray) -> Stats:
    """Statistics over every value of ``values`` (any shape, at least one value), summed in
    float64."""
    v = np.asarray(values)
    if v.dtype.kind not in "f":
        v = v.astype(np.float64)
    if v.size == 0:
        raise ValueError("no values")
    mean = float(v.mean(dtype=np.float64))
    return Stats(mean, float(v.std(dtype=np.float64)), float(v.min()), float(v.max()))


def colourise(heatmap: np.ndarray, levels: tuple[float, float], lut: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 colours of a heatmap: ``levels`` (lo, hi) spread over the colour
    table ``lut`` (N, 3) uint8, values outside clipped to its ends, NaN as its first colour.
    (A view given ready colours has nothing to rescale or look up on each frame.)"""
    lo, hi = float(levels[0]), float(levels[1])
    n = len(lut)
    scale = n / (hi - lo) if hi > lo else 0.0
    idx = (np.asarray(heatmap, np.float64) - lo) * scale
    # fmax/fmin pass over NaN (NaN -> 0, the first colour) and clip the infinities: what
    # nan_to_num and clip did, in a fifth of the time (eleven heatmaps on every frame)
    return lut[np.fmin(np.fmax(idx, 0.0), n - 1).astype(np.intp)]


def shape_text(activation: np.ndarray) -> str:
    c, h, w = _check(activation).shape
    return f"{c}×{h}×{w}"


def grid_shape(channels: int) -> tuple[int, int]:
    """(rows, cols) of a near-square grid holding ``channels`` tiles."""
    cols = int(np.ceil(np.sqrt(channels)))
    return int(np.ceil(channels / cols)), cols


def channel_grid(activation: np.ndarray, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """All channels tiled into one 2-D image (row-major), ``gap`` pixels of ``fill`` between.

    Channel ``k`` sits at grid row ``k // cols``, column ``k % cols``.
    """
    a = _check(activation)
    c, h, w = a.shape
    rows, cols = grid_shape(c)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), fill, dtype=np.float32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = a[k]
    return out


def channel_at(activation_shape: tuple[int, int, int], x: float, y: float, gap: int = 1) -> int | None:
    """The channel whose tile in ``channel_grid`` covers pixel (x, y), or None for gaps/outside."""
    c, h, w = activation_shape
    rows, cols = grid_shape(c)
    if x < 0 or y < 0:
        return None
    q, dx = divmod(int(x), w + gap)
    r, dy = divmod(int(y), h + gap)
    if dx >= w or dy >= h or q >= cols or r >= rows:
        return None
    k = r * cols + q
    return k if k < c else None


def symmetric_levels(values: np.ndarray, quantile: float = 1.0) -> tuple[float, float]:
    """Colour levels for signed data: (-m, m) with m the largest magnitude, or its
    ``quantile`` (e.g. 0.995, so a few outliers do not wash the rest out); never zero."""
    v = np.asarray(values, dtype=np.float64)
    v = np.abs(v[np.isfinite(v)])
    m = float(np.quantile(v, quantile)) if v.size else 0.0
    m = m if m > 1e-12 else 1.0
    return -m, m


def levels(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values, widened when flat so a colour scale never collapses."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


# (C, H, W) of every captured layer: fixed by the architecture in ``models.networks``.
LAYER_SHAPES: dict[str, tuple[int, int, int]] = {
    "dense": (256, 7, 7), "bn0": (256, 7, 7), "act0": (256, 7, 7),
    "deconv1": (128, 7, 7), "bn1": (128, 7, 7), "act1": (128, 7, 7),
    "deconv2": (64, 14, 14), "bn2": (64, 14, 14), "act2": (64, 14, 14),
    "deconv3": (1, 28, 28), "out": (1, 28, 28),
}
