"""Read a checkpoint without torch: its header, and its weights as numpy arrays.

The app shows its first frame before torch is imported (``models/previewengine.py``),
and the model chooser lists the checkpoints from their headers; both read the
``torch.save`` zip archive here.  The unpickler knows four names only (the tensor
rebuild function, the float and integer storage types and ``OrderedDict``), so it is
stricter than ``torch.load(..., weights_only=True)``: a file that names anything else
is not read here.  The same archive checks as :func:`models.checkpoint.read_payload`
run first.  This reader never replaces the real load: the window loads every model with
torch as before, right after the first frame, and checks that the weights' digest is
the one read here.
"""
from __future__ import annotations

import hashlib
import math
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, _check_archive
from .regular import open_regular

# torch's storage types and the numpy dtype and ``str(tensor.dtype)`` of each
STORAGES = {"FloatStorage": (np.float32, "torch.float32"), "DoubleStorage": (np.float64, "torch.float64"),
            "HalfStorage": (np.float16, "torch.float16"), "LongStorage": (np.int64, "torch.int64"),
            "IntStorage": (np.int32, "torch.int32"), "ShortStorage": (np.int16, "torch.int16"),
            "CharStorage": (np.int8, "torch.int8"), "ByteStorage": (np.uint8, "torch.uint8"),
            "BoolStorage": (np.bool_, "torch.bool")}
TORCH_DTYPE = {np.dtype(d): name for d, name in STORAGES.values()}
MAX_PICKLE_BYTES = 1 << 20


class PreviewUnavailable(Exception):
    """The file is not one this reader handles; the caller uses the torch loader instead
    (which then reports any real problem with the file)."""


class _Storage:
    def __init__(self, dtype: np.dtype, key: str, numel: int) -> None:
        self.dtype, self.key, self.numel = np.dtype(dtype), key, numel


class ArraySpec:
    """A tensor's shape and dtype, read from the header without its data."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, np.dtype(dtype)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, entries: dict[str, bytes] | None, prefix: str, zf: zipfile.ZipFile) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self._zf, self._prefix, self._with_data, self._read = zf, prefix, entries is not None, entries

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._tensor
        if module == "torch" and name in STORAGES:
            return STORAGES[name][0]
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise PreviewUnavailable(f"names {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[2], str)
                and type(pid[4]) is int and pid[4] >= 0 and pid[1] in [d for d, _ in STORAGES.values()]):
            raise PreviewUnavailable("an unexpected storage record")
        return _Storage(pid[1], pid[2], pid[4])

    def _tensor(self, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        if not (isinstance(storage, _Storage) and type(offset) is int and isinstance(size, tuple)
                and isinstance(stride, tuple) and len(size) == len(stride) and not hooks
                and all(type(v) is int and v >= 0 for v in (offset, *size, *stride))):
            raise PreviewUnavailable("an unexpected tensor record")
        n = math.prod(size)
        last = offset + sum((s - 1) * st for s, st in zip(size, stride)) if n else offset - 1
        if last >= storage.numel or n > storage.numel:  # n: a stride-0 view could declare any size
            raise PreviewUnavailable("a tensor reaches past its storage or is larger than it")
        if not self._with_data:
            return ArraySpec(size, storage.dtype)
        if storage.key not in self._read:
            try:
                raw = self._zf.read(f"{self._prefix}data/{storage.key}")
            except KeyError:
                raise PreviewUnavailable(f"storage {storage.key[:20]!r} is missing") from None
            self._read[storage.key] = raw
        raw = self._read[storage.key]
        if len(raw) != storage.numel * storage.dtype.itemsize:
            raise PreviewUnavailable(f"storage {storage.key[:20]!r} has the wrong size")
        flat = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
        item = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[offset:] if n else flat[:0], shape=size,
                                               strides=tuple(s * item for s in stride))
        return np.array(view, dtype=storage.dtype)  # a copy: native order, contiguous, writable


def _read(path: str | os.PathLike, with_data: bool) -> dict:
    path = Path(path)
    fh = open_regular(path, CheckpointError, "checkpoint file")
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise CheckpointError(f"{path}: the file is empty (0 bytes), not a checkpoint")
        _check_archive(path, fh, size)  # stored entries that fit in the file, as for torch.load
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as zf:
                names = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
                if len(names) != 1:
                    raise PreviewUnavailable("no single data.pkl")
                prefix = names[0][: -len("data.pkl")]
                if zf.getinfo(names[0]).file_size > MAX_PICKLE_BYTES:
                    raise PreviewUnavailable("a large data.pkl")
                try:
                    if zf.read(prefix + "byteorder") != b"little":
                        raise PreviewUnavailable("big-endian data")
                except KeyError:
                    pass  # archives written before the byteorder record are little-endian
                payload = _Unpickler(zf.read(names[0]), {} if with_data else None, prefix, zf).load()
        except PreviewUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 -- anything odd: leave the file to the torch loader
            raise PreviewUnavailable(f"{type(exc).__name__}: {str(exc)[:100]}") from None
    if not isinstance(payload, dict):
        raise PreviewUnavailable("not a dict")
    return payload


def read_header(path: str | os.PathLike) -> dict:
    """The checkpoint's payload with every tensor as an :class:`ArraySpec` (no weights read)."""
    return _read(path, with_data=False)


def read_arrays(path: str | os.PathLike) -> dict:
    """The checkpoint's payload with every tensor as a numpy array."""
    return _read(path, with_data=True)


def state_digest(state: dict[str, np.ndarray]) -> str:
    """:func:`models.checkpoint.state_digest` of numpy weights: the same sha256."""
    h = hashlib.sha256()
    for key in sorted(state):
        a = np.asarray(state[key])
        a = a if a.flags.c_contiguous else a.copy(order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        if a.dtype not in TORCH_DTYPE:
            raise PreviewUnavailable(f"weight {key[:40]} has dtype {a.dtype}")
        h.update(key.encode())
        h.update(TORCH_DTYPE[a.dtype].encode())
        h.update(str(tuple(a.shape)).encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes() if a.size else b"")
    return h.hexdigest()
