"""What a newcomer met in the first hour, on the real window: the wheel over the left
column, readouts that say what they show, the atlas menu, an empty checkpoint, Ctrl+K."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from latent_explorer.models.engine import Ablation

pytest_plugins = ("gui_fixtures",)


def _wheel(widget, steps: int = -3) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_moves_a_slider_only_when_it_has_focus(qtbot, make_window):
    w = make_window(model="gan4d")
    slider, spin = w.sliders_panel.sliders[0], w.sliders_panel.spins[1]
    w.model_combo.setFocus()
    before = w.state.point
    _wheel(slider)
    _wheel(spin)
    qtbot.wait(50)
    assert w.state.point == before, "the wheel over an unfocused control changed the point"
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=2000)
    _wheel(slider)
    qtbot.waitUntil(lambda: w.state.point[0] != before[0], timeout=2000)


def test_the_map_readout_says_it_is_the_cell_centre_and_the_unedited_generator(qtbot, window):
    cell = window.point_panel.cell
    assert "judged at the cell's centre" in cell.text() and "this point's own image" in cell.text()
    assert "unedited" not in cell.text()
    window.state.set_ablations([Ablation.parse("act2:0-7")])
    qtbot.waitUntil(lambda: "unedited" in cell.text(), timeout=3000)
    window.state.set_ablations([])
    qtbot.waitUntil(lambda: "unedited" not in cell.text(), timeout=3000)


def test_build_the_missing_atlas_is_enabled_only_when_it_is_missing(qtbot, make_window, models_dir):
    w = make_window(model="gan2d")  # ships an atlas
    assert w.state.atlas is not None
    assert not w.build_atlas_action.isEnabled() and not w.cancel_atlas_action.isEnabled()
    assert w.open_path(models_dir / "gan4d.pt")  # none: the window builds one at once
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=30000)
    qtbot.waitUntil(lambda: not w.atlases.busy, timeout=30000)
    assert not w.build_atlas_action.isEnabled()
    atlas = w.state.atlas
    w.state.set_atlas(None)
    assert w.build_atlas_action.isEnabled() and not w.cancel_atlas_action.isEnabled()
    # the maps say why they are empty; with the atlas back, the message goes (hidden, not just blank)
    from latent_explorer.app.qt.panels.overview import OverviewPanel
    from latent_explorer.app.qt.panels.slices3d import Slices3DPanel

    messages = [v.message for v in w.map_area.panel(Slices3DPanel).views] + [w.map_area.panel(OverviewPanel).message]
    qtbot.waitUntil(lambda: all(m.isVisible() for m in messages), timeout=3000)
    assert all("Building the atlas" in m.textItem.toPlainText() for m in messages)
    w.state.set_atlas(atlas)
    qtbot.waitUntil(lambda: not any(m.isVisible() for m in messages), timeout=3000)


def test_an_empty_checkpoint_says_it_is_empty(qtbot, window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, text: shown.append(text))
    empty = tmp_path / "empty.pt"
    empty.touch()
    assert not window.open_path(empty)
    assert shown and f"{empty}: the file is empty" in shown[0]


def test_compare_comes_to_the_front_over_the_walk(qtbot, window):
    walk, compare = window.walk.dock, window.compare_dock
    if not walk.isVisible():
        walk.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: not walk.visibleRegion().isEmpty(), timeout=3000)
    qtbot.keySequence(window, QKeySequence("Ctrl+K"))
    qtbot.waitUntil(lambda: not compare.visibleRegion().isEmpty(), timeout=3000)
    assert walk.visibleRegion().isEmpty() or window.dockWidgetArea(walk) != window.dockWidgetArea(compare) \
        or not window.tabifiedDockWidgets(compare)


# ---------------------------------------------------------------- the maps on a small screen


def _settle(qtbot) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(30)


def test_the_legend_wraps_instead_of_running_off_a_narrow_map_area(qtbot, make_window):
    from tests.screen_fit import map_problems

    w = make_window(model="gan3d")
    legend = w.map_area.legend
    entries = [legend.swatches[0], legend.swatches[9], legend.no_digit, legend.hint]
    assert all(e.isVisible() for e in entries) and legend.walk_key[0].isVisible()
    one_line = legend.layout().sizeHint().width()
    total = sum(w.splitter.sizes())
    widths = []
    for maps in (total, 1):  # the maps as wide, then as narrow, as the splitter lets them be
        w.splitter.setSizes([total - maps, maps])
        _settle(qtbot)
        width = legend.width()
        widths.append(width)
        for e in entries:
            assert legend.rect().contains(e.geometry()), f"{e.text()} cut off at {width} px"
        centres = sorted(e.geometry().center().y() for e in legend.findChildren(type(legend.hint)) if e.isVisible())
        lines = 1 + sum(b - a > 5 for a, b in zip(centres, centres[1:]))
        assert (lines == 1) == (width >= one_line), (width, one_line, lines)
        assert legend.minimumHeight() >= legend.layout().height_for(width)  # wrapped lines push the maps down
        assert legend.geometry().bottom() < w.map_area.splitters[0].geometry().top()  # above the maps
    assert min(widths) < one_line, widths  # it did wrap: the offscreen screen is 800 px wide
    assert not [p for p in map_problems(w) if "legend" in p]
    assert legend.no_digit.visibleRegion().boundingRect().size() == legend.no_digit.size() \
        or w.findChild(QScrollArea, "maps_scroll").horizontalScrollBar().isVisible()


def test_slice_titles_fit_their_plots_with_the_full_text_in_a_tooltip(qtbot, make_window):
    from latent_explorer.app.qt.panels.map2d import Map2DPanel
    from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
    from tests.screen_fit import map_problems

    w = make_window(model="gan4d")
    qtbot.waitUntil(lambda: w.state.atlas is not None, timeout=60000)
    w.state.set_point((0.3, -0.5, 0.2, 0.86))
    _settle(qtbot)
    views = w.map_area.panel(Slices3DPanel).views + [w.map_area.panel(Map2DPanel).view]
    assert all(v.caption for v in views)
    assert not [p for p in map_problems(w) if "title" in p]
    narrow = views[0]
    size = narrow.size()
    narrow.setFixedWidth(110)  # narrower than its title: elided, the whole of it in the tooltip
    _settle(qtbot)
    label = narrow.getPlotItem().titleLabel
    assert label.item.toPlainText().endswith("…") and label.toolTip() == narrow.caption
    assert not [p for p in map_problems(w) if "title" in p]
    narrow.setMinimumWidth(150)
    narrow.setMaximumWidth(16_777_215)
    narrow.resize(size)
    _settle(qtbot)
    assert label.item.toPlainText() == narrow.caption and not label.toolTip()


def test_small_multiples_grow_with_their_panel_and_keep_their_captions_clear(qtbot, make_window):
    from PySide6.QtCore import QRectF

    from latent_explorer.app.qt.panels.overview import OverviewPanel
    from tests.screen_fit import map_problems, tile_share

    w = make_window(model="gan3d")
    ov = w.map_area.panel(OverviewPanel)
    qtbot.waitUntil(lambda: len(ov.values) == 16, timeout=5000)

    def tile() -> float:
        return ov.box.mapViewToScene(QRectF(0, 0, ov.res, ov.res)).boundingRect().width()

    sizes = []
    for width, height in ((300, 180), (420, 420), (760, 300), (640, 640)):
        ov.plot.setFixedSize(width, height)
        _settle(qtbot)
        sizes.append(tile())
        assert tile_share(ov) >= 0.3, (width, height, tile_share(ov))
        for i in range(len(ov.values)):  # the frame on every tile in turn
            w.state.set_coordinates({2: float(ov.values[i])})
            assert ov.current_tile() == i
            problems = [p for p in map_problems(w) if "caption" in p]
            assert not problems, (width, height, problems)
    assert sizes[1] > sizes[0] and sizes[3] > sizes[1], sizes  # the tiles grow with the panel
    assert sizes[3] > 0.16 * 640  # 16 tiles in 640 x 640: no more empty space than the captions need
