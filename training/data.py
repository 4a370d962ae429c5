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
MIRRORS_ENV = "LATENT_EXPLORER_MIRRORS"  # comma-separated base URLs replacing the list below
MIRRORS = tuple(u.strip() for u in os.environ.get(MIRRORS_ENV, "").split(",") if u.strip()) or (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DATA_ENV = "LATENT_EXPLORER_DATA"


class DataError(Exception):
    """A data file is missing, damaged or inconsistent; the message names the file."""


GZIP_MAX_RATIO = 1032  # deflate never expands data by more than about 1032:1
_CHUNK = 1 << 20


def _open_checked(path: Path):
    from latent_explorer.models.regular import open_regular

    return open_regular(path, DataError, "IDX file")


def _read_upto(src, limit: int) -> bytearray:
    """At most ``limit`` bytes; memory grows with the bytes actually read (1 MiB steps)."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = src.read(min(_CHUNK, limit - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_idx(path: Path, header_size: int, parse) -> tuple[tuple, bytearray]:
    """Read an IDX file (.gz or raw) once: its header, then -- only if the file can hold
    what the header declares -- the data plus one byte (to detect trailing data).

    ``parse(head)`` checks the header fields and returns ``(fields, data_bytes, what)``."""
    with _open_checked(path) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            compressed = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
            src = gzip.GzipFile(fileobj=fh) if compressed else fh
            head = bytes(_read_upto(src, header_size))
            if len(head) < header_size:
                raise DataError(f"{path}: too short for an IDX {'image' if header_size == 16 else 'label'} "
                                f"header ({len(head)} bytes)")
            fields, expected, what = parse(head)
            room = size * GZIP_MAX_RATIO if compressed else size - header_size
            if expected > room:
                raise DataError(f"{path}: truncated: header declares {what} ({header_size + expected:,} bytes), "
                                f"more than {'a compressed' if compressed else 'a'} file of {size:,} bytes can hold")
            data, got = _read_into(src, expected)
            extra = src.read(1) if got == expected else b""
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: cannot decompress ({exc}); the file is truncated or corrupt") from None
    if got < expected:
        raise DataError(f"{path}: truncated: header declares {what} ({header_size + expected:,} bytes), "
                        f"file holds {header_size + got:,} bytes")
    if extra:
        raise DataError(f"{path}: trailing data after {what}")
    return fields, data


def _read_into(src, n: int) -> tuple[np.ndarray, int]:
    """Read up to ``n`` bytes straight into one uint8 array (no second copy); returns it and
    the count read.  Untouched pages of the array are never committed, so memory grows with
    the bytes actually there."""
    out = np.empty(n, np.uint8)
    view, got = memoryview(out), 0
    while got < n:
        k = src.readinto(view[got:got + _CHUNK])
        if not k:
            break
        got += k
    return out, got


def read_idx_images(path: str | os.PathLike, count: int | None = None) -> np.ndarray:
    """Images of an IDX3 file as an (N, 28, 28) uint8 array; with ``count`` given, a header
    that declares another number of images is refused before any image is read."""
    path = Path(path)
    want = count

    def parse(head: bytes):
        magic, count, rows, cols = struct.unpack(">IIII", head)
        if magic != IMAGE_MAGIC:
            raise DataError(f"{path}: wrong magic number {magic} (an IDX image file has {IMAGE_MAGIC})")
        if (rows, cols) != (ROWS, COLS):
            raise DataError(f"{path}: images are {rows}x{cols}, expected {ROWS}x{COLS}")
        if not 0 < count <= MAX_ITEMS:
            raise DataError(f"{path}: declared image count {count} is out of range (1..{MAX_ITEMS})")
        if want is not None and count != want:
            raise DataError(f"{path} declares {count} images but its label file holds {want} labels (refused "
                            f"before reading any image)")
        return (count, rows, cols), count * rows * cols, f"{count} images"

    shape, data = _read_idx(path, 16, parse)
    return data.reshape(shape)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Labels of an IDX1 file as an (N,) uint8 array with values 0..9."""
    path = Path(path)

    def parse(head: bytes):
        magic, count = struct.unpack(">II", head)
        if magic != LABEL_MAGIC:
            raise DataError(f"{path}: wrong magic number {magic} (an IDX label file has {LABEL_MAGIC})")
        if not 0 < count <= MAX_ITEMS:
            raise DataError(f"{path}: declared label count {count} is out of range (1..{MAX_ITEMS})")
        return count, count, f"{count} labels"

    _, labels = _read_idx(path, 8, parse)
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
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: is a file, not a folder; --data names the folder that holds the four MNIST "
                        f".gz files")
    img_path = folder / FILES[f"{split}_images"]
    lab_path = folder / FILES[f"{split}_labels"]
    for p in (img_path, lab_path):
        if not p.exists() and not p.is_symlink():
            raise DataError(f"{p}: file not found (run 'latent-explorer download --data {folder}' "
                            f"or pass --data DIR pointing at the four MNIST .gz files)")
    labels = read_idx_labels(lab_path)  # first: the images' header must then declare as many
    images = read_idx_images(img_path, count=len(labels))
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
        with _open_checked(Path(path)) as raw, gzip.GzipFile(fileobj=raw) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({exc})") from None
    return h.hexdigest()


