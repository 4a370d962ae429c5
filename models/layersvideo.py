"""Layers in motion: a walk from A to B as an animation of every layer's heatmap beside the
generated image and the class map, one frame per step (all panels of a frame are the same
point).  Written as an animated GIF (Pillow) or an MP4 (imageio-ffmpeg's bundled ffmpeg,
``pip install 'latent-explorer[video]'``).  Qt-free: the CLI and the window share it.

Each layer's colour scale is fixed over the whole walk (its minimum and maximum over every
frame), so a colour means the same value in every frame.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import layers as L
from .frame import GENERATOR_LAYERS, RenderRequest, describe
from .maps import colour_map, regions, text_colour
from .paths import path_points

FORMATS = ("gif", "mp4")
IMAGE_PX = 168    # the generated image, 28 x 6
TILE_PX = 84      # one layer heatmap
GAP = 8
TITLE_PX = 14
COLUMNS = 4


@dataclass
class LayerWalk:
    """Per frame of a walk: point, image, probabilities and each layer's heatmap."""

    model: str
    t: np.ndarray                       # (F,)
    points: np.ndarray                  # (F, d)
    images: np.ndarray                  # (F, 28, 28)
    probs: np.ndarray                   # (F, 10)
    is_digit: np.ndarray                # (F,) bool
    heatmaps: dict[str, np.ndarray]     # layer -> (F, H, W)
    levels: dict[str, tuple[float, float]]  # layer -> colour scale over the whole walk
    maps: list[tuple[np.ndarray, np.ndarray]]  # per frame: the class map's labels and confidence, x across, y up
    mode: str = "mean"
    digit: int | None = None
    ablations: tuple = ()


