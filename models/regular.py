"""Only regular files are opened: a FIFO, a device (``/dev/zero``), a socket or a folder
under a loader's name is refused before anything reads from it, so it can neither hang a
reader nor feed it without limit.  Shared by every loader; each passes its own error type."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _a(what: str) -> str:
    """``what`` with its article: 'a checkpoint file', 'an atlas file', 'an HDF5 file'."""
    first = what.split(" ", 1)[0]
    return ("an " if first[:1].lower() in "aeiou" or first in ("HDF5", "IDX", "MNIST") else "a ") + what


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop (the link points back at itself)"
    if exc.errno == errno.ENOENT:
        return "file not found" + (" (a broken symlink)" if os.path.islink(path) else "")
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.ENOTDIR:
        return "file not found (a part of the path is a file, not a folder)"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot read ({exc.strerror or exc})"


def check_regular(path: str | os.PathLike, error: type[Exception], what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (links followed) if it is a regular file; else ``error``
    with a message naming the file and what it is instead."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: {_problem(path, exc)}") from None
    except ValueError as exc:  # embedded NUL byte and the like
        raise error(f"{path}: not a usable file name ({exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise error(f"{path}: is {kind}, not {_a(what)}; only regular files are read")
    return st


def open_regular(path: str | os.PathLike, error: type[Exception], what: str = "file"):
    """Open ``path`` for binary reading only if it is a regular file.

    The check is made on the opened descriptor (``O_NONBLOCK`` so that opening a FIFO
    does not wait for a writer), so a file swapped in between cannot slip through."""
    check_regular(path, error, what)
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: {_problem(path, exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path}: is {_kind(st.st_mode)}, not {_a(what)}; only regular files are read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
