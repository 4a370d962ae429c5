"""Projection: the latent point whose image is closest to a target digit.

The distance between two images is ``pixel_weight * pixel + feature_weight * feature``:

* ``pixel``: the root-mean-square pixel difference, pixels on a 0..1 scale (0 = equal,
  1 = black against white everywhere);
* ``feature``: the Euclidean distance between the classifier's penultimate features
  (:meth:`DigitClassifier.embed`), each scaled to unit length (0 = same, sqrt 2 = opposite).

The search (latent sizes up to 4) evaluates a coarse grid of the box [-1, 1]^d once per
model (kept for later projections), starts from the best few distinct grid points, and
refines them together by Adam steps on z, clamped to the box after each step.  For
conditional models the grid and the starts are per digit (all digits, or the one given).
Private copies of the networks are used, so a projection in a worker thread never meets
the engine's hooks.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .atlas import Cancelled
from .engine import Engine
from .frame import INVALID_IMAGE

GRID = {1: 64, 2: 32, 3: 10, 4: 6}        # grid points per axis, unconditional
GRID_PER_DIGIT = {1: 32, 2: 16, 3: 6, 4: 4}  # per axis and digit, conditional
# Without a reach (below): a match is poor when it is farther from the target than 95% of MNIST test
# digits are from their nearest training digit, in each distance (measured over 1,000 test digits,
# models/neighbours.py).  That bar is for a perfect copy of the training set; a small generator
# reaches few real digits that closely, so with real test digits at hand "close" is judged
# against what this generator reaches for them (:class:`Reach`).
POOR_PIXEL, POOR_FEATURE = 0.215, 0.300
REACH_DIGITS = 24  # real MNIST test digits projected to learn what this generator reaches (seconds each)
POOR_QUANTILE = 0.95  # farther than this share of those real digits' best matches: nothing close
MIN_SEPARATION = 0.25  # candidates closer than this (box units, per digit) count as the same point


MAX_WEIGHT = 1000.0  # a larger weight only scales every distance (and 1e308 made them infinite)


@dataclass(frozen=True)
class Weights:
    """How much each distance counts; shown to the user beside every answer."""

    pixel: float = 1.0
    feature: float = 0.5

    def __post_init__(self) -> None:
        if not (0 <= self.pixel <= MAX_WEIGHT and 0 <= self.feature <= MAX_WEIGHT) \
                or self.pixel + self.feature <= 0:  # NaN fails the range too
            raise ValueError(f"distance weights must be from 0 to {MAX_WEIGHT:g} and not both 0 (got pixel "
                             f"{self.pixel:g}, feature {self.feature:g})")

    def describe(self) -> str:
        return f"{self.pixel:g} x pixel + {self.feature:g} x feature"


@dataclass
class Match:
    """One latent point and how close its image is to the target."""

    point: np.ndarray        # (d,)
    digit: int | None        # the label generated (conditional models)
    image: np.ndarray        # (28, 28) in [-1, 1]
    distance: float          # the weighted sum
    pixel: float
    feature: float
    predicted: int           # the classifier's digit for the image
    confidence: float

    def to_dict(self) -> dict:
        return {"point": [round(float(v), 6) for v in self.point], "digit": self.digit,
                "distance": round(self.distance, 6), "pixel": round(self.pixel, 6), "feature": round(self.feature, 6),
                "predicted": self.predicted, "confidence": round(self.confidence, 6)}


@dataclass
class Reach:
    """How close this generator comes to real digits: the best-match distances of
    ``len(distances)`` MNIST test digits (sorted), under one set of weights."""

    distances: np.ndarray

    def share_closer(self, distance: float) -> float:
        """The share of those real digits whose best match is closer than ``distance``."""
        return float(np.searchsorted(self.distances, distance, side="left")) / max(1, len(self.distances))

    @property
    def poor_bar(self) -> float:
        return float(np.quantile(self.distances, POOR_QUANTILE))


def project_reach(projector: "Projector", images: np.ndarray, cancelled: Callable[[], bool] | None = None) -> Reach:
    """Project real digits (N, 28, 28) in [-1, 1], as a user's digit is, and keep their best distances."""
    return Reach(np.sort(np.array([projector.project(img, cancelled=cancelled, keep=1).best.distance
                                   for img in np.asarray(images, np.float32)], np.float64)))


