"""Training reports: when the class map settled, and a one-page PNG/PDF + JSON summary.

Settle rule: the map has settled at the first epoch e from which the map change rate stays
below ``threshold`` for ``k`` consecutive epochs (e, e+1, ..., e+k-1).  The default,
2% of cells for 3 epochs, follows the reference study's use of the change rate as the
stopping signal.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.fileio import atomic_write_bytes
from latent_explorer.models.maps import axis_name, colour_map

from .history import History

SETTLE_THRESHOLD = 0.02
SETTLE_EPOCHS = 3


def settle_epoch(change_rate, threshold: float = SETTLE_THRESHOLD, k: int = SETTLE_EPOCHS) -> int | None:
    """1-based epoch at which the map settled, or None if it has not (NaN never counts)."""
    run = 0
    for i, v in enumerate(change_rate):
        run = run + 1 if (v is not None and math.isfinite(v) and v < threshold) else 0
        if run >= k:
            return i - k + 2
    return None


PLOTTED_STEPS = 4000  # points per loss curve (a moving average over 1% of the run is smooth at this density)


def smooth(values: np.ndarray, window: int, every: int = 1) -> np.ndarray:
    """Moving average (the start uses the shorter windows available), at every ``every``-th
    step (same length as ``values[::every]``)."""
    values = np.asarray(values)
    if window <= 1 or len(values) == 0:
        return values[::every].astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    hi = np.arange(1, len(values) + 1, every)
    lo = np.maximum(0, hi - window)
    return (c[hi] - c[lo]) / (hi - lo)


def grid_image(grid: np.ndarray) -> np.ndarray:
    """(64, 28, 28) uint8 -> one 8 x 8 mosaic (224 x 224)."""
    return grid.reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(224, 224)


def report_data(history: History, evaluation: dict | None, threshold: float = SETTLE_THRESHOLD,
                k: int = SETTLE_EPOCHS) -> dict:
    g, d, e = history.steps()
    return {
        "model": history.name, "config": history.config, "epochs": history.epochs, "steps": int(len(g)),
        "settle_rule": {"threshold": threshold, "epochs": k},
        "settle_epoch": settle_epoch(history.change_rate, threshold, k),
        "per_epoch": {
            "g_loss_mean": [float(x.mean()) if len(x) else None for x in history.g_loss],
            "d_loss_mean": [float(x.mean()) if len(x) else None for x in history.d_loss],
            "map_change_rate": [None if not math.isfinite(v) else v for v in history.change_rate],
            "weak_judge_accuracy": history.weak_judge_acc,
            "seconds": history.seconds,
            "digits_on_map": [int(len(np.setdiff1d(np.unique(m), [10]))) for m in history.maps],  # 10: no digit
        },
        "evaluation": evaluation or {},
    }


def report_figure(history: History, data: dict):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: the app's start-up needs no matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.7, 8.3), dpi=110)  # A4 landscape
    FigureCanvasAgg(fig)
    fig.suptitle(f"Training report: {history.name} ({history.epochs} epochs)", fontsize=14)
    g, d, _ = history.steps()
    gs = fig.add_gridspec(2, 4, height_ratios=[1, 1.15], hspace=0.35, wspace=0.3, left=0.06, right=0.98,
                          top=0.9, bottom=0.1)
    ax = fig.add_subplot(gs[0, 0:2])
    steps = np.arange(1, len(g) + 1, dtype=np.int32)
    window = max(1, len(g) // 100)
    every = max(1, len(g) // PLOTTED_STEPS)  # the smoothed curve at most this many points: the cost stays bounded
    ax.plot(steps[::every], smooth(g, window, every), label="generator", lw=1)
    ax.plot(steps[::every], smooth(d, window, every), label="discriminator", lw=1)
    ax.set_title(f"losses per step (moving average {window})", fontsize=9)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[0, 2])
    ep = np.arange(1, history.epochs + 1)
    ax.plot(ep, history.change_rate, "o-", ms=3, label="map change rate")
    ax.plot(ep, history.weak_judge_acc, "s-", ms=3, label="weak judge accuracy")
    ax.axhline(data["settle_rule"]["threshold"], color="grey", ls=":", lw=1)
    if data["settle_epoch"]:
        ax.axvline(data["settle_epoch"], color="green", ls="--", lw=1, label=f"settled at epoch {data['settle_epoch']}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epoch")
    ax.set_title("stopping signal and weak judge", fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[0, 3])
    ax.axis("off")
    ev = data["evaluation"]
    rows = [["epochs", str(history.epochs)], ["settled", str(data["settle_epoch"] or "not yet")]]
    for key, label in (("confident_share", "confidence >= 0.9"), ("strong_judge_error", "strong judge error"),
                       ("frechet_distance", "Frechet distance"), ("conditional_agreement", "conditional agreement")):
        if key in ev:
            v = ev[key]
            rows.append([label, f"{v:.2f}" if key == "frechet_distance" else f"{100 * v:.2f}%"])
    if rows:
        table = ax.table(cellText=rows, colLabels=["figure", "value"], loc="center")
        table.scale(1, 1.4)
    ax.set_title("final evaluation", fontsize=9)
    for col, idx, name in ((0, 0, "first"), (2, history.epochs - 1, "last")):
        ax = fig.add_subplot(gs[1, col])
        ax.imshow(grid_image(history.grids[idx]), cmap="gray", interpolation="nearest")
        ax.set_title(f"{name} epoch ({idx + 1}): fixed-noise samples", fontsize=9)
        ax.axis("off")
        ax = fig.add_subplot(gs[1, col + 1])
        m = history.maps[idx][0]
        ax.imshow(colour_map(m, history.map_conf[idx][0].astype(np.float32)).transpose(1, 0, 2), origin="lower",
                  interpolation="nearest")
        ax.set_title(f"{name} epoch class map" + (f" (digit {history.planes[0][2]})" if history.planes[0][2] >= 0
                                                  else f" ({axis_name(history.planes[0][0])}, {axis_name(history.planes[0][1])})"),
                     fontsize=8)
        ax.axis("off")
    fig.legend(handles=map_legend_handles(), loc="lower center", ncol=11, fontsize=8, frameon=False,
               title="class maps: the classifier's digit per latent point (pale where it is unsure)", title_fontsize=8)
    return fig


def map_legend_handles() -> list:
    """One patch per digit and one for "no digit", in the class maps' colours."""
    from matplotlib.patches import Patch

    from latent_explorer.models.maps import PALETTE, label_name

    return [Patch(color=tuple(c / 255 for c in PALETTE[k]), label=label_name(k)) for k in range(11)]


