"""Nearest MNIST training images of any image, and a memorisation gauge.

Two spaces:

* ``feature``: the classifier's penultimate features (:meth:`DigitClassifier.embed`) scaled
  to unit length, Euclidean distance (0 .. sqrt 2), as in :mod:`.projection`;
* ``pixel``: the RMS pixel difference on a 0..1 scale.  Searched exactly: distances in a
  PCA subspace are lower bounds of the true ones, so only the few images whose bound is
  small enough get their full distance computed.

The index (features, PCA coordinates, and the typical distance from a test digit to its
nearest training digit in each space) is built once and cached in the per-user cache
folder under a key made of a checksum of the training data and the classifier's digest.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .atlas import Cancelled
from .checkpoint import Checkpoint
from .fileio import atomic_path
from .npyheader import declared

SPACES = ("feature", "pixel")
INDEX_VERSION = 1
PCA_DIMS = 48
FEATURE_PCA_DIMS = 64  # (of 128) bounds tight enough that ~95% of queries need at most 256 exact distances
GAUGE_TESTS = 1000   # test digits whose nearest training digit sets the typical distance
BATCH = 500


def _private_classifier(classifier: Checkpoint) -> torch.nn.Module:
    import copy

    m = copy.deepcopy(classifier.model).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def data_checksum(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the decoded training images and labels."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, np.uint8).tobytes())
    return h.hexdigest()


@dataclass
class Neighbours:
    """The nearest training images of one query, nearest first."""

    space: str
    indices: np.ndarray    # into the training set
    distances: np.ndarray
    labels: np.ndarray
    images: np.ndarray     # (k, 28, 28) uint8

    def to_dict(self) -> dict:
        return {"space": self.space, "neighbours": [
            {"index": int(i), "label": int(lab), "distance": round(float(d), 6)}
            for i, lab, d in zip(self.indices, self.labels, self.distances)]}


@dataclass
class Gauge:
    """Distance to the nearest training image against test digits' nearest distances."""

    space: str
    distance: float
    median: float  # typical distance from a test digit to its nearest training digit
    p5: float
    p95: float

    @property
    def ratio(self) -> float:
        return self.distance / self.median if self.median > 0 else float("inf")

    def verdict(self) -> str:
        if self.distance < self.p5:
            return ("closer to a training image than 95% of real test digits are to theirs: "
                    "possibly a copy of a training digit")
        if self.distance <= self.p95:
            return "as close to the training set as a typical new digit is"
        return "farther from every training image than 95% of real test digits are"

    def sentence(self) -> str:
        return (f"nearest training image at {self.distance:.3f} ({self.space}); a test digit's nearest is "
                f"typically {self.median:.3f} (5-95%: {self.p5:.3f}-{self.p95:.3f}): {self.verdict()}")

    def to_dict(self) -> dict:
        return {"space": self.space, "distance": round(self.distance, 6), "test_median": round(self.median, 6),
                "test_p5": round(self.p5, 6), "test_p95": round(self.p95, 6), "ratio": round(self.ratio, 4),
                "verdict": self.verdict()}


