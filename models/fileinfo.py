"""``latent-explorer info`` for every file the project writes, recognised by content (never
by name): checkpoints, training states, atlases, histories and digit-check calibrations."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def _head(path: Path, n: int = 8) -> bytes:
    from .checkpoint import CheckpointError
    from .regular import open_regular

    with open_regular(path, CheckpointError, "file") as fh:  # no FIFO, device or folder
        return fh.read(n)


def _is_npz(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return bool(names) and all(n.endswith(".npy") and "/" not in n for n in names)


def describe_file(path: str | os.PathLike) -> str:
    """A readable summary of any latent-explorer file; a clear error for anything else."""
    path = Path(path)
    head = _head(path)
    if head.startswith(HDF5_MAGIC):
        from .h5info import describe_h5

        return describe_h5(path)
    if head.startswith(ZIP_MAGIC) and _is_npz(path):
        return describe_calibration(path)
    from .checkpoint import describe, read_payload

    if head.startswith(ZIP_MAGIC):
        payload = read_payload(path)
        if isinstance(payload, dict) and "kind" not in payload and "run" in payload and "epoch" in payload:
            return describe_state(path, payload)
    return describe(path)


def describe_calibration(path: Path) -> str:
    from .digitness import load_calibration
    from .infotable import format_table

    cal = load_calibration(path)
    return format_table([("file", path), ("kind", "digit-check calibration (the 'not a digit' test)"),
                         ("classifier", cal.classifier_digest[:16]), ("threshold", float(cal.threshold)),
                         ("layers", ", ".join(cal.means)), *cal.info.items()])


def describe_state(path: Path, state: dict) -> str:
    from .infotable import format_table

    run = state.get("run") if isinstance(state.get("run"), dict) else {}
    seconds = state.get("seconds")
    return format_table([("file", path), ("kind", "training state (resume the run with --resume)"),
                         ("epoch", state.get("epoch")),
                         ("seconds", round(seconds, 1) if isinstance(seconds, (int, float)) else seconds),
                         ("run", {k: v for k, v in run.items() if isinstance(v, (int, float, str, bool, type(None)))})])
