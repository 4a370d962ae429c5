"""The soak run, short: the real window driven at random (slider moves, model switches,
docks, exports) must show no error, warn nothing and not pile up widgets."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from latent_explorer.app.bench.soak import growth_stats, soak  # noqa: E402

pytest_plugins = ("gui_fixtures",)  # fixtures: models_dir, app_env, ...

ORDER = ("gan2d", "gan3d", "gan4d", "cgan2d")


def test_short_soak_is_clean(qapp, models_dir, app_env):
    import shutil
    from pathlib import Path

    folder = app_env / "models"  # as shipped: the classifier with its "not a digit" calibration beside it
    shutil.copytree(models_dir, folder)
    shutil.copy2(Path(__file__).resolve().parent.parent / "checkpoints" / "classifier.ood.npz", folder)
    models = [folder / f"{n}.pt" for n in ORDER]
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
    assert len(res["heap"]) == len(res["samples"]) and res["heap"][0]["in_use"] > 0  # glibc's figures
    # the report names the allocator settings the run had (pytest-qt's QApplication: glibc's defaults)
    from latent_explorer.app.bench.markdown import render_markdown
    from latent_explorer.app.bench.run import machine
    from latent_explorer.models.memory import allocator_settings

    assert res["allocator"] == allocator_settings()
    report = {"machine": machine(), "quick": True, "command": "test", "seconds": 30.0, "item_seconds": {},
              "items": {"soak": res}}
    md = render_markdown(report)
    assert "## 7. Soak" in md and "Error messages shown: 0." in md
    assert ("ran on its defaults" in md) == (res["allocator"] is None)
    tuned = render_markdown({**report, "items": {"soak": {**res, "allocator": {"arena_max": 2, "mmap_threshold": 131072}}}})
    assert "at most 2 arenas, and blocks of 128 KB or more mapped on their own" in tuned


def test_idle_window_hands_freed_memory_back(window, qtbot):
    """Freed heap memory goes back to the system a few seconds after the last frame: without
    it the resident size ratchets up with every export and model switch (docs/guarantees.md §10)."""
    import numpy as np

    from latent_explorer.app.bench.soak import rss_mb
    from latent_explorer.app.qt.window import IDLE_RELEASE_MS

    import gc

    window.state.reset_point()
    qtbot.waitUntil(lambda: not window._idle_release.isActive(), timeout=IDLE_RELEASE_MS + 5000)
    gc.collect()  # earlier tests' garbage must not be freed in the middle of the measurement
    window.release_idle_memory()
    # ~200 MB of small blocks freed with every 64th kept: pages the allocator keeps unless trimmed
    blocks = [np.ones(256) for _ in range(100_000)]
    kept = blocks[::64]
    del blocks
    held = rss_mb()
    window.state.random_point()  # a new frame restarts the idle countdown
    qtbot.waitUntil(lambda: window.state.frame is not None and window._idle_release.isActive(), timeout=5000)
    assert rss_mb() > held - 50  # nothing handed back while the user is active
    qtbot.waitUntil(lambda: not window._idle_release.isActive(), timeout=IDLE_RELEASE_MS + 5000)
    assert rss_mb() < held - 100, (held, rss_mb())
    assert len(kept) == 1563


def test_growth_is_the_trend_not_one_sample():
    import numpy as np

    t = np.arange(0, 1200, 15.0)
    rng = np.random.default_rng(0)
    leak = growth_stats([(a, 600 + a / 10 + rng.normal(0, 30)) for a in t])  # 6 MB/min under noise
    assert 100 < leak["growth_mb"] < 140 and 4.5 < leak["slope_mb_per_min"] < 7.5
    assert all(4 < h < 8 for h in leak["half_slopes_mb_per_min"])
    flat = [(a, 650 + rng.normal(0, 30)) for a in t]
    flat[0] = (0.0, 560.0)  # a low first sample
    got = growth_stats(flat)
    assert abs(got["growth_mb"]) < 30 and got["tail_minus_first_mb"] > 70


ALLOCATOR_PROBE = r"""
import ctypes, sys, tempfile, threading
from latent_explorer.models.memory import _MallInfo2
if sys.argv[1] == "window":
    from latent_explorer.app.qt.main import make_app
    app = make_app()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = _MallInfo2
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
# 1. a 1 MB block after a 4 MB one was freed: glibc's moving threshold puts it in an arena
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
mapped = libc.mallinfo2().hblks - before
libc.free(block)
# 2. six threads allocating at once: glibc gives each a new arena unless limited
gate = threading.Barrier(7)
def work():
    keep = libc.malloc(1000)
    gate.wait()
    gate.wait()
    libc.free(keep)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
gate.wait()
with tempfile.NamedTemporaryFile() as f:
    fp = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    arenas = open(f.name).read().count("<heap nr=")
gate.wait()
for t in threads:
    t.join()
print(mapped, arenas)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_window_process_keeps_few_arenas_and_maps_large_blocks():
    """The window's process tunes glibc (models/memory.py ``tune_allocator``): two arenas, and
    blocks of 128 KB and more mapped on their own.  The plain interpreter is the control that
    shows the probe can tell the difference."""
    def probe(mode: str) -> tuple[int, int]:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        env = {k: v for k, v in env.items() if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
        out = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE, mode], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        mapped, arenas = map(int, out.stdout.split()[-2:])
        return mapped, arenas

    plain, window = probe("plain"), probe("window")
    assert plain[0] == 0 and plain[1] >= 5, plain
    assert window == (1, 2), window
