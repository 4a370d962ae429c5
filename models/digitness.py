"""The classifier's "not a digit" decision: a post-hoc Mahalanobis check on its own features.

No second network and no change to the classifier's weights (its digest stays the same).
For each of two layers of the classifier, the class means and one shared covariance of the
features of the MNIST training set give every image its Mahalanobis distance to the nearest
class (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution
samples and adversarial attacks"):

* ``penultimate``: the 128-wide features of :meth:`DigitClassifier.embed`;
* ``block4``: the mean and standard deviation of every channel of the last convolution
  block (before its pooling), 2 x 64 values; it sees blends, blobs and noise that the
  penultimate layer maps close to a digit.

Each log distance is standardised with the mean and spread of held-apart training digits;
the image's ``score`` is the larger of the two minus the ``threshold``, and an image with
``score > 0`` is *not a digit*.  The threshold accepts 99.5% of the held-apart training
digits.  The calibration lives beside the classifier (``classifier.ood.npz``, written by
``latent-explorer calibrate``; plain arrays, loaded without pickle, every size checked) and
names the digest of the classifier it was made for.

The API, used by the engine, the atlas builders, the training monitor and the evaluation::

    verdict = judge(classifier_module, images)  # images (N, 1, 28, 28) torch, in [-1, 1]
    verdict.label       # uint8 (N,): the closest digit 0..9 (the classifier's argmax)
    verdict.confidence  # float32 (N,): its softmax probability
    verdict.is_digit    # bool (N,)
    verdict.score       # float32 (N,): > 0 means not a digit (NaN without a calibration)
    verdict.map_labels  # uint8 (N,): the label, or NO_DIGIT (10) where it is not a digit
    verdict.probs       # float32 (N, 10)

``load_checkpoint`` attaches the calibration to a classifier as ``model.digitness``
(a plain attribute, not part of the state dict).  A classifier without one (a freshly
trained one, before ``latent-explorer calibrate``) judges every image a digit.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .frame import NO_DIGIT  # noqa: F401 -- re-exported
from .npyheader import declared

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "latent-explorer-digitness"
VERSION = 1
LAYERS = ("penultimate", "block4")
MAX_FILE_BYTES = 4 << 20
SUFFIX = ".ood.npz"
MAX_THRESHOLD = 20.0      # standard deviations: calibrate picks about 2.3 (99.5% of held-apart digits)
MAX_LOG_DISTANCE = 100.0  # bounds of the log-distance mean and spread
MIN_SPREAD = 1e-3


class CalibrationError(Exception):
    """A calibration file is missing, damaged or belongs to another classifier."""


def calibration_path(classifier_path: str | os.PathLike) -> Path:
    """``checkpoints/classifier.pt`` -> ``checkpoints/classifier.ood.npz``."""
    p = Path(classifier_path)
    return p.with_name(p.stem + SUFFIX)


@dataclass
class Calibration:
    """Per layer: class means (10, D), shared precision (D, D), log-distance mean and spread;
    one threshold on the larger standardised score."""

    classifier_digest: str
    means: dict[str, np.ndarray]
    precision: dict[str, np.ndarray]
    zstats: dict[str, tuple[float, float]]
    threshold: float
    info: dict
    path: Path | None = None

    def __post_init__(self) -> None:
        # precision = L L^T: distances become plain squared norms after one matrix product
        # plain numpy (a calibration loads without torch, for the first frame before torch is in)
        self._chol = {k: np.linalg.cholesky(self.precision[k].astype(np.float64)) for k in LAYERS}
        self._mL = {k: self.means[k].astype(np.float64) @ self._chol[k] for k in LAYERS}
        self._tensors = None  # the same as torch tensors, made by torch_tensors()

    def torch_tensors(self) -> tuple[dict, dict]:
        """The Cholesky factors and transformed means as torch tensors (made once; made
        before a render is traced, so the trace takes them as constants without a warning)."""
        if self._tensors is None:
            import torch

            self._tensors = ({k: torch.from_numpy(v) for k, v in self._chol.items()},
                             {k: torch.from_numpy(v) for k, v in self._mL.items()})
        return self._tensors

    @property
    def digest(self) -> str:
        """A hash of what the scores depend on (means, precision, z statistics, threshold)."""
        import hashlib

        h = hashlib.sha256(repr((self.threshold, sorted(self.zstats.items()))).encode())
        for k in LAYERS:
            h.update(np.ascontiguousarray(self.means[k], np.float64).tobytes())
            h.update(np.ascontiguousarray(self.precision[k], np.float64).tobytes())
        return h.hexdigest()

    def log_distance(self, layer: str, feats: torch.Tensor) -> torch.Tensor:
        """log of the smallest squared Mahalanobis distance to a class mean, (N,) float64."""
        import torch

        chol, ml = self.torch_tensors()
        fl = feats.double().cpu() @ chol[layer]
        m = ml[layer]
        d2 = (fl * fl).sum(1, keepdim=True) - 2 * fl @ m.T + (m * m).sum(1)[None, :]
        return torch.log(d2.min(1).values.clamp_min(1e-9))

    def scores(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """The decision score (N,) float64: > 0 is not a digit."""
        import torch

        z = [(self.log_distance(k, feats[k]) - self.zstats[k][0]) / self.zstats[k][1] for k in LAYERS]
        return torch.stack(z).max(0).values - self.threshold

    def scores_numpy(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """:meth:`scores` for numpy features (the torch-free first frame)."""
        z = []
        for k in LAYERS:
            fl = np.asarray(feats[k], np.float64) @ self._chol[k]
            m = self._mL[k]
            d2 = (fl * fl).sum(1, keepdims=True) - 2 * fl @ m.T + (m * m).sum(1)[None, :]
            z.append((np.log(np.maximum(d2.min(1), 1e-9)) - self.zstats[k][0]) / self.zstats[k][1])
        return np.max(z, axis=0) - self.threshold

    def save(self, path: str | os.PathLike) -> None:
        from .fileio import atomic_write_bytes
        import io

        arrays = {"format": np.array(FORMAT), "version": np.array(VERSION, np.int64),
                  "classifier_digest": np.array(self.classifier_digest), "threshold": np.array(self.threshold),
                  "info": np.array(json.dumps(self.info))}
        for k in LAYERS:
            arrays[f"means_{k}"] = self.means[k].astype(np.float64)
            arrays[f"precision_{k}"] = self.precision[k].astype(np.float64)
            arrays[f"zstats_{k}"] = np.array(self.zstats[k], np.float64)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
        self.path = Path(path)


# what each array may be: dtype kinds ('U' text, 'i'/'u' integer, 'f' float) and its number of axes
ARRAY_KINDS = {"format": ("U", 0), "version": ("iu", 0), "classifier_digest": ("U", 0), "threshold": ("f", 0),
               "info": ("U", 0), **{f"{a}_{k}": ("f", n) for k in LAYERS
                                    for a, n in (("means", 2), ("precision", 2), ("zstats", 1))}}


def _check_header(path: Path, npz, key: str, shape: tuple | None, declared_bytes: list[int]) -> None:
    """Check array ``key``'s dtype, shape and size from its .npy header, before a byte of its
    data is read.  ``declared_bytes`` accumulates what the arrays read so far declare."""
    import math

    try:
        got, dtype = declared(npz, key)
    except KeyError:
        raise CalibrationError(f"{path}: '{key}' is missing") from None
    except ValueError as exc:
        raise CalibrationError(f"{path}: {exc}: not a calibration") from None
    kinds, ndim = ARRAY_KINDS[key]
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or len(got) != ndim:
        raise CalibrationError(f"{path}: '{key}' is a {dtype} array of shape {got}: not a calibration")
    size = math.prod(got) * dtype.itemsize  # Python integers: no overflow whatever the header says
    declared_bytes.append(size)
    if size > MAX_FILE_BYTES or sum(declared_bytes) > MAX_FILE_BYTES:
        raise CalibrationError(f"{path}: '{key}' declares shape {got} of {dtype} ({size:,} bytes), more than a "
                               f"calibration file holds (at most {MAX_FILE_BYTES:,} bytes in all); not read")
    if shape is not None and got != shape:
        raise CalibrationError(f"{path}: '{key}' has shape {got}, expected {shape}")


def load_calibration(path: str | os.PathLike, classifier_digest: str | None = None,
                     feature_sizes: dict[str, int] | None = None) -> Calibration:
    """Read and check a calibration file (no pickle; each array's dtype, shape and size
    checked from its header before it is read, then its values)."""
    from .regular import open_regular

    path = Path(path)
    fh = open_regular(path, CalibrationError, "digit-check calibration")  # no FIFO, device or folder
    size = os.fstat(fh.fileno()).st_size
    if size > MAX_FILE_BYTES:
        fh.close()
        raise CalibrationError(f"{path}: {size:,} bytes is too large for a digit-check calibration")
    try:
        with fh, np.load(fh, allow_pickle=False) as z:
            declared_bytes: list[int] = []

            def get(key: str, shape=None) -> np.ndarray:
                _check_header(path, z, key, shape, declared_bytes)  # presence, dtype, shape, size
                return z[key]  # numpy reads the shape the header declares

            if str(get("format", ())) != FORMAT:
                raise CalibrationError(f"{path}: not a digit-check calibration")
            if int(get("version", ())) != VERSION:
                raise CalibrationError(f"{path}: calibration version {int(get('version', ()))} is not supported")
            digest = str(get("classifier_digest", ()))
            means, prec, zstats = {}, {}, {}
            for k in LAYERS:
                m = get(f"means_{k}")
                if m.ndim != 2 or m.shape[0] != 10 or not 1 <= m.shape[1] <= 4096:
                    raise CalibrationError(f"{path}: 'means_{k}' has shape {m.shape}, expected (10, D)")
                dim = m.shape[1]
                if feature_sizes and feature_sizes.get(k) != dim:
                    raise CalibrationError(f"{path}: layer {k} has {dim} features here, the classifier gives "
                                           f"{feature_sizes.get(k)}")
                means[k] = m.astype(np.float64)
                prec[k] = get(f"precision_{k}", (dim, dim)).astype(np.float64)
                zs = get(f"zstats_{k}", (2,)).astype(np.float64)
                zstats[k] = (float(zs[0]), float(zs[1]))
                if not (np.isfinite(means[k]).all() and np.isfinite(prec[k]).all() and np.isfinite(zs).all()
                        and zs[1] > 0):
                    raise CalibrationError(f"{path}: layer {k} holds non-finite or invalid values")
                if not (abs(zs[0]) <= MAX_LOG_DISTANCE and MIN_SPREAD <= zs[1] <= MAX_LOG_DISTANCE):
                    raise CalibrationError(f"{path}: layer {k}'s log-distance statistics (mean {zs[0]:.3g}, spread "
                                           f"{zs[1]:.3g}) are not those of a calibration (mean within "
                                           f"+-{MAX_LOG_DISTANCE:g}, spread {MIN_SPREAD:g}..{MAX_LOG_DISTANCE:g})")
            threshold = float(get("threshold", ()))
            info = json.loads(str(get("info", ())))
            if not np.isfinite(threshold) or not isinstance(info, dict):
                raise CalibrationError(f"{path}: invalid threshold or info")
            if not -MAX_THRESHOLD <= threshold <= MAX_THRESHOLD:
                raise CalibrationError(f"{path}: threshold {threshold:.3g} is not that of a calibration (a "
                                       f"standardised score, within +-{MAX_THRESHOLD:g}); such a value would turn "
                                       f"the check off or make every image 'not a digit'")
    except CalibrationError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError, RecursionError) as exc:
        raise CalibrationError(f"{path}: damaged or not a calibration ({str(exc)[:200]})") from None
    if classifier_digest and digest != classifier_digest:
        raise CalibrationError(f"{path}: made for another classifier (calibration {digest[:12]}, classifier "
                               f"{classifier_digest[:12]}); run 'latent-explorer calibrate' to redo it")
    try:
        return Calibration(digest, means, prec, zstats, threshold, info, path)
    except np.linalg.LinAlgError:
        raise CalibrationError(f"{path}: a precision matrix is not positive definite") from None


def _split_index(model: nn.Module) -> int:
    """Index in ``model.body`` of the second max-pool: features before it are ``block4``."""
    from torch import nn

    pools = [i for i, m in enumerate(model.body) if isinstance(m, nn.MaxPool2d)]
    return pools[1]


def feature_sizes(model: nn.Module) -> dict[str, int]:
    return {"penultimate": int(model.config.features), "block4": 4 * int(model.config.width)}


def features(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The two layers' features and the logits for images (N, 1, 28, 28) in [-1, 1] (eval mode)."""
    import torch

    with torch.inference_mode():
        k = _split_index(model)
        h = model.body[:k](x)
        block4 = torch.cat([h.mean((2, 3)), h.std((2, 3))], 1).float()
        pen = model.body[k:](h)
        logits = model.head(pen)
        return {"penultimate": pen.float(), "block4": block4}, logits.float()


