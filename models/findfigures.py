"""Figures (matplotlib, no Qt) for "Find a digit": a projection's answer and a point's
nearest training images."""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .figures import draw_map
from .neighbours import Gauge, Neighbours
from .projection import Projection


def _image(ax, img: np.ndarray, title: str, cmap: str = "gray", vmin: float = -1, vmax: float = 1) -> None:
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def projection_figure(proj: Projection, labels: np.ndarray | None, confidence: np.ndarray | None, *, model: str,
                      axes: tuple[int, int] = (0, 1), map_title: str = "", dpi: float = 100) -> Figure:
    """Target, best image, their difference, and the map with the best point and numbered candidates."""
    fig = Figure(figsize=(11.0, 4.6), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 4, width_ratios=(1, 1, 1, 1.6), left=0.03, right=0.98, top=0.80, bottom=0.1,
                            wspace=0.25)
    b = proj.best
    _image(fig.add_subplot(grid[0, 0]), proj.target, "your digit")
    _image(fig.add_subplot(grid[0, 1]), b.image, f"best image (class {b.predicted}, {b.confidence:.0%})")
    _image(fig.add_subplot(grid[0, 2]), b.image - proj.target, f"difference (distance {b.distance:.3f})",
           cmap="RdBu_r", vmin=-2, vmax=2)
    ax = fig.add_subplot(grid[0, 3])
    if labels is not None and len(b.point) >= 2:
        draw_map(ax, labels, confidence, axes, b.point)
        for k, m in enumerate(proj.candidates, start=1):
            ax.text(m.point[axes[0]], m.point[axes[1]], str(k), ha="center", va="center", fontsize=9,
                    fontweight="bold", color="white", bbox={"boxstyle": "circle,pad=0.2", "fc": "#d01c8b", "ec": "white"})
        ax.set_title(map_title or "map", fontsize=9)
    else:
        ax.axis("off")
    fig.suptitle(f"{model}: {proj.sentence()}\nweights {proj.weights.describe()}; pixel {b.pixel:.3f}, "
                 f"feature {b.feature:.3f}", fontsize=10)
    return fig


def neighbours_figure(image: np.ndarray, nb: Neighbours, gauge: Gauge, *, title: str, dpi: float = 100) -> Figure:
    """The image and its nearest training images with distances, and the gauge's sentence."""
    k = len(nb.indices)
    fig = Figure(figsize=(1.35 * (k + 1) + 0.6, 2.9), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, k + 1, left=0.02, right=0.98, top=0.66, bottom=0.06, wspace=0.15)
    _image(fig.add_subplot(grid[0, 0]), image, "this image")
    for j in range(k):
        _image(fig.add_subplot(grid[0, j + 1]), nb.images[j], f"#{nb.indices[j]} ({nb.labels[j]})\n{nb.distances[j]:.3f}",
               vmin=0, vmax=255)
    fig.suptitle(f"{title}\n{gauge.sentence()}", fontsize=8.5)
    return fig
