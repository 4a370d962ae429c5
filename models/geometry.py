"""Latent geometry: how fast the image changes with the latent point, and what it draws.

For every point of a regular grid over [-1, 1]^d (one grid per label for conditional
models) this module measures

* **sensitivity**: how far the image moves per unit step of z, from central differences
  between neighbouring grid points (exact for a generator linear in z):
  ``sqrt(||J||_F^2 / d)``, the root-mean-square change for a unit step in a random
  direction, where J is the Jacobian of the image on a 0..1 pixel scale with the change
  measured as the RMS over the 784 pixels (``sensitivity``), or of the classifier's
  penultimate features scaled to unit length (``sensitivity-features``);
* **attributes** of the drawn digit from its image moments (:func:`attributes`): ink,
  stroke thickness, slant, width and height, each a continuous map whose gradient gives
  the direction of steepest change;
* for every label, the correlation of each latent coordinate with each attribute.

The grid is walked one slab of axis 0 at a time, so memory stays at three slabs of images.
Also here: the perceptual path length of a model (Karras et al. 2019, on the classifier's
features) and the distances along a walk.  No Qt.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from .sampling import BATCH, grid_axis

if TYPE_CHECKING:
    import torch
    from torch import nn

SENSITIVITY = ("sensitivity", "sensitivity-features")
ATTRIBUTES = ("ink", "thickness", "slant", "width", "height")
OVERLAYS = SENSITIVITY + ATTRIBUTES
UNITS = {
    "sensitivity": "RMS pixel change (0-1) per unit step of z",
    "sensitivity-features": "classifier-feature distance per unit step of z",
    "ink": "pixels (sum of intensities 0-1)",
    "thickness": "pixels",
    "slant": "degrees (positive: top leans right)",
    "width": "pixels",
    "height": "pixels",
}
TITLES = {
    "sensitivity": "Sensitivity (pixels)", "sensitivity-features": "Sensitivity (classifier features)",
    "ink": "Ink", "thickness": "Stroke thickness", "slant": "Slant", "width": "Width", "height": "Height",
}
# overlay grids, per axis, by latent size: one generator + classifier pass per grid point
DEFAULT_RESOLUTION = {1: 256, 2: 128, 3: 32, 4: 16}
CONDITIONAL_RESOLUTION = {1: 128, 2: 64, 3: 20, 4: 10}
PPL_EPSILON = 1e-4  # as in Karras et al. 2019
PPL_SAMPLES = 2000


def default_resolution(latent_dim: int, conditional: bool = False) -> int:
    """The overlay grid's points per axis used when none is asked for."""
    table = CONDITIONAL_RESOLUTION if conditional else DEFAULT_RESOLUTION
    return table.get(latent_dim, 8)


# ---------------------------------------------------------------- attributes

