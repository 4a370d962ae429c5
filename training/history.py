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

from models.fileio import atomic_path

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

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT
                f.attrs["version"] = VERSION
                f.attrs["name"] = self.name
                f.attrs["config"] = json.dumps(self.config, sort_keys=True)
                f.attrs["generator_digest"] = self.generator_digest
                f.attrs["classifier_digest"] = self.classifier_digest
                f.attrs["map_resolution"] = self.map_resolution
                f.attrs["map_precision"] = self.map_precision
                f.attrs["epochs"] = self.epochs
                f.create_dataset("planes", data=np.asarray(self.planes, np.int32).reshape(-1, 3))
                g, d, e = self.steps()
                s = f.create_group("steps")
                s.create_dataset("g_loss", data=g)
                s.create_dataset("d_loss", data=d)
                s.create_dataset("epoch", data=e)
                ep = f.create_group("epochs")
                n, p, r = self.epochs, len(self.planes), self.map_resolution
                ep.create_dataset("grid", data=np.asarray(self.grids, np.uint8).reshape(n, 64, 28, 28),
                                  compression="gzip", compression_opts=4, chunks=(1, 64, 28, 28) if n else None)
                ep.create_dataset("map", data=np.asarray(self.maps, np.uint8).reshape(n, p, r, r),
                                  compression="gzip", compression_opts=4, chunks=(1, p, r, r) if n else None)
                ep.create_dataset("map_conf", data=np.asarray(self.map_conf, np.float16).reshape(n, p, r, r),
                                  compression="gzip", compression_opts=4, chunks=(1, p, r, r) if n else None)
                ep.create_dataset("change_rate", data=np.asarray(self.change_rate, np.float32))
                ep.create_dataset("weak_judge_acc", data=np.asarray(self.weak_judge_acc, np.float32))
                ep.create_dataset("seconds", data=np.asarray(self.seconds, np.float64))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "History":
        path = Path(path)
        if not path.exists():
            raise HistoryError(f"{path}: file not found")
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != FORMAT:
                    raise HistoryError(f"{path}: not a latent-explorer history file")
                if int(f.attrs.get("version", -1)) != VERSION:
                    raise HistoryError(f"{path}: history version {f.attrs.get('version')} is not supported")
                n = int(f.attrs["epochs"])
                r = int(f.attrs["map_resolution"])
                planes = [tuple(int(v) for v in row) for row in f["planes"][()]]
                p = len(planes)
                shapes = {"epochs/grid": (n, 64, 28, 28), "epochs/map": (n, p, r, r), "epochs/map_conf": (n, p, r, r),
                          "epochs/change_rate": (n,), "epochs/weak_judge_acc": (n,), "epochs/seconds": (n,)}
                for key, shape in shapes.items():
                    if f[key].shape != shape:
                        raise HistoryError(f"{path}: dataset {key} has shape {f[key].shape}, expected {shape}")
                g, d, e = f["steps/g_loss"][()], f["steps/d_loss"][()], f["steps/epoch"][()]
                if not (len(g) == len(d) == len(e)):
                    raise HistoryError(f"{path}: step arrays differ in length")
                if len(e) and (e.min() < 1 or e.max() > n or np.any(np.diff(e) < 0)):
                    raise HistoryError(f"{path}: step epoch numbers are out of order or range")
                h = cls(name=str(f.attrs["name"]), config=json.loads(f.attrs["config"]), planes=planes,
                        map_resolution=r, map_precision=str(f.attrs.get("map_precision", "float32")),
                        generator_digest=str(f.attrs["generator_digest"]),
                        classifier_digest=str(f.attrs["classifier_digest"]))
                h.g_loss = [g[e == i + 1] for i in range(n)]
                h.d_loss = [d[e == i + 1] for i in range(n)]
                h.grids = list(f["epochs/grid"][()])
                h.maps = list(f["epochs/map"][()])
                h.map_conf = list(f["epochs/map_conf"][()])
                h.change_rate = [float(v) for v in f["epochs/change_rate"][()]]
                h.weak_judge_acc = [float(v) for v in f["epochs/weak_judge_acc"][()]]
                h.seconds = [float(v) for v in f["epochs/seconds"][()]]
        except HistoryError:
            raise
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise HistoryError(f"{path}: damaged or not a history file ({str(exc)[:200]})") from None
        if any(m.max(initial=0) > 9 for m in h.maps):
            raise HistoryError(f"{path}: class maps hold values outside 0..9")
        return h
