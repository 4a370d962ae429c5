"""MNIST: the IDX reader, where the files live, download and verification.

The reader checks every header field against the file before it allocates anything,
so a damaged or hostile file ends in :class:`DataError` naming the file and the fault.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
ROWS = COLS = 28
MAX_ITEMS = 1_000_000  # far above MNIST's 60,000; guards against huge declared sizes

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# md5 of the decompressed bytes (the gz files of mirrors may be re-compressed).
RAW_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DATA_ENV = "LATENT_EXPLORER_DATA"


class DataError(Exception):
    """A data file is missing, damaged or inconsistent; the message names the file."""


def _read_payload(path: Path, limit: int) -> bytes:
    """Decompress at most ``limit`` + 1 bytes of a .gz (or raw) IDX file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    return gz.read(limit + 1)
            return fh.read(limit + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({exc}); the file is truncated or corrupt") from None


def _header(path: Path) -> bytes:
    return _read_payload(path, 16)[:16]


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Images of an IDX3 file as an (N, 28, 28) uint8 array."""
    path = Path(path)
    head = _header(path)
    if len(head) < 16:
        raise DataError(f"{path}: too short for an IDX image header ({len(head)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", head)
    if magic != IMAGE_MAGIC:
        raise DataError(f"{path}: wrong magic number {magic} (an IDX image file has {IMAGE_MAGIC})")
    if (rows, cols) != (ROWS, COLS):
        raise DataError(f"{path}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
    if not 0 < count <= MAX_ITEMS:
        raise DataError(f"{path}: declared image count {count} is out of range (1..{MAX_ITEMS})")
    expected = 16 + count * rows * cols
    payload = _read_payload(path, expected)
    if len(payload) < expected:
        raise DataError(f"{path}: truncated: header declares {count} images ({expected} bytes), "
                        f"file holds {len(payload)} bytes")
    if len(payload) > expected:
        raise DataError(f"{path}: {len(payload) - expected}+ bytes of trailing data after {count} images")
    return np.frombuffer(payload, dtype=np.uint8, offset=16).reshape(count, rows, cols).copy()


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Labels of an IDX1 file as an (N,) uint8 array with values 0..9."""
    path = Path(path)
    head = _header(path)[:8]
    if len(head) < 8:
        raise DataError(f"{path}: too short for an IDX label header ({len(head)} bytes)")
    magic, count = struct.unpack(">II", head)
    if magic != LABEL_MAGIC:
        raise DataError(f"{path}: wrong magic number {magic} (an IDX label file has {LABEL_MAGIC})")
    if not 0 < count <= MAX_ITEMS:
        raise DataError(f"{path}: declared label count {count} is out of range (1..{MAX_ITEMS})")
    expected = 8 + count
    payload = _read_payload(path, expected)
    if len(payload) < expected:
        raise DataError(f"{path}: truncated: header declares {count} labels, file holds {len(payload) - 8}")
    if len(payload) > expected:
        raise DataError(f"{path}: trailing data after {count} labels")
    labels = np.frombuffer(payload, dtype=np.uint8, offset=8).copy()
    if labels.max(initial=0) > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(f"{path}: label {labels[bad]} at index {bad} is outside 0..9")
    return labels


@dataclass
class Split:
    """One MNIST split: uint8 images (N, 28, 28) and labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def default_data_dir() -> Path:
    """The environment variable if set, else the per-user cache folder."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "latent-explorer" / "mnist"


def resolve_data_dir(data: str | os.PathLike | None = None) -> Path:
    """``--data DIR`` if given, else ``$LATENT_EXPLORER_DATA``, else the user cache."""
    return Path(data) if data else default_data_dir()


def load_split(split: str, data: str | os.PathLike | None = None) -> Split:
    """Load 'train' or 'test' from the data folder, with all checks."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = resolve_data_dir(data)
    img_path = folder / FILES[f"{split}_images"]
    lab_path = folder / FILES[f"{split}_labels"]
    for p in (img_path, lab_path):
        if not p.exists():
            raise DataError(f"{p}: file not found (run 'latent-explorer download --data {folder}' "
                            f"or pass --data DIR pointing at the four MNIST .gz files)")
    images = read_idx_images(img_path)
    labels = read_idx_labels(lab_path)
    if len(images) != len(labels):
        raise DataError(f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels")
    return Split(images, labels)


def to_gan_range(images: np.ndarray):
    """uint8 pixels 0..255 -> float32 torch tensor (N, 1, 28, 28) in [-1, 1]."""
    import torch

    return torch.from_numpy(images).float().div_(127.5).sub_(1.0).unsqueeze(1)


def raw_md5(path: str | os.PathLike) -> str:
    """md5 of the decompressed bytes of a .gz file."""
    h = hashlib.md5()
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({exc})") from None
    return h.hexdigest()


def verify(folder: str | os.PathLike) -> dict[str, str]:
    """Check the four files' decompressed md5 sums; raise DataError on the first mismatch."""
    folder = Path(folder)
    result = {}
    for name, want in RAW_MD5.items():
        path = folder / name
        if not path.exists():
            raise DataError(f"{path}: file not found")
        got = raw_md5(path)
        if got != want:
            raise DataError(f"{path}: checksum mismatch (md5 of decompressed bytes {got}, expected {want})")
        result[name] = got
    return result


def data_checksum(folder: str | os.PathLike) -> str:
    """A short fingerprint of the training data, recorded in checkpoints."""
    folder = Path(folder)
    h = hashlib.sha256()
    for name in (FILES["train_images"], FILES["train_labels"]):
        h.update(raw_md5(folder / name).encode())
    return h.hexdigest()[:16]


def download(folder: str | os.PathLike | None = None, mirrors=MIRRORS, log=print) -> Path:
    """Fetch missing files from a public mirror, verify, and store them atomically."""
    folder = resolve_data_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, want in RAW_MD5.items():
        target = folder / name
        if target.exists() and raw_md5(target) == want:
            continue
        errors = []
        for base in mirrors:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
            os.close(fd)
            try:
                log(f"downloading {base}{name}")
                urllib.request.urlretrieve(base + name, tmp)
                if raw_md5(tmp) != want:
                    raise DataError(f"{base}{name}: checksum mismatch")
                os.replace(tmp, target)
                break
            except Exception as exc:  # try the next mirror
                errors.append(f"{base}: {exc}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise DataError(f"{target}: could not download from any mirror: " + "; ".join(errors))
    return folder
