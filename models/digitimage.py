"""Turn a drawing or an image file into an MNIST-like 28 x 28 digit.

MNIST digits are white ink on black, their bounding box scaled to fit 20 x 20 and their
centre of mass placed at the centre of the 28 x 28 field.  :func:`mnist_like` does the same
to any greyscale array; :func:`load_digit_image` reads a PNG/JPEG (any size up to
``MAX_PIXELS``; the size in the header is checked before any pixel is decoded).
Results are float32 in [-1, 1] (ink +1), the generators' range.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MAX_PIXELS = 40_000_000       # width x height refused above this, before decoding
MAX_FILE_BYTES = 100 * 2**20  # files larger than this are refused without opening them
BOX = 20                      # the digit's bounding box is scaled to fit BOX x BOX, as in MNIST
INK_FLOOR = 0.08              # ink below this fraction of full (after removing the background) is blank
# the raster formats decoded, chosen by the file's content (PIL tries no other plugin: EPS,
# PDF and the like never reach Ghostscript or another decoder)
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")


class DigitImageError(ValueError):
    """An image that cannot become a digit; the message names the file and the problem."""


def _resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(np.clip(arr * 255.0, 0, 255).astype(np.uint8), mode="L")
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS), np.float32) / 255.0


def mnist_like(ink: np.ndarray, where: str = "the drawing", fit: bool = True) -> np.ndarray:
    """``ink`` (H, W) with 0 = background and 1 = full ink -> (28, 28) float32 in [-1, 1].

    With ``fit`` the inked box is scaled to fit 20 x 20 (keeping its aspect) and the result
    is shifted so its centre of mass is the field's centre.  Raises DigitImageError for a
    blank input."""
    a = np.asarray(ink, np.float32)
    if a.ndim != 2 or a.size == 0:
        raise DigitImageError(f"{where}: expected a 2-D greyscale image, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DigitImageError(f"{where}: holds NaN or infinite values")
    a = np.clip(a, 0.0, 1.0)
    peak = float(a.max())
    if peak < INK_FLOOR:
        raise DigitImageError(f"{where}: is blank (no ink to find; draw or load a digit first)")
    if not fit:
        if a.shape != (28, 28):
            a = _resize(a, 28, 28)
        return a * 2.0 - 1.0
    rows = np.flatnonzero(a.max(axis=1) >= 0.1 * peak)
    cols = np.flatnonzero(a.max(axis=0) >= 0.1 * peak)
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] / peak
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    small = np.clip(_resize(crop, nw, nh), 0.0, 1.0)
    field = np.zeros((28, 28), np.float32)
    total = float(small.sum())
    ys, xs = np.indices(small.shape)
    cy, cx = (float((ys * small).sum()) / total, float((xs * small).sum()) / total) if total > 0 else (nh / 2, nw / 2)
    top = int(np.clip(round(13.5 - cy), 0, 28 - nh))
    left = int(np.clip(round(13.5 - cx), 0, 28 - nw))
    field[top:top + nh, left:left + nw] = small
    return field * 2.0 - 1.0


def ink_from_grey(grey: np.ndarray) -> np.ndarray:
    """Greyscale (0 black .. 1 white) -> ink (0 background .. 1 ink): inverted when the
    background (the border's median) is light, then the background cleaned (see
    :func:`clean_background`)."""
    g = np.asarray(grey, np.float32)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    ink = (1.0 - g) if float(np.median(border)) > 0.5 else g
    return clean_background(ink)


BACKGROUND_SIDE = 128  # the background is estimated on a copy at most this many pixels on its long side


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The threshold that best splits ``values`` into two classes (Otsu 1979: the largest
    between-class variance of the histogram)."""
    v = np.asarray(values, np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        return hi
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    p = hist / hist.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    total = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * w0 - m0) ** 2 / (w0 * (1 - w0))
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def clean_background(ink: np.ndarray) -> np.ndarray:
    """Ink (0 background .. 1 ink) with the paper removed: an uneven background (shading,
    a gradient across a photo) is estimated by a grey opening wider than any stroke and
    subtracted; then every pixel below the threshold that Otsu's method finds in the image's
    own histogram is background (0), and the rest is stretched so that the ink reaches 1.
    A PNG and a JPEG of one picture so give nearly the same digit, with no grey box."""
    from PIL import Image
    from scipy import ndimage

    a = np.clip(np.asarray(ink, np.float32), 0.0, 1.0)
    h, w = a.shape
    scale = min(1.0, BACKGROUND_SIDE / max(h, w))
    small = a
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(Image.fromarray(a).resize(size, Image.Resampling.BOX), np.float32)
    k = max(3, round(max(small.shape) / 4))
    bg = ndimage.uniform_filter(ndimage.grey_opening(small, size=(k, k), mode="nearest"), size=k, mode="nearest")
    bg = np.minimum(bg, ndimage.grey_opening(small, size=(k, k), mode="nearest"))  # never above the paper itself
    if scale < 1.0:
        bg = np.asarray(Image.fromarray(bg).resize((w, h), Image.Resampling.BILINEAR), np.float32)
    fg = np.clip(a - bg, 0.0, None)
    top = float(fg.max())
    if top < 1e-6:
        return np.zeros_like(a)
    t = otsu_threshold(fg)
    kept = fg > t
    if not kept.any():
        return np.zeros_like(a)
    full = float(np.percentile(fg[kept], 99))  # the ink's level, robust to a stray bright pixel
    return np.where(kept, np.clip(fg / max(full, 1e-6), 0.0, 1.0), 0.0).astype(np.float32)


