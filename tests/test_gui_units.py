"""Rank units in the real window (offscreen): rank a layer in the background, click a unit
in the ranked table to see its activation map and switch it off in the live view; results
are cached per model and layer; a ranking can be cancelled."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt

from latent_explorer.models.frame import Ablation

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, window, ...


def settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.renderer.pending and w.state.frame is not None
                    and np.allclose(w.state.frame.point, w.state.point, atol=1e-6), timeout=5000)


def open_units(qtbot, w):
    dock = w.layers_dock
    dock.show()
    dock.tabs.setCurrentWidget(dock.units)
    qtbot.waitUntil(lambda: dock.units.isVisible() and w.renderer.capture, timeout=3000)
    w.renderer.render_now()
    settle(qtbot, w)
    return dock.units


def test_rank_click_a_unit_switch_it_off_and_back_on(qtbot, window):
    panel = open_units(qtbot, window)
    window.state.set_point((0.3, -0.4))
    settle(qtbot, window)
    panel.layer.setCurrentText("act2")
    panel.points.setValue(12)
    panel.sampling.setCurrentIndex(panel.sampling.findData("uniform"))  # random test generators draw no digit regions
    panel.how.setCurrentIndex(panel.how.findData(0))  # every unit exactly
    qtbot.mouseClick(panel.rank, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.ranking is not None or not panel.ranker.busy, timeout=30000)
    assert panel.ranking is not None, panel.status.text()
    r = panel.ranking
    assert (r.layer, r.kind, r.units, len(r.points.classes)) == ("act2", "channels", 64, 12)
    assert not panel.rank.isEnabled() or not panel.ranker.busy
    # the table: the shown digit's units, largest drop first
    panel.digit.setCurrentIndex(panel.digit.findData(None))
    digit = panel.shown_digit()
    assert digit == window.state.frame.predicted
    rows = panel.rows()
    if r.counts()[digit] == 0:  # no point of this digit among the 12: pick one that has points
        digit = int(np.argmax(r.counts()))
        panel.digit.setCurrentIndex(panel.digit.findData(digit))
        rows = panel.rows()
    assert panel.table.rowCount() == 64 == len(rows)
    drops = [float(panel.table.item(i, 2).text()) for i in range(64)]
    assert drops == sorted(drops, reverse=True)
    assert [u for u, _d, _c in rows] == [u for u, _d, _c in r.top(digit, 64)]
    # click the second-ranked unit: it goes off in the live view
    unit = rows[1][0]
    rect = panel.table.visualItemRect(panel.table.item(1, 1))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    edit = Ablation("act2", channels=(unit,))
    assert window.state.ablations == (edit,)
    window.renderer.render_now()
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.reference_image is not None,
                    timeout=5000)
    frame = window.state.frame
    assert np.all(frame.activations["act2"][unit] == 0)  # off in the live view
    # its activation map: the unit as it is with the edit lifted, at the current point
    engine = window.state.model.engine
    with torch.inference_mode():
        _img, acts = engine._forward(torch.tensor([window.state.point]), None, True, ())
    expect = acts["act2"][0, unit].numpy()
    np.testing.assert_allclose(panel.map_item.image, expect, atol=1e-6)
    assert f"ch {unit}" in panel.map_title.text
    # the image the classifier sees now is the edited one
    np.testing.assert_allclose(frame.image, engine.images(np.array([window.state.point]),
                                                          ablations=(edit,))[0], atol=1e-5)
    # the map follows the point once it rests
    window.state.set_point((-0.6, 0.7))
    settle(qtbot, window)
    with torch.inference_mode():
        _img, acts = engine._forward(torch.tensor([window.state.point]), None, True, ())
    moved = acts["act2"][0, unit].numpy()
    qtbot.waitUntil(lambda: np.allclose(panel.map_item.image, moved, atol=1e-6), timeout=3000)
    # another unit replaces the first; "Switch back on" lifts it, other edits stay
    other = Ablation("act1", channels=(3,))
    window.state.set_ablations([*window.state.ablations, other])
    panel.pick_unit(rows[0][0])
    assert set(window.state.ablations) == {other, Ablation("act2", channels=(rows[0][0],))}
    qtbot.mouseClick(panel.restore, Qt.MouseButton.LeftButton)
    assert window.state.ablations == (other,)
    # the same settings again: from the cache, at once, no new job
    before = panel.ranking
    panel.ranking = None
    qtbot.mouseClick(panel.rank, Qt.MouseButton.LeftButton)
    assert panel.ranking is before and not panel.ranker.busy
    # another layer shows nothing cached until ranked; back to act2 shows it again
    panel.layer.setCurrentText("act1")
    assert panel.ranking is before  # nothing new to show
    panel.layer.setCurrentText("act2")
    assert panel.ranking is before


def test_a_ranking_can_be_cancelled(qtbot, window):
    panel = open_units(qtbot, window)
    panel.layer.setCurrentText("act0")
    panel.points.setValue(512)
    panel.sampling.setCurrentIndex(panel.sampling.findData("uniform"))
    panel.how.setCurrentIndex(panel.how.findData(0))
    qtbot.mouseClick(panel.rank, Qt.MouseButton.LeftButton)
    assert panel.ranker.busy and panel.cancel.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.maximum() == 256 * 512, timeout=5000)
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    assert not panel.ranker.busy and panel.status.text() == "Ranking cancelled."
    assert panel.rank.isEnabled() and panel.ranking is None
    qtbot.waitUntil(lambda: not panel.ranker._jobs, timeout=30000)  # the worker stops at its next batch


def test_walk_dock_exports_the_layers_video(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog, QPushButton

    settle(qtbot, window)
    window.state.walk.set_steps(5)
    window.state.set_ablations([Ablation("act2", channels=(0, 1))])
    out = tmp_path / "layers.gif"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "Animated GIF (*.gif)"))
    button = window.findChild(QPushButton, "walk_export_layers")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    job = window.walk.video_job
    assert job is not None
    qtbot.waitUntil(lambda: window.walk.video_job is None, timeout=60000)
    assert out.exists(), "the layers video was not written"
    with Image.open(out) as im:
        assert im.n_frames == 5
    assert job.request.ablations == (Ablation("act2", channels=(0, 1)),)
    assert window.statusBar().currentMessage() == f"Wrote {out}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("layers")) == ["layers.gif"]
