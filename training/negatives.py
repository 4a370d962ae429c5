"""Made "not a digit" images for calibrating and testing the classifier's digit check.

Every kind is drawn from ``numpy.random.default_rng(seed)``, so a seed gives the same images
on every machine.  Images are float32 (N, 28, 28) in [-1, 1] with the MNIST background at -1.

Kinds (``KINDS``): ``blank`` (one level, nearly always near black, a faint grain at most),
``uniform`` (independent uniform noise), ``gaussian`` (clipped Gaussian noise), ``strokes``
(3 to 6 random pen strokes, curved or straight, anywhere on the canvas) and ``blend`` (the
pixel-wise 50/50 mean of two MNIST digits with different labels).  The calibration set adds
``faint`` (a blank with a few faint dots or a short faint smear) and ``fragment`` (a corner
quarter of a digit, shifted).
"""
from __future__ import annotations

import numpy as np

KINDS = ("blank", "uniform", "gaussian", "strokes", "blend")
CALIBRATION_KINDS = KINDS + ("faint", "fragment")

# Fixed seeds: the calibration draws with one, the held-out check (model card, tests) with the other.
CALIBRATION_SEED = 20261130
HELD_OUT_SEED = 7


def blank(n: int, rng: np.random.Generator) -> np.ndarray:
    level = np.where(rng.random(n) < 0.8, rng.uniform(-1.0, -0.7, n), rng.uniform(-1.0, 1.0, n))
    grain = rng.uniform(0.0, 0.04, n)
    img = level[:, None, None] + grain[:, None, None] * rng.standard_normal((n, 28, 28))
    return np.clip(img, -1, 1).astype(np.float32)


def uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (n, 28, 28)).astype(np.float32)


def gaussian(n: int, rng: np.random.Generator) -> np.ndarray:
    mu = rng.uniform(-1.0, 0.5, n)[:, None, None]
    sigma = rng.uniform(0.2, 1.0, n)[:, None, None]
    return np.clip(mu + sigma * rng.standard_normal((n, 28, 28)), -1, 1).astype(np.float32)


_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float32)


def _stroke(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """One quadratic Bezier stroke (anti-aliased pen of radius 0.8-1.8 px), drawn in place."""
    p0, p1, p2 = rng.uniform(2, 26, (3, 2))
    if rng.random() < 0.4:
        p1 = (p0 + p2) / 2  # straight
    radius = rng.uniform(0.8, 1.8)
    for t in np.linspace(0, 1, 24):
        y, x = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
        d = np.sqrt((_YY - y) ** 2 + (_XX - x) ** 2)
        np.maximum(canvas, np.clip(radius + 0.5 - d, 0, 1), out=canvas)


def strokes(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        for _ in range(int(rng.integers(3, 7))):
            _stroke(out[i], rng)
    return out * 2 - 1


def _pairs(labels: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, len(labels), n)
    b = rng.integers(0, len(labels), n)
    same = labels[a] == labels[b]
    while same.any():
        b[same] = rng.integers(0, len(labels), int(same.sum()))
        same = labels[a] == labels[b]
    return a, b


def blend(n: int, rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``digits``: uint8 (N, 28, 28) MNIST images, ``labels`` their digits."""
    a, b = _pairs(labels, n, rng)
    return (digits[a].astype(np.float32) + digits[b].astype(np.float32)) / 255.0 - 1.0


def faint(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 6))):
                y, x = rng.uniform(3, 25, 2)
                out[i] = np.maximum(out[i], np.exp(-((_YY - y) ** 2 + (_XX - x) ** 2) / 2.0) * rng.uniform(0.2, 0.6))
        else:
            c = np.zeros((28, 28), np.float32)
            _stroke(c, rng)
            out[i] = c * rng.uniform(0.15, 0.4)
    return out * 2 - 1


def fragment(n: int, rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    idx = rng.integers(0, len(digits), n)
    out = np.zeros((n, 28, 28), np.float32)
    for i, k in enumerate(idx):
        src = digits[k].astype(np.float32) / 255.0
        r0, c0 = int(rng.integers(0, 2)) * 14, int(rng.integers(0, 2)) * 14
        piece = src[r0:r0 + 14, c0:c0 + 14]
        r, c = rng.integers(0, 15, 2)
        out[i, r:r + 14, c:c + 14] = piece
    return out * 2 - 1


def make(kind: str, n: int, seed: int, digits: np.ndarray | None = None,
         labels: np.ndarray | None = None) -> np.ndarray:
    """``n`` images of one kind; ``blend`` and ``fragment`` need MNIST ``digits`` (and ``labels``)."""
    rng = np.random.default_rng([seed, CALIBRATION_KINDS.index(kind)])
    if kind in ("blend", "fragment") and digits is None:
        raise ValueError(f"'{kind}' negatives need MNIST digits")
    if kind == "blend":
        return blend(n, rng, digits, labels)
    if kind == "fragment":
        return fragment(n, rng, digits)
    return {"blank": blank, "uniform": uniform, "gaussian": gaussian, "strokes": strokes, "faint": faint}[kind](n, rng)


def make_set(kinds, n: int, seed: int, digits: np.ndarray | None = None,
             labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``{kind: images}`` with ``n`` images per kind."""
    return {k: make(k, n, seed, digits, labels) for k in kinds}
