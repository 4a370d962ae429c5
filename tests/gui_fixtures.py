"""Fixtures for the app's tests: a folder of small real generators (2-D, 3-D, 4-D,
conditional) with small real atlases, settings and cache in temporary folders, and the
main window on that folder.  Imported by test_gui.py, test_render.py and test_registry.py.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER_PATH = ROOT / "checkpoints" / "classifier.pt"
# name -> (latent_dim, conditional, atlas resolution or 0 for none)
MODELS = {"gan2d": (2, False, 9), "gan3d": (3, False, 5), "gan4d": (4, False, 0), "cgan2d": (2, True, 4)}
QUICK_ATLAS = 4  # grid size of atlases the window builds on demand in tests


def save_generator(path: Path, latent_dim: int, conditional: bool = False, seed: int = 0) -> Path:
    """A real generator with random weights and non-trivial BatchNorm statistics."""
    from latent_explorer.models.checkpoint import save_checkpoint
    from latent_explorer.models.networks import GanConfig, Generator

    torch.manual_seed(seed)
    cfg = GanConfig(latent_dim, conditional)
    g = Generator(cfg)
    g.train()
    with torch.no_grad():
        for _ in range(2):
            g(torch.rand(64, latent_dim) * 2 - 1, torch.randint(0, 10, (64,)) if conditional else None)
    g.eval()
    save_checkpoint(path, "cgan" if conditional else "gan", cfg.to_dict(), g, {"seed": seed})
    return path


@pytest.fixture(scope="session")
def classifier_ckpt():
    from latent_explorer.models.checkpoint import load_checkpoint

    return load_checkpoint(CLASSIFIER_PATH, expect="classifier")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, classifier_ckpt) -> Path:
    """checkpoints-like folder: four generators, atlases for three of them, the classifier
    and a file that is no checkpoint at all."""
    from latent_explorer.models.atlas import build_atlas
    from latent_explorer.models.checkpoint import load_checkpoint

    folder = tmp_path_factory.mktemp("models")
    for i, (name, (d, cond, res)) in enumerate(MODELS.items()):
        path = save_generator(folder / f"{name}.pt", d, cond, seed=i)
        if res:
            build_atlas(load_checkpoint(path), classifier_ckpt, res, folder / f"{name}.atlas.h5", method="full")
    (folder / "classifier.pt").write_bytes(CLASSIFIER_PATH.read_bytes())
    (folder / "notes.pt").write_bytes(b"not a checkpoint")
    return folder


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Path:
    """Settings and atlas cache in this test's temporary folder."""
    monkeypatch.setenv("LATENT_EXPLORER_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LATENT_EXPLORER_NO_GL", raising=False)
    return tmp_path


@pytest.fixture
def make_window(qtbot, app_env, models_dir):
    """Factory: the real main window on the test models (closed at the end of the test)."""
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    windows = []

    def make(folder: Path | None = None, model: str | None = None, resolution: int = QUICK_ATLAS,
             method: str = "auto", show: bool = True):
        w = MainWindow(folder or models_dir, CLASSIFIER_PATH, make_settings(),
                       atlas_resolution=lambda d, c: resolution, atlas_method=method)
        qtbot.addWidget(w)
        w.open_initial(model)
        if show:
            w.show()
            qtbot.waitExposed(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.atlases.shutdown()
        w.close()


@pytest.fixture
def window(make_window):
    return make_window()