def attributes(images) -> dict[str, np.ndarray]:
    """Ink, stroke thickness, slant, width and height of images (N, 28, 28) or (N, 1, 28, 28)
    in [-1, 1] (float arrays; 0..1 intensity is ``(x + 1) / 2``).

    * ink: the pixel mass, sum of intensities (a fully lit pixel counts 1);
    * slant: the shear of the second moments, ``atan(-mu11 / mu02)`` in degrees with rows
      counted downwards, so a digit whose top leans right has a positive slant;
    * width, height: ``sqrt(12 var + 1)`` of the column (after removing the slant) and row
      coordinates under the intensity, exact for a solid upright rectangle;
    * thickness: the thickness of the rectangle with the same area (ink) and perimeter
      (the isotropic total variation of the intensity): the smaller root of
      ``t^2 - (P/2) t + A = 0``; within 5% of the true (perpendicular) thickness for
      solid strokes of any slant.
    """
    x = np.asarray(images, np.float32).reshape(-1, 28, 28)
    p = np.clip((x + 1.0) / 2.0, 0.0, 1.0).astype(np.float64)
    mass = p.sum(axis=(1, 2))
    safe = np.maximum(mass, 1e-9)
    rows = np.arange(28, dtype=np.float64)
    ry = (p.sum(axis=2) * rows).sum(axis=1) / safe  # mean row
    cx = (p.sum(axis=1) * rows).sum(axis=1) / safe  # mean column
    dy = rows[None, :] - ry[:, None]
    dx = rows[None, :] - cx[:, None]
    mu02 = (p.sum(axis=2) * dy ** 2).sum(axis=1) / safe  # row variance
    mu20 = (p.sum(axis=1) * dx ** 2).sum(axis=1) / safe  # column variance
    mu11 = np.einsum("nij,ni,nj->n", p, dy, dx) / safe
    shear = -mu11 / np.maximum(mu02, 1e-9)  # column shift per row upwards
    slant = np.degrees(np.arctan(shear))
    upright = np.maximum(mu20 - mu11 ** 2 / np.maximum(mu02, 1e-9), 0.0)
    width = np.sqrt(12.0 * upright + 1.0)
    height = np.sqrt(12.0 * mu02 + 1.0)
    # perimeter: isotropic total variation (central differences; the frame outside the image
    # is dark), close to the Euclidean length of slanted edges where the L1 variation counts steps
    padded = np.pad(p, ((0, 0), (1, 1), (1, 1)))
    gy, gx = np.gradient(padded, axis=(1, 2))
    perim = np.sqrt(gx * gx + gy * gy).sum(axis=(1, 2))
    q = perim / 4.0
    thickness = q - np.sqrt(np.maximum(q * q - mass, 0.0))
    empty = mass < 1e-6
    out = {"ink": mass, "thickness": thickness, "slant": slant, "width": width, "height": height}
    return {k: np.where(empty, 0.0, v).astype(np.float32) for k, v in out.items()}


# ---------------------------------------------------------------- probing the generator

def unit_features(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The classifier's penultimate features scaled to unit length (the find dock's features)."""
    import torch.nn.functional as F

    return F.normalize(classifier.embed(images), dim=1)


def probe(generator: nn.Module, classifier: nn.Module, z: np.ndarray, digit: int | None,
          batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 784) on a 0..1 scale and unit-length classifier features (N, F), float32."""
    import torch

    imgs, feats = [], []
    with torch.inference_mode():
        for i in range(0, len(z), batch):
            zb = torch.from_numpy(np.ascontiguousarray(z[i:i + batch], np.float32))
            lb = torch.full((len(zb),), int(digit), dtype=torch.long) if digit is not None else None
            x = generator(zb, lb).float()
            feats.append(unit_features(classifier, x).float().numpy())
            imgs.append(((x.reshape(len(zb), -1) + 1.0) / 2.0).numpy())
    if not imgs:
        return np.empty((0, 784), np.float32), np.empty((0, 0), np.float32)
    return np.concatenate(imgs), np.concatenate(feats)


from .atlas import Cancelled  # noqa: E402,F401 -- one "asked to stop" for atlas builds and overlays


# ---------------------------------------------------------------- overlays

