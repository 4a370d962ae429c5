"""The first frame without torch: the torch-free checkpoint reader, the numpy engine, the
preview model and its completion with torch, in the window and in a fresh process."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, read_payload, state_digest
from latent_explorer.models.engine import Engine
from latent_explorer.models.frame import Ablation, RenderRequest
from latent_explorer.models.previewengine import open_preview, read_classifier
from latent_explorer.models.previewread import ArraySpec, PreviewUnavailable, read_arrays, read_header
from latent_explorer.models.previewread import state_digest as numpy_digest
from latent_explorer.models.registry import open_model
from tests.gui_fixtures import CLASSIFIER_PATH, save_generator

pytest_plugins = ("gui_fixtures",)
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints"


@pytest.mark.parametrize("name", ["classifier", "gan2d", "cgan3d"])
def test_reader_gives_the_weights_and_digest_that_torch_load_gives(name):
    path = SHIPPED / f"{name}.pt"
    ours, theirs = read_arrays(path), read_payload(path)
    assert repr({k: v for k, v in ours.items() if k != "state_dict"}) == \
        repr({k: v for k, v in theirs.items() if k != "state_dict"})  # repr: the metadata holds NaNs
    assert sorted(ours["state_dict"]) == sorted(theirs["state_dict"])
    for key, t in theirs["state_dict"].items():
        a = ours["state_dict"][key]
        assert a.shape == tuple(t.shape) and a.dtype == t.numpy().dtype and np.array_equal(a, t.numpy()), key
    assert numpy_digest(ours["state_dict"]) == state_digest(theirs["state_dict"])
    header = read_header(path)["state_dict"]
    assert all(isinstance(v, ArraySpec) and v.shape == tuple(theirs["state_dict"][k].shape) for k, v in header.items())


def test_reader_leaves_what_it_does_not_know_to_torch(tmp_path):
    odd = tmp_path / "odd.pt"
    torch.save({"format": "latent-explorer", "w": torch.zeros(3, dtype=torch.bfloat16)}, odd)
    with pytest.raises(PreviewUnavailable):
        read_arrays(odd)
    code = tmp_path / "code.pt"
    torch.save({"x": torch.nn.Linear(2, 2)}, code)  # names torch.nn classes: never unpickled here
    with pytest.raises(PreviewUnavailable):
        read_header(code)
    with pytest.raises(CheckpointError, match="empty"):
        (tmp_path / "empty.pt").write_bytes(b"")
        read_header(tmp_path / "empty.pt")


@pytest.fixture(scope="module")
def torch_classifier():
    return load_checkpoint(CLASSIFIER_PATH, expect="classifier")


@pytest.mark.parametrize("name", ["gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d", "gan2d-prelu", "gan2d-elu",
                                  "gan2d-relu"])
def test_numpy_engine_renders_what_the_torch_engine_renders(name, torch_classifier):
    preview = open_preview(SHIPPED / f"{name}.pt", read_classifier(CLASSIFIER_PATH), lambda: torch_classifier)
    real = open_model(SHIPPED / f"{name}.pt", torch_classifier)
    assert preview.pending and preview.digest == real.checkpoint.digest
    assert preview.atlas is not None and preview.atlas.path == real.atlas.path
    rng = np.random.default_rng(5)
    for k in range(6):
        point = tuple(rng.uniform(-1, 1, preview.latent_dim))
        digit = int(rng.integers(10)) if preview.conditional else None
        edits = (Ablation("act1", channels=(0, 5)), Ablation("bn0", rows=(2, 3), scale=0.5)) if k % 2 else ()
        request = RenderRequest(point, digit, True, edits)
        a, b = preview.render_engine.render(request), real.engine.render(request)
        assert np.abs(a.image - b.image).max() < 1e-4 and np.abs(a.probs - b.probs).max() < 1e-4
        assert abs(a.digit_score - b.digit_score) < 1e-3 and a.is_digit == b.is_digit
        assert sorted(a.activations) == sorted(b.activations)
        for layer, act in b.activations.items():
            assert a.activations[layer].shape == act.shape
            assert np.abs(a.activations[layer] - act).max() <= 1e-4 * max(1.0, np.abs(act).max()), layer
        if edits:
            assert np.abs(a.reference_image - b.reference_image).max() < 1e-4
    for bad in (RenderRequest((2.0,) * preview.latent_dim, 0), RenderRequest((0.0,) * preview.latent_dim, 0,
                                                                              ablations=(Ablation("act1", (999,)),))):
        with pytest.raises(ValueError) as ours:
            preview.render_engine.render(bad)
        with pytest.raises(ValueError) as theirs:
            real.engine.render(bad)
        assert str(ours.value) == str(theirs.value)


def test_a_preview_completes_with_torch_and_refuses_a_file_changed_meanwhile(tmp_path, torch_classifier):
    path = save_generator(tmp_path / "g.pt", 3, seed=1)
    model = open_preview(path, read_classifier(CLASSIFIER_PATH), lambda: torch_classifier)
    frame = model.render_engine.render(RenderRequest((0.1, -0.2, 0.3)))
    assert model.pending and model.name == "g" and model.latent_dim == 3 and model.atlas is None
    assert model.checkpoint.digest == model.digest and not model.pending  # asking for it loads it
    assert isinstance(model.engine, Engine) and model.render_engine is model.engine
    again = model.render_engine.render(RenderRequest((0.1, -0.2, 0.3)))
    assert np.abs(frame.image - again.image).max() < 1e-4

    changed = open_preview(path, read_classifier(CLASSIFIER_PATH), lambda: torch_classifier)
    save_generator(path, 3, seed=2)  # another model under the same name before the torch load
    with pytest.raises(CheckpointError, match="changed while it was being opened"):
        changed.complete()


def test_window_shows_a_preview_first_then_loads_torch_and_starts_what_waited(qtbot, app_env, models_dir):
    """In-process (torch is already imported here), so the preview is asked for."""
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    folder = app_env / "models"
    shutil.copytree(models_dir, folder)
    w = MainWindow(folder, CLASSIFIER_PATH, make_settings(), atlas_resolution=lambda d, c: 4, preview=True)
    qtbot.addWidget(w)
    w.loader._start.setInterval(1500)  # (250 ms in the app: a loaded test machine can pause that long)
    ready = []
    w.state.engineReady.connect(lambda: ready.append(w.state.model.pending))
    w.open_initial("gan4d")  # no atlas beside it: one is built, once the torch engine is in
    w.show()
    st = w.state
    assert st.model.pending and st.model.describe() == "gan4d (4-D)"
    assert not w.atlases.busy and w.walk.dock.panel.runner.job is None  # both wait for torch
    qtbot.waitUntil(lambda: st.frame is not None, timeout=20000)
    for k in range(40):  # a drag at once: numpy frames, and torch's import waits for a pause
        st.set_point((0.02 * k, 0.0, 0.0, 0.0))
        qtbot.wait(60)
        assert not w.loader.loading and st.model.pending, k
    qtbot.waitUntil(lambda: w.loader.loading or not st.model.pending, timeout=5000)  # the pause: it starts
    assert w.wait_until_loaded()
    qtbot.waitUntil(lambda: ready == [False], timeout=20000)
    assert isinstance(st.model.engine, Engine)
    qtbot.waitUntil(lambda: st.atlas is not None and st.walk.strip is not None, timeout=120000)
    st.set_point((0.3, -0.4, 0.5, 0.1))  # renders through the torch engine now
    qtbot.waitUntil(lambda: not w.renderer.pending, timeout=20000)
    direct = st.model.engine.render(RenderRequest((0.3, -0.4, 0.5, 0.1)))
    assert np.abs(st.frame.image - direct.image).max() < 1e-4
    w.atlases.shutdown()
    w.close()


def test_window_reports_a_preview_that_torch_cannot_load(qtbot, app_env, models_dir, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    folder = app_env / "models"
    shutil.copytree(models_dir, folder)
    w = MainWindow(folder, CLASSIFIER_PATH, make_settings(), autobuild_atlas=False, preview=True)
    qtbot.addWidget(w)
    w.open_initial("gan2d")
    save_generator(folder / "gan2d.pt", 2, seed=9)  # replaced between the preview and the torch load
    w.show()
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert shown[0][0] == "Cannot open gan2d.pt" and "changed while it was being opened" in shown[0][1]
    assert w.state.model is None and w.state.frame is None
    w.close()


CHILD = r"""
import json, os, sys, time
from pathlib import Path
from latent_explorer.app.qt.main import make_app
from latent_explorer.app.qt.settings import make_settings
from latent_explorer.app.qt.window import MainWindow
imported = "torch" in sys.modules
app = make_app()
folder = Path(sys.argv[1])
win = MainWindow(folder, folder / "classifier.pt", make_settings(), autobuild_atlas=False)
seen = []
win.state.frameChanged.connect(lambda: seen.append((win.state.frame is not None, "torch" in sys.modules)))
win.open_initial(sys.argv[2])
win.show()
end = time.time() + 60
while win.state.frame is None and time.time() < end:
    app.processEvents()
    time.sleep(0.001)
