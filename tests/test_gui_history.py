"""The training-history dock on a real history written by a tiny training run: curves,
settle marker, scrubber, live follow of a growing file, GIF export, missing and foreign
histories."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from latent_explorer.training.history import History
from latent_explorer.training.history_frames import map_image
from latent_explorer.training.report import grid_image, settle_epoch, smooth
from latent_explorer.training.train_gan import GanRun, train_gan

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, ...
from tests.conftest import TINY_RUN as TINY  # noqa: E402  (the run tiny_run trained; resumed runs continue it)
LOAD_MS = 20_000


def _train(out: Path, mnist_dir: Path, classifier_path: Path, epochs: int, resume: bool = False) -> dict:
    return train_gan(GanRun(epochs=epochs, **TINY), data=str(mnist_dir), out=out, resume=resume,
                     classifier_path=classifier_path, evaluate_at_end=False, quiet=True, log=lambda *_: None)


@pytest.fixture(scope="module")
def trained(tiny_run) -> Path:
    """A real 2-epoch run folder: gan2d.pt, gan2d.history.h5, gan2d.state.pt (trained once a session)."""
    return tiny_run


@pytest.fixture
def run_dir(trained, tmp_path) -> Path:
    """This test's own copy of the run (tests append to it)."""
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    return out


def open_history(qtbot, make_window, folder: Path, epochs: int | None = None):
    """The window on ``folder``'s gan2d with the history dock shown and loaded."""
    w = make_window(folder=folder)
    dock = w.history_dock
    dock.show()
    if epochs is not None:
        qtbot.waitUntil(lambda: dock.view.history is not None and dock.view.history.epochs == epochs, timeout=LOAD_MS)
    return w, dock


def test_views_read_the_real_history(qtbot, make_window, run_dir):
    history = History.load(run_dir / "gan2d.history.h5")
    w, dock = open_history(qtbot, make_window, run_dir, epochs=2)
    view = dock.view
    assert dock.path == run_dir / "gan2d.history.h5" and view.stack.currentIndex() == 1
    g, d, _ = history.steps()
    assert len(g) == 8
    view.smoothing.setValue(1)
    for curve, values in ((view.g_curve, g), (view.d_curve, d)):
        x, y = curve.getData()
        assert len(x) == len(y) == len(g)
        np.testing.assert_allclose(y, values, rtol=1e-6)
    view.smoothing.setValue(3)
    np.testing.assert_allclose(view.g_curve.getData()[1], smooth(g, 3))
    assert (view.slider.minimum(), view.slider.maximum()) == (1, history.epochs)
    assert view.epoch == history.epochs  # opens on the newest epoch
    for epoch in (1, 2):
        view.set_epoch(epoch)
        np.testing.assert_array_equal(view.grid_pixels, grid_image(history.grids[epoch - 1]))
        np.testing.assert_array_equal(view.map_pixels, map_image(history, epoch - 1, 0))
        assert view.epoch_label.text() == f"epoch {epoch} / 2"
    # the rate plot: no point for the first epoch (no earlier map), one per epoch for the judge
    assert len(view.rate_curve.getData()[0]) == 1 and len(view.judge_curve.getData()[0]) == 2
    np.testing.assert_allclose(view.judge_curve.getData()[1], history.weak_judge_acc)
    # the epoch axis labels whole epochs only (a 2-epoch run once read 1, 1.5, 2)
    axis = view.rate_plot.getAxis("bottom")
    labelled = axis.tickValues(0.5, history.epochs + 0.5, axis.width() or 300)[0][1]
    assert list(labelled) == [1.0, 2.0]


def test_settle_marker_follows_the_rule(qtbot, make_window, run_dir):
    path = run_dir / "gan2d.history.h5"
    h = History.load(path)
    for _ in range(5):  # seven epochs; the maps settle from epoch 4 on under the default rule
        for name in ("g_loss", "d_loss", "grids", "maps", "map_conf", "weak_judge_acc", "seconds"):
            getattr(h, name).append(getattr(h, name)[-1])
    h.change_rate = [float("nan"), 0.3, 0.04, 0.015, 0.01, 0.005, 0.03]
    h.save(path)
    w, dock = open_history(qtbot, make_window, run_dir, epochs=7)
    view = dock.view
    expected = settle_epoch(h.change_rate)
    assert expected == 4 and view.settle_rule() == (0.02, 3)
    assert view.settled == expected and view.settle_line.isVisible() and view.settle_line.value() == expected
    assert "epoch 4" in view.settle_label.text()
    view.threshold.setValue(5.0)  # 5% of cells: settled from epoch 3
    assert view.settled == settle_epoch(h.change_rate, 0.05, 3) == 3 and view.settle_line.value() == 3
    view.k.setValue(6)  # 6 epochs in a row: never in this run (only 5 epochs after the first)
    assert view.settled is None and not view.settle_line.isVisible()
    assert view.settle_label.text().startswith("not yet")


