"""The tests find MNIST where the app does, and fetch it with the project's own download
when it is nowhere (here from a file:// mirror, so no network is needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest
from latent_explorer.training.data import FILES


def _no_mnist_anywhere(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("LATENT_EXPLORER_TEST_DATA", raising=False)
    monkeypatch.delenv("LATENT_EXPLORER_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(conftest, "SHARED_MNIST", tmp_path / "no-shared")
    return tmp_path / "cache" / "latent-explorer" / "mnist"


def test_the_variables_come_first_then_shared_then_the_cache(tmp_path, monkeypatch, mnist_dir):
    cache = _no_mnist_anywhere(tmp_path, monkeypatch)
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(mnist_dir))
    assert conftest.mnist_candidates() == [mnist_dir, tmp_path / "no-shared", cache]
    assert conftest.find_mnist() == mnist_dir
    monkeypatch.setenv("LATENT_EXPLORER_TEST_DATA", str(tmp_path / "empty"))
    assert conftest.mnist_candidates()[:2] == [tmp_path / "empty", mnist_dir]
    assert conftest.find_mnist() == mnist_dir  # the empty folder is passed over


def test_missing_mnist_is_downloaded_into_the_user_cache(tmp_path, monkeypatch, mnist_dir):
    cache = _no_mnist_anywhere(tmp_path, monkeypatch)
    assert conftest.find_mnist(mirrors=(mnist_dir.resolve().as_uri() + "/",)) == cache
    for name in FILES.values():
        assert (cache / name).read_bytes() == (mnist_dir / name).read_bytes()


def test_no_mnist_and_no_network_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    cache = _no_mnist_anywhere(tmp_path, monkeypatch)
    with pytest.raises(conftest.MnistMissing) as failed:
        conftest.find_mnist(mirrors=((tmp_path / "offline").as_uri() + "/",))
    message = str(failed.value)
    assert "was not found in" in message and str(cache) in message and "latent-explorer download" in message
