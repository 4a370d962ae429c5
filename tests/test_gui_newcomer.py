"""What a newcomer met in the first hour, on the real window: the wheel over the left
column, readouts that say what they show, the atlas menu, an empty checkpoint, Ctrl+K."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QWheelEvent
from PySide6.QtWidgets import QApplication

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
    w.state.set_atlas(None)
    assert w.build_atlas_action.isEnabled() and not w.cancel_atlas_action.isEnabled()


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
