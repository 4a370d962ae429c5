"""Shared fixtures: the real MNIST folder, the real classifier, small real generators."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The tests never see (nor write) the user's own models folder (install-models' default).
import tempfile  # noqa: E402

_TEST_MODELS = "latent-explorer-test-models-"
if _TEST_MODELS not in os.environ.get("LATENT_EXPLORER_MODELS", ""):  # once, even if conftest is imported twice
    os.environ["LATENT_EXPLORER_MODELS"] = tempfile.mkdtemp(prefix=_TEST_MODELS)

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = ROOT / "checkpoints" / "classifier.pt"

# Property-based tests are derandomised (the examples follow from each test's source), so a
# red run is never luck and every run, here or in CI, draws the same cases; the failing
# example and its reproduction blob are printed.  HYPOTHESIS_PROFILE=explore draws new ones.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    _hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # the test extra is not installed: the property-based tests are skipped by their imports
    pass
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_candidates() -> list[Path]:
    """Where the tests look for MNIST, in order: $LATENT_EXPLORER_TEST_DATA, $LATENT_EXPLORER_DATA
    (the app's variable), ../shared/data/mnist (CI), then the app's per-user cache."""
    found = [Path(os.environ[v]) for v in ("LATENT_EXPLORER_TEST_DATA", "LATENT_EXPLORER_DATA") if os.environ.get(v)]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "latent-explorer" / "mnist"
    return found + [SHARED_MNIST, cache]  # the cache: where `latent-explorer download` puts it


class MnistMissing(Exception):
    """MNIST is in none of the places the tests look, and could not be fetched."""


def find_mnist(mirrors=None) -> Path:
    """The first folder holding MNIST; when none does, fetch it into the first named by a
    variable (else the per-user cache) with the project's own download; else MnistMissing,
    whose message says where the tests looked and how to get the data."""
    from latent_explorer.training.data import FILES, MIRRORS, DataError, download

    places = mnist_candidates()
    for folder in places:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    target = places[0] if places[0] != SHARED_MNIST else places[-1]
    try:
        return download(target, mirrors=mirrors or MIRRORS, log=lambda msg: print(msg, flush=True))
    except (DataError, OSError) as exc:
        reason = str(exc).splitlines()[0][:300]
        raise MnistMissing(
            "MNIST (the four .gz files of the digit data set, 11 MB) was not found in "
            + ", ".join(map(str, places)) + f" and could not be downloaded into {target} ({reason}). "
            "To run the tests that need it: `latent-explorer download` (fetches it into the per-user "
            "cache), or set LATENT_EXPLORER_TEST_DATA to a folder that holds the four files.") from None


_MNIST: dict = {}  # the session's one lookup: {"path": Path} or {"missing": message}
MNIST_SKIP = "needs the MNIST data set, which is not on this machine (see the note at the end of the run)"


def _session_mnist() -> Path:
    """MNIST for the session, looked up (and fetched) once. Missing data skips the tests that
    need it, with one note at the end of the run; under CI (CI=true) it fails them instead,
    since CI has the data and must run everything."""
    if not _MNIST:
        try:
            _MNIST["path"] = find_mnist()
        except MnistMissing as exc:
            _MNIST["missing"] = str(exc)
    if "path" in _MNIST:
        return _MNIST["path"]
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(_MNIST["missing"], pytrace=False)
    pytest.skip(MNIST_SKIP)


def pytest_terminal_summary(terminalreporter):
    if "missing" in _MNIST:
        skipped = sum(1 for r in terminalreporter.stats.get("skipped", []) if MNIST_SKIP in str(r.longrepr))
        terminalreporter.write_sep("-", "MNIST not found")
        terminalreporter.write_line(f"{skipped} tests were skipped. {_MNIST['missing']}")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return _session_mnist()


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


TINY_RUN = dict(latent_dim=2, batch_size=64, limit=256, map_precision="float32", map_resolution=16, seed=3,
                eval_samples=300)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist_dir, classifier_path) -> Path:
    """A real 2-epoch run folder (gan2d.pt, gan2d.history.h5, gan2d.state.pt), trained once a
    session; copy it (shutil.copytree) before changing anything in it."""
    from latent_explorer.training.train_gan import GanRun, train_gan

    out = tmp_path_factory.mktemp("tiny-run")
    train_gan(GanRun(epochs=2, **TINY_RUN), data=str(mnist_dir), out=out, classifier_path=classifier_path,
              evaluate_at_end=False, quiet=True, log=lambda *_: None)
    return out


def make_known_generator(path: Path, amp: float = 8.0) -> Path:
    """A 2-D generator whose units are known by construction: act0/act1/act2 channel 1 alone
    draws a 7 (for x > 0), channel 0 alone a 0 (for x < 0), channel 2 the dark background;
    every other unit is zero everywhere.  Patterns on the 7 x 7 grid, upsampled by the two
    transposed convolutions as nearest-neighbour (the real classifier reads them as 7 and 0)."""
    from latent_explorer.models.checkpoint import save_checkpoint
    from latent_explorer.models.networks import GanConfig, Generator

    cfg = GanConfig(2, False, "relu")
    g = Generator(cfg)
    near = torch.zeros(5, 5)
    near[2:4, 2:4] = 1.0  # the taps of a 2x nearest-neighbour upsampling (stride 2, padding 2)
    ring = torch.zeros(7, 7)
    ring[1:6, 1] = ring[1:6, 5] = ring[1, 1:6] = ring[5, 1:6] = 1.0
    seven = torch.zeros(7, 7)
    seven[1, 1:6] = 1.0
    for r, c in ((2, 5), (3, 4), (4, 4), (5, 3), (6, 3)):
        seven[r, c] = 1.0
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        for bn in (g.bn0, g.bn1, g.bn2):  # identity BatchNorms
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(1.0)
        w = g.dense.weight.view(256, 7, 7, 2)
        w[0, :, :, 0] = -ring * amp    # relu: on for x < 0
        w[1, :, :, 0] = seven * amp    # on for x > 0
        g.bn0.bias.view(256, 7, 7)[2] = 1.0  # the background: on everywhere
        for c in range(3):
            g.deconv1.weight[c, c, 2, 2] = 1.0
            g.deconv2.weight[c, c] = near
        g.deconv3.weight[0, 0] = g.deconv3.weight[1, 0] = 6 * near
        g.deconv3.weight[2, 0] = -3 * near
    save_checkpoint(path, "gan", cfg.to_dict(), g.eval(), {"epochs": 0, "note": "units known by construction"})
    return path