@dataclass
class Overlays:
    """Overlay maps over a grid of ``resolution`` points per axis over [-1, 1]^d.

    ``maps[name]`` has shape (R,)*d, or (10,)+(R,)*d for conditional models."""

    latent_dim: int
    conditional: bool
    resolution: int
    maps: dict[str, np.ndarray]
    seconds: float = 0.0
    evaluations: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def axis(self) -> np.ndarray:
        return grid_axis(self.resolution)

    @property
    def step(self) -> float:
        return 2.0 / (self.resolution - 1)

    def volume(self, name: str, digit: int | None = None) -> np.ndarray:
        if name not in self.maps:
            raise KeyError(f"no overlay {name!r} (have {', '.join(self.maps)})")
        vol = self.maps[name]
        if self.conditional:
            if digit is None or not 0 <= int(digit) <= 9:
                raise ValueError("a conditional model's overlay needs a digit 0..9")
            return vol[int(digit)]
        return vol

    def cell_index(self, point) -> tuple[int, ...]:
        p = np.clip(np.asarray(point, np.float64).reshape(-1), -1.0, 1.0)
        if len(p) != self.latent_dim:
            raise ValueError(f"point has {len(p)} coordinates, the overlay is {self.latent_dim}-D")
        return tuple(int(v) for v in np.rint((p + 1) / 2 * (self.resolution - 1)))

    def value_at(self, name: str, point, digit: int | None = None) -> float:
        return float(self.volume(name, digit)[self.cell_index(point)])

    def slice2d(self, name: str, axes: tuple[int, int], point, digit: int | None = None) -> np.ndarray:
        """The plane spanned by ``axes`` through ``point``: rows the first axis, columns the second."""
        a, b = axes
        if a == b or not (0 <= a < self.latent_dim and 0 <= b < self.latent_dim):
            raise ValueError(f"bad axes {axes} for a {self.latent_dim}-D overlay")
        vol = self.volume(name, digit)
        idx = self.cell_index(point)
        sel = tuple(slice(None) if k in (a, b) else idx[k] for k in range(self.latent_dim))
        out = vol[sel]
        return np.asarray(out.T if a > b else out, np.float32)

    def gradient(self, name: str, digit: int | None = None) -> list[np.ndarray]:
        """d arrays: the derivative of the map along each latent axis (units per unit of z);
        kept once computed (the window asks again on every new plane)."""
        cache = self.__dict__.setdefault("_gradients", {})
        key = (name, digit)
        if key not in cache:
            vol = np.asarray(self.volume(name, digit), np.float64)
            grads = np.gradient(vol, self.step)
            cache[key] = [np.asarray(g, np.float32) for g in (grads if isinstance(grads, (list, tuple)) else [grads])]
        return cache[key]

    def slice_gradient(self, name: str, axes: tuple[int, int], point, digit: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The direction of steepest change inside the plane: (d/d axis a, d/d axis b) on it."""
        a, b = axes
        grads = self.gradient(name, digit)
        full = Overlays(self.latent_dim, False, self.resolution, {"ga": grads[a], "gb": grads[b]})
        return full.slice2d("ga", axes, point), full.slice2d("gb", axes, point)

    def range(self, name: str) -> tuple[float, float]:
        v = np.asarray(self.maps[name], np.float64)
        return float(np.nanmin(v)), float(np.nanmax(v))

    def correlations(self) -> np.ndarray:
        """(labels, d, attributes): Pearson correlation of each latent coordinate with each
        attribute over the grid; one label row for unconditional models."""
        mesh = np.meshgrid(*([self.axis.astype(np.float64)] * self.latent_dim), indexing="ij")
        coords = np.stack([m.ravel() for m in mesh], axis=1)
        coords = (coords - coords.mean(0)) / coords.std(0)
        digits = range(10) if self.conditional else [None]
        out = np.zeros((len(digits), self.latent_dim, len(ATTRIBUTES)), np.float64)
        for n, dg in enumerate(digits):
            for j, name in enumerate(ATTRIBUTES):
                v = np.asarray(self.volume(name, dg), np.float64).ravel()
                sd = v.std()
                if sd > 0:
                    out[n, :, j] = coords.T @ ((v - v.mean()) / sd) / len(v)
        return out

    def summary(self) -> dict:
        """Plain figures for JSON: per overlay its range, mean and unit; correlations."""
        info = {"latent_dim": self.latent_dim, "conditional": self.conditional, "resolution": self.resolution,
                "seconds": round(self.seconds, 2), "evaluations": self.evaluations, "overlays": {}}
        for name, vol in self.maps.items():
            v = np.asarray(vol, np.float64)
            info["overlays"][name] = {"unit": UNITS.get(name, ""), "min": float(v.min()), "max": float(v.max()),
                                      "mean": float(v.mean()), "median": float(np.median(v))}
        corr = self.correlations()
        info["correlations"] = {
            "rows": ["all"] if not self.conditional else [str(k) for k in range(10)],
            "latent_axes": [f"z{i}" for i in range(self.latent_dim)], "attributes": list(ATTRIBUTES),
            "values": np.round(corr, 4).tolist()}
        return info


def _slab_points(axis: np.ndarray, latent_dim: int, k: int) -> np.ndarray:
    rest = np.array(list(itertools.product(axis, repeat=latent_dim - 1)), np.float32).reshape(-1, latent_dim - 1)
    return np.concatenate([np.full((len(rest), 1), axis[k], np.float32), rest], axis=1)


def _squared_rate(slabs: dict[int, np.ndarray], k: int, resolution: int, step: float, latent_dim: int) -> np.ndarray:
    """sum over axes of the squared norm of the central difference (one-sided at the edges)
    of the rows of slab k: (R^(d-1),)."""
    lo, hi = max(0, k - 1), min(resolution - 1, k + 1)
    d0 = (slabs[hi] - slabs[lo]) / ((hi - lo) * step)
    total = np.einsum("ij,ij->i", d0, d0, dtype=np.float64)
    if latent_dim > 1:
        cur = slabs[k].reshape((resolution,) * (latent_dim - 1) + (-1,))
        for ax in range(latent_dim - 1):
            g = np.gradient(cur, step, axis=ax).reshape(len(d0), -1)
            total += np.einsum("ij,ij->i", g, g, dtype=np.float64)
    return total


def compute_overlays(generator: nn.Module, classifier: nn.Module, latent_dim: int, conditional: bool,
                     resolution: int | None = None, *, digits: list[int] | None = None, batch: int = BATCH,
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> Overlays:
    """Every overlay of :data:`OVERLAYS` on a grid of ``resolution`` points per axis (one
    generator and classifier pass per grid point).  ``digits`` limits a conditional model
    to some labels (the others stay NaN)."""
    if resolution is None:
        resolution = default_resolution(latent_dim, conditional)
    if not 3 <= resolution <= 1024:
        raise ValueError(f"overlay resolution must be between 3 and 1024, got {resolution}")
    if resolution ** latent_dim > 4_000_000:
        raise ValueError(f"{resolution}^{latent_dim} grid points is more than an overlay computes (4,000,000)")
    generator.eval()
    classifier.eval()
    axis = grid_axis(resolution)
    step = float(axis[1] - axis[0])
    todo = list(range(10)) if conditional and digits is None else list(digits or [])
    labels: list[int | None] = todo if conditional else [None]
    shape = (resolution,) * latent_dim
    full = ((10,) if conditional else ()) + shape
    maps = {name: np.full(full, np.nan, np.float32) for name in OVERLAYS}
    total = resolution ** latent_dim * len(labels)
    done = 0
    t0 = time.perf_counter()
    for digit in labels:
        imgs: dict[int, np.ndarray] = {}
        feats: dict[int, np.ndarray] = {}

        def get(k: int) -> None:
            nonlocal done
            if k in imgs:
                return
            if should_stop and should_stop():
                raise Cancelled("overlay computation cancelled")
            im, ft = probe(generator, classifier, _slab_points(axis, latent_dim, k), digit, batch)
            imgs[k], feats[k] = im, ft
            done += len(im)
            if progress:
                progress(done, total)

        for k in range(resolution):
            for j in (k - 1, k, k + 1):
                if 0 <= j < resolution:
                    get(j)
            sens_px = np.sqrt(_squared_rate(imgs, k, resolution, step, latent_dim) / (784 * latent_dim))
            sens_ft = np.sqrt(_squared_rate(feats, k, resolution, step, latent_dim) / latent_dim)
            attr = attributes(imgs[k] * 2.0 - 1.0)
            values = {"sensitivity": sens_px, "sensitivity-features": sens_ft, **attr}
            for name, v in values.items():
                target = maps[name][digit] if conditional else maps[name]
                target[k] = np.asarray(v, np.float32).reshape(shape[1:])
            imgs.pop(k - 1, None)
            feats.pop(k - 1, None)
    return Overlays(latent_dim, conditional, resolution, maps, seconds=time.perf_counter() - t0, evaluations=done)


def overlays_for(generator_ckpt, classifier_ckpt, resolution: int | None = None, **kw) -> Overlays:
    """:func:`compute_overlays` for loaded checkpoints, on private copies of both networks
    (the window's render thread keeps using the originals)."""
    import copy

    g = copy.deepcopy(generator_ckpt.model).eval()
    c = copy.deepcopy(classifier_ckpt.model).eval()
    cfg = generator_ckpt.config
    return compute_overlays(g, c, int(cfg["latent_dim"]), bool(cfg.get("conditional")), resolution, **kw)


# ---------------------------------------------------------------- path length

def perceptual_path_length(generator: nn.Module, classifier: nn.Module, latent_dim: int, conditional: bool,
                           samples: int = PPL_SAMPLES, epsilon: float = PPL_EPSILON, seed: int = 0) -> dict:
    """Perceptual path length (Karras et al. 2019, section 3): the mean of
    ``d(G(lerp(z1, z2; t)), G(lerp(z1, z2; t + eps))) / eps^2`` over random pairs in the latent
    box and t in [0, 1 - eps], where d is the squared distance of the classifier's unit-length
    penultimate features (in place of the paper's VGG/LPIPS); the paper's epsilon 1e-4, the
    values outside the 1st-99th percentiles dropped as in the paper, float64 throughout
    (so the tiny differences are not rounding).  Lerp, as the prior is uniform on the box."""
    import copy

    import torch

    g = copy.deepcopy(generator).eval().double()
    c = copy.deepcopy(classifier).eval().double()
    gen = torch.Generator().manual_seed(seed + 5150)
    z1 = torch.rand(samples, latent_dim, generator=gen, dtype=torch.float64) * 2 - 1
    z2 = torch.rand(samples, latent_dim, generator=gen, dtype=torch.float64) * 2 - 1
    t = torch.rand(samples, 1, generator=gen, dtype=torch.float64) * (1 - epsilon)
    labels = torch.randint(0, 10, (samples,), generator=gen) if conditional else None
    a = z1 + t * (z2 - z1)
    b = z1 + (t + epsilon) * (z2 - z1)
    dist = []
    with torch.inference_mode():
        for i in range(0, samples, BATCH):
            lb = labels[i:i + BATCH] if labels is not None else None
            fa = unit_features(c, g(a[i:i + BATCH], lb))
            fb = unit_features(c, g(b[i:i + BATCH], lb))
            dist.append(((fa - fb) ** 2).sum(1) / epsilon ** 2)
    d = torch.cat(dist).numpy()
    lo, hi = np.percentile(d, [1, 99])
    kept = d[(d >= lo) & (d <= hi)]
    return {"perceptual_path_length": float(kept.mean()), "ppl_epsilon": epsilon, "ppl_samples": samples,
            "ppl_median": float(np.median(d))}


# ---------------------------------------------------------------- walks

def step_distances(features: np.ndarray) -> np.ndarray:
    """Distance between consecutive unit-length feature vectors (n,) -> (n - 1,)."""
    f = np.asarray(features, np.float64)
    if len(f) < 2:
        return np.zeros(0, np.float64)
    return np.linalg.norm(np.diff(f, axis=0), axis=1)


def walk_length(features: np.ndarray, labels) -> dict:
    """The distance per step of a walk (classifier features), the total and the share of it
    spent on steps whose two ends the classifier labels differently (crossing a border)."""
    return border_share(step_distances(features), labels)


def border_share(steps: np.ndarray, labels) -> dict:
    """Total of the step distances and the part of it on steps between differently labelled frames."""
    steps = np.asarray(steps, np.float64)
    lab = np.asarray(labels).reshape(-1)
    crossing = lab[1:] != lab[:-1] if len(lab) == len(steps) + 1 else np.zeros(len(steps), bool)
    total = float(steps.sum())
    border = float(steps[crossing].sum())
    return {"steps": steps.tolist(), "total": total, "border": border,
            "border_share": border / total if total > 0 else 0.0, "crossing": crossing.tolist()}


# ---------------------------------------------------------------- colours

COLOUR_MAPS = {"sensitivity": "magma", "sensitivity-features": "magma", "slant": "coolwarm"}  # others: viridis
_LUTS: dict[str, np.ndarray] = {}


def colour_lut(name: str) -> np.ndarray:
    """(256, 3) uint8: the overlay's colour map (matplotlib's, made once)."""
    cmap = COLOUR_MAPS.get(name, "viridis")
    if cmap not in _LUTS:
        from matplotlib import colormaps

        _LUTS[cmap] = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)
    return _LUTS[cmap]


def colour_range(overlays: Overlays, name: str, digit: int | None = None) -> tuple[float, float]:
    """The colour scale's ends for one overlay: its whole volume (slant symmetric about 0),
    so every slice of it shares one scale."""
    v = np.asarray(overlays.volume(name, digit), np.float64)
    finite = v[np.isfinite(v)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if name == "slant":
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def colourise(plane: np.ndarray, name: str, lo: float, hi: float) -> np.ndarray:
    """uint8 RGB of a plane of overlay values on the ``lo..hi`` scale (NaN grey)."""
    lut = colour_lut(name)
    x = (np.asarray(plane, np.float64) - lo) / (hi - lo)
    idx = np.clip(np.nan_to_num(x, nan=0.0) * 255, 0, 255).astype(np.uint8)
    rgb = lut[idx]
    rgb[~np.isfinite(plane)] = 128
    return rgb


def ridges_on_borders(sensitivity_plane: np.ndarray, labels_plane: np.ndarray, top: float = 0.1) -> dict:
    """How far a plane's sensitivity ridges follow its class borders: of the ``top`` share
    of most sensitive points, the share within one class-map cell of a border (labels
    resampled to the overlay's grid, nearest cell), beside the share of all points there."""
    s = np.asarray(sensitivity_plane, np.float64)
    lab = np.asarray(labels_plane)
    r, rl = s.shape[0], lab.shape[0]
    pick = np.rint(np.linspace(0, rl - 1, r)).astype(int)
    lab = lab[np.ix_(pick, pick)]
    border = np.zeros(lab.shape, bool)
    border[:-1, :] |= lab[:-1, :] != lab[1:, :]
    border[1:, :] |= lab[:-1, :] != lab[1:, :]
    border[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    border[:, 1:] |= lab[:, :-1] != lab[:, 1:]
    cut = np.quantile(s, 1 - top)
    high = s >= cut
    return {"top_share": top, "on_borders": float(border[high].mean()), "border_area": float(border.mean()),
            "median_on_borders": float(np.median(s[border])) if border.any() else 0.0,
            "median_elsewhere": float(np.median(s[~border])) if (~border).any() else 0.0}


def arrow_segments(overlays: Overlays, name: str, axes: tuple[int, int], point, digit: int | None = None,
                   per_axis: int = 10, length: float = 0.14) -> tuple[np.ndarray, np.ndarray]:
    """Arrows along the steepest increase of an attribute inside the plane through ``point``:
    x and y of line segments in pairs (shaft, then two strokes of the head), for a plot that
    connects points in pairs.  An arrow's length grows with the gradient's size in the plane
    (the largest one ``length`` long); flat places get none."""
    ga, gb = overlays.slice_gradient(name, axes, point, digit)
    r = overlays.resolution
    idx = np.unique(np.rint(np.linspace(0, r - 1, per_axis + 2)[1:-1]).astype(int))
    ax = overlays.axis
    X, Y = np.meshgrid(ax[idx], ax[idx], indexing="ij")
    U, V = ga[np.ix_(idx, idx)].astype(np.float64), gb[np.ix_(idx, idx)].astype(np.float64)
    size = np.hypot(U, V)
    top = np.nanmax(size) if np.isfinite(size).any() else 0.0
    keep = np.isfinite(size) & (size > 0.05 * top) if top > 0 else np.zeros(size.shape, bool)
    if not keep.any():
        return np.zeros(0), np.zeros(0)
    X, Y, U, V, size = X[keep], Y[keep], U[keep], V[keep], size[keep]
    scale = length * (0.35 + 0.65 * size / top)
    dx, dy = U / size * scale, V / size * scale
    x0, y0 = X - dx / 2, Y - dy / 2
    x1, y1 = X + dx / 2, Y + dy / 2
    head = 0.35
    c, s = np.cos(np.radians(25)), np.sin(np.radians(25))
    hx1, hy1 = x1 - head * (c * dx - s * dy), y1 - head * (s * dx + c * dy)
    hx2, hy2 = x1 - head * (c * dx + s * dy), y1 - head * (-s * dx + c * dy)
    xs = np.stack([x0, x1, x1, hx1, x1, hx2], axis=1).ravel()
    ys = np.stack([y0, y1, y1, hy1, y1, hy2], axis=1).ravel()
    return xs, ys
