"""Walks through latent space: straight (lerp) and spherical (slerp) paths, the strip of
frames along a path, and the class regions a path crosses, found on the path itself.

Conditional models also have a *label walk*: the noise stays fixed and the label
embedding moves from one digit's to another's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from typing import TYPE_CHECKING

from .maps import NO_DIGIT, axis_name

if TYPE_CHECKING:
    from .engine import Engine

PATH_KINDS = ("lerp", "slerp")
SLERP_HELP = ("Spherical: the direction from the origin turns at a constant rate from A's to B's while the "
              "distance from the origin changes linearly. In the box-shaped latent space [-1, 1]^d such an arc "
              "can bulge past the box's faces (e.g. from (1, 1) to (1, -1)); those points are clipped to the box "
              "and flagged. Antipodal endpoints fall back to a straight line.")

CLIPPED_NOTE = "* the path left the box here; the point is clipped to it"  # a star after a frame's t


def digit_record(label: int) -> dict:
    """``{"digit": 7, "no_digit": False}``, or ``{"digit": None, "no_digit": True}`` for
    the map label 10 (no digit): what the CSV and JSON exports write for a class."""
    none = int(label) == NO_DIGIT
    return {"digit": None if none else int(label), "no_digit": none}


def path_points(a, b, steps: int, kind: str = "lerp") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` points from A to B: (t (steps,), points (steps, d), clipped (steps,) bool)."""
    if steps < 2:
        raise ValueError(f"a path needs at least 2 steps, got {steps}")
    t = np.linspace(0.0, 1.0, steps)
    return (t,) + points_at(a, b, t, kind)


def points_at(a, b, t: np.ndarray, kind: str = "lerp") -> tuple[np.ndarray, np.ndarray]:
    """Points at path parameters ``t`` (and which were clipped to the box)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"A and B must have the same number of coordinates ({a.size} and {b.size})")
    for name, p in (("A", a), ("B", b)):
        if not np.all(np.isfinite(p)) or np.any(np.abs(p) > 1 + 1e-9):
            raise ValueError(f"{name} = {tuple(float(v) for v in p)} lies outside the latent box [-1, 1]^{a.size}")
    t = np.asarray(t, np.float64)[:, None]
    if kind == "lerp":
        pts = (1 - t) * a + t * b
        pts[t[:, 0] == 0] = a
        pts[t[:, 0] == 1] = b
        return pts.astype(np.float32), np.zeros(len(t), bool)
    if kind != "slerp":
        raise ValueError(f"unknown path {kind!r} (lerp or slerp)")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-9 or nb < 1e-9:
        return points_at(a, b, t[:, 0], "lerp")
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0))
    if omega < 1e-6 or np.pi - omega < 1e-6:  # same or opposite direction: no unique arc
        return points_at(a, b, t[:, 0], "lerp")
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    pts = direction * ((1 - t) * na + t * nb)
    pts[t[:, 0] == 0] = a
    pts[t[:, 0] == 1] = b
    clipped = np.any(np.abs(pts) > 1.0, axis=1)
    return np.clip(pts, -1.0, 1.0).astype(np.float32), clipped


@dataclass
class Crossing:
    """One stretch of the path inside a single class region."""

    digit: int
    t_enter: float
    t_leave: float


@dataclass
class Strip:
    """Frames along a path with their labels, and the regions the path crosses."""

    model: str
    a: np.ndarray
    b: np.ndarray
    kind: str
    t: np.ndarray
    points: np.ndarray
    clipped: np.ndarray
    images: np.ndarray  # (steps, 28, 28) in [-1, 1]
    probs: np.ndarray  # (steps, 10)
    crossings: list[Crossing] = field(default_factory=list)  # digit 10: a stretch with no digit
    digit: int | None = None  # conditional: the label used along a point walk
    label_walk: tuple[int, int] | None = None  # conditional: (from digit, to digit) with fixed noise
    ablations: tuple = ()
    is_digit: np.ndarray | None = None  # (steps,) the classifier's check (models/digitness.py); None: all
    step_distance: np.ndarray | None = None  # (steps - 1,) classifier-feature distance between neighbouring frames

    def length(self) -> dict | None:
        """The walk's distance per step (unit-length classifier features), its total and the
        share of it on steps whose two frames have different labels (crossing a border)."""
        if self.step_distance is None:
            return None
        from .geometry import border_share

        return border_share(self.step_distance, self.digits)

    @property
    def closest(self) -> np.ndarray:
        """The classifier's closest digit per frame (0..9)."""
        return self.probs.argmax(1)

    @property
    def digits(self) -> np.ndarray:
        """The label per frame: the digit, or 10 (no digit) where the check finds none."""
        closest = self.probs.argmax(1)
        return closest if self.is_digit is None else np.where(self.is_digit, closest, 10)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(1)

    def rows(self) -> list[dict]:
        """One record per frame (for CSV / JSON).  A frame where the classifier's check
        finds no digit has ``digit`` empty (JSON null) and ``no_digit`` true; ``closest`` is
        then the classifier's closest digit all the same."""
        out = []
        for i in range(len(self.t)):
            rec = {"t": float(self.t[i])}
            rec.update({axis_name(k): float(v) for k, v in enumerate(self.points[i])})  # x, y, z, w: the window's names
            rec.update(digit_record(int(self.digits[i])))
            rec.update({"confidence": float(self.confidence[i]), "clipped": bool(self.clipped[i]),
                        "closest": int(self.closest[i])})
            out.append(rec)
        return out


