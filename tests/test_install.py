"""Installed, not only editable: a built wheel carries the trained models, and the
installed package (``latent_explorer``) never collides with another project's
``models``, ``app`` or ``training`` package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app", "models", "training", "checkpoints")


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _copy_project(dest: Path) -> Path:
    """The project's files (what ``git clone`` gives), so building never writes into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.partial", "*.tmp*")
    for name in SOURCES:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _has_build_backend() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 64


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_has_the_models(tmp_path, mnist_dir):
    """``pip wheel`` + a fresh virtual environment: ``latent-explorer render --model gan2d``
    finds the shipped model, and every module comes from the wheel, not the checkout."""
    src = _copy_project(tmp_path / "src")
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)]
    if _has_build_backend():  # nothing to download: build with the setuptools already here
        build.insert(4, "--no-build-isolation")
    r = subprocess.run(build, capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = wheels.glob("latent_explorer-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for stem in ("classifier", "gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d"):
        assert f"latent_explorer/checkpoints/{stem}.pt" in names
    assert "latent_explorer/checkpoints/gan2d.atlas.h5" in names
    assert "latent_explorer/checkpoints/classifier.ood.npz" in names  # the "not a digit" calibration
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert not any(n.split("/")[0] in ("app", "models", "training", "checkpoints") for n in names), \
        "the wheel installs a generic top-level package"

    env_dir = tmp_path / "venv"
    py = _fresh_venv_with_this_environments_packages(env_dir)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                        str(wheel)], capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([str(py), "-c", "import latent_explorer.app, latent_explorer.models.engine as e, "
                        "latent_explorer.checkpoints as c; print(e.__file__); print(c.__file__)"],
                       capture_output=True, text=True, cwd=work, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.split():
        assert Path(line).resolve().is_relative_to(env_dir.resolve()), f"{line} is not from the wheel"
    package = Path(r.stdout.split()[-1]).resolve().parent.parent  # .../site-packages/latent_explorer
    before = _tree(package)
    _every_model_command_by_name(env_dir / "bin" / "latent-explorer", work, tmp_path, mnist_dir)
    assert _tree(package) == before, "a command wrote into the installed package"


def _fresh_venv_with_this_environments_packages(env_dir: Path) -> Path:
    """A virtual environment without the system's site-packages: its dependencies are the
    ones of the environment running the tests (a plain path in a .pth file, so that
    environment's own .pth files, such as an editable install of this project, are not run)."""
    import sysconfig

    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site) / "test-dependencies.pth").write_text("\n".join(paths) + "\n")
    return py


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if "__pycache__" not in p.parts}


def _every_model_command_by_name(exe: Path, work: Path, tmp_path: Path, mnist_dir: Path) -> None:
    """Every command that takes a model, given the shipped name, run from another folder."""
    from PIL import Image

    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a 1
    Image.fromarray(digit).save(work / "one.png")
    commands = [
        ["render", "--model", "gan2d", "--point", "-0.84,0.54", "-o", "point.png"],
        ["info", "gan2d"], ["info", "cgan2d"],
        ["card", "gan2d"],
        ["report", "gan3d"],
        ["atlas", "build", "gan2d", "--resolution", "8"],
        ["evaluate", "cgan2d", "--samples", "100"],
        ["compare", "gan2d", "gan2d-relu", "--point", "0.1,0.2", "-o", "compare.png"],
        ["export", "strip", "--model", "gan3d", "--a", "0,0,0", "--b", "0.5,0.5,0.5", "--steps", "3", "-o",
         "strip.png"],
        ["project", "one.png", "--model", "gan2d"],
        ["neighbours", "--model", "gan2d", "--point", "0.1,0.2", "--limit", "500"],
    ]
    env = _env(XDG_CACHE_HOME=str(tmp_path / "cache"), LATENT_EXPLORER_MODELS=str(tmp_path / "user-models"),
               LATENT_EXPLORER_DATA=str(mnist_dir))
    for argv in commands:
        r = subprocess.run([str(exe), *argv], capture_output=True, text=True, cwd=work, env=env, timeout=600)
        assert r.returncode == 0, (argv, r.stderr[-3000:])
    written = {p.name for p in work.iterdir()}
    assert {"point.png", "gan2d.md", "gan3d.report.png", "gan2d.atlas.h5", "compare.png", "strip.png"} <= written


def test_foreign_models_package_earlier_on_the_path(tmp_path):
    """Another project's ``models``, ``app`` and ``training`` first on sys.path: every
    module of the app imports and the command line renders."""
    foreign = tmp_path / "foreign"
    for name in ("models", "app", "training"):
        (foreign / name).mkdir(parents=True)
        (foreign / name / "__init__.py").write_text(f"raise ImportError('foreign {name} package imported')\n")
    env = _env(PYTHONPATH=str(foreign))
    script = ("import importlib, pkgutil, latent_explorer\n"
              "names = [m.name for p in ('app', 'models', 'training') for m in pkgutil.walk_packages("
              "importlib.import_module('latent_explorer.' + p).__path__, 'latent_explorer.' + p + '.') if not m.name.endswith('__main__')]\n"
              "for n in names: importlib.import_module(n)\n"
              "import sys; assert not {'models', 'app', 'training'} & set(sys.modules), 'a generic name was imported'\n"
              "print(len(names))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert int(r.stdout.split()[-1]) > 40  # every module was imported
    out = tmp_path / "point.png"
    r = subprocess.run([sys.executable, "-m", "latent_explorer.app", "render", "--model", "gan2d", "--point", "0.1,0.2",
                        "-o", str(out)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.stat().st_size > 10_000
