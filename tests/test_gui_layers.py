"""The "Inside the generator" dock, driven offscreen: layer heatmaps follow the point,
the channel inspector tiles a layer, ablations change the image and readout, survive
point moves and reset cleanly."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from latent_explorer.models import layers as L
from latent_explorer.models.engine import RenderRequest
from latent_explorer.models.networks import Generator

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, window, ...


def settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.renderer.pending and w.state.frame is not None
                    and np.allclose(w.state.frame.point, w.state.point, atol=1e-6), timeout=5000)


def open_dock(qtbot, w):
    dock = w.layers_dock
    dock.show()
    qtbot.waitUntil(lambda: dock.isVisible() and w.renderer.capture, timeout=3000)
    w.renderer.render_now()
    settle(qtbot, w)
    return dock


def test_dock_is_hidden_and_captures_nothing_until_shown(qtbot, window):
    settle(qtbot, window)
    dock = window.layers_dock
    assert not dock.isVisible() and not window.renderer.capture
    assert window.state.frame.activations == {}
    before = dock.layers.redraws
    window.state.set_point((0.2, 0.2))
    settle(qtbot, window)
    assert dock.layers.redraws == before  # hidden: no work
    open_dock(qtbot, window)
    assert set(window.state.frame.activations) == set(Generator.LAYERS)
    dock.hide()
    qtbot.waitUntil(lambda: not window.renderer.capture, timeout=3000)


def test_heatmaps_show_every_layer_and_follow_the_point(qtbot, window):
    dock = open_dock(qtbot, window)
    panel = dock.layers
    acts = window.state.frame.activations
    assert list(panel.maps) == list(Generator.LAYERS)
    for name, m in panel.maps.items():
        assert m.shape == L.LAYER_SHAPES[name][1:]
        np.testing.assert_allclose(m, acts[name].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(panel.items[name].image, L.colourise(m, panel.levels[name], panel.lut))
        assert L.shape_text(acts[name]) in panel.titles[name].text
    row = list(Generator.LAYERS).index("act2")
    qtbot.waitUntil(lambda: panel.table.item(row, 1).text() == "64×14×14", timeout=3000)  # once the point rests
    assert float(panel.table.item(row, 4).text()) == pytest.approx(acts["act2"].max(), rel=1e-2)
    old = {k: v.copy() for k, v in panel.maps.items()}
    items = dict(panel.items)
    window.state.set_point((-0.7, 0.9))
    settle(qtbot, window)
    assert not np.allclose(old["act2"], panel.maps["act2"])
    np.testing.assert_allclose(panel.maps["act2"], window.state.frame.activations["act2"].mean(0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(panel.items["act2"].image,
                                  L.colourise(panel.maps["act2"], panel.levels["act2"], panel.lut))
    assert panel.items == items  # same image items, new data


def test_the_statistics_table_shows_the_heatmaps_frame_while_dragging(qtbot, window):
    """Every frame of a drag redraws the heatmaps and the table of numbers together: the
    table never shows another frame than the heatmaps (issue 30: it lagged them)."""
    dock = open_dock(qtbot, window)
    panel = dock.layers
    row = list(Generator.LAYERS).index("act2")
    qtbot.waitUntil(lambda: panel.table.item(row, 1).text() == "64×14×14", timeout=3000)
    for k in range(6):
        window.state.set_point((-0.9 + 0.3 * k, 0.4))
        window.renderer.render_now()  # a frame at once, as a fast drag delivers them
        qtbot.wait(20)
        frame = window.state.frame
        acts = frame.activations
        np.testing.assert_allclose(panel.maps["act2"], L.reduce(acts["act2"], panel.mode_name, 0), rtol=1e-5,
                                   atol=1e-6)
        assert float(panel.table.item(row, 4).text()) == pytest.approx(acts["act2"].max(), rel=1e-2)
        assert float(panel.table.item(row, 3).text()) == pytest.approx(acts["act2"].std(), rel=1e-2)
        assert panel.table_frame is frame  # the heatmaps' frame


def test_reductions_channel_and_shared_scale(qtbot, window):
    dock = open_dock(qtbot, window)
    panel, acts = dock.layers, window.state.frame.activations
    panel.set_mode("channel", channel=70)
    np.testing.assert_array_equal(panel.maps["act0"], acts["act0"][70])
    np.testing.assert_array_equal(panel.maps["act2"], acts["act2"][63])  # fewer channels: the last
    assert "ch 63" in panel.titles["act2"].text
    panel.set_mode("std", shared=True)
    np.testing.assert_allclose(panel.maps["bn1"], acts["bn1"].std(0), rtol=1e-5, atol=1e-6)
    assert len(set(panel.levels.values())) == 1
    panel.set_mode("max", shared=False)
    np.testing.assert_array_equal(panel.maps["deconv1"], acts["deconv1"].max(0))
    assert panel.levels["out"] != panel.levels["dense"]


def test_heatmap_grid_paints_every_tile_its_colours_and_the_colour_bar(qtbot, window):
    """One widget paints the heatmaps: each tile's colours where ``tile_rects`` puts them
    (nearest pixel, square pixels), a title above each, and the colour bar's ends."""
    dock = open_dock(qtbot, window)
    grid = dock.layers.view
    shot = grid.grab().toImage()
    background = grid.palette().base().color().rgb() & 0xFFFFFF
    rects = grid.tile_rects()
    assert list(rects) == list(Generator.LAYERS)
    for name, (title, image) in rects.items():
        colours = dock.layers.items[name].image
        h, w = colours.shape[:2]
        assert image.width() / w == pytest.approx(image.height() / h)  # square pixels
        assert title.bottom() <= image.top() + 1
        for r, c in ((0, 0), (h // 2, w // 3), (h - 1, w - 1)):
            x = int(image.left() + (c + 0.5) * image.width() / w)
            y = int(image.top() + (r + 0.5) * image.height() / h)
            assert shot.pixel(x, y) & 0xFFFFFF == int.from_bytes(bytes(colours[r, c]), "big"), (name, r, c)
        inked = [shot.pixel(x, y) & 0xFFFFFF != background
                 for x in range(int(title.left()), int(title.right())) for y in range(int(title.top()), int(title.bottom()))]
        assert any(inked), f"no title over {name}"
    lut = dock.layers.lut
    bar_x = grid.width() - 78 + 6 + 7  # the middle of the bar's strip
    column = [shot.pixel(bar_x, y) & 0xFFFFFF for y in range(grid.height())]
    strip = [c for c in column if c != background and c != 0x555555]
    packed = [int.from_bytes(bytes(c), "big") for c in lut]
    assert strip[2] in packed[-4:] and strip[-3] in packed[:4]  # high values at the top


def test_the_ablation_view_is_not_repainted_while_there_is_no_edit(qtbot, window):
    """Frames without an edit leave the unedited/difference images blank: nothing in the
    view's scene changes, so nothing is repainted (clearing them again on every frame did)."""
    dock = open_dock(qtbot, window)
    changed = []
    dock.ablation.view.scene().changed.connect(lambda regions: changed.append(regions) if regions else None)
    settle(qtbot, window)
    qtbot.wait(300)  # the dock's first layout
    changed.clear()
    redraws = dock.layers.redraws
    for k in range(4):
        window.state.set_point((-0.6 + 0.3 * k, 0.1))
        window.renderer.render_now()
        qtbot.wait(30)
    settle(qtbot, window)
    qtbot.wait(50)  # the scene reports its changes from the event loop
    assert dock.layers.redraws >= redraws + 2 and changed == []
    assert dock.ablation.change.text() == "No edit in force."


def test_channel_inspector_tiles_a_layer_and_picks_channels(qtbot, window):
    dock = open_dock(qtbot, window)
    dock.tabs.setCurrentWidget(dock.channels)
    qtbot.waitUntil(dock.channels.isVisible, timeout=3000)
    ch = dock.channels
    ch.layer.setCurrentText("act2")
    a = window.state.frame.activations["act2"]
    assert ch.grid.shape == (8 * 15 - 1, 8 * 15 - 1)
    np.testing.assert_array_equal(ch.grid[15:29, 30:44], a[10])  # row 1, column 2 -> channel 10
    assert ch.channel_at(QPointF(31.5, 16.5)) == 10
    ch.channelClicked.emit("act2", 10)
    ch.channelClicked.emit("act2", 3)
    assert dock.ablation.indices.text() == "3,10"
    ch.layer.setCurrentText("act1")
    assert ch.grid.shape == (11 * 8 - 1, 12 * 8 - 1)  # 128 channels: 11 rows of 12


def test_ablation_changes_image_and_readout_survives_moves_and_resets(qtbot, window):
    dock = open_dock(qtbot, window)
    st, abl = window.state, dock.ablation
    window.state.set_point((0.4, -0.3))
    settle(qtbot, window)
    plain_image, plain_probs = st.frame.image.copy(), window.readout_panel.probs.copy()
    abl.layer.setCurrentText("act2")
    abl.target.setCurrentText("channels")
    abl.indices.setText("*")
    abl.scale.setValue(0.0)
    abl.apply.click()
    settle(qtbot, window)
    assert [a.describe() for a in st.ablations] == ["act2 x0"]
    np.testing.assert_allclose(window.image_panel.pixels, 0.0, atol=1e-6)  # tanh(deconv3(0)) = 0
    assert not np.allclose(window.readout_panel.probs, plain_probs)
    np.testing.assert_allclose(abl.ref_item.image, plain_image, atol=1e-6)
    np.testing.assert_allclose(abl.diff_item.image, -plain_image, atol=1e-6)
    assert np.all(dock.layers.maps["act2"] == 0)
    st.set_point((-0.5, 0.6))  # the edit stays in force
    settle(qtbot, window)
    assert st.ablations and np.allclose(window.image_panel.pixels, 0.0, atol=1e-6)
    moved = st.model.engine.render(RenderRequest(st.point)).image
    np.testing.assert_allclose(st.frame.reference_image, moved, atol=1e-6)
    abl.reset.click()
    settle(qtbot, window)
    assert st.ablations == ()
    np.testing.assert_allclose(window.image_panel.pixels, moved, atol=1e-6)
    assert abl.ref_item.image is None


def test_row_ablation_and_bad_indices(qtbot, window):
    dock = open_dock(qtbot, window)
    st, abl = window.state, dock.ablation
    abl.layer.setCurrentText("act2")
    abl.target.setCurrentText("rows")
    abl.indices.setText("0-99")
    assert not abl.apply_edit()
    assert "out of range" in abl.hint.text() and st.ablations == ()
    abl.indices.setText("3-5")
    abl.scale.setValue(0.5)
    assert abl.apply_edit()
    settle(qtbot, window)
    assert [a.describe() for a in st.ablations] == ["act2 rows=3,4,5 x0.5"]
    assert abl.list.item(0).text() == "act2 rows=3,4,5 x0.5"
    abl.scale.setValue(0.0)  # the same region again replaces the edit
    abl.apply_edit()
    settle(qtbot, window)
    assert [a.describe() for a in st.ablations] == ["act2 rows=3,4,5 x0"]
    assert np.abs(abl.diff_item.image).max() > 0
    abl.list.setCurrentRow(0)
    abl.remove.click()
    assert st.ablations == ()


def test_export_names_the_ablation(qtbot, window, tmp_path, monkeypatch):
    import latent_explorer.models.figures as figures

    titles = []
    original = figures.point_figure

    def spy(*args, **kwargs):
        fig = original(*args, **kwargs)
        titles.append(fig._suptitle.get_text())
        return fig

    monkeypatch.setattr(figures, "point_figure", spy)  # window imports it lazily from models.figures
    settle(qtbot, window)
    window.state.set_ablations([__import__("latent_explorer.models.engine", fromlist=["Ablation"]).Ablation.parse("act2:0-7")])
    out = window.export(tmp_path / "p.png")
    assert out.exists() and "ablated: act2 channels=0,1,2,3,4,5,6,7 x0" in titles[-1]
