"""Careful HDF5 reading and checksummed writing, shared by atlases and histories.

Writing: :func:`writing` builds the file in memory and then writes its bytes atomically
with plain file I/O, because HDF5 itself handles a failing disk badly (on a full disk it
reports errors while closing and can crash the process).  Files use the HDF5 1.10 object
formats (whose metadata carries checksums), every
dataset gets the Fletcher-32 checksum filter and strings are stored as fixed-length
attributes inside the (checksummed) object header, so a damaged byte anywhere in a file
written here is reported by HDF5 instead of being read as data.

Reading: :func:`read_dataset` checks a dataset's kind, shape, type, filters and on-disk
size against the file before it reads a byte, so a damaged or hostile file cannot make
the reader allocate much more memory than the file could hold.  Problems are raised as
:class:`H5Problem` (a ValueError); each loader turns it into its own error type.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
from typing import Iterator

import h5py
import numpy as np

# Low bound 1.10: superblock v2, object headers v2 and chunk indexes with checksums.
FILE_OPTIONS = {"libver": ("v110", "latest")}
DATASET_OPTIONS = {"fletcher32": True}
# deflate cannot expand data by more than about 1032:1; shuffle and Fletcher-32 do not expand it
DEFLATE_MAX_RATIO = 1032
_FILTERS = {h5py.h5z.FILTER_DEFLATE: DEFLATE_MAX_RATIO, h5py.h5z.FILTER_SHUFFLE: 1, h5py.h5z.FILTER_FLETCHER32: 1}


@contextlib.contextmanager
def writing(path: str | os.PathLike, exclusive: bool = False) -> Iterator[h5py.File]:
    """``with writing(path) as f:`` fill ``f``; on success the file appears at ``path``
    atomically, on any error nothing is written and an existing file is kept."""
    from .fileio import atomic_write_bytes

    buf = io.BytesIO()
    with h5py.File(buf, "w", **FILE_OPTIONS) as f:
        yield f
    atomic_write_bytes(path, buf.getbuffer(), exclusive=exclusive)


class H5Problem(ValueError):
    """A dataset or attribute is missing, of the wrong kind, or larger than its file allows."""


def set_str(attrs, name: str, value: str) -> None:
    """Store a string attribute as fixed-length UTF-8 (inline, covered by the header checksum)."""
    raw = value.encode("utf-8")
    attrs.create(name, data=np.array(raw, dtype=h5py.string_dtype("utf-8", max(1, len(raw)))))


_MISSING = object()


def _scalar(attrs, name: str, default):
    """The attribute's value (0-d arrays unwrapped); _MISSING when absent with a default; H5Problem when
    absent without one."""
    if name not in attrs:
        if default is None:
            raise H5Problem(f"attribute '{name}' is missing")
        return _MISSING
    value = attrs[name]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    return value


def get_str(attrs, name: str, default: str | None = None) -> str:
    """A string attribute, fixed-length or variable-length; H5Problem unless it is one."""
    value = _scalar(attrs, name, default)
    if value is _MISSING:
        return default
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise H5Problem(f"attribute '{name}' is not valid UTF-8 text") from None
    if isinstance(value, str):
        return str(value)
    raise H5Problem(f"attribute '{name}' is not text")


def get_number(attrs, name: str, kind: type, default=None):
    """A scalar int, float or bool attribute; H5Problem for arrays, text and out-of-kind values."""
    value = _scalar(attrs, name, default)
    if value is _MISSING:
        return default
    if kind is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
            return bool(value)
    elif kind is int:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return float(value)
    raise H5Problem(f"attribute '{name}' is not a single {kind.__name__} ({type(value).__name__})")


@contextlib.contextmanager
def open_file(path: str | os.PathLike, error: type[Exception], what: str) -> Iterator[h5py.File]:
    """``with open_file(...) as f``: the HDF5 file ``path``, read only, if it is a regular
    file (a FIFO or device would hang or feed the HDF5 library without end); other files
    raise ``error`` naming the path.

    The path is opened once (:func:`.regular.open_regular`: checked on the open
    descriptor) and HDF5 reads through that Python file object, so a file swapped for a
    FIFO between the check and the read is never opened by HDF5 by name."""
    from .regular import open_regular

    with open_regular(path, error, what) as fh:
        with h5py.File(fh, "r") as f:
            yield f


def get_object(group, key: str):
    """``group[key]`` reached through hard links only, or None when absent.

    External links (data in another file, which may be a FIFO) and soft links are
    refused before they are followed; ``key`` may name a path such as ``steps/g_loss``."""
    node, parts = group, key.split("/")
    for i, part in enumerate(parts):
        if not isinstance(node, h5py.Group):
            raise H5Problem(f"'{key}': '{parts[i - 1]}' is not a group")
        link = node.get(part, getlink=True)
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise H5Problem(f"'{key}' is a link to another file ({link.filename[:80]}); refused")
        if not isinstance(link, h5py.HardLink):
            raise H5Problem(f"'{key}' is a soft link; only objects stored in place are read")
        node = node[part]
    return node


def read_dataset(group, key: str, shape: tuple[int, ...], dtypes, file_size: int,
                 out_dtype=None) -> np.ndarray:
    """Read ``group[key]`` after checking it is a plain dataset of ``shape`` with one of
    ``dtypes``, stored inside this file, with known filters, and that the data it declares
    fits in the bytes it occupies (and those in the file)."""
    obj = get_object(group, key)
    if obj is None:
        raise H5Problem(f"dataset '{key}' is missing")
    if not isinstance(obj, h5py.Dataset):
        raise H5Problem(f"'{key}' is not a dataset")
    if tuple(obj.shape or ()) != tuple(shape):
        raise H5Problem(f"dataset '{key}' has shape {obj.shape}, expected {tuple(shape)}")
    allowed = [np.dtype(t) for t in dtypes]
    if obj.dtype not in allowed:
        raise H5Problem(f"dataset '{key}' has type {obj.dtype}, expected {' or '.join(map(str, allowed))}")
    if obj.is_virtual or obj.external:
        raise H5Problem(f"dataset '{key}' keeps its data outside the file")
    plist = obj.id.get_create_plist()
    ratio = 1
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _FILTERS:
            raise H5Problem(f"dataset '{key}' uses an unsupported filter ({code})")
        ratio *= _FILTERS[code]
    nbytes = math.prod(shape) * obj.dtype.itemsize
    stored = obj.id.get_storage_size()
    if stored > file_size:
        raise H5Problem(f"dataset '{key}' claims {stored:,} bytes of storage in a {file_size:,}-byte file")
    if nbytes > stored * ratio:
        raise H5Problem(f"dataset '{key}' declares {nbytes:,} bytes of data but stores only {stored:,}")
    if out_dtype is None or np.dtype(out_dtype) == obj.dtype:
        return obj[()]
    out = np.empty(shape, out_dtype)  # HDF5 converts in bounded steps: no full-size copy in the stored type
    if out.size:
        obj.read_direct(out)
    return out
