"""Look and feel shared by every view: pyqtgraph's colours and a few fonts."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

from latent_explorer.models.maps import PALETTE, text_colour


# ColorBrewer's RdBu, reversed (blue for negative, white at zero, red for positive): the
# same stops as matplotlib's "RdBu_r", written out so that the app need not import matplotlib
RDBU_R = ((5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
          (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31))


def diverging_colormap() -> pg.ColorMap:
    """Colour map for signed values such as activations and their differences."""
    return pg.ColorMap([i / (len(RDBU_R) - 1) for i in range(len(RDBU_R))], list(RDBU_R), name="RdBu_r")


def configure_pyqtgraph() -> None:
    """Light plots that match Qt's default widgets; sharp (not smoothed) images."""
    pg.setConfigOptions(background="w", foreground="#333333", antialias=True)


def digit_colour(digit: int) -> QColor:
    r, g, b = (int(v) for v in PALETTE[digit])
    return QColor(r, g, b)


def digit_text_colour(digit: int) -> QColor:
    return QColor(*text_colour(digit))


def digit_css(digit: int) -> str:
    """Stylesheet colours (background and text) for a digit's swatch."""
    bg, fg = digit_colour(digit), digit_text_colour(digit)
    return f"background-color: {bg.name()}; color: {fg.name()};"


def font(point_size: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f
