"""The window and "not a digit": a blank image reads "not a digit (closest: ...)", the maps
show "no digit" in the legend and the area chart, and an atlas from before the check is
offered a one-click rebuild (the model opens and works meanwhile)."""
from __future__ import annotations

from pathlib import Path

import pytest

from latent_explorer.app.qt.panels.areas import AreasPanel
from latent_explorer.models.atlas import VERSION, load_atlas, read_header
from latent_explorer.models.checkpoint import load_checkpoint
from tests.gui_fixtures import CLASSIFIER_PATH
from tests.test_digitness import _make_old_atlas, blank_generator

pytest_plugins = ("gui_fixtures",)


@pytest.fixture
def blank_folder(tmp_path, classifier_ckpt) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    blank_generator(folder / "blank.pt")
    _make_old_atlas(folder, classifier_ckpt)  # g.pt with a version-1 g.atlas.h5
    (folder / "classifier.pt").write_bytes(CLASSIFIER_PATH.read_bytes())
    return folder


def test_blank_image_reads_not_a_digit_and_the_maps_say_no_digit(qtbot, make_window, blank_folder):
    w = make_window(blank_folder, model="blank", resolution=4)
    st = w.state
    qtbot.waitUntil(lambda: st.frame is not None and st.atlas is not None, timeout=60000)
    assert not st.frame.is_digit
    readout = w.readout_panel
    assert readout.title.text() == "Image class: not a digit"
    assert readout.detail.text() == f"closest: {st.frame.predicted}, {st.frame.confidence:.0%}"
    assert readout.digit.text() == "–"
    assert w.map_area.legend.no_digit.text() == "no digit"
    areas = w.map_area.panel(AreasPanel)
    assert areas.shares[10] == 1.0 and areas.bars[10].text().startswith("no digit 100")
    assert areas.marks[10].text() == "◀"
    assert "<b>no digit</b>" in w.point_panel.cell.text()


def test_old_atlas_gets_a_one_click_rebuild(qtbot, make_window, blank_folder, classifier_ckpt):
    w = make_window(blank_folder, model="g", resolution=4)
    st = w.state
    old = blank_folder / "g.atlas.h5"
    qtbot.waitUntil(lambda: st.model is not None and st.frame is not None, timeout=30000)
    assert st.model.outdated_atlas == old
    button = w.atlas_status.rebuild
    qtbot.waitUntil(button.isVisible, timeout=30000)
    assert "latent-explorer atlas rebuild" in button.toolTip()
    button.click()
    qtbot.waitUntil(lambda: st.atlas is not None and st.atlas.path == old and not w.atlases.busy, timeout=60000)
    assert read_header(old)["version"] == VERSION and st.atlas.resolution == 5
    assert st.model.outdated_atlas is None
    qtbot.waitUntil(lambda: not button.isVisible(), timeout=5000)
    load_atlas(old, load_checkpoint(blank_folder / "g.pt").digest, classifier_ckpt.digest)


def test_an_invalid_image_reads_as_such_and_the_maps_hold_no_digit(qtbot, make_window, tmp_path):
    """Finite weights of 3e38: every image is NaN. The readout says so (no class, no digit
    badge) and the atlas the window builds has no digit anywhere (issue 36)."""
    from latent_explorer.models.checkpoint import read_payload, save_payload
    from latent_explorer.models.frame import INVALID_IMAGE, NO_DIGIT
    from tests.conftest import make_generator

    folder = tmp_path / "models"
    folder.mkdir()
    payload = read_payload(make_generator(tmp_path / "g.pt", 2, seed=3))
    payload["state_dict"]["bn0.bias"][:] = 3e38
    payload["state_dict"]["deconv1.weight"][:] = 3e38
    save_payload(folder / "nan.pt", payload)
    w = make_window(folder, model="nan", resolution=4)
    st = w.state
    qtbot.waitUntil(lambda: st.frame is not None and st.atlas is not None, timeout=60000)
    assert not st.frame.valid
    readout = w.readout_panel
    assert readout.title.text() == "Image class: none" and readout.detail.text() == INVALID_IMAGE
    assert readout.digit.text() == "–"
    assert (st.atlas.labels == NO_DIGIT).all()
