"""Figures of the latent geometry (matplotlib, Agg, no Qt): a class map beside an overlay
heatmap with its colour bar and units, arrows along the direction of steepest change, and
the correlations of the latent axes with the drawn digit's attributes."""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .figures import draw_map, slice_title
from .geometry import ATTRIBUTES, SENSITIVITY, TITLES, UNITS, Overlays
from .maps import axis_name

ARROWS = 14  # arrows per axis on an overlay
ATTRIBUTE_COLOURS = {"ink": "#1b9e77", "thickness": "#d95f02", "slant": "#7570b3", "width": "#e7298a",
                     "height": "#66a61e"}


def border_mask(labels: np.ndarray) -> np.ndarray:
    """True on cells whose right or upper neighbour has another label (class borders)."""
    lab = np.asarray(labels)
    m = np.zeros(lab.shape, bool)
    m[:-1, :] |= lab[:-1, :] != lab[1:, :]
    m[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    return m


def draw_overlay(ax, overlays: Overlays, name: str, axes: tuple[int, int], point, digit: int | None = None,
                 labels: np.ndarray | None = None, arrows: bool = True, colorbar_fig: Figure | None = None,
                 point_marker: bool = True):
    """The overlay's plane through ``point`` as a heatmap (rows along ``axes[0]``, drawn
    horizontally), class borders of ``labels`` as thin lines, gradient arrows for attributes."""
    plane = overlays.slice2d(name, axes, point, digit)
    r = overlays.resolution
    half = 1.0 / (r - 1)
    extent = (-1 - half, 1 + half, -1 - half, 1 + half)
    cmap = "magma" if name in SENSITIVITY else ("coolwarm" if name == "slant" else "viridis")
    kw = {}
    if name == "slant":
        lim = float(np.nanmax(np.abs(plane))) or 1.0
        kw = {"vmin": -lim, "vmax": lim}
    im = ax.imshow(plane.T, origin="lower", extent=extent, interpolation="bilinear", cmap=cmap, **kw)
    if labels is not None:
        res = labels.shape[0]
        lh = 1.0 / (res - 1)
        border = border_mask(labels)
        rgba = np.zeros(border.shape + (4,), np.float32)
        rgba[border] = (1, 1, 1, 0.55)
        ax.imshow(rgba.transpose(1, 0, 2), origin="lower", extent=(-1 - lh, 1 + lh, -1 - lh, 1 + lh),
                  interpolation="nearest")
    if arrows and name in ATTRIBUTES:
        ga, gb = overlays.slice_gradient(name, axes, point, digit)
        step = max(1, r // ARROWS)
        idx = np.arange(step // 2, r, step)
        ax_ = overlays.axis
        X, Y = np.meshgrid(ax_[idx], ax_[idx], indexing="ij")
        U, V = ga[np.ix_(idx, idx)], gb[np.ix_(idx, idx)]
        norm = np.hypot(U, V)
        scale = np.nanmax(norm) or 1.0
        ax.quiver(X, Y, U / scale, V / scale, color="white", edgecolor="black", linewidth=0.4, width=0.005,
                  scale=ARROWS * 0.9, scale_units="width", pivot="mid")
    if point_marker and point is not None:
        ax.plot([float(point[axes[0]])], [float(point[axes[1]])], marker="o", markersize=10, markerfacecolor="none",
                markeredgecolor="cyan", markeredgewidth=2)
    ax.set_xlim(-1 - half, 1 + half)
    ax.set_ylim(-1 - half, 1 + half)
    ax.set_aspect("equal")
    ax.set_xlabel(axis_name(axes[0]))
    ax.set_ylabel(axis_name(axes[1]))
    if colorbar_fig is not None:
        cb = colorbar_fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label(UNITS[name], fontsize=8)
    return im


def draw_correlations(ax, overlays: Overlays, axes: tuple[int, int], digit: int | None) -> None:
    """One arrow per attribute: its correlation with latent axis a (x) and b (y) for one label."""
    corr = overlays.correlations()[digit if overlays.conditional else 0]
    ax.axhline(0, color="#bbb", lw=0.6)
    ax.axvline(0, color="#bbb", lw=0.6)
    for j, name in enumerate(ATTRIBUTES):
        x, y = corr[axes[0], j], corr[axes[1], j]
        ax.annotate("", xy=(x, y), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="-|>", color=ATTRIBUTE_COLOURS[name], lw=2))
        ax.text(x * 1.08, y * 1.08, name, color=ATTRIBUTE_COLOURS[name], fontsize=8, ha="center", va="center")
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xlabel(f"correlation with {axis_name(axes[0])}")
    ax.set_ylabel(f"correlation with {axis_name(axes[1])}")
    ax.set_title("Which direction changes which attribute" + (f" (digit {digit})" if digit is not None else ""),
                 fontsize=9)


def geometry_figure(overlays: Overlays, name: str, labels: np.ndarray | None, confidence: np.ndarray | None, *,
                    model: str, axes: tuple[int, int] = (0, 1), point=None, digit: int | None = None,
                    dpi: float = 100) -> Figure:
    """Class map | overlay with colour bar, units and arrows | correlation arrows."""
    d = overlays.latent_dim
    point = np.zeros(d) if point is None else np.asarray(point, np.float64)
    panels = (1 if labels is not None else 0) + 2
    fig = Figure(figsize=(5.2 * panels, 5.4), dpi=dpi)
    FigureCanvasAgg(fig)
    k = 1
    title = slice_title(d, axes, point, digit)
    if labels is not None:
        ax = fig.add_subplot(1, panels, k)
        draw_map(ax, labels, confidence, axes, point if d > 2 else None)
        ax.set_title(title if d > 2 else "Map of class areas", fontsize=10)
        k += 1
    ax = fig.add_subplot(1, panels, k)
    draw_overlay(ax, overlays, name, axes, point, digit, labels=labels, colorbar_fig=fig, point_marker=d > 2)
    what = TITLES[name] + (" with arrows of steepest increase" if name in ATTRIBUTES else "")
    ax.set_title(what + ("" if d == 2 else f"\n{title}"), fontsize=10)
    k += 1
    draw_correlations(fig.add_subplot(1, panels, k), overlays, axes, digit)
    fig.suptitle(f"{model}  |  {TITLES[name]} ({UNITS[name]}) on a {overlays.resolution}^{d} grid"
                 + (f"  |  digit {digit}" if digit is not None else ""), fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.97, top=0.86, bottom=0.1, wspace=0.35)
    return fig
