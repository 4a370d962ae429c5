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
