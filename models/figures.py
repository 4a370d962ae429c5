"""Matplotlib figures of what the explorer shows, for files and reports (no Qt, Agg only).

``point_figure`` draws the generated image beside the class map with the point on it;
``save_figure`` writes any figure atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .engine import Frame
from .frame import INVALID_IMAGE
from .fileio import atomic_path
from .maps import PALETTE, axis_name, cell_extent, colour_map, index_to_coord, label_name, readable_on, regions


def _hex(digit: int) -> str:
    return "#%02x%02x%02x" % tuple(int(v) for v in PALETTE[digit])


def draw_map(ax, labels: np.ndarray, confidence: np.ndarray | None, axes: tuple[int, int],
             point=None, label_regions: bool = True) -> None:
    """A class map on a matplotlib axes: rows of ``labels`` along ``axes[0]`` (drawn
    horizontally), columns along ``axes[1]`` (vertically), with region digits and the point."""
    res = labels.shape[0]
    lo, hi = cell_extent(res)
    rgb = colour_map(labels, confidence)
    ax.imshow(rgb.transpose(1, 0, 2), origin="lower", extent=(lo, hi, lo, hi), interpolation="nearest")
    if label_regions:
        for r in regions(labels):
            colour = tuple(c / 255 for c in readable_on(rgb[int(r.row), int(r.col)]))
            ax.text(index_to_coord(r.row, res), index_to_coord(r.col, res), label_name(r.digit), ha="center",
                    va="center", fontsize=12, fontweight="bold", color=colour)
    if point is not None:
        px, py = float(point[axes[0]]), float(point[axes[1]])
        ax.plot([px], [py], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="white",
                markeredgewidth=3.5)
        ax.plot([px], [py], marker="o", markersize=11, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=1.6)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(axis_name(axes[0]))
    ax.set_ylabel(axis_name(axes[1]))


def _format_point(point) -> str:
    return "(" + ", ".join(f"{float(v):.3g}" for v in point) + ")"


def point_figure(frame: Frame, labels: np.ndarray, confidence: np.ndarray | None, *, model: str,
                 axes: tuple[int, int] = (0, 1), map_title: str = "Map of class areas",
                 size: tuple[float, float] = (11.0, 5.0), dpi: float = 100, ablations=()) -> Figure:
    """The generated image, the class map with the point, and the ten probabilities.

    ``ablations`` (engine :class:`~models.engine.Ablation` edits in force) are named in the title.
    """
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 3, width_ratios=(1.0, 1.25, 0.12), height_ratios=(1.0, 0.38), left=0.04,
                            right=0.97, top=0.86, bottom=0.09, wspace=0.28, hspace=0.35)
    ax_img = fig.add_subplot(grid[0, 0])
    ax_img.imshow(frame.image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax_img.set_xticks([])
    ax_img.set_yticks([])
    ax_img.set_title("Generated image")
    ax_bar = fig.add_subplot(grid[1, 0])
    colours = [_hex(d) for d in range(10)]
    ax_bar.bar(range(10), frame.probs, color=colours, edgecolor=["black" if d == frame.predicted and frame.valid else "none"
                                                                  for d in range(10)])
    ax_bar.set_xticks(range(10))
    ax_bar.set_ylim(0, 1)
    ax_bar.set_yticks([0, 0.5, 1])
    ax_bar.tick_params(labelsize=8)
    ax_bar.set_title("Classifier probabilities", fontsize=9)
    ax_map = fig.add_subplot(grid[:, 1])
    draw_map(ax_map, labels, confidence, axes, frame.point)
    ax_map.set_title(map_title)
    ax_leg = fig.add_subplot(grid[:, 2])
    ax_leg.axis("off")
    ax_leg.legend(handles=[Patch(color=colours[d], label=str(d)) for d in range(10)]
                  + [Patch(color=_hex(10), label="no digit")], loc="center",
                  title="digit", frameon=False)
    digit = f", generated as {frame.digit}" if frame.digit is not None else ""
    fig.suptitle(f"{model}  |  point {_format_point(frame.point)}{digit}  |  "
                 + (INVALID_IMAGE if not frame.valid else
                    f"image class {frame.predicted} ({frame.confidence:.1%})" if frame.is_digit else
                    f"image class: not a digit (closest: {frame.predicted}, {frame.confidence:.0%})")
                 + (f"\nablated: {ablation_text(ablations)}" if ablations else ""), fontsize=13)
    return fig


def ablation_text(ablations) -> str:
    """``act2 channels=0,1 x0; act1 rows=3 x0.5``: the edits, for titles."""
    return "; ".join(a.describe() for a in ablations)


def slice_title(latent_dim: int, axes: tuple[int, int], point, atlas_digit: int | None = None) -> str:
    """``Map of class areas`` for 2D, else e.g. ``xy slice at z = 0.3, w = -0.1``."""
    rest = [i for i in range(latent_dim) if i not in axes]
    title = "Map of class areas"
    if rest:
        where = ", ".join(f"{axis_name(i)} = {float(point[i]):.3g}" for i in rest)
        title = f"{axis_name(axes[0])}{axis_name(axes[1])} slice at {where}"
    if atlas_digit is not None:
        title += f" (digit {atlas_digit}'s atlas)"
    return title


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write a figure atomically; the format follows the file's suffix (default PNG)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"{path}: unsupported image format {fmt!r} (use one of {', '.join(sorted(supported))})")
    if path.is_dir():
        raise OSError(f"{path}: is a folder")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=fig.dpi)
    return path