def write_report(checkpoint: Path, out_prefix: Path | None = None, overwrite: bool = True) -> dict[str, Path]:
    """Write ``<prefix>.png``, ``.pdf`` and ``.json`` for a checkpoint and its history."""
    from latent_explorer.models.figures import save_figure

    checkpoint = Path(checkpoint)
    ck = load_checkpoint(checkpoint, expect=("gan", "cgan"))
    history = History.load(checkpoint.with_name(checkpoint.stem + ".history.h5"))
    if history.generator_digest and history.generator_digest != ck.digest:
        from .history import HistoryError
        raise HistoryError(f"{checkpoint.with_name(checkpoint.stem + '.history.h5')}: belongs to another generator "
                           f"than {checkpoint}")
    if history.epochs == 0:
        raise ValueError(f"{checkpoint}: the history has no epochs yet")
    prefix = out_prefix or checkpoint.with_name(checkpoint.stem + ".report")
    if prefix.is_dir():  # an existing folder: the files go into it
        prefix = prefix / (checkpoint.stem + ".report")
    paths = {ext: prefix.with_name(prefix.name + f".{ext}") for ext in ("png", "pdf", "json")}
    if not overwrite:
        for p in paths.values():
            if p.exists():
                raise FileExistsError(f"{p}: already exists; pass --force to overwrite")
    data = report_data(history, ck.meta.get("evaluation"))
    fig = report_figure(history, data)
    save_figure(fig, paths["png"])
    save_figure(fig, paths["pdf"])
    atomic_write_bytes(paths["json"], json.dumps(data, indent=2).encode())
    return paths
