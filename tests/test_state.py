"""ExplorerState: setters clamp, validate and signal only real changes."""
from __future__ import annotations

import pytest

from latent_explorer.app.qt.state import ExplorerState
from latent_explorer.models.registry import open_model

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, classifier_ckpt


@pytest.fixture
def state(qapp, models_dir, classifier_ckpt):
    st = ExplorerState()
    st.set_model(open_model(models_dir / "cgan2d.pt", classifier_ckpt))
    return st


def record(signal) -> list:
    seen: list = []
    signal.connect(lambda *a: seen.append(a))
    return seen


def test_point_changes_are_clamped_and_signalled_once(state):
    moved = record(state.pointChanged)
    state.set_point((0.5, -2.0))
    assert state.point == (0.5, -1.0) and len(moved) == 1
    state.set_point((0.5, -1.0))
    state.set_coordinate(0, 0.5)
    assert len(moved) == 1  # nothing changed: no signal
    state.set_coordinates({0: 0.1, 1: 0.2})
    assert state.point == (0.1, 0.2) and len(moved) == 2
    with pytest.raises(ValueError, match="3 coordinates"):
        state.set_point((0, 0, 0))
    state.random_point()
    assert all(-1 <= v <= 1 for v in state.point)
    state.reset_point()
    assert state.point == (0.0, 0.0)


def test_digits_and_options(state):
    digits, shown, options = record(state.digitChanged), record(state.atlasDigitChanged), record(state.optionChanged)
    state.set_digit(4)
    state.set_digit(4)
    state.set_atlas_digit(7)
    assert (state.digit_or_none(), state.atlas_digit_or_none()) == (4, 7) and len(digits) == len(shown) == 1
    with pytest.raises(ValueError):
        state.set_digit(10)
    state.set_point((0.3, 0.3))
    state.set_option("follow", False)
    state.set_point((-0.5, 0.5))
    assert state.slice_point() == (0.3, 0.3) and options == [("follow",)]
    with pytest.raises(KeyError):
        state.set_option("no_such_option", 1)


def test_switching_models_resets_point_digits_and_options(state, models_dir, classifier_ckpt):
    state.set_digit(5)
    state.set_option("overview_count", 8)
    changed = record(state.modelChanged)
    state.set_model(open_model(models_dir / "gan3d.pt", classifier_ckpt))
    assert changed and state.point == (0.0, 0.0, 0.0) and state.digit == 0 and state.digit_or_none() is None
    assert state.option("overview_count") == 16 and state.atlas is state.model.atlas is not None
    state.set_model(None)
    assert state.point == () and state.latent_dim == 0 and state.atlas is None