def _labels_along(engine: Engine, a, b, t: np.ndarray, kind: str, digit: int | None,
                  label_walk: tuple[int, int] | None, ablations=()) -> np.ndarray:
    """Labels along the path: the digit, or 10 where the classifier's check finds no digit."""
    if label_walk is not None:
        return engine.judge(label_walk_images(engine, a, label_walk, t, ablations)).map_labels
    pts, _ = points_at(a, b, t, kind)
    return engine.judge(engine.images(pts, digit, ablations)).map_labels


def crossings(engine: Engine, a, b, kind: str = "lerp", digit: int | None = None, samples: int = 1025,
              tolerance: float = 1e-4, label_walk: tuple[int, int] | None = None, ablations=()) -> list[Crossing]:
    """Regions along the path, found on ``samples`` points of the path and with each change
    of class refined by bisection to ``tolerance`` in t."""
    t = np.linspace(0.0, 1.0, samples)
    labels = _labels_along(engine, a, b, t, kind, digit, label_walk, ablations)
    changes = np.nonzero(labels[1:] != labels[:-1])[0]
    bounds = []
    for i in changes:
        lo, hi = t[i], t[i + 1]
        lab_lo = labels[i]
        while hi - lo > tolerance:  # bisection, a few midpoints at a time
            mids = np.linspace(lo, hi, 9)[1:-1]
            ml = _labels_along(engine, a, b, mids, kind, digit, label_walk, ablations)
            first_diff = np.nonzero(ml != lab_lo)[0]
            if len(first_diff) == 0:
                lo = mids[-1]
            else:
                j = first_diff[0]
                hi = mids[j]
                lo = mids[j - 1] if j > 0 else lo
        bounds.append(0.5 * (lo + hi))
    edges = [0.0] + bounds + [1.0]
    segs = [0] + [int(i) + 1 for i in changes]
    return [Crossing(int(labels[s]), float(edges[k]), float(edges[k + 1])) for k, s in enumerate(segs)]


def label_walk_images(engine: Engine, z, digits: tuple[int, int], t: np.ndarray, ablations=()) -> np.ndarray:
    """Images with the noise ``z`` fixed while the label moves linearly from
    ``digits[0]``'s to ``digits[1]``'s (t = 0 and 1 are exactly those digits)."""
    import torch

    if not engine.conditional:
        raise ValueError("a label walk needs a conditional model")
    z = torch.as_tensor(np.asarray(z, np.float32), device=engine.device).reshape(1, -1)
    tt = torch.as_tensor(np.asarray(t, np.float32), device=engine.device)[:, None]
    # soft labels: the generator blends the two digits' label paths (its hidden-layer biases,
    # or for "shift" checkpoints the embeddings added to z) with weights 1 - t and t
    soft = torch.zeros(len(tt), 10, device=engine.device)
    soft[:, digits[0]] += 1 - tt[:, 0]
    soft[:, digits[1]] += tt[:, 0]
    images, _ = engine._forward(z.expand(len(tt), -1), soft, False, tuple(ablations))
    return images[:, 0].float().cpu().numpy()


def make_strip(engine: Engine, a, b, steps: int, kind: str = "lerp", digit: int | None = None,
               label_walk: tuple[int, int] | None = None, model: str = "", ablations=(),
               fine_samples: int = 1025) -> Strip:
    """The frames and labels along a path (or a label walk), with its crossed regions."""
    if label_walk is not None:
        t = np.linspace(0, 1, steps)
        pts = np.repeat(np.asarray(a, np.float32)[None], steps, 0)
        clipped = np.zeros(steps, bool)
        engine.validate_point(a)
        images = label_walk_images(engine, a, label_walk, t, ablations)
    else:
        if engine.conditional and digit is None:
            raise ValueError("a conditional model needs --digit for a point walk")
        t, pts, clipped = path_points(a, b, steps, kind)
        if len(a) != engine.latent_dim:
            raise ValueError(f"A has {len(a)} coordinates, the model has a {engine.latent_dim}-D latent space")
        images = engine.images(pts, digit, ablations)
    verdict = engine.judge(images)
    probs = verdict.probs
    steps_d = frame_distances(engine, images)
    cross = crossings(engine, a, b, kind, digit, samples=fine_samples, label_walk=label_walk, ablations=ablations)
    return Strip(model=model, a=np.asarray(a, np.float32), b=np.asarray(b if b is not None else a, np.float32),
                 kind=kind if label_walk is None else "label", t=t, points=pts, clipped=clipped, images=images,
                 probs=probs, crossings=cross, digit=digit, label_walk=label_walk, ablations=tuple(ablations),
                 is_digit=verdict.is_digit, step_distance=steps_d)


def frame_distances(engine: Engine, images: np.ndarray) -> np.ndarray:
    """Distance of the classifier's unit-length features between neighbouring frames."""
    import torch

    from .geometry import step_distances, unit_features

    with torch.inference_mode():
        x = torch.as_tensor(np.asarray(images, np.float32), device=engine.device).reshape(-1, 1, 28, 28)
        feats = unit_features(engine.classifier, x).float().cpu().numpy()
    return step_distances(feats)
