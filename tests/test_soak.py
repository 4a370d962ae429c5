"""The soak run, short: the real window driven at random (slider moves, model switches,
docks, exports) must show no error, warn nothing and not pile up widgets."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.bench.soak import soak  # noqa: E402

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, app_env, ...

ORDER = ("gan2d", "gan3d", "gan4d", "cgan2d")


def test_short_soak_is_clean(qapp, models_dir, app_env):
    models = [models_dir / f"{n}.pt" for n in ORDER]
    res = soak(models, seconds=25, sample_every=5, log=lambda m: None,
               weights={"move": 0.6, "switch": 0.15, "toggle": 0.1, "export": 0.1, "random": 0.05})
    acts = res["actions"]
    # every kind of action ran, beyond the warm-up's share
    assert acts["slider moves"] > 50 and acts["model switches"] > len(models) + 2
    assert acts["dock toggles"] > 8 * len(models) and acts["exports"] > 3 * len(models)
    assert res["errors"] == []
    assert res["python_warnings"] == {}
    assert res["qt_messages"] == {}
    # model switches replace the map panels: the old widgets must really go away
    assert res["widgets"][-1] <= res["widgets"][0] + 10, res["widgets"]
    assert len(res["samples"]) >= 4 and res["baseline_mb"] > 0
