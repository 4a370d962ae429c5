"""Defects of the window met by a newcomer (issue 30), each on the real window: a dock
shortcut that raises a dock tabbed behind another, the overview and the slices agreeing
on the current slice, views cleared when they go stale, exports that say what they mean,
and the terms, shortcuts and keys that explain themselves."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

pytest_plugins = ("gui_fixtures",)


def _settle(qtbot, n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()
        qtbot.wait(20)


def on_top(dock) -> bool:
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def test_ctrl_j_raises_the_walk_dock_tabbed_behind_compare_and_hides_it_only_on_top(qtbot, window):
    walk, compare = window.walk.dock, window.compare_dock
    if not walk.isVisible():
        walk.toggleViewAction().trigger()
    qtbot.keySequence(window, QKeySequence("Ctrl+K"))
    qtbot.waitUntil(lambda: on_top(compare), timeout=3000)
    if walk not in window.tabifiedDockWidgets(compare):
        window.tabifyDockWidget(walk, compare)
        compare.raise_()
    qtbot.waitUntil(lambda: not on_top(walk), timeout=3000)
    assert not walk.isHidden()  # behind the tab, not closed
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))
    qtbot.waitUntil(lambda: on_top(walk), timeout=3000)  # raised, not hidden
    assert walk.toggleViewAction().isChecked() and not walk.isHidden()
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))  # now on top: the shortcut hides it
    qtbot.waitUntil(lambda: walk.isHidden(), timeout=3000)
    assert not walk.toggleViewAction().isChecked()
    qtbot.keySequence(window, QKeySequence("Ctrl+J"))  # and shows it again
    qtbot.waitUntil(lambda: on_top(walk), timeout=3000)


@pytest.mark.parametrize("model", ["gan3d"])
def test_the_overview_and_the_slices_agree_on_the_current_slice_at_the_origin(qtbot, make_window, models_dir,
                                                                              classifier_ckpt, tmp_path, model):
    """An even atlas (12 cells, none at 0) with as many tiles: at the origin, the framed
    tile is the slices' cut, caption and image (the tile was picked by the nearest value,
    where float rounding broke the tie the other way from the atlas's cells)."""
    from latent_explorer.app.qt.panels.overview import OverviewPanel
    from latent_explorer.app.qt.panels.slices3d import Slices3DPanel
    from latent_explorer.app.qt.slicecache import slices as slice_cache
    from latent_explorer.models.atlas import build_atlas
    from latent_explorer.models.checkpoint import load_checkpoint

    w = make_window(model=model)
    path = tmp_path / f"{model}.atlas.h5"
    build_atlas(load_checkpoint(models_dir / f"{model}.pt"), classifier_ckpt, 12, path, method="full")
    assert w.open_path(path)
    w.state.set_option("overview_axis", 2)
    w.state.set_option("overview_count", 12)
    w.state.reset_point()
    _settle(qtbot)
    atlas, ov, cube = w.state.atlas, w.map_area.panel(OverviewPanel), w.map_area.panel(Slices3DPanel)
    i = ov.current_tile()
    assert f"z = {ov.values[i]:+.2f}" in cube.captions[0]  # the xy slice is cut at the framed tile's z
    where = w.state.slice_point()
    assert atlas.cell_index([*where[:2], ov.values[i], *where[3:]]) == atlas.cell_index(where)
    x0, y0 = (int(v) for v in ov._tile_origin(i))
    tile = ov.image.image[x0:x0 + ov.res, y0:y0 + ov.res]
    shown = slice_cache.get(atlas, (0, 1), where, None).rgb[:, ::-1]
    np.testing.assert_array_equal(tile, shown)  # the same image


def test_the_maps_hover_readout_goes_when_the_mouse_leaves(qtbot, window):
    from PySide6.QtTest import QTest

    from latent_explorer.app.qt.panels.map2d import Map2DPanel

    view = window.map_area.panel(Map2DPanel).view
    QTest.mouseMove(view.viewport(), view.view_to_widget(0.3, -0.4))
    qtbot.waitUntil(lambda: view.hover.isVisible(), timeout=3000)
    assert "+0.30" in view.hover.toPlainText()
    QTest.mouseMove(window.image_panel, window.image_panel.rect().center())  # the mouse goes elsewhere
    _settle(qtbot)
    assert not view.hover.isVisible()
    # the plot's own area left (the window system tells the viewport only, as when the
    # pointer leaves onto a floating dock or another window over the map)
    QTest.mouseMove(view.viewport(), view.view_to_widget(-0.5, 0.5))
    qtbot.waitUntil(lambda: view.hover.isVisible(), timeout=3000)
    QApplication.sendEvent(view.viewport(), QEvent(QEvent.Type.Leave))
    assert not view.hover.isVisible()


def test_a_model_switch_clears_the_find_docks_result(qtbot, make_window, models_dir):
    w = make_window(model="gan3d")
    panel = w.find_dock.panel
    panel.grid_per_axis = 4
    panel.neighbours_box.setChecked(False)
    w.find_dock.show()
    panel.pad.stroke((8.0, 8.0), (20.0, 20.0))
    qtbot.mouseClick(panel.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None and panel.job is None, timeout=120000)
    assert "class" in panel.best_cap.text() and "distance" in panel.diff_cap.text()
    assert "Found in" in panel.status.text()
    assert w.open_path(models_dir / "gan2d.pt")
    _settle(qtbot)
    assert panel.result is None and panel.best_img.pixmap().isNull()
    # no word of the old answer is left over the blank images
    assert panel.best_cap.text() == "best image" and panel.diff_cap.text() == "difference"
    assert "Found in" not in panel.status.text() and panel.sentence.text() == ""
    assert not panel.best_button.isEnabled()


