"""Without MNIST and without a network, the test run says once how to get the data and
skips what needs it (no setup errors); under CI it fails instead, since CI has the data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

NEEDS_DATA = '''
def test_one(mnist_dir):
    assert mnist_dir.is_dir()

def test_two(mnist_dir):
    assert mnist_dir.is_dir()

def test_without_data():
    assert 1 + 1 == 2
'''


def _run(tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    shutil.copy2(TESTS / "conftest.py", project / "tests" / "conftest.py")
    (project / "tests" / "test_needs.py").write_text(NEEDS_DATA)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LATENT_EXPLORER_") and k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path / "home"),
               LATENT_EXPLORER_MIRRORS=(tmp_path / "offline").as_uri() + "/", **extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(project / "tests")], capture_output=True, text=True, cwd=project, env=env,
                          timeout=300)


def test_missing_data_skips_with_one_note(tmp_path):
    r = _run(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "1 passed, 2 skipped" in out and "ERROR" not in out, out
    assert out.count("latent-explorer download") == 1, out  # said once, not per test
    assert "2 tests were skipped" in out and "LATENT_EXPLORER_TEST_DATA" in out, out


def test_missing_data_fails_under_ci(tmp_path):
    r = _run(tmp_path, CI="true")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "2 failed, 1 passed" in out or "1 passed, 2 errors" in out, out