@dataclass
class Projection:
    """The answer: the best match, then the next-best distinct points."""

    target: np.ndarray
    matches: list[Match]
    weights: Weights
    seconds: float = 0.0
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)
    reach: Reach | None = None  # what the generator reaches for real digits, when known

    @property
    def best(self) -> Match:
        return self.matches[0]

    @property
    def candidates(self) -> list[Match]:
        """The next-best distinct points (after the best)."""
        return self.matches[1:]

    @property
    def poor(self) -> bool:
        if self.reach is not None:
            return self.best.distance > self.reach.poor_bar
        return self.best.distance > self.weights.pixel * POOR_PIXEL + self.weights.feature * POOR_FEATURE

    def sentence(self) -> str:
        """A plain sentence on the answer."""
        b = self.best
        where = ", ".join(f"{v:+.2f}" for v in b.point)
        label = f" (label {b.digit})" if b.digit is not None else ""
        found = f"a {b.predicted} at distance {b.distance:.3f}, at ({where}){label}"
        if self.reach is None:
            if self.poor:
                return f"This generator does not draw anything close to your digit: closest is {found}."
            return f"Closest image: {found}."
        n, closer = len(self.reach.distances), self.reach.share_closer(b.distance)
        if self.poor:
            return (f"This generator draws nothing close to your digit: its closest image, {found}, is farther "
                    f"from it than this generator gets to {100 * closer:.0f}% of {n} real MNIST test digits.")
        if closer <= 0.5:
            how = "as close as this generator gets to a typical real digit, or closer"
        else:
            how = "a rough likeness: farther than this generator gets to most real digits"
        return (f"Closest image: {found}; {how} ({100 * closer:.0f}% of {n} real MNIST test digits get a closer "
                f"match).")

    def to_dict(self) -> dict:
        return {"weights": {"pixel": self.weights.pixel, "feature": self.weights.feature},
                "distance": "pixel_weight * rms pixel difference (0..1 scale) + feature_weight * "
                            "distance of unit-length classifier features",
                "best": self.best.to_dict(), "candidates": [m.to_dict() for m in self.candidates],
                "poor": self.poor, "sentence": self.sentence(), "seconds": round(self.seconds, 4),
                "real_digits_closer": None if self.reach is None else round(self.reach.share_closer(self.best.distance), 4),
                "evaluations": self.evaluations}


