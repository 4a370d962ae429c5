"""Atomic file writing: write beside the target, flush, then rename over it."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _error(path: Path, problem: str, errno: int | None = None) -> OSError:
    """An OSError whose message names the file (and whose str() has no '[Errno n]' prefix)."""
    err = OSError(f"cannot write {path}: {problem}")
    err.errno = errno
    return err


def _temp_prefix(path: Path, pid: int | str) -> str:
    return f".{path.name}.{pid}."


def remove_stale_temps(path: str | os.PathLike, suffix: str = ".tmp") -> list[Path]:
    """Delete temporary files that writers of ``path`` left behind when they were killed.

    Temporary names carry the writer's process id (``.NAME.PID.xxxxxxxx.tmp``); only those
    whose process no longer exists on this machine are removed.  Returns what was removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    head = f".{path.name}."
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(head) and name.endswith(suffix)):
            continue
        pid = name[len(head):-len(suffix)].split(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # the writer is still running
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, ValueError):
            continue
        try:
            os.unlink(folder / name)
            removed.append(folder / name)
        except OSError:
            pass
    return removed


def check_writable(path: str | os.PathLike) -> Path:
    """Raise OSError naming ``path`` unless a file can be saved there (its folder exists, is
    a folder and is writable; ``path`` itself is no folder); returns the folder.  Commands
    call it for every output before they compute anything."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise _error(path, f"{blocker} is a file, not a folder", 20)
        raise OSError(f"{path}: folder {folder} does not exist")
    if path.is_dir():
        raise _error(path, "it is a folder", 21)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{path}: folder {folder} is not writable")
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path`` (with
    ``exclusive``, it appears there only if no file has meanwhile: FileExistsError otherwise,
    so two writers started at once cannot both succeed without ``--force``).

    On any error the temporary file is removed and ``path`` is left as it was, so no
    half-written file ever sits under the final name.  Failures to write (missing or
    read-only folder, full disk, file size limit) are raised as OSError naming ``path``.
    """
    path = Path(path)
    folder = check_writable(path)
    remove_stale_temps(path, suffix)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(path, os.getpid()), suffix=suffix)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except OSError as exc:
        raise _error(path, exc.strerror or str(exc), exc.errno) from None
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # atomic, and fails where a file exists
            except FileExistsError:
                raise FileExistsError(f"{path}: already exists (written meanwhile by another run?); pass --force "
                                      f"to overwrite") from None
        else:
            os.replace(tmp, path)
    except FileExistsError as exc:
        if exclusive:
            raise
        raise _error(path, exc.strerror or str(exc), exc.errno) from exc
    except OSError as exc:
        raise _error(path, exc.strerror or str(exc), exc.errno) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``exclusive``: see :func:`atomic_path`)."""
    with atomic_path(path, exclusive=exclusive) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
