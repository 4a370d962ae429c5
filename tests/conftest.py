"""Shared fixtures: the real MNIST folder, the real classifier, small real generators."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MNIST = Path(os.environ.get("LATENT_EXPLORER_TEST_DATA", ROOT.parent / "shared" / "data" / "mnist"))
CLASSIFIER = ROOT / "checkpoints" / "classifier.pt"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST not found at {MNIST} (set LATENT_EXPLORER_TEST_DATA)")
    return MNIST


@pytest.fixture(scope="session")
def classifier_path() -> Path:
    return CLASSIFIER


@pytest.fixture(scope="session")
def classifier():
    from latent_explorer.models.checkpoint import load_checkpoint

    return load_checkpoint(CLASSIFIER, expect="classifier")


def make_generator(path: Path, latent_dim: int = 2, conditional: bool = False, seed: int = 0,
                   activation: str = "leaky_relu") -> Path:
    """A real generator with random weights (BatchNorm stats made non-trivial), saved as a checkpoint."""
    from latent_explorer.models.checkpoint import save_checkpoint
    from latent_explorer.models.networks import GanConfig, Generator

    torch.manual_seed(seed)
    cfg = GanConfig(latent_dim, conditional, activation)
    g = Generator(cfg)
    g.train()
    with torch.no_grad():  # a few forward passes in train mode give real running statistics
        for _ in range(3):
            z = torch.rand(64, latent_dim) * 2 - 1
            g(z, torch.randint(0, 10, (64,)) if conditional else None)
    g.eval()
    save_checkpoint(path, "cgan" if conditional else "gan", cfg.to_dict(), g, {"epochs": 0, "seed": seed})
    return path


@pytest.fixture
def gen2d(tmp_path) -> Path:
    return make_generator(tmp_path / "g2.pt", 2)