def verify(folder: str | os.PathLike) -> dict[str, str]:
    """Check the four files' decompressed md5 sums; raise DataError on the first mismatch."""
    folder = Path(folder)
    missing = [name for name in RAW_MD5 if not (folder / name).exists()]
    if missing:
        raise DataError(f"{folder}: " + ("no such folder" if not folder.exists() else
                                         f"{len(missing)} of the 4 MNIST files missing ({', '.join(missing)})")
                        + f"; fetch them with: latent-explorer download --data {folder}")
    result = {}
    for name, want in RAW_MD5.items():
        path = folder / name
        got = raw_md5(path)
        if got != want:
            raise DataError(f"{path}: checksum mismatch (md5 of decompressed bytes {got}, expected {want})")
        result[name] = got
    return result


_CHECKSUMS: dict[tuple, str] = {}


def data_checksum(folder: str | os.PathLike) -> str:
    """A short fingerprint of the training data, recorded in checkpoints (remembered per
    file size and modification time: training asks for it after every epoch)."""
    folder = Path(folder)
    try:
        key = tuple((str(folder / n), st.st_size, st.st_mtime_ns) for n in (FILES["train_images"], FILES["train_labels"])
                    for st in [os.stat(folder / n)])
    except OSError:
        key = None
    if key in _CHECKSUMS:
        return _CHECKSUMS[key]
    h = hashlib.sha256()
    for name in (FILES["train_images"], FILES["train_labels"]):
        h.update(raw_md5(folder / name).encode())
    if key is not None:
        _CHECKSUMS[key] = h.hexdigest()[:16]
    return h.hexdigest()[:16]


TIMEOUT = 30.0           # seconds a connection may stay silent (connect or any read)
ATTEMPT_SECONDS = 600.0  # the longest one attempt at one file may take, however the bytes trickle
ATTEMPTS = 2             # tries per mirror (the second after a short pause)
MAX_DOWNLOAD_BYTES = 64 << 20  # far above the largest MNIST file (9.9 MB)


def _fetch(url: str, dest: str, timeout: float) -> None:
    """``url`` into the file ``dest``: at most ``timeout`` seconds of silence, ``ATTEMPT_SECONDS``
    in all and ``MAX_DOWNLOAD_BYTES``; raises OSError (TimeoutError) or DataError otherwise."""
    import time

    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as src, open(dest, "wb") as out:
        total = 0
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_DOWNLOAD_BYTES:
                raise DataError(f"{url}: more than {MAX_DOWNLOAD_BYTES:,} bytes, not an MNIST file")
            out.write(chunk)
            if time.monotonic() - start > ATTEMPT_SECONDS:
                raise TimeoutError(f"took more than {ATTEMPT_SECONDS:.0f} s")


def _is_good(target: Path, want: str, log) -> bool:
    """True when ``target`` holds the expected data; a damaged or truncated file is not (it
    is fetched again) and says so."""
    if not target.exists():
        return False
    try:
        if raw_md5(target) == want:
            return True
        why = "checksum mismatch"
    except DataError as exc:
        why = str(exc).removeprefix(f"{target}: ")
    log(f"{target}: damaged ({why[:120]}); fetching it again")
    return False


def download(folder: str | os.PathLike | None = None, mirrors=MIRRORS, log=print, timeout: float = TIMEOUT,
             pause: float = 2.0) -> Path:
    """Fetch missing or damaged files from a public mirror, verify, and store them atomically.

    Each mirror is tried ``ATTEMPTS`` times; a connection silent for ``timeout`` seconds is
    given up.  Nothing partial is left behind: the ``.part`` file of a failed attempt is
    removed, and so are those that an earlier, killed run left."""
    import time

    folder = resolve_data_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RAW_MD5:
        for stale in folder.glob(f".{name}.*.part"):  # left by a run that was killed
            try:
                stale.unlink()
            except OSError:
                pass
    for name, want in RAW_MD5.items():
        target = folder / name
        if _is_good(target, want, log):
            continue
        errors = []
        done = False
        for base in mirrors:
            for attempt in range(ATTEMPTS):
                if attempt:
                    time.sleep(pause)
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
                os.close(fd)
                try:
                    log(f"downloading {base}{name}" + (f" (attempt {attempt + 1})" if attempt else ""))
                    _fetch(base + name, tmp, timeout)
                    if raw_md5(tmp) != want:
                        raise DataError(f"{base}{name}: checksum mismatch")
                    os.replace(tmp, target)
                    done = True
                    break
                except Exception as exc:  # try again, then the next mirror
                    errors.append(f"{base}: {str(exc)[:160] or type(exc).__name__}")
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            if done:
                break
        else:
            raise DataError(f"{target}: could not download from any mirror: " + "; ".join(errors))
    return folder