def load_digit_image(path: str | os.PathLike, fit: bool = True) -> np.ndarray:
    """Read an image file as an MNIST-like digit (28, 28) in [-1, 1].

    Refused with a DigitImageError naming the file: missing, unreadable, not an image,
    larger than ``MAX_FILE_BYTES`` or ``MAX_PIXELS`` (checked from the header before
    decoding), empty (0 pixels) or blank; a FIFO, device or folder is refused before
    anything is read."""
    from .regular import open_regular

    path = Path(path)
    # only a regular file: a FIFO would hang the read, /dev/zero would feed it without end
    with open_regular(path, DigitImageError, "image file") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise DigitImageError(f"{path}: is empty (0 bytes)")
        if size > MAX_FILE_BYTES:
            raise DigitImageError(f"{path}: {size:,} bytes is larger than the {MAX_FILE_BYTES:,}-byte limit for a "
                                  f"digit image")
        rgba = _decode(path, fh)
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    alpha = rgba[..., 3]
    if float(alpha.min()) < 0.98:  # transparency: the opaque strokes are the digit
        if float(alpha.max()) < INK_FLOOR:
            raise DigitImageError(f"{path}: is blank (fully transparent)")
        ink = alpha
    else:
        ink = ink_from_grey(grey)
    return mnist_like(ink, where=str(path), fit=fit)


WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # 16- and 32-bit greyscale: PIL's convert() clips these


def _wide_grey(path: Path, img) -> np.ndarray:
    """A 16- or 32-bit greyscale image as RGBA floats in [0, 1], on its own full scale:
    16-bit data over 65,535, floats in [0, 1] or [0, 255] as they are, anything else
    stretched between its darkest and lightest pixel."""
    a = np.asarray(img, np.float64)
    if not np.all(np.isfinite(a)):
        raise DigitImageError(f"{path}: holds NaN or infinite pixel values")
    low, high = float(a.min()), float(a.max())
    if img.mode.startswith("I;16") or (img.mode == "I" and low >= 0 and high <= 65535):
        grey = a / 65535.0
    elif img.mode == "F" and low >= 0 and high <= 1:
        grey = a
    elif img.mode == "F" and low >= 0 and high <= 255:
        grey = a / 255.0
    else:
        grey = (a - low) / (high - low) if high > low else np.zeros_like(a)
    grey = grey.astype(np.float32)
    return np.stack([grey, grey, grey, np.ones_like(grey)], -1)


def _decode(path: Path, fh) -> np.ndarray:
    """The open image file ``fh`` as RGBA floats in [0, 1]; its size checked before decoding."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(fh, formats=FORMATS) as img:  # reads the header only
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise DigitImageError(f"{path}: {w} x {h} pixels is larger than the limit of {MAX_PIXELS:,} pixels "
                                      f"(refused before decoding)")
            if w == 0 or h == 0:
                raise DigitImageError(f"{path}: the image has no pixels ({w} x {h})")
            img.seek(0)
            rgba = _wide_grey(path, img) if img.mode in WIDE_GREY else np.asarray(img.convert("RGBA"), np.float32) / 255.0
    except DigitImageError:
        raise
    except UnidentifiedImageError:
        raise DigitImageError(f"{path}: not an image in one of the formats read here ({', '.join(FORMATS)}; "
                              f"decided by the content, not the name)") from None
    except Image.DecompressionBombError as exc:
        raise DigitImageError(f"{path}: larger than the limit of {MAX_PIXELS:,} pixels (refused before decoding; "
                              f"{exc})") from None
    except (OSError, ValueError, SyntaxError, MemoryError, EOFError) as exc:
        raise DigitImageError(f"{path}: damaged or unreadable image ({str(exc)[:160] or type(exc).__name__})") from None
    return rgba