def test_live_mode_follows_a_resumed_run(qtbot, make_window, run_dir, mnist_dir, classifier_path):
    w, dock = open_history(qtbot, make_window, run_dir, epochs=2)
    _train(run_dir, mnist_dir, classifier_path, epochs=3, resume=True)  # the trainer writes epoch 3
    qtbot.waitUntil(lambda: dock.view.history.epochs == 3, timeout=LOAD_MS)
    view = dock.view
    assert view.slider.maximum() == 3 and view.epoch == 3  # the scrubber stays at the newest epoch
    fresh = History.load(run_dir / "gan2d.history.h5")
    np.testing.assert_array_equal(view.grid_pixels, grid_image(fresh.grids[2]))
    assert len(view.g_curve.getData()[0]) == len(fresh.steps()[0]) == 12
    assert "3 epochs" in view.source.text()


def test_live_mode_survives_a_damaged_file(qtbot, make_window, run_dir):
    path = run_dir / "gan2d.history.h5"
    good = path.read_bytes()
    w, dock = open_history(qtbot, make_window, run_dir, epochs=2)
    path.write_bytes(good[:len(good) // 2])  # what a non-atomic writer could leave
    qtbot.waitUntil(lambda: "last reload failed" in dock.view.source.text(), timeout=LOAD_MS)
    assert dock.view.history.epochs == 2 and dock.view.stack.currentIndex() == 1  # still shown
    path.write_bytes(good)
    qtbot.waitUntil(lambda: "last reload failed" not in dock.view.source.text(), timeout=LOAD_MS)
    assert dock.view.history.epochs == 2


def test_follow_a_run_folder_picked_by_the_user(qtbot, make_window, models_dir, run_dir):
    w = make_window()  # the test models: their gan2d has no history
    dock = w.history_dock
    dock.show()
    qtbot.waitUntil(lambda: "No training history for gan2d" in dock.view.message.text(), timeout=LOAD_MS)
    assert dock.view.history is None and dock.view.stack.currentIndex() == 0
    dock.follow(run_dir)
    qtbot.waitUntil(lambda: dock.view.history is not None and dock.view.history.epochs == 2, timeout=LOAD_MS)
    assert dock.path == run_dir / "gan2d.history.h5"


def test_a_history_of_another_generator_is_refused(qtbot, make_window, models_dir, run_dir, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(models_dir / "gan2d.pt", folder / "gan2d.pt")  # a generator with random weights ...
    shutil.copy(run_dir / "gan2d.history.h5", folder / "gan2d.history.h5")  # ... beside the run's history
    w = make_window(folder=folder)
    dock = w.history_dock
    dock.show()
    qtbot.waitUntil(lambda: "refused" in dock.view.message.text(), timeout=LOAD_MS)
    assert "belongs to another generator" in dock.view.message.text() and dock.view.history is None


def test_gif_export_one_frame_per_epoch_and_no_overwrite(qtbot, make_window, run_dir, tmp_path, monkeypatch):
    w, dock = open_history(qtbot, make_window, run_dir, epochs=2)
    out = tmp_path / "anim.gif"
    dock.export_gif(out)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.is_animated and gif.n_frames == 2
        gif.seek(1)
        assert gif.size[0] > 2 * 224
    before = out.read_bytes()
    with pytest.raises(FileExistsError):
        dock.export_gif(out)
    assert out.read_bytes() == before
    # the dialog: asks before replacing (the user says no), remembers the folder
    asked, errors = [], []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "GIF animations (*.gif)"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: errors.append((title, text)))
    dock.export_dialog()
    assert asked and "already exists" in asked[0] and out.read_bytes() == before
    assert Path(w.settings.value("dialogs/folder", "", type=str)) == tmp_path  # the next dialog starts there
    # an unwritable place: a clear error, nothing written
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(blocked / "a.gif"), ""))
    dock.export_dialog()
    assert errors and errors[0][0] == "Cannot export the animation" and "not a folder" in errors[0][1]


def test_play_animates_the_epochs(qtbot, make_window, run_dir):
    w, dock = open_history(qtbot, make_window, run_dir, epochs=2)
    view = dock.view
    seen = set()
    view.slider.valueChanged.connect(seen.add)
    view.play.setChecked(True)  # at the last epoch: starts over from the first
    qtbot.waitUntil(lambda: seen >= {1, 2}, timeout=LOAD_MS)
    view.play.setChecked(False)
    assert not view.timer.isActive() and view.play.text() == "Play"