def test_the_walk_summary_counts_in_words_and_explains_the_star(qtbot, window):
    from latent_explorer.app.qt.walkdock import walk_summary
    from latent_explorer.models.paths import make_strip

    engine = window.state.model.engine
    one = make_strip(engine, (0.0, 0.0), (0.01, 0.0), 2, "lerp")  # a step inside one region
    assert len(one.crossings) == 1
    assert walk_summary(one) == "2 frames, 1 stretch in 1 digit's region"
    bulge = make_strip(engine, (1.0, 1.0), (1.0, -1.0), 7, "slerp")  # bulges past x = 1: starred frames
    text = walk_summary(bulge)
    assert bulge.clipped.any() and "* the path left the box" in text
    n = len({c.digit for c in bulge.crossings})
    assert ("1 digit's region" if n == 1 else f"{n} digits' regions") in text


def test_every_file_dialog_starts_in_the_folder_last_used(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    starts: list[tuple[str, str]] = []
    answers: list[str] = []

    def fake(kind):
        def ask(parent, title, start="", *a, **k):
            starts.append((kind, start))
            return (answers.pop(0) if answers else "", "")
        return ask

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake("save"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake("open"))
    monkeypatch.setattr(window, "show_error", lambda *a: None)
    first = tmp_path / "exports"
    first.mkdir()
    answers.append(str(first / "point.png"))
    window.export_dialog()  # File > Export point as image: writes there
    assert (first / "point.png").is_file()
    window.open_dialog()
    window.find_dock.panel.load_dialog()
    window.walk.export_image(False)
    window.history_dock.export_dialog() if window.history_dock.view.history is not None else None
    assert [Path(s).parent if k == "save" else Path(s) for k, s in starts[1:]] == [first] * 3
    second = tmp_path / "models"
    second.mkdir()
    answers.append(str(second / "none.pt"))
    starts.clear()
    window.open_dialog()  # a file opened from another folder: the next dialogs start there
    window.export_dialog()
    assert Path(starts[1][1]).parent == second


def test_the_ablation_note_names_the_walk_that_the_edits_recompute(qtbot, window):
    from latent_explorer.models.engine import Ablation

    st, runner = window.state, window.walk.dock.panel.runner
    st.walk.set_a((-0.8, 0.1))
    st.walk.set_b((0.8, -0.2))
    st.set_ablations([Ablation.parse("act2:0-31")])
    strip = runner.current_strip()
    assert strip is not None and tuple(strip.ablations) == tuple(st.ablations)  # the walk is edited
    note = window.point_panel.cell.text()
    assert "unedited" in note and "walk" in note  # ... and the note says so
    assert "image class only" not in note


def test_every_term_has_a_tooltip_where_it_is_shown(qtbot, make_window):
    from latent_explorer.app.qt.panels.atlasstatus import method_help
    from latent_explorer.models.compare import TABLE_HEADER
    from latent_explorer.models.glossary import explain
    from latent_explorer.models.paths import SLERP_HELP

    w = make_window(model="gan3d")
    # adaptive(stride=4): the atlas status names the method; its tooltip says what it is
    help_text = method_help("adaptive(stride=4)")
    assert "stride 4" in help_text and "coarse grid" in help_text
    assert w.atlas_status.label.toolTip() == method_help(w.state.atlas.method) != ""
    # lerp / slerp: each entry of the walk's path chooser
    kind = w.walk.dock.panel.kind
    assert "straight line" in kind.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert kind.itemData(1, Qt.ItemDataRole.ToolTipRole) == SLERP_HELP
    assert "lerp" in kind.toolTip() and "Spherical" in kind.toolTip()
    # strong judge error: the compare table's column header
    table = w.compare_dock.panel.table
    col = TABLE_HEADER.index("strong judge error")
    assert table.horizontalHeaderItem(col).toolTip() == explain("strong judge error")
    # shown sd: the layer statistics' column headers
    from latent_explorer.app.qt.panels.layers import STAT_HEADERS

    layers = w.layers_dock.layers.table
    tip = layers.horizontalHeaderItem(STAT_HEADERS.index("shown sd")).toolTip()
    assert "standard deviation" in tip and "heatmap as drawn" in tip
    # weak judge: the history's rate plot
    assert "logistic regression" in w.history_dock.view.rate_plot.toolTip()


def test_help_lists_every_shortcut_of_the_window(qtbot, window):
    from PySide6.QtGui import QAction

    from latent_explorer.app.qt.shortcuts import ShortcutsDialog

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.menu() and a.text().replace("&", "") == "Help")
    entry = next(a for a in help_menu.actions() if "Keyboard shortcuts" in a.text())
    entry.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows()
    keys = {k for k, _does, _menu in rows}
    for wanted in ("Ctrl+J", "Ctrl+K", "Ctrl+L", "Ctrl+F", "Ctrl+H", "Ctrl+O", "Ctrl+E", "Ctrl+0", "Ctrl+R", "F5"):
        assert any(wanted in k for k in keys), wanted
    does = {d for _k, d, _m in rows}
    assert "Walk from A to B (strip, regions crossed)" in does and "Reload model list" in does
    # built from the window's actions when it opens: a new one is listed, nothing is kept by hand
    extra = QAction("Do something new", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+F9"))
    window.addAction(extra)
    entry.trigger()
    assert any(d == "Do something new" for _k, d, _m in dialog.rows())
    dialog.close()


def test_f5_reloads_the_model_list_and_says_so(qtbot, window, models_dir):
    window.statusBar().clearMessage()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    message = window.statusBar().currentMessage()
    assert "Model list reloaded" in message and f"{len(window.entries)} models" in message