@dataclass
class Verdict:
    """The classifier's answer for N images (see the module docstring)."""

    probs: np.ndarray
    label: np.ndarray
    confidence: np.ndarray
    is_digit: np.ndarray
    score: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """bool (N,): False for an invalid image (NaN or infinite pixels; no class at all)."""
        return ~np.isposinf(self.score)

    @property
    def map_labels(self) -> np.ndarray:
        return np.where(self.is_digit, self.label, NO_DIGIT).astype(np.uint8)


def judge_tensor(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities (N, 10) and scores (N,) float64 (NaN without a calibration); an
    invalid image (a NaN or infinite pixel) gets probabilities 0 and score +inf."""
    import torch
    import torch.nn.functional as F

    if model.training:  # eval() walks every module: 0.6 ms of each single-point render when done always
        model.eval()
    feats, logits = features(model, x)
    probs = F.softmax(logits, dim=1)
    cal: Calibration | None = getattr(model, "digitness", None)
    score = torch.full((len(x),), float("nan"), dtype=torch.float64) if cal is None else cal.scores(feats)
    # an image with a NaN or infinite pixel is no image: no class (probabilities 0), never a digit
    # (score +inf); callers tell it apart by its pixels (Frame.valid, INVALID_IMAGE)
    invalid = ~torch.isfinite(x.reshape(len(x), -1)).all(1)
    probs = torch.where(invalid[:, None].to(probs.device), torch.zeros_like(probs), probs)
    score = torch.where(invalid.to(score.device), torch.full_like(score, float("inf")), score)
    return probs, score


def judge(model: nn.Module, images, batch: int = 2048) -> Verdict:
    """Closest digit, confidence, is-a-digit and score for images (N, 1, 28, 28) or (N, 28, 28)."""
    import torch

    x = torch.as_tensor(np.asarray(images, np.float32) if not isinstance(images, torch.Tensor) else images)
    x = x.reshape(-1, 1, 28, 28).float()
    device = next(model.parameters()).device
    probs, scores = [], []
    for i in range(0, len(x), batch):
        p, s = judge_tensor(model, x[i:i + batch].to(device))
        probs.append(p.cpu().numpy())
        scores.append(s.cpu().numpy())
    probs_a = np.concatenate(probs) if probs else np.empty((0, 10), np.float32)
    score = np.concatenate(scores).astype(np.float32) if scores else np.empty(0, np.float32)
    return Verdict(probs=probs_a.astype(np.float32), label=probs_a.argmax(1).astype(np.uint8) if len(probs_a) else
                   np.empty(0, np.uint8), confidence=probs_a.max(1, initial=0).astype(np.float32),
                   is_digit=~(score > 0), score=score)


def attach(model: nn.Module, classifier_path: str | os.PathLike | None, digest: str) -> None:
    """Load ``<classifier>.ood.npz`` if present and attach it as ``model.digitness``
    (raises :class:`CalibrationError` for a damaged or foreign file)."""
    model.digitness = None
    if classifier_path is None:
        return
    path = calibration_path(classifier_path)
    if not os.path.lexists(path):
        import warnings

        warnings.warn(f"{path}: no digit-check calibration beside {Path(classifier_path).name}, so the 'not a "
                      f"digit' check is off (every image counts as a digit); run 'latent-explorer calibrate' to "
                      f"make one", CalibrationWarning, stacklevel=3)
        return
    cal = load_calibration(path, digest, feature_sizes(model))
    cal.torch_tensors()
    model.digitness = cal
    try:
        _probe(model, path)
    except CalibrationError:
        model.digitness = None
        raise


class CalibrationWarning(UserWarning):
    """A classifier loads without its "not a digit" calibration: the check is off."""


def probe_images() -> tuple[np.ndarray, np.ndarray]:
    """Known images for checking a calibration before it is trusted: a drawn 1, 0 and 7
    (MNIST-like, digits to any working calibration by a wide margin) and uniform noise, a
    checkerboard and a white field (not digits by a wide margin).  (images (6, 28, 28), is_digit)."""
    from .digitimage import mnist_like

    yy, xx = np.mgrid[0:40, 0:40]
    one = np.zeros((40, 40), np.float32)
    one[4:36, 17:22] = 1
    ring = np.sqrt(((yy - 20) / 15.0) ** 2 + ((xx - 20) / 10.0) ** 2)
    zero = np.clip(1 - np.abs(ring - 1) * 6, 0, 1).astype(np.float32)
    seven = np.zeros((40, 40), np.float32)
    seven[5:9, 6:34] = 1
    for i in range(9, 36):
        c = int(34 - (i - 9) * 0.6)
        seven[i, c - 2:c + 2] = 1
    noise = np.random.default_rng(0).uniform(-1, 1, (28, 28)).astype(np.float32)
    checker = np.where((np.indices((28, 28)).sum(0) // 4) % 2 == 0, 1, -1).astype(np.float32)
    images = np.stack([mnist_like(one), mnist_like(zero), mnist_like(seven), noise, checker,
                       np.ones((28, 28), np.float32)])
    return images, np.array([True, True, True, False, False, False])


def _probe(model: nn.Module, path: Path) -> None:
    """CalibrationError unless the attached calibration tells the known digits from the
    known non-digits (:func:`probe_images`): finite values in range can still turn the check
    off or make a clear 3 'not a digit'."""
    images, expected = probe_images()
    verdict = judge(model, images)
    wrong = np.flatnonzero(verdict.is_digit != expected)
    if len(wrong):
        names = ["a drawn 1", "a drawn 0", "a drawn 7", "uniform noise", "a checkerboard", "a white field"]
        said = ", ".join(f"{names[i]} judged {'a digit' if verdict.is_digit[i] else 'not a digit'}" for i in wrong)
        raise CalibrationError(f"{path}: the calibration fails its check on known images ({said}); run "
                               f"'latent-explorer calibrate' to redo it")
