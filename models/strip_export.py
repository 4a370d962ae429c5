"""Exports of a walk: the strip as PNG/SVG/PDF, an animated GIF, and CSV/JSON of every point.

A frame or region where the classifier's check finds no digit is written in CSV and JSON
with an empty ``digit`` (JSON null) and ``no_digit`` true (``paths.digit_record``); a
frame's ``clipped`` (a star after its t in the strip) says its point left the box and was
clipped to it (a slerp arc can bulge past the box's faces).

Every file is written atomically (temporary file beside it, then rename), so a failed
export leaves nothing partial behind and never clobbers an existing file half-way.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .fileio import atomic_write_bytes
from .figures import save_figure
from .maps import label_name
from .paths import CLIPPED_NOTE, Strip, digit_record

GIF_FONT_PX = 11  # caption size in the GIF (a font with a real space: "no digit", never "nodigit")


def _caption_font():
    """The GIF's caption font: matplotlib's DejaVu Sans (shipped with it, so always there);
    Pillow's built-in font spaces words about 2 px apart, which reads as one word."""
    from matplotlib import font_manager
    from PIL import ImageFont

    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), GIF_FONT_PX)
    except (OSError, ValueError):
        return ImageFont.load_default()

FORMATS = ("png", "svg", "pdf", "gif", "csv", "json")


def _fmt(point) -> str:
    return "(" + ", ".join(f"{float(v):.2f}" for v in point) + ")"


def _frame_label(strip: Strip, i: int) -> str:
    """``7  97%`` or ``no digit (1)`` (the classifier's closest digit) under frame ``i``."""
    if int(strip.digits[i]) == 10:
        return f"no digit ({int(strip.closest[i])})"
    return f"{int(strip.digits[i])}  {100 * strip.confidence[i]:.0f}%"


def strip_title(strip: Strip) -> str:
    if strip.label_walk is not None:
        return (f"{strip.model}: label walk {strip.label_walk[0]} -> {strip.label_walk[1]} "
                f"at fixed noise {_fmt(strip.a)}")
    extra = f", digit {strip.digit}" if strip.digit is not None else ""
    abl = f"  [ablated: {'; '.join(a.describe() for a in strip.ablations)}]" if strip.ablations else ""
    return f"{strip.model}: {strip.kind} from A {_fmt(strip.a)} to B {_fmt(strip.b)}{extra}{abl}"


def strip_figure(strip: Strip, dpi: float = 100) -> Figure:
    """Frames in a row with t, coordinates, digit and confidence under each, the crossed
    regions below; laid out in inches so the figure is as tall as its content."""
    import textwrap

    n = len(strip.t)
    tile, gap, margin = 1.2, 0.08, 0.12                    # inches
    row = n * tile + (n - 1) * gap
    width = max(6.0, row + 2 * margin)
    caption_h = 0.135 * (3 if strip.label_walk is None else 2) + 0.1
    regions = "  ".join(f"{label_name(c.digit)} [{c.t_enter:.3f}-{c.t_leave:.3f}]" for c in strip.crossings)
    note = f"regions crossed (t): {regions}" + (f"   {CLIPPED_NOTE}" if strip.clipped.any() else "")
    lines = textwrap.wrap(note, width=max(40, int(width * 15))) or [""]
    title_h, regions_h = 0.36, 0.16 * len(lines) + 0.1
    height = title_h + tile + caption_h + regions_h
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.text(0.5, 1 - 0.2 / height, strip_title(strip), ha="center", va="center", fontsize=10)
    left = (width - row) / 2
    bottom = caption_h + regions_h
    for i in range(n):
        ax = fig.add_axes(((left + i * (tile + gap)) / width, bottom / height, tile / width, tile / height))
        ax.imshow(strip.images[i], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        mark = "*" if strip.clipped[i] else ""
        coords = "" if strip.label_walk is not None else "\n(" + ", ".join(f"{v:.2f}" for v in strip.points[i]) + ")"
        ax.set_xlabel(f"t={strip.t[i]:.2f}{mark}{coords}\n{_frame_label(strip, i)}",
                      fontsize=7, labelpad=3)
    fig.text(0.5, 0.06 / height, "\n".join(lines), ha="center", va="bottom", fontsize=7)
    return fig


def gif_bytes(strip: Strip, scale: int = 6, ms_per_frame: int = 160) -> bytes:
    """The walk as an animated GIF (frames enlarged without smoothing, a caption each)."""
    from PIL import Image, ImageDraw

    frames = []
    size = 28 * scale
    font = _caption_font()
    for i in range(len(strip.t)):
        px = ((strip.images[i] + 1) * 127.5).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(px, "L").resize((size, size), Image.NEAREST).convert("RGB")
        canvas = Image.new("RGB", (size, size + 22), "white")
        canvas.paste(img, (0, 0))
        ImageDraw.Draw(canvas).text((4, size + 4), gif_caption(strip, i), fill="black", font=font)
        frames.append(canvas)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def gif_caption(strip: Strip, i: int) -> str:
    """Frame ``i``'s caption in the GIF (no star: the GIF has no legend to explain it)."""
    return f"t={strip.t[i]:.2f}  {_frame_label(strip, i)}"


def csv_text(strip: Strip) -> str:
    rows = strip.rows()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def json_text(strip: Strip) -> str:
    return json.dumps({
        "model": strip.model, "path": strip.kind, "a": strip.a.tolist(), "b": strip.b.tolist(),
        "digit": strip.digit, "label_walk": list(strip.label_walk) if strip.label_walk else None,
        "ablations": [a.describe() for a in strip.ablations],
        "points": strip.rows(),
        "regions": [{**digit_record(c.digit), "t_enter": c.t_enter, "t_leave": c.t_leave} for c in strip.crossings],
    }, indent=2)


def export(strip: Strip, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the strip in the format the suffix names (png, svg, pdf, gif, csv, json)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown export format {fmt!r} (use {', '.join(FORMATS)})")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (choose another name or allow overwriting)")
    if fmt in ("png", "svg", "pdf"):
        return save_figure(strip_figure(strip), path)
    if fmt == "gif":
        atomic_write_bytes(path, gif_bytes(strip))
    elif fmt == "csv":
        atomic_write_bytes(path, csv_text(strip).encode())
    else:
        atomic_write_bytes(path, json_text(strip).encode())
    return path