def grid_points(latent_dim: int, per_axis: int) -> np.ndarray:
    """All points of a regular grid over [-1, 1]^d, (per_axis^d, d) float32."""
    axis = np.linspace(-1.0, 1.0, per_axis, dtype=np.float32)
    mesh = np.meshgrid(*([axis] * latent_dim), indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


def pixel_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS difference of images in [-1, 1], on a 0..1 pixel scale (over the last two axes)."""
    diff = (np.asarray(a, np.float32) - np.asarray(b, np.float32)) / 2.0
    return np.sqrt(np.mean(diff * diff, axis=(-2, -1)))


def _private(model: torch.nn.Module) -> torch.nn.Module:
    m = copy.deepcopy(model).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


class Projector:
    """Projects targets into one model's latent box; keeps its coarse grids between calls."""

    def __init__(self, engine: Engine, weights: Weights = Weights(), starts: int = 4, steps: int = 16,
                 lr: float = 0.05, per_axis: int | None = None) -> None:
        if engine.latent_dim > 4:
            raise ValueError(f"projection searches latent sizes up to 4; this model has {engine.latent_dim}")
        self.engine = engine
        self.weights = weights
        self.starts, self.steps, self.lr = int(starts), int(steps), float(lr)
        self.generator = _private(engine.generator)
        self.classifier = _private(engine.classifier)
        self.latent_dim = engine.latent_dim
        self.conditional = engine.conditional
        per = GRID_PER_DIGIT if self.conditional else GRID
        self.points = grid_points(self.latent_dim, int(per_axis or per[self.latent_dim]))
        self._grids: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}  # digit -> (images (N,784), features)
        self.reach: Reach | None = None  # set by open_reach: "close" judged against real digits

    # ------------------------------------------------------------ pieces
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-length classifier features of images (N, 1, 28, 28)."""
        return F.normalize(self.classifier.embed(images), dim=1)

    @torch.inference_mode()
    def _grid(self, digit: int | None, cancelled: Callable[[], bool] | None) -> tuple[np.ndarray, np.ndarray]:
        if digit not in self._grids:
            z = torch.from_numpy(self.points)
            labels = None if digit is None else torch.full((len(z),), int(digit), dtype=torch.long)
            imgs, feats = [], []
            for i in range(0, len(z), 256):
                if cancelled is not None and cancelled():
                    raise Cancelled()
                x = self.generator(z[i:i + 256], None if labels is None else labels[i:i + 256])
                if not bool(torch.isfinite(x).all()):
                    raise ValueError(f"{self.engine.checkpoint.path}: {INVALID_IMAGE} at some points of its latent "
                                     f"box; no distance to it means anything, so it cannot be searched")
                imgs.append(x[:, 0].reshape(len(x), -1).numpy().copy())
                feats.append(self.features(x).numpy().copy())
            self._grids[digit] = (np.concatenate(imgs), np.concatenate(feats))
        return self._grids[digit]

    def digits(self, digit: int | None) -> list[int | None]:
        if not self.conditional:
            return [None]
        if digit is None:
            return list(range(10))
        if not 0 <= int(digit) <= 9:
            raise ValueError(f"digit must be 0..9, got {digit}")
        return [int(digit)]

    def prepare(self, digit: int | None = None, cancelled: Callable[[], bool] | None = None) -> None:
        """Compute the coarse grids now (the first projection does it otherwise)."""
        for d in self.digits(digit):
            self._grid(d, cancelled)

    def _target(self, target: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = np.asarray(target, np.float32)
        if t.shape != (28, 28):
            raise ValueError(f"the target must be a 28 x 28 image, got shape {t.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("the target holds NaN or infinite values")
        tt = torch.from_numpy(np.clip(t, -1, 1)).reshape(1, 1, 28, 28)
        with torch.inference_mode():
            tf = self.features(tt).clone()
        return tt.clone(), tf

    def _starts(self, target: torch.Tensor, tfeat: torch.Tensor, digits: list[int | None], cancelled,
                keep: int) -> tuple[list, list]:
        """Distinct grid points, best first: the starts (the ``starts`` best overall and at least
        each digit's best) and up to ``keep`` more, the fallback candidates."""
        t = target.reshape(1, -1).numpy()
        scored = []
        for d in digits:
            imgs, feats = self._grid(d, cancelled)
            pix = np.sqrt(np.mean(((imgs - t) / 2.0) ** 2, axis=1))
            feat = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * feats @ tfeat[0].numpy()))
            dist = self.weights.pixel * pix + self.weights.feature * feat
            chosen: list[int] = []
            for i in np.argsort(dist, kind="stable"):
                p = self.points[i]
                if all(np.max(np.abs(p - self.points[j])) > MIN_SEPARATION for j in chosen):
                    chosen.append(int(i))
                    if len(chosen) == self.starts + keep:
                        break
            scored += [(float(dist[i]), self.points[i].copy(), d, k) for k, i in enumerate(chosen)]
        scored.sort(key=lambda s: (s[0], s[3]))
        firsts = [s for s in scored if s[3] == 0]  # every digit's best
        rest = [s for s in scored if s[3] != 0]
        n_more = max(0, self.starts - len(firsts))
        starts, extras = firsts + rest[:n_more], rest[n_more:n_more + keep]
        return [(p, d) for _dist, p, d, _k in starts], [(p, d) for _dist, p, d, _k in extras]

    def _loss(self, x: torch.Tensor, target: torch.Tensor, tfeat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pix = torch.sqrt(((x - target) / 2.0).pow(2).mean(dim=(1, 2, 3)) + 1e-12)
        feat = torch.sqrt(((self.features(x) - tfeat) ** 2).sum(dim=1) + 1e-12)
        return self.weights.pixel * pix + self.weights.feature * feat, pix, feat

    # ------------------------------------------------------------ the search
    def project(self, target: np.ndarray, digit: int | None = None, cancelled: Callable[[], bool] | None = None,
                keep: int = 6) -> Projection:
        """Search the box for ``target`` (28, 28) in [-1, 1]; conditional models search every
        digit unless ``digit`` is given.  Raises Cancelled when ``cancelled()`` turns true."""
        t0 = time.perf_counter()
        target_t, tfeat = self._target(target)
        digits = self.digits(digit)
        starts, extras = self._starts(target_t, tfeat, digits, cancelled, keep)
        z = torch.tensor(np.stack([p for p, _d in starts]), dtype=torch.float32, requires_grad=True)
        labels = None
        if self.conditional:
            labels = torch.tensor([int(d) for _p, d in starts], dtype=torch.long)
        best_z = z.detach().clone()
        best_loss = torch.full((len(z),), float("inf"))
        opt = torch.optim.Adam([z], lr=self.lr)
        evaluations = len(self.points) * len(digits)
        for _step in range(self.steps + 1):
            if cancelled is not None and cancelled():
                raise Cancelled()
            x = self.generator(z, labels)
            loss, _pix, _feat = self._loss(x, target_t, tfeat)
            evaluations += len(z)
            with torch.no_grad():
                better = loss < best_loss
                best_loss = torch.where(better, loss.detach(), best_loss)
                best_z[better] = z.detach()[better]
            if _step == self.steps:
                break
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                z.clamp_(-1.0, 1.0)
        if extras:  # distinct grid points as further candidates, should the starts converge together
            best_z = torch.cat([best_z, torch.tensor(np.stack([p for p, _d in extras]), dtype=torch.float32)])
            if labels is not None:
                labels = torch.cat([labels, torch.tensor([int(d) for _p, d in extras], dtype=torch.long)])
        matches = self._matches(best_z, labels, target_t, tfeat, keep)
        return Projection(target=target_t[0, 0].numpy().copy(), matches=matches, weights=self.weights,
                          seconds=time.perf_counter() - t0, evaluations=evaluations, reach=self.reach)

    @torch.inference_mode()
    def _matches(self, z: torch.Tensor, labels, target, tfeat, keep: int) -> list[Match]:
        x = self.generator(z, labels)
        dist, pix, feat = self._loss(x, target, tfeat)
        probs = F.softmax(self.classifier(x), dim=1)
        order = torch.argsort(dist).tolist()
        out: list[Match] = []
        for i in order:
            p = z[i].numpy().astype(np.float64)
            d = None if labels is None else int(labels[i])
            if any(m.digit == d and np.max(np.abs(m.point - p)) < MIN_SEPARATION for m in out):
                continue
            out.append(Match(point=p, digit=d, image=x[i, 0].numpy().copy(), distance=float(dist[i]),
                             pixel=float(pix[i]), feature=float(feat[i]), predicted=int(probs[i].argmax()),
                             confidence=float(probs[i].max())))
            if len(out) == keep:
                break
        return out


def reach_key(generator_digest: str, classifier_digest: str, weights: Weights, projector: "Projector",
              digits: int = REACH_DIGITS) -> str:
    return (f"v1-{generator_digest[:16]}-{classifier_digest[:12]}-p{weights.pixel:g}-f{weights.feature:g}"
            f"-n{digits}-s{projector.starts}x{projector.steps}-g{len(projector.points)}")


def open_reach(projector: "Projector", generator_digest: str, classifier_digest: str, data=None,
               cache=None, notes: list[str] | None = None, digits: int = REACH_DIGITS,
               log: Callable[[str], None] | None = None, measure: bool = True) -> Reach | None:
    """What ``projector``'s generator reaches for the first ``digits`` MNIST test digits:
    from the per-user cache, else measured (seconds) and cached; set on the projector.  None
    (with a note) when MNIST cannot be read, or (``measure`` False) when it is not cached:
    "close" then falls back to the fixed bar."""
    import io
    import zipfile
    from pathlib import Path

    from .fileio import atomic_write_bytes
    from .registry import cache_dir
    from .regular import open_regular

    key = reach_key(generator_digest, classifier_digest, projector.weights, projector, digits)
    path = Path(cache if cache is not None else cache_dir()) / "reach" / f"{key}.npz"
    if os.path.lexists(path):
        try:
            with open_regular(path, ValueError, "reach cache") as fh, np.load(fh, allow_pickle=False) as z:
                d = z["distances"]
                if str(z["key"]) != key or d.shape != (digits,) or d.dtype != np.float64 \
                        or not np.all(np.isfinite(d)) or np.any(d < 0):
                    raise ValueError("damaged")
                projector.reach = Reach(np.sort(d))
                return projector.reach
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # measured again below
    if not measure:
        return None
    from latent_explorer.training.data import DataError, load_split

    try:
        test = load_split("test", data)
    except (DataError, OSError, ValueError) as exc:
        if notes is not None:
            notes.append(f"no MNIST test digits to compare with ({str(exc)[:200]}); \"close\" uses a fixed bar")
        return None
    images = test.images[:digits].astype(np.float32) / 127.5 - 1.0
    if log is not None:
        log(f"measuring how close this generator gets to {len(images)} real MNIST test digits (once; cached) ...")
    reach = project_reach(projector, images)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, key=np.array(key), distances=reach.distances.astype(np.float64))
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass
    projector.reach = reach
    return reach
