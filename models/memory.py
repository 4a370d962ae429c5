"""Give freed memory back to the operating system (Qt-free).

After a model switch the old model's atlas, caches and widgets are freed, but glibc's
allocator keeps the pages in its arenas, so the process's resident size ratchets up as the
user moves between models.  ``release_free_memory`` asks glibc to return them
(``malloc_trim``); on other C libraries it does nothing.

``tune_allocator`` (called once when the window's QApplication is made) keeps that ratchet
from forming at all: every short-lived worker thread (walk strips, atlas builds, history and
comparison loads) otherwise gets an arena of its own, up to 16 on two cores, and each keeps
tens of MB of partly used pages that ``malloc_trim`` cannot give back.  With two arenas and
large blocks always mapped on their own, the 30-minute soak's resident size followed its
live heap (trend +7.3 MB, samples' sd 13 MB) where glibc's defaults scattered and climbed
(+143 MB, sd 52 MB); the price is page faults, about 11% fewer soak actions in the same
time.  See BENCHMARKS.md section 7.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
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
                if hasattr(lib, "mallopt"):
                    lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                    lib.mallopt.restype = ctypes.c_int
                _libc = lib
            except (OSError, AttributeError):
                _libc = False
    return _libc


M_MMAP_THRESHOLD = -3  # mallopt parameters from glibc's malloc.h
M_ARENA_MAX = -8
ARENA_MAX = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's starting value; fixing it stops the dynamic rise to 32 MB
_tuned: dict[str, int] | None = None


def tune_allocator(arena_max: int = ARENA_MAX, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Limit glibc to ``arena_max`` arenas and map every block of ``mmap_threshold`` bytes
    or more on its own (freed at once), for a long-running interactive process.  Call it
    before worker threads start; True when the C library took both settings.  Settings the
    user gave glibc (``GLIBC_TUNABLES`` malloc entries, ``MALLOC_*`` variables) win."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    lib = _load_libc()
    if not lib or not hasattr(lib, "mallopt"):
        return False
    if not (lib.mallopt(M_ARENA_MAX, arena_max) and lib.mallopt(M_MMAP_THRESHOLD, mmap_threshold)):
        return False
    global _tuned
    _tuned = {"arena_max": arena_max, "mmap_threshold": mmap_threshold}
    return True


def allocator_settings() -> dict[str, int] | None:
    """What ``tune_allocator`` set in this process; None when glibc runs on its defaults."""
    return dict(_tuned) if _tuned else None


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