class NeighbourIndex:
    """The training set in both spaces, with the classifier that embeds queries."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, features: np.ndarray, pca_mean: np.ndarray,
                 pca_basis: np.ndarray, pca_coords: np.ndarray, stats: np.ndarray, classifier: Checkpoint,
                 key: str) -> None:
        self.images, self.labels = images, labels
        self.features = features
        self.pca_mean, self.pca_basis, self.pca_coords = pca_mean, pca_basis, pca_coords
        self.stats = stats  # (2, 3): per space (feature, pixel): median, p5, p95 of test->train distances
        self.classifier = classifier
        self.key = key
        self._model = _private_classifier(classifier)
        self._flat = images.reshape(len(images), -1)
        self._coord_norms = np.einsum("ij,ij->i", pca_coords, pca_coords)
        self._residuals = _residual_norms(self._flat, pca_mean, self._coord_norms)
        # features: the same search on their first principal directions (4x less to read per query)
        _mean, self._feature_basis = _pca(features, min(FEATURE_PCA_DIMS, features.shape[1]))
        self._feature_coords = np.ascontiguousarray(features @ self._feature_basis)
        self._feature_norms = np.einsum("ij,ij->i", self._feature_coords, self._feature_coords)
        self._feature_residuals = np.sqrt(np.maximum(0.0, np.einsum("ij,ij->i", features, features)
                                                     - self._feature_norms)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    # ------------------------------------------------------------ queries
    @torch.inference_mode()
    def embed(self, images: np.ndarray) -> np.ndarray:
        """Unit-length features (N, F) of images (N, 28, 28) in [-1, 1]."""
        x = torch.as_tensor(np.asarray(images, np.float32)).reshape(-1, 1, 28, 28)
        out = [F.normalize(self._model.embed(x[i:i + BATCH]), dim=1).numpy() for i in range(0, len(x), BATCH)]
        return np.concatenate(out) if out else np.empty((0, self.features.shape[1]), np.float32)

    def _feature_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(q, np.float32)
        qc = q @ self._feature_basis
        qq = float(qc @ qc)
        bound = _lower_bound(self._feature_norms, self._feature_coords @ qc, qq, self._feature_residuals,
                             float(q @ q) - qq)

        def exact(idx):
            diff = self.features[idx] - q
            return np.einsum("ij,ij->i", diff, diff)

        return self._bounded(bound, exact, k, first=256)

    def _pixel_search(self, image: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = (np.asarray(image, np.float32).reshape(-1) + 1.0) / 2.0
        qd = q - self.pca_mean
        qc = qd @ self.pca_basis
        qq = float(qc @ qc)
        bound = _lower_bound(self._coord_norms, self.pca_coords @ qc, qq, self._residuals, float(qd @ qd) - qq)

        def exact(idx):
            diff = self._flat[idx].astype(np.float32) * np.float32(1 / 255.0) - q
            return np.einsum("ij,ij->i", diff, diff) / 784.0

        bound /= 784.0
        return self._bounded(bound, exact, k, first=512)

    @staticmethod
    def _bounded(bound: np.ndarray, exact2: Callable[[np.ndarray], np.ndarray], k: int,
                 first: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest from lower bounds of the squared distances: the full distance is
        computed for the ``first`` smallest bounds (fewer in a small index), then 4x as many,
        until the k-th best is below every bound left."""
        n = len(bound)
        k = min(k, n)
        m = min(n, max(min(first, n // 64), 8 * k))
        while True:
            if m < n:
                part = np.argpartition(bound, m)
                cand, outside = part[:m], float(bound[part[m]])  # every other bound is >= outside
            else:
                cand, outside = np.arange(n), np.inf
            d2 = exact2(cand)
            order = np.argsort(d2, kind="stable")[:k]
            if d2[order[-1]] <= outside * (1 - 1e-5) - 1e-7 or m >= n:
                return cand[order], np.sqrt(np.maximum(0.0, d2[order].astype(np.float64)))
            m = min(n, m * 4)

    def query(self, image: np.ndarray, k: int = 8, space: str = "feature") -> Neighbours:
        """The ``k`` training images nearest to ``image`` (28, 28) in [-1, 1]."""
        if space not in SPACES:
            raise ValueError(f"unknown space {space!r} (feature or pixel)")
        img = np.asarray(image, np.float32)
        if img.shape != (28, 28) or not np.all(np.isfinite(img)):
            raise ValueError(f"a query must be a finite 28 x 28 image, got shape {img.shape}")
        if space == "feature":
            idx, dist = self._feature_search(self.embed(img[None])[0], k)
        else:
            idx, dist = self._pixel_search(img, k)
        return Neighbours(space=space, indices=idx, distances=dist, labels=self.labels[idx], images=self.images[idx])

    def gauge(self, distance: float, space: str = "feature") -> Gauge:
        """How ``distance`` (to the nearest training image) compares with test digits'."""
        med, p5, p95 = (float(v) for v in self.stats[SPACES.index(space)])
        return Gauge(space=space, distance=float(distance), median=med, p5=p5, p95=p95)


def _residual_norms(flat: np.ndarray, mean: np.ndarray, coord_norms: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Length of each image's part outside the PCA subspace: sqrt(|x - mean|^2 - |coords|^2)."""
    out = np.empty(len(flat), np.float32)
    for i in range(0, len(flat), chunk):
        d = flat[i:i + chunk].astype(np.float32) * np.float32(1 / 255.0) - mean
        out[i:i + chunk] = np.einsum("ij,ij->i", d, d)
    return np.sqrt(np.maximum(0.0, out - coord_norms))


def _lower_bound(norms: np.ndarray, dots: np.ndarray, qq: float, residuals: np.ndarray, rq2: float) -> np.ndarray:
    """Lower bounds of squared distances, |xp - qp|^2 + (|xr| - |qr|)^2 (p: in the subspace,
    r: outside it; the second term by the triangle inequality), less a float32 rounding margin."""
    rq = np.float32(np.sqrt(max(0.0, rq2)))
    bound = norms - 2.0 * dots
    bound += np.float32(qq - 1e-5 * (1.0 + qq + rq2))
    gap = residuals - rq
    gap *= gap
    bound += gap
    return bound


# ------------------------------------------------------------------ building and caching


def cache_path(folder: Path, key: str) -> Path:
    return Path(folder) / "neighbours" / f"{key}.npz"


def index_key(checksum: str, classifier: Checkpoint, limit: int | None) -> str:
    part = f"-n{limit}" if limit else ""
    return f"v{INDEX_VERSION}-{checksum[:16]}-{classifier.digest[:12]}{part}"


def _pca(flat01: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    sample = flat01[rng.choice(len(flat01), size=min(len(flat01), 10000), replace=False)]
    mean = sample.mean(axis=0)
    _u, _s, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return mean.astype(np.float32), np.ascontiguousarray(vt[:dims].T, np.float32)


def build_index(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                classifier: Checkpoint, key: str = "", progress: Callable[[float, str], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> NeighbourIndex:
    """Embed the training images, fit the pixel PCA and measure test->train distances."""
    n = len(train_images)
    model = _private_classifier(classifier)
    feats = []
    with torch.inference_mode():
        for i in range(0, n, BATCH):
            if cancelled is not None and cancelled():
                raise Cancelled()
            x = torch.from_numpy(train_images[i:i + BATCH]).float().div_(127.5).sub_(1.0).unsqueeze(1)
            feats.append(F.normalize(model.embed(x), dim=1).numpy().copy())
            if progress is not None:
                progress(min(1.0, (i + BATCH) / n) * 0.9, f"embedding training images {min(n, i + BATCH):,}/{n:,}")
    features = np.concatenate(feats)
    flat01 = train_images.reshape(n, -1).astype(np.float32) / 255.0
    mean, basis = _pca(flat01, min(PCA_DIMS, n))
    coords = np.empty((n, basis.shape[1]), np.float32)
    for i in range(0, n, 10000):
        coords[i:i + 10000] = (flat01[i:i + 10000] - mean) @ basis
    del flat01
    stats = np.zeros((2, 3), np.float32)
    index = NeighbourIndex(train_images, train_labels, features, mean, basis, coords, stats, classifier, key)
    rng = np.random.default_rng(0)
    count = min(GAUGE_TESTS, len(test_images), max(1, n // 2))  # a small (test) index: fewer test digits
    tests = test_images[np.sort(rng.choice(len(test_images), size=count, replace=False))]
    tests = tests.astype(np.float32) / 127.5 - 1.0
    if progress is not None:
        progress(0.92, "measuring test digits' nearest training digits")
    tf = index.embed(tests)
    near, pix = np.empty(len(tests)), np.empty(len(tests))
    for j in range(len(tests)):
        if j % 100 == 0 and cancelled is not None and cancelled():
            raise Cancelled()
        near[j] = index._feature_search(tf[j], 1)[1][0]
        pix[j] = index._pixel_search(tests[j], 1)[1][0]
    for row, d in enumerate((near, pix)):
        stats[row] = (np.median(d), np.percentile(d, 5), np.percentile(d, 95))
    return index


def save_index(index: NeighbourIndex, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp.npz") as tmp:
        arrays = {name: getattr(index, name) for name in _ARRAYS}
        np.savez(tmp, key=np.array(index.key), content=np.array(_content_digest(index.key, arrays)), **arrays)


_ARRAYS = ("features", "pca_mean", "pca_basis", "pca_coords", "stats")
_CACHED = ("key", "content", *_ARRAYS)
SPOT_CHECKS = 32  # training images embedded again when a cache is read, to tie it to the data it was made from


def _content_digest(key: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(key.encode())
    for name in _ARRAYS:
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def _check_content(index: "NeighbourIndex", images: np.ndarray) -> None:
    """ValueError unless the cached arrays are what this data and classifier give: random
    training images embedded and projected again must land on their cached rows (features
    reordered or taken from other data fail), and the gauge's statistics must be ordered
    distances (feature distances of unit vectors are at most 2)."""
    n = len(images)
    rows = np.sort(np.random.default_rng().choice(n, size=min(SPOT_CHECKS, n), replace=False))
    feats = index.embed(images[rows].astype(np.float32) / 127.5 - 1.0)
    if not np.allclose(feats, index.features[rows], atol=1e-3):
        raise ValueError("its features are not those of these training images (reordered or from other data)")
    coords = (images[rows].reshape(len(rows), -1).astype(np.float32) / 255.0 - index.pca_mean) @ index.pca_basis
    if not np.allclose(coords, index.pca_coords[rows], atol=1e-2):
        raise ValueError("its pixel coordinates are not those of these training images")
    s = index.stats.astype(np.float64)
    if not (np.all(s > 0) and np.all(s[:, 1] <= s[:, 0]) and np.all(s[:, 0] <= s[:, 2]) and s[0, 2] <= 2.0
            and s[1, 2] <= 1.0):
        raise ValueError("its distance statistics are not distances (median, 5th and 95th percentile)")


def _declared_shapes_ok(z, n: int, width: int) -> bool:
    """The shapes and types the cached file's entries declare, checked before any is read
    (a crafted header could otherwise make the reader allocate without bound)."""
    if sorted(z.files) != sorted(_CACHED):
        return False
    try:
        head = {name: declared(z, name) for name in _CACHED}  # (shape, dtype)
    except (KeyError, ValueError):
        return False
    (k_shape, k_type), (b_shape, _) = head["key"], head["pca_basis"]
    if k_shape != () or k_type.kind != "U" or k_type.itemsize > 4 * 256 or len(b_shape) != 2:
        return False
    if head["content"][0] != () or head["content"][1].kind != "U" or head["content"][1].itemsize > 4 * 64:
        return False
    want = {"features": (n, width), "pca_mean": (784,), "pca_basis": (784, b_shape[1]),
            "pca_coords": (n, b_shape[1]), "stats": (2, 3)}
    return (1 <= b_shape[1] <= 784
            and all(head[k] == (shape, np.dtype(np.float32)) for k, shape in want.items()))


def _load_cached(path: Path, key: str, images: np.ndarray, labels: np.ndarray,
                 classifier: Checkpoint) -> NeighbourIndex:
    """Read a cached index; ValueError when it is damaged or belongs to other data.  Only a
    regular file is read, and only after the shapes its entries declare are checked."""
    from .regular import open_regular

    n = len(labels)
    with open_regular(path, ValueError, "neighbour index cache") as fh, np.load(fh, allow_pickle=False) as z:
        if not _declared_shapes_ok(z, n, int(classifier.model.config.features)):
            raise ValueError("damaged (unexpected entries, shapes or types)")
        if str(z["key"]) != key:
            raise ValueError("built for other data or another classifier")
        arrays = {name: z[name] for name in _ARRAYS}
        if str(z["content"]) != _content_digest(key, arrays):
            raise ValueError("damaged (its arrays do not match the digest it was saved with)")
    feats, basis = arrays["features"], arrays["pca_basis"]
    shapes_ok = (feats.ndim == 2 and feats.shape[0] == n and basis.ndim == 2 and basis.shape[0] == 784
                 and arrays["pca_mean"].shape == (784,) and arrays["pca_coords"].shape == (n, basis.shape[1])
                 and arrays["stats"].shape == (2, 3))
    if not shapes_ok or any(a.dtype != np.float32 or not np.all(np.isfinite(a)) for a in arrays.values()):
        raise ValueError("damaged (unexpected shapes, types or values)")
    index = NeighbourIndex(images, labels, feats, arrays["pca_mean"], basis, arrays["pca_coords"], arrays["stats"],
                           classifier, key)
    _check_content(index, images)
    return index


def open_index(classifier: Checkpoint, data: str | os.PathLike | None = None, cache: Path | None = None,
               limit: int | None = None, progress: Callable[[float, str], None] | None = None,
               cancelled: Callable[[], bool] | None = None, notes: list[str] | None = None) -> NeighbourIndex:
    """The index for MNIST in ``data`` (default: the usual data folder) and ``classifier``:
    read from the cache when its checksums match, else built and cached.  ``limit``
    indexes only the first training images (tests).  Raises DataError without MNIST."""
    from latent_explorer.training.data import load_split

    from .registry import cache_dir

    train = load_split("train", data)
    test = load_split("test", data)
    images, labels = train.images, train.labels
    if limit:
        images, labels = images[:limit], labels[:limit]
    key = index_key(data_checksum(images, labels), classifier, limit)
    path = cache_path(cache if cache is not None else cache_dir(), key)
    if os.path.lexists(path):
        try:
            return _load_cached(path, key, images, labels, classifier)
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            if notes is not None:
                why = str(exc).removeprefix(f"{path}: ")  # the regular-file check names the file itself
                notes.append(f"{path}: cached neighbour index not used ({why[:160]}); rebuilt")
    index = build_index(images, labels, test.images, classifier, key, progress, cancelled)
    try:
        save_index(index, path)
    except OSError as exc:
        if notes is not None:
            notes.append(f"{path}: cannot cache the neighbour index ({exc})")
    return index
