"""The training history: per-step losses and per-epoch monitoring, stored in HDF5.

The whole file is rewritten atomically at the end of each epoch (temporary file, then
rename), so a reader, including the app's live mode, always opens a complete file.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from latent_explorer.models import h5safe
from latent_explorer.models.printable import printable

FORMAT = "latent-explorer-history"
VERSION = 1


class HistoryError(Exception):
    """A history file is missing, damaged or does not belong to the model at hand."""


@dataclass
class History:
    """Everything a training run recorded.  Arrays grow by one entry per epoch."""

    name: str
    config: dict
    planes: list[tuple[int, int, int]]  # (axis a, axis b, digit or -1) per map plane
    map_resolution: int = 64
    map_precision: str = "float32"
    g_loss: list[np.ndarray] = field(default_factory=list)  # one array per epoch
    d_loss: list[np.ndarray] = field(default_factory=list)
    grids: list[np.ndarray] = field(default_factory=list)  # (64, 28, 28) uint8
    maps: list[np.ndarray] = field(default_factory=list)  # (P, R, R) uint8
    map_conf: list[np.ndarray] = field(default_factory=list)  # (P, R, R) float16
    change_rate: list[float] = field(default_factory=list)
    weak_judge_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    generator_digest: str = ""
    classifier_digest: str = ""

    @property
    def epochs(self) -> int:
        return len(self.grids)

    def truncate(self, epochs: int) -> None:
        """Keep only the first ``epochs`` epochs (used when a run resumes)."""
        for name in ("g_loss", "d_loss", "grids", "maps", "map_conf", "change_rate", "weak_judge_acc", "seconds"):
            setattr(self, name, getattr(self, name)[:epochs])

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All step losses (g, d) and each step's epoch number (1-based)."""
        if not self.g_loss:
            return np.empty(0, np.float32), np.empty(0, np.float32), np.empty(0, np.int32)
        epoch = np.concatenate([np.full(len(g), i + 1, np.int32) for i, g in enumerate(self.g_loss)])
        return np.concatenate(self.g_loss), np.concatenate(self.d_loss), epoch

    def check_belongs(self, generator_digest: str | None, classifier_digest: str | None = None,
                      path: str | os.PathLike | None = None) -> None:
        """Refuse a history recorded for another generator or labelled by another classifier."""
        name = path or "history"
        if generator_digest and self.generator_digest != generator_digest:
            raise HistoryError(f"{name}: this history belongs to another generator (history "
                               f"{self.generator_digest[:12] or 'none'}, model {generator_digest[:12]})")
        if classifier_digest and self.classifier_digest != classifier_digest:
            raise HistoryError(f"{name}: this history's maps were labelled by another classifier (history "
                               f"{self.classifier_digest[:12] or 'none'}, classifier {classifier_digest[:12]})")

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        with h5safe.writing(path) as f:
            for key, value in (("format", FORMAT), ("name", self.name),
                               ("config", json.dumps(self.config, sort_keys=True)),
                               ("generator_digest", self.generator_digest),
                               ("classifier_digest", self.classifier_digest),
                               ("map_precision", self.map_precision)):
                h5safe.set_str(f.attrs, key, value)
            f.attrs["version"] = VERSION
            f.attrs["map_resolution"] = self.map_resolution
            f.attrs["epochs"] = self.epochs
            plain = h5safe.DATASET_OPTIONS
            f.create_dataset("planes", data=np.asarray(self.planes, np.int32).reshape(-1, 3), **plain)
            g, d, e = self.steps()
            s = f.create_group("steps")
            s.create_dataset("g_loss", data=g, **plain)
            s.create_dataset("d_loss", data=d, **plain)
            s.create_dataset("epoch", data=e, **plain)
            ep = f.create_group("epochs")
            n, p, r = self.epochs, len(self.planes), self.map_resolution
            packed = dict(compression="gzip", compression_opts=4, **plain)
            ep.create_dataset("grid", data=np.asarray(self.grids, np.uint8).reshape(n, 64, 28, 28),
                              chunks=(1, 64, 28, 28) if n else None, **packed)
            ep.create_dataset("map", data=np.asarray(self.maps, np.uint8).reshape(n, p, r, r),
                              chunks=(1, p, r, r) if n else None, **packed)
            ep.create_dataset("map_conf", data=np.asarray(self.map_conf, np.float16).reshape(n, p, r, r),
                              chunks=(1, p, r, r) if n else None, **packed)
            ep.create_dataset("change_rate", data=np.asarray(self.change_rate, np.float32), **plain)
            ep.create_dataset("weak_judge_acc", data=np.asarray(self.weak_judge_acc, np.float32), **plain)
            ep.create_dataset("seconds", data=np.asarray(self.seconds, np.float64), **plain)

    @classmethod
    def load(cls, path: str | os.PathLike, generator_digest: str | None = None,
             classifier_digest: str | None = None) -> "History":
        """Read and validate a history; with digests given, refuse one that belongs to
        another generator or classifier.  Sizes are checked against the file before
        anything is read (see :mod:`models.h5safe`)."""
        path = Path(path)
        try:
            with h5safe.open_file(path, HistoryError, "history file") as f:
                size = f.id.get_filesize()
                if h5safe.get_str(f.attrs, "format", "") != FORMAT:
                    raise HistoryError(f"{path}: not a latent-explorer history file")
                version = h5safe.get_number(f.attrs, "version", int, -1)
                if version != VERSION:
                    raise HistoryError(f"{path}: history version {version} is not supported")
                n = h5safe.get_number(f.attrs, "epochs", int)
                r = h5safe.get_number(f.attrs, "map_resolution", int)
                if not (0 <= n <= MAX_EPOCHS and 1 <= r <= MAX_MAP_RESOLUTION):
                    raise HistoryError(f"{path}: implausible epoch count {n} or map resolution {r}")
                p = _rows(f, "planes", MAX_PLANES)
                planes = [tuple(int(v) for v in row)
                          for row in h5safe.read_dataset(f, "planes", (p, 3), INTS, size)]
                if any(not (0 <= a < 64 and 0 <= b < 64 and -1 <= k <= 9) for a, b, k in planes):
                    raise HistoryError(f"{path}: map planes {planes[:4]}... are out of range")
                s = _rows(f, "steps/g_loss", MAX_EPOCHS * 100_000)
                g = h5safe.read_dataset(f, "steps/g_loss", (s,), FLOATS, size)
                d = h5safe.read_dataset(f, "steps/d_loss", (s,), FLOATS, size)
                e = h5safe.read_dataset(f, "steps/epoch", (s,), INTS, size)
                if len(e) and (e.min() < 1 or e.max() > n or np.any(np.diff(e) < 0)):
                    raise HistoryError(f"{path}: step epoch numbers are out of order or range")
                config = json.loads(h5safe.get_str(f.attrs, "config"))
                if not isinstance(config, dict):
                    raise HistoryError(f"{path}: the config is not a JSON object")
                h = cls(name=printable(h5safe.get_str(f.attrs, "name"), 80), config=config, planes=planes,
                        map_resolution=r, map_precision=h5safe.get_str(f.attrs, "map_precision", "float32"),
                        generator_digest=h5safe.get_str(f.attrs, "generator_digest"),
                        classifier_digest=h5safe.get_str(f.attrs, "classifier_digest"))
                h.grids = list(h5safe.read_dataset(f, "epochs/grid", (n, 64, 28, 28), [np.uint8], size))
                h.maps = list(h5safe.read_dataset(f, "epochs/map", (n, p, r, r), [np.uint8], size))
                h.map_conf = list(h5safe.read_dataset(f, "epochs/map_conf", (n, p, r, r), [np.float16], size))
                h.change_rate = [float(v) for v in h5safe.read_dataset(f, "epochs/change_rate", (n,), FLOATS, size)]
                h.weak_judge_acc = [float(v) for v in
                                    h5safe.read_dataset(f, "epochs/weak_judge_acc", (n,), FLOATS, size)]
                h.seconds = [float(v) for v in h5safe.read_dataset(f, "epochs/seconds", (n,), FLOATS, size)]
                # only now, with every per-epoch dataset checked against the file, a loop over epochs;
                # e is sorted (checked above), so one search finds each epoch's steps, whatever n and s
                bounds = np.searchsorted(e, np.arange(1, n + 2), side="left")
                h.g_loss = [g[bounds[i]:bounds[i + 1]] for i in range(n)]
                h.d_loss = [d[bounds[i]:bounds[i + 1]] for i in range(n)]
        except HistoryError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, OverflowError, IndexError) as exc:
            # ValueError covers h5safe's checks and bad JSON; RuntimeError HDF5's own errors and
            # RecursionError (deeply nested JSON)
            raise HistoryError(f"{path}: damaged or not a history file ({str(exc)[:200]})") from None
        if any(m.max(initial=0) > 10 for m in h.maps):  # 10: no digit (histories recorded before it hold 0..9)
            raise HistoryError(f"{path}: class maps hold values outside 0..10")
        h.check_belongs(generator_digest, classifier_digest, path)
        return h


INTS = [np.int32, np.int64]
FLOATS = [np.float32, np.float64]
MAX_EPOCHS = 100_000
MAX_MAP_RESOLUTION = 4096
MAX_PLANES = 4096


def _rows(f, key: str, limit: int) -> int:
    """The length of a dataset's first axis, checked before the dataset is read."""
    obj = h5safe.get_object(f, key)
    if not isinstance(obj, h5py.Dataset) or not obj.shape:
        raise h5safe.H5Problem(f"dataset '{key}' is missing or not an array")
    rows = int(obj.shape[0])
    if rows > limit:
        raise h5safe.H5Problem(f"dataset '{key}' has {rows:,} rows, more than {limit:,}")
    return rows