first = win.state.frame
loaded = win.wait_until_loaded()
st = win.state
print("RESULT " + json.dumps({"imported": imported, "seen": seen[:1], "pending_at_first": first is not None,
      "loaded": loaded, "describe": st.model.describe(), "image": first.image.tolist(),
      "probs": first.probs.tolist(), "digest": st.model.checkpoint.digest}))
win.close()
"""


def test_a_fresh_process_shows_the_first_frame_before_torch_is_imported(app_env, models_dir):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", CHILD, str(models_dir), "cgan2d"], capture_output=True, text=True,
                       env=env, timeout=300, cwd=ROOT)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert r.returncode == 0 and line, r.stderr[-2000:]
    out = json.loads(line[7:])
    assert out["imported"] is False  # the window's modules import without torch
    assert out["seen"] == [[True, False]]  # the first frame reached the state with torch not imported
    assert out["loaded"] and out["describe"] == "cgan2d (2-D, conditional)"
    ckpt = load_checkpoint(models_dir / "cgan2d.pt")
    assert out["digest"] == ckpt.digest
    engine = Engine(ckpt, load_checkpoint(CLASSIFIER_PATH, expect="classifier"))
    frame = engine.render(RenderRequest((0.0, 0.0), 0))
    assert np.abs(np.array(out["image"]) - frame.image).max() < 1e-4
    assert np.abs(np.array(out["probs"]) - frame.probs).max() < 1e-4


def test_a_preview_loaded_early_by_a_user_action_still_starts_what_waited(qtbot, app_env, models_dir):
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    w = MainWindow(models_dir, CLASSIFIER_PATH, make_settings(), autobuild_atlas=False, preview=True)
    qtbot.addWidget(w)
    ready = []
    w.state.engineReady.connect(lambda: ready.append(True))
    w.open_initial("gan3d")
    assert w.state.model.pending and w.walk.dock.panel.runner.job is None
    assert w.state.model.checkpoint.digest == w.state.model.digest  # e.g. an export asks for it at once
    assert ready == [True] and not w.state.model.pending
    w.show()
    qtbot.waitUntil(lambda: w.state.walk.strip is not None, timeout=120000)
    assert w.wait_until_loaded() and ready == [True]  # no second load, no second report
    w.close()
