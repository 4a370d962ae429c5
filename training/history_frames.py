"""Pictures of a training history, Qt-free: one epoch's sample grid beside its class map,
and the whole run as an animated GIF (one frame per epoch, written atomically).

Shared by the app's history view and anything else that wants the same frames.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latent_explorer.models.fileio import atomic_path
from latent_explorer.models.maps import axis_name, colour_map

from .history import History, HistoryError
from .report import grid_image

PANEL = 224  # the grid's size in pixels; the class map is scaled to the same


def history_file_for(path: str | os.PathLike) -> Path:
    """The history file a user means: the file itself, a checkpoint's ``<stem>.history.h5``,
    or the only ``*.history.h5`` in a run folder (raises :class:`HistoryError` otherwise)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.history.h5"))
        if len(found) != 1:
            what = "no history file" if not found else f"{len(found)} history files"
            raise HistoryError(f"{path}: the run folder holds {what}; pick the .history.h5 file itself")
        return found[0]
    if path.suffix == ".pt":
        return path.with_name(path.stem + ".history.h5")
    return path


def plane_title(plane: tuple[int, int, int]) -> str:
    """``x, y plane`` or ``x, y plane, digit 3`` for one recorded map plane."""
    a, b, digit = plane
    return f"{axis_name(a)}, {axis_name(b)} plane" + (f", digit {digit}" if digit >= 0 else "")


def map_image(history: History, epoch: int, plane: int = 0) -> np.ndarray:
    """Epoch ``epoch`` (0-based) class map of one plane as RGB, first axis to the right and
    second axis up (as in the report and the explorer)."""
    labels = history.maps[epoch][plane]
    conf = history.map_conf[epoch][plane].astype(np.float32)
    return np.ascontiguousarray(colour_map(labels, conf).transpose(1, 0, 2)[::-1])


def epoch_frame(history: History, epoch: int, plane: int = 0, caption: bool = True) -> np.ndarray:
    """RGB frame: the fixed-noise sample grid left, the class map right, the epoch below."""
    from PIL import Image, ImageDraw  # here, not at the top: the app starts faster without PIL

    grid = np.repeat(grid_image(history.grids[epoch])[..., None], 3, axis=2)
    cmap = np.asarray(Image.fromarray(map_image(history, epoch, plane)).resize((PANEL, PANEL), Image.NEAREST))
    gap = np.full((PANEL, 8, 3), 255, np.uint8)
    body = np.concatenate([grid, gap, cmap], axis=1)
    if not caption:
        return body
    img = Image.new("RGB", (body.shape[1], PANEL + 22), "white")
    img.paste(Image.fromarray(body), (0, 0))
    text = f"{history.name}  epoch {epoch + 1}/{history.epochs}  ({plane_title(history.planes[plane])})"
    ImageDraw.Draw(img).text((4, PANEL + 5), text, fill=(0, 0, 0))
    return np.asarray(img)


def write_gif(history: History, path: str | os.PathLike, plane: int = 0, frame_ms: int = 500,
              overwrite: bool = False) -> Path:
    """Write the run as an animated GIF, one frame per epoch, looping.  Atomic: a reader sees
    the old file or the whole new one.  Refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    if history.epochs == 0:
        raise ValueError("the history has no epochs yet")
    if not 0 <= plane < len(history.planes):
        raise ValueError(f"plane {plane} out of range (the history has {len(history.planes)})")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists")
    from PIL import Image

    frames = [Image.fromarray(epoch_frame(history, e, plane)) for e in range(history.epochs)]
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                       disposal=1)
    return path
