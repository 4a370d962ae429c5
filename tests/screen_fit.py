"""The real window on a screen of a given size, with every combination of docks open:
prints one JSON line per (model, docks) with what does not fit.  Run by test_screen_fit.py
in a fresh process whose offscreen screen has that size:

    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json python tests/screen_fit.py 1366x768 gan2d cgan3d [--some]

(--some: no dock, each dock alone and all docks, instead of every combination.)

Checked: the window's frame inside the screen's available area; every visible widget
inside its parent (nothing clipped or pushed out, except content of a scroll area, which
scrolls); the image, the readout and the sliders visible in the window; the maps at least
as wide as the left column unless that is at its narrowest; a dock that was just opened visible (not a tab behind another);
in the maps (``map_problems``): every legend entry whole, every plot title inside its plot, the
small multiples' captions clear of each other and of the point's frame, and (with no dock
open) the tiles filling a fair share of their panel (``MIN_TILE_SHARE``); the maps area never
scrolls sideways (it may scroll down) and every map keeps at least ``MIN_MAP_PX`` a side; every
percentage label of the digits' areas chart lies whole inside its bar and the chart's visible
part.
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKS = {"layers": "Ctrl+L", "history": "Ctrl+H", "compare": "Ctrl+K", "walk": "Ctrl+J", "find": "Ctrl+F"}
MIN_TILE_SHARE = 0.4  # the 16 small multiples cover at least this much of their panel (no dock open)
MIN_MAP_PX = 150  # the least side of a map (a 3-D slice; the plane map, small multiples and cube get more)


def screen_config(width: int, height: int, folder: Path) -> str:
    """``QT_QPA_PLATFORM`` value for an offscreen screen of this size."""
    path = Path(folder) / f"screen-{width}x{height}.json"
    path.write_text(json.dumps({"screens": [{"name": "test", "x": 0, "y": 0, "width": width, "height": height,
                                             "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={path}"


def _inside_scroll_area(w, stop) -> bool:
    from PySide6.QtWidgets import QAbstractScrollArea

    p = w.parentWidget()
    while p is not None and p is not stop:
        if isinstance(p, QAbstractScrollArea):
            return True
        p = p.parentWidget()
    return False


def _scene_rect(item, rect=None):
    """An item's rect (default: its bounding rect) in scene (= view pixel) coordinates
    (an item drawn at a fixed pixel size ignores its view's scaling: Qt's device transform)."""
    from PySide6.QtWidgets import QGraphicsItem

    rect = item.boundingRect() if rect is None else rect
    if item.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations:
        view = item.scene().views()[0]
        return view.mapToScene(item.deviceTransform(view.viewportTransform()).mapRect(rect).toRect()).boundingRect()
    return item.mapRectToScene(rect)


def tile_share(overview) -> float:
    """How much of the small multiples' plot the tiles cover."""
    from PySide6.QtCore import QRectF

    box = overview.box.sceneBoundingRect()
    tile = overview.box.mapViewToScene(QRectF(0, 0, overview.res, overview.res)).boundingRect()
    return len(overview.values) * tile.width() * tile.height() / max(1.0, box.width() * box.height())


