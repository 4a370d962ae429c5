"""Give freed memory back to the operating system (Qt-free).

After a model switch the old model's atlas, caches and widgets are freed, but glibc's
allocator keeps the pages in its arenas, so the process's resident size ratchets up as the
user moves between models.  ``release_free_memory`` asks glibc to return them
(``malloc_trim``); on other C libraries it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_libc = None


def _load_libc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                lib.malloc_trim.restype = ctypes.c_int
                _libc = lib
            except (OSError, AttributeError):
                _libc = False
    return _libc


def release_free_memory() -> bool:
    """Return free heap pages to the OS; True when the C library supports it."""
    lib = _load_libc()
    if not lib:
        return False
    lib.malloc_trim(0)
    return True


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def heap_stats() -> dict[str, float]:
    """glibc's view of the heap in MiB: ``in_use`` (allocated and not freed, mmapped blocks
    included), ``free_held`` (freed but kept in the arenas) and ``mmapped``; empty elsewhere."""
    lib = _load_libc()
    if not lib or not hasattr(lib, "mallinfo2"):
        return {}
    lib.mallinfo2.restype = _MallInfo2
    m = lib.mallinfo2()
    mb = 1024 * 1024
    return {"in_use": (m.uordblks + m.hblkhd) / mb, "free_held": m.fordblks / mb, "mmapped": m.hblkhd / mb}


def live_tensor_mb() -> float:
    """Bytes held by the torch tensors that Python objects reach (parameters included), in MiB."""
    import gc

    import torch

    seen: set[int] = set()
    total = 0
    for obj in gc.get_objects():
        try:
            if issubclass(type(obj), torch.Tensor) and not obj.is_meta:  # type(): no __class__ lookups
                st = obj.untyped_storage()
                key = st.data_ptr()
                if key not in seen:
                    seen.add(key)
                    total += st.nbytes()
        except (RuntimeError, ReferenceError):
            continue
    return total / (1024 * 1024)
