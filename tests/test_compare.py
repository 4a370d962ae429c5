"""The generator comparison (activation variants): engine, command line and the window's dock."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QFileDialog, QMessageBox

from latent_explorer.app.cli import main as cli_main
from latent_explorer.models.checkpoint import load_checkpoint, save_checkpoint
from latent_explorer.models.compare import Comparison, comparable_in, evaluation_row, markdown_table
from latent_explorer.models.engine import RenderRequest
from tests.conftest import make_generator

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, make_window, classifier_ckpt, ...

VARIANTS = {"gan2d-relu": "relu", "gan2d-prelu": "prelu", "gan2d-elu": "elu"}


@pytest.fixture(scope="module")
def variants_dir(tmp_path_factory) -> Path:
    """gan2d (LeakyReLU), three 2-D variants, a 3-D and a conditional 2-D generator."""
    folder = tmp_path_factory.mktemp("variants")
    make_generator(folder / "gan2d.pt", 2, seed=0)
    for i, (name, act) in enumerate(VARIANTS.items()):
        make_generator(folder / f"{name}.pt", 2, seed=i + 1, activation=act)
    make_generator(folder / "gan3d.pt", 3, seed=7)
    make_generator(folder / "cgan2d.pt", 2, conditional=True, seed=8)
    return folder


def test_comparable_picks_the_same_latent_space_in_activation_order(variants_dir):
    names = [e.name for e in comparable_in(variants_dir, 2, False)]
    assert names == ["gan2d-relu", "gan2d", "gan2d-prelu", "gan2d-elu"]
    assert [e.name for e in comparable_in(variants_dir, 2, True)] == ["cgan2d"]
    assert [e.name for e in comparable_in(variants_dir, 3, False)] == ["gan3d"]


def test_each_column_is_that_generators_own_output(variants_dir, classifier_ckpt):
    paths = [e.path for e in comparable_in(variants_dir, 2, False)]
    comparison = Comparison.open(paths, classifier_ckpt)
    point = (0.31, -0.72)
    columns = comparison.render(point)
    assert [c.name for c in columns] == ["gan2d-relu", "gan2d", "gan2d-prelu", "gan2d-elu"]
    assert [c.activation for c in columns] == ["relu", "leaky_relu", "prelu", "elu"]
    images = []
    for path, col in zip(paths, columns):
        g = load_checkpoint(path).model.eval()
        with torch.inference_mode():
            expected = g(torch.tensor([point])).float()[0, 0].numpy()
        np.testing.assert_allclose(col.image, expected, atol=1e-5)
        with torch.inference_mode():
            probs = torch.softmax(classifier_ckpt.model(torch.from_numpy(expected)[None, None]), 1)[0]
        assert col.predicted == int(probs.argmax()) and col.confidence == pytest.approx(float(probs.max()), abs=1e-5)
        images.append(col.image)
    # the variants really differ (different activations and seeds)
    assert min(np.abs(a - b).max() for i, a in enumerate(images) for b in images[i + 1:]) > 1e-3


def test_different_latent_spaces_are_refused(variants_dir, classifier_ckpt):
    with pytest.raises(ValueError, match="different latent spaces"):
        Comparison.open([variants_dir / "gan2d.pt", variants_dir / "gan3d.pt"], classifier_ckpt)
    with pytest.raises(ValueError, match="different latent spaces"):
        Comparison.open([variants_dir / "gan2d.pt", variants_dir / "cgan2d.pt"], classifier_ckpt)
    with pytest.raises(ValueError, match="nothing to compare"):
        Comparison([], classifier_ckpt)


def test_conditional_comparison_uses_the_digit(variants_dir, classifier_ckpt, tmp_path):
    other = make_generator(tmp_path / "cgan2d-elu.pt", 2, conditional=True, seed=3, activation="elu")
    comparison = Comparison.open([variants_dir / "cgan2d.pt", other], classifier_ckpt)
    a, b = comparison.render((0.1, 0.2), digit=3), comparison.render((0.1, 0.2), digit=8)
    for engine, ca, cb in zip(comparison.engines, a, b):
        np.testing.assert_array_equal(ca.image, engine.render(RenderRequest((0.1, 0.2), 3, capture=False)).image)
        assert np.abs(ca.image - cb.image).max() > 1e-4


def test_evaluation_row_reads_the_card_figures(tmp_path):
    path = make_generator(tmp_path / "g.pt", 2, activation="elu")
    ckpt = load_checkpoint(path)
    shares = [0.2, 0.1, 0.05, 0.2, 0.0, 0.05, 0.1, 0.1, 0.1, 0.1]
    meta = {"epochs": 3, "seconds": 1500.0, "evaluation": {"confident_share": 0.42, "strong_judge_error": 0.0125,
                                                           "frechet_distance": 12.5, "digit_share": shares}}
    save_checkpoint(path, "gan", ckpt.config, ckpt.model, meta)
    row = evaluation_row(load_checkpoint(path))
    assert (row.activation, row.epochs, row.seconds) == ("elu", 3, 1500.0)
    assert (row.confident_share, row.strong_judge_error, row.frechet_distance) == (0.42, 0.0125, 12.5)
    assert row.smallest_digit_share == 0.0 and row.digits_present == 9
    text = markdown_table([row])
    assert "| g | ELU | 3 | 25 min | 42.0% | 1.25% | 12.5 | 0.0% |" in text
    # a checkpoint without an evaluation shows dashes, not zeros
    bare = evaluation_row(load_checkpoint(make_generator(tmp_path / "h.pt", 2)))
    assert bare.confident_share is None and "| h | LeakyReLU | 0 | - | - | - | - | - |" in markdown_table([bare])


def test_cli_compare_prints_the_table_and_writes_the_figure(variants_dir, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    args = ["compare", *(str(variants_dir / f"{n}.pt") for n in ("gan2d", *VARIANTS)), "--point", "0.5,-0.25",
            "-o", str(out)]
    assert cli_main(args) == 0
    text = capsys.readouterr().out
    assert text.count("\n| gan2d") == 4 and "| ReLU |" in text and "| ELU |" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = out.read_bytes()
    assert cli_main(args) == 1  # no silent overwrite
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert cli_main(["compare", str(variants_dir / "gan2d.pt"), str(variants_dir / "gan3d.pt")]) == 1
    assert "different latent spaces" in capsys.readouterr().err
    assert cli_main(["compare", str(variants_dir / "gan2d.pt"), "--point", "2,0"]) == 1
    assert "outside the latent box" in capsys.readouterr().err


# ------------------------------------------------------------------ the dock


@pytest.fixture
def compare_window(make_window, variants_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(variants_dir, folder)
    shutil.copy(Path(__file__).resolve().parent.parent / "checkpoints" / "classifier.pt", folder)
    return make_window(folder=folder, model="gan2d")


def open_compare(qtbot, w):
    dock = w.compare_dock
    dock.show()
    qtbot.waitUntil(lambda: dock.panel.comparison is not None and bool(dock.panel.columns), timeout=10000)
    return dock.panel


def test_dock_shows_the_point_through_every_variant(qtbot, compare_window):
    w = compare_window
    panel = open_compare(qtbot, w)
    # the loaded model first (bold), then the others in activation order
    assert panel.comparison.names == ["gan2d", "gan2d-relu", "gan2d-prelu", "gan2d-elu"]
    assert panel.table.rowCount() == 4 and panel.table.item(1, 1).text() == "ReLU"
    w.state.set_point((0.6, -0.4))
    qtbot.waitUntil(lambda: w.state.frame is not None and np.allclose(w.state.frame.point, (0.6, -0.4)), timeout=5000)
    qtbot.waitUntil(lambda: bool(panel.columns) and np.array_equal(panel.columns[0].image, w.state.frame.image), timeout=5000)
    for engine, col in zip(panel.comparison.engines, panel.columns):
        expected = engine.render(RenderRequest((0.6, -0.4), capture=False))
        np.testing.assert_array_equal(col.image, expected.image)
    captions = [panel.grid.itemAtPosition(2, i).widget().text() for i in range(4)]
    assert captions == [f"digit {c.predicted} ({c.confidence:.2f})" if c.is_digit else
                        f"not a digit (closest: {c.predicted}, {c.confidence:.0%})" for c in panel.columns]
    last = panel.columns[3]
    assert panel.table.item(3, panel.table.columnCount() - 1).text() == (
        captions[3].removeprefix("digit ") if last.is_digit else f"no digit ({last.predicted})")


def test_dock_follows_a_model_switch_and_stays_idle_while_hidden(qtbot, compare_window):
    w = compare_window
    panel = open_compare(qtbot, w)
    w.open_path(w.models_dir / "gan3d.pt")
    qtbot.waitUntil(lambda: panel.comparison is not None and panel.comparison.latent_dim == 3, timeout=10000)
    assert panel.comparison.names == ["gan3d"] and "No other generator" in panel.status.text()
    w.compare_dock.hide()
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=3000)
    before = panel.columns
    w.state.set_point((0.1, 0.1, 0.1))
    qtbot.wait(50)
    assert panel.columns is before  # hidden: nothing rendered


def test_dock_exports_the_figure(qtbot, compare_window, tmp_path, monkeypatch):
    w = compare_window
    open_compare(qtbot, w)
    target = tmp_path / "out" / "cmp.pdf"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    w.compare_dock.panel.export_button.click()
    assert target.read_bytes()[:5] == b"%PDF-"
    # an unwritable folder: a dialog, nothing written
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    bad = tmp_path / "missing" / "cmp.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(bad), ""))
    w.compare_dock.panel.export_button.click()
    assert shown and str(bad) in shown[-1][1] and not bad.exists()