def map_problems(window) -> list[str]:
    """What is cut off or covered in the map area: legend entries, plot titles, the small
    multiples' captions."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFontMetricsF
    from PySide6.QtWidgets import QLabel, QScrollArea

    from latent_explorer.app.qt.panels.areas import LABEL_PAD_PX, AreasPanel
    from latent_explorer.app.qt.panels.overview import FRAME_PEN, OverviewPanel
    from latent_explorer.app.qt.panels.view3d import View3DPanel
    from latent_explorer.app.qt.widgets.mapview import CAPTION_PT, MapView

    out = []
    area = window.map_area
    legend = getattr(area, "legend", None)
    scroll = window.findChild(QScrollArea, "maps_scroll")
    scrolled = scroll is not None and scroll.horizontalScrollBar().isVisible()  # then the whole row scrolls
    if scroll is not None and scroll.horizontalScrollBar().maximum() > 0:
        out.append(f"the maps area scrolls sideways: {scroll.widget().width()} px of maps in a "
                   f"{scroll.viewport().width()} px view")
    maps = [v for v in area.findChildren(MapView) if v.isVisible()]
    if hasattr(area, "panel"):
        ov, cube = area.panel(OverviewPanel), area.panel(View3DPanel)
        maps += [ov.plot] if ov is not None else []
        maps += [w for w in (getattr(cube, "soft", None), getattr(cube, "gl", None)) if w is not None] if cube else []
    for m in maps:
        if m.isVisible() and min(m.width(), m.height()) < MIN_MAP_PX:
            out.append(f"a map ({type(m).__name__} {getattr(m, 'caption', '')!r}) is only {m.width()}x{m.height()} px, "
                       f"under {MIN_MAP_PX} px a side")
    areas = area.panel(AreasPanel) if hasattr(area, "panel") else None
    if areas is not None and areas.isVisible() and not areas.visibleRegion().isEmpty():
        seen = QRectF(areas.visibleRegion().boundingRect())
        if scroll is not None and scroll.verticalScrollBar().maximum() > 0:  # scrolled up or down: only sideways counts
            seen = QRectF(seen.left(), 0, seen.width(), areas.height())
        for bar in areas.bars:
            text = bar.text()
            width = bar.fontMetrics().horizontalAdvance(text)
            label = QRectF(bar.width() - LABEL_PAD_PX - width, 0, width, bar.height())  # right-aligned
            at = QRectF(bar.mapTo(areas, label.topLeft().toPoint()), label.size())
            if text and (label.left() < 0 or not seen.contains(at)):
                out.append(f"the areas chart's label {text!r} is cut off ({width} px label in a {bar.width()} px bar "
                           f"at x={bar.mapTo(areas, bar.rect().topLeft()).x()}, {seen.width()} px of the "
                           f"{areas.width()} px chart visible)")
    if legend is not None and legend.isVisible():
        for entry in legend.findChildren(QLabel):
            if not entry.isVisible():
                continue
            name = entry.text() or "a line swatch"
            if not legend.rect().contains(entry.geometry()):
                out.append(f"the legend's entry {name!r} lies outside the legend ({entry.geometry().right()} > "
                           f"{legend.width()})")
            elif not scrolled and entry.visibleRegion().boundingRect().size() != entry.size():
                out.append(f"the legend's entry {name!r} is cut off")
    for view in area.findChildren(MapView):
        if not view.isVisible() or not view.caption or view.visibleRegion().isEmpty():
            continue
        label = view.getPlotItem().titleLabel
        shown = label.item.toPlainText()
        f = label.item.font()
        f.setPointSizeF(CAPTION_PT)
        width = QFontMetricsF(f).horizontalAdvance(shown)
        r = _scene_rect(label.item)
        if r.left() < -0.5 or r.right() > view.width() + 0.5 or width > view.width():
            out.append(f"the title {shown!r} ({width:.0f} px) does not fit its {view.width()} px plot "
                       f"(spans {r.left():.0f}..{r.right():.0f})")
        if shown != view.caption and (not shown.endswith("…") or label.toolTip() != view.caption):
            out.append(f"the title {view.caption!r} is shortened to {shown!r} without the full text in a tooltip")
    ov = area.panel(OverviewPanel) if hasattr(area, "panel") else None
    if ov is not None and ov.isVisible() and len(ov.values) and ov.frame.isVisible():
        ov.box.prepareForPaint()  # pyqtgraph applies a new size to its view at the next paint: measure what it will show
        captions = [(t.text(), _scene_rect(t)) for t in ov.texts[:len(ov.values)]]
        plot = QRectF(ov.box.sceneBoundingRect())
        frame = ov.box.mapViewToScene(ov.frame.rect()).boundingRect().adjusted(
            -FRAME_PEN / 2, -FRAME_PEN / 2, FRAME_PEN / 2, FRAME_PEN / 2)
        for k, (text, r) in enumerate(captions):
            if not plot.adjusted(-0.5, -0.5, 0.5, 0.5).contains(r):
                out.append(f"the small multiple's caption {text!r} is cut off by its panel")
            if r.intersects(frame):
                out.append(f"the point's frame covers the caption {text!r}")
            for other, r2 in captions[k + 1:]:
                if r.intersects(r2):
                    out.append(f"the small multiples' captions {text!r} and {other!r} overlap")
    return out


def problems(window, just_opened=None) -> list[str]:
    """What a user would see as broken in the window as it is now."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

    out = []
    avail = window.screen().availableGeometry()
    frame = window.frameGeometry()
    if not avail.contains(frame):
        out.append(f"window {frame.width()}x{frame.height()} at ({frame.x()},{frame.y()}) is not inside the "
                   f"available area {avail.width()}x{avail.height()}")
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.isWindow() or _inside_scroll_area(w, window) or w.visibleRegion().isEmpty():
            continue  # hidden, scrolled content, or a dock tabbed behind another
        parent = w.parentWidget()
        if parent is None or type(parent).__name__ in ("QTabBar",):
            continue  # a tab bar's own scroll buttons
        g = w.geometry()
        if not parent.rect().adjusted(-1, -1, 1, 1).contains(g):
            out.append(f"{type(w).__name__} {w.objectName() or ''} {g.width()}x{g.height()}+{g.x()}+{g.y()} "
                       f"sticks out of its {type(parent).__name__} {parent.objectName() or ''} "
                       f"{parent.width()}x{parent.height()}")
    win_rect = QRect(0, 0, window.width(), window.height())
    must = [("image", window.image_panel.image_label if hasattr(window.image_panel, "image_label") else window.image_panel),
            ("readout", window.readout_panel)]
    must += [(f"slider {i}", s) for i, s in enumerate(window.sliders_panel.sliders)]
    must += [(f"value box {i}", s) for i, s in enumerate(window.sliders_panel.spins)]
    for name, w in must:
        r = w.visibleRegion().boundingRect()
        if not w.isVisible() or r.height() < min(w.height(), 12) or r.width() < min(w.width(), 40):
            out.append(f"the {name} is not visible ({r.width()}x{r.height()} of {w.width()}x{w.height()} shown)")
        elif not win_rect.contains(QRect(w.mapTo(window, r.topLeft()), r.size())):
            out.append(f"the {name} lies outside the window")
    controls = window.findChild(QScrollArea, "controls_scroll")
    if controls is not None and controls.horizontalScrollBar().maximum() > 0:
        out.append(f"the left column scrolls sideways: {controls.widget().minimumSizeHint().width()} px of controls "
                   f"in a {controls.viewport().width()} px view (the classifier's verdict: "
                   f"{window.readout_panel.title.text()!r}, {window.readout_panel.detail.text()!r})")
    left, maps = window.splitter.widget(0), window.splitter.widget(1)
    if maps.width() < left.width() and left.width() > left.minimumWidth() + 2:
        out.append(f"the maps ({maps.width()} px) are narrower than the left column ({left.width()} px), "
                   f"which could give up {left.width() - left.minimumWidth()} px")
    if just_opened is not None and just_opened.visibleRegion().isEmpty():
        out.append(f"{just_opened.windowTitle()} was opened but is not visible")
    out += map_problems(window)
    QApplication.processEvents()
    return out