def _map_rgb(labels: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A slice (rows along x, columns along y) turned to show x across and y up."""
    return labels[:, ::-1].T.copy(), np.asarray(conf, np.float32)[:, ::-1].T.copy()


def layer_walk(engine, a, b, steps: int, kind: str = "lerp", digit: int | None = None, ablations=(),
               atlas=None, mode: str = "mean", model: str = "", map_resolution: int = 48,
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> LayerWalk:
    """Render ``steps`` frames from A to B with every layer captured; the class map is the
    atlas's slice through each frame's point on the first two axes (computed directly at
    ``map_resolution`` where there is no atlas)."""
    from .maps import compute_slice

    if engine.conditional and digit is None:
        raise ValueError("a conditional model needs a digit for a walk")
    t, pts, _clipped = path_points(a, b, steps, kind)
    images, probs, is_digit, maps = [], [], [], []
    heat: dict[str, list[np.ndarray]] = {name: [] for name in GENERATOR_LAYERS}
    fixed_map = None
    for i, p in enumerate(pts):
        if should_stop is not None and should_stop():
            from .unitrank import Cancelled

            raise Cancelled()
        frame = engine.render(RenderRequest(tuple(float(v) for v in p), digit=digit if engine.conditional else None,
                                            ablations=tuple(ablations)))
        images.append(frame.image)
        probs.append(frame.probs)
        is_digit.append(frame.is_digit)
        for name in GENERATOR_LAYERS:
            heat[name].append(L.reduce(frame.activations[name], mode if mode != "channel" else "mean"))
        if engine.latent_dim == 1:
            maps.append((np.full((8, 8), 10, np.uint8), np.ones((8, 8), np.float32)))
        elif atlas is not None:
            maps.append(_map_rgb(*atlas.slice2d((0, 1), p, digit if atlas.conditional else None)))
        elif engine.latent_dim == 2:
            if fixed_map is None:
                fixed_map = _map_rgb(*compute_slice(engine, (0, 1), p, digit, map_resolution))
            maps.append(fixed_map)
        else:
            maps.append(_map_rgb(*compute_slice(engine, (0, 1), p, digit, map_resolution)))
        if progress is not None:
            progress(i + 1, len(pts))
    heatmaps = {k: np.stack(v) for k, v in heat.items()}
    return LayerWalk(model=model, t=t, points=pts, images=np.stack(images), probs=np.stack(probs),
                     is_digit=np.asarray(is_digit, bool), heatmaps=heatmaps,
                     levels={k: L.levels(v) for k, v in heatmaps.items()}, maps=maps, mode=mode,
                     digit=digit if engine.conditional else None, ablations=tuple(ablations))


def _viridis() -> np.ndarray:
    from matplotlib import colormaps

    return (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def frame_images(walk: LayerWalk) -> list:
    """One PIL image per frame: the image, the map with the path and the point, and the
    layer heatmaps in a grid, with a caption (sizes multiples of 16, as video encoders like)."""
    from PIL import Image, ImageDraw

    lut = _viridis()
    names = list(GENERATOR_LAYERS)
    rows = -(-len(names) // COLUMNS)
    grid_w = COLUMNS * TILE_PX + (COLUMNS - 1) * GAP
    grid_h = rows * (TILE_PX + TITLE_PX) + (rows - 1) * GAP
    left_w = 2 * IMAGE_PX + GAP
    width = GAP + left_w + 2 * GAP + grid_w + GAP
    height = max(GAP + 18 + IMAGE_PX + 2 * 14, GAP + grid_h) + 36
    width, height = -(-width // 16) * 16, -(-height // 16) * 16
    path_px = [((p[0] + 1) / 2 * IMAGE_PX, (1 - p[1]) / 2 * IMAGE_PX) for p in walk.points] \
        if walk.points.shape[1] >= 2 else []
    out = []
    ablated = "; ".join(a.describe() for a in walk.ablations)
    for i in range(len(walk.t)):
        canvas = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(canvas)
        x0, y0 = GAP, GAP + 18
        px = ((walk.images[i] + 1) * 127.5).clip(0, 255).astype(np.uint8)
        canvas.paste(Image.fromarray(px, "L").resize((IMAGE_PX, IMAGE_PX), Image.NEAREST).convert("RGB"), (x0, y0))
        draw.text((x0, GAP), "image", fill="black")
        mx = x0 + IMAGE_PX + GAP
        labels, conf = walk.maps[i]
        canvas.paste(Image.fromarray(colour_map(labels, conf)).resize((IMAGE_PX, IMAGE_PX), Image.NEAREST), (mx, y0))
        cell = IMAGE_PX / labels.shape[0]
        for reg in regions(labels, min_fraction=0.02):  # each region named by its digit
            if reg.digit < 10:
                draw.text((mx + (reg.col + 0.5) * cell - 3, y0 + (reg.row + 0.5) * cell - 6), str(reg.digit),
                          fill=text_colour(reg.digit))
        draw.text((mx, GAP), "class map (x across, y up)", fill="black")
        if path_px:
            draw.line([(mx + u, y0 + v) for u, v in path_px], fill="white", width=3)
            draw.line([(mx + u, y0 + v) for u, v in path_px], fill="black", width=1)
            u, v = path_px[i]
            draw.ellipse((mx + u - 5, y0 + v - 5, mx + u + 5, y0 + v + 5), fill="white", outline="black", width=2)
        label = describe(int(walk.probs[i].argmax()), float(walk.probs[i].max()), bool(walk.is_digit[i]))
        coords = ", ".join(f"{v:+.2f}" for v in walk.points[i])
        draw.text((x0, y0 + IMAGE_PX + 4), f"t = {walk.t[i]:.2f}   ({coords})", fill="black")
        draw.text((x0, y0 + IMAGE_PX + 18), f"classifier: {label}", fill="black")
        gx = x0 + left_w + 2 * GAP
        for k, name in enumerate(names):
            r, c = divmod(k, COLUMNS)
            tx, ty = gx + c * (TILE_PX + GAP), GAP + r * (TILE_PX + TITLE_PX + GAP)
            h = walk.heatmaps[name][i]
            rgb = L.colourise(h, walk.levels[name], lut)
            canvas.paste(Image.fromarray(rgb).resize((TILE_PX, TILE_PX), Image.NEAREST), (tx, ty + TITLE_PX))
            draw.text((tx, ty), f"{name} {h.shape[0]}x{h.shape[1]}", fill="black")
        caption = f"{walk.model}: layers along the walk ({L.MODE_LABELS.get(walk.mode, walk.mode)}; " \
                  f"each layer's colours fixed over the walk)  frame {i + 1}/{len(walk.t)}"
        if walk.digit is not None:
            caption += f"  digit {walk.digit}"
        draw.text((GAP, height - 30), caption, fill="black")
        if ablated:
            draw.text((GAP, height - 16), f"ablated: {ablated}", fill="#b00000")
        out.append(canvas)
    return out


def mp4_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def write_video(walk: LayerWalk, path: str | os.PathLike, fps: float = 6.0, overwrite: bool = False) -> Path:
    """Write the walk as .gif or .mp4 (atomically: a failed write leaves nothing behind)."""
    from .fileio import atomic_path

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown video format {fmt!r} (use .gif or .mp4)")
    if fmt == "mp4" and not mp4_available():
        raise ValueError(f"{path}: MP4 needs imageio-ffmpeg (pip install 'latent-explorer[video]'); "
                         f"or write a .gif")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (choose another name or allow overwriting)")
    frames = frame_images(walk)
    with atomic_path(path, suffix=f".{fmt}") as tmp:
        if fmt == "gif":
            frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                           duration=int(round(1000 / fps)), loop=0, optimize=True)
        else:
            import imageio_ffmpeg

            w, h = frames[0].size
            writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                                 macro_block_size=16, quality=8,
                                                 ffmpeg_log_level="error")
            writer.send(None)
            try:
                for f in frames:
                    writer.send(np.ascontiguousarray(np.asarray(f, np.uint8)))
            finally:
                writer.close()
    return path