def run(size: str, models: list[str], every: bool = True) -> int:
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from latent_explorer.app.qt.main import make_app
    from latent_explorer.app.qt.panels.overview import OverviewPanel
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    app = make_app()
    width, height = (int(v) for v in size.split("x"))
    geo = app.primaryScreen().geometry()
    assert (geo.width(), geo.height()) == (width, height), f"the screen is {geo.width()}x{geo.height()}, not {size}"

    def settle(ms: int = 20) -> None:
        for _ in range(3):
            QApplication.processEvents()
            QTest.qWait(ms)

    folder = ROOT / "checkpoints"
    failed = 0
    for model in models:
        w = MainWindow(folder, folder / "classifier.pt", make_settings())
        w.open_initial(model)
        w.show()
        settle(100)
        docks = {name: getattr(w, f"{name}_dock", None) or (w.walk.dock if name == "walk" else None)
                 for name in DOCKS}
        docks = {k: v for k, v in docks.items() if v is not None}
        names = sorted(docks)
        combos = [c for r in range(len(names) + 1) for c in itertools.combinations(names, r)]
        if not every:  # none, each one alone, all of them
            combos = [c for c in combos if len(c) in (0, 1, len(names))]
        for combo in combos:
            if True:
                for name in names:
                    if docks[name].isVisible() and name not in combo:
                        docks[name].toggleViewAction().trigger()
                settle()
                found = []
                for name in combo:  # open them one by one with their shortcuts, as a user does
                    if not docks[name].isVisible():
                        QTest.keySequence(w, QKeySequence(DOCKS[name]))
                        settle()
                        found += [f"after {DOCKS[name]}: {p}" for p in problems(w, docks[name])]
                found += problems(w)
                ov = w.map_area.panel(OverviewPanel)
                if not combo and ov is not None and tile_share(ov) < MIN_TILE_SHARE:
                    found.append(f"the small multiples cover {tile_share(ov):.0%} of their panel, "
                                 f"under {MIN_TILE_SHARE:.0%}")
                failed += bool(found)
                print(json.dumps({"model": model, "docks": list(combo), "window": [w.width(), w.height()],
                                  "problems": sorted(set(found))}), flush=True)
        w.atlases.shutdown()
        w.close()
        w.deleteLater()
        settle()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("LATENT_EXPLORER_SETTINGS", str(Path(tempfile.mkdtemp()) / "settings.ini"))
    os.environ.setdefault("LATENT_EXPLORER_CACHE", str(Path(tempfile.mkdtemp()) / "cache"))
    every = "--some" not in sys.argv
    args = [a for a in sys.argv[1:] if a != "--some"]
    sys.exit(run(args[0], args[1:] or ["gan2d"], every))
