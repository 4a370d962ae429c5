"""Benchmark items that drive the real main window (offscreen): frame latency, cold
start and peak memory.  Cold start and memory run in fresh child processes."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _window(models_dir: Path, settings_file: Path):
    from latent_explorer.app.qt.main import make_app
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    os.environ["LATENT_EXPLORER_SETTINGS"] = str(settings_file)
    app = make_app()
    win = MainWindow(models_dir, models_dir / "classifier.pt", make_settings(), autobuild_atlas=False)
    return app, win


def _wait(app, cond, timeout: float = 30.0) -> None:
    t = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - t > timeout:
            raise TimeoutError("the window did not reach the expected state")


def _bare_forward_ms(engine, reps: int = 200) -> float:
    import torch

    g = engine.generator
    label = torch.tensor([0]) if engine.conditional else None
    z = torch.zeros(1, engine.latent_dim)
    times = []
    with torch.inference_mode():
        for _ in range(reps):
            t = time.perf_counter()
            g(z, label)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def frame_latency(models: list[Path], moves: int = 500) -> dict:
    """Scripted slider moves: from the slider's value change to every view showing the new
    point (the frame rendered and all pending events, paints included, processed)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        app, win = _window(models[0].parent, Path(tmp) / "s.ini")
        win.resize(1500, 950)
        win.show()
        rng = np.random.default_rng(0)
        for path in models:
            assert win.open_path(path, report=False), f"cannot open {path}"
            _wait(app, lambda: win.state.frame is not None and not win.renderer.pending)
            forward = _bare_forward_ms(win.state.model.engine)
            for capture in (False, True):
                # "on": the Inside-the-generator dock is shown, so every layer's heatmap redraws
                win.layers_dock.setVisible(capture)
                _wait(app, lambda: win.renderer.capture == capture and not win.renderer.pending)
                sliders = win.sliders_panel.sliders
                lat = []
                for k in range(moves):
                    i = k % len(sliders)
                    target = int(rng.integers(-1000, 1001))
                    if target == sliders[i].value():
                        target = -target or 1
                    t0 = time.perf_counter()
                    sliders[i].setValue(target)
                    want = target / 1000
                    _wait(app, lambda: (win.state.frame is not None and not win.renderer.pending
                                        and abs(float(win.state.frame.point[i]) - want) < 1e-6))
                    app.processEvents()  # the views repaint
                    lat.append((time.perf_counter() - t0) * 1000)
                rows.append({"model": path.stem, "activations": capture, "moves": moves,
                             "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                             "max_ms": float(np.max(lat)), "forward_ms": forward})
        win.layers_dock.setVisible(False)
        win.atlases.shutdown()
        win.close()
        win.deleteLater()
        app.processEvents()
    return {"moves": moves, "rows": rows}


CHILD = r"""
import os, sys, time, json, resource
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
mode, models_dir, model = sys.argv[1], sys.argv[2], sys.argv[3]
from pathlib import Path
from latent_explorer.app.qt.main import make_app
from latent_explorer.app.qt.settings import make_settings
from latent_explorer.app.qt.window import MainWindow
app = make_app()
win = MainWindow(Path(models_dir), Path(models_dir) / "classifier.pt", make_settings(), autobuild_atlas=False)
win.open_initial(model or None)
win.show()
t = time.time()
while win.state.frame is None or win.renderer.pending:
    app.processEvents()
    if time.time() - t > 60:
        sys.exit(3)
app.processEvents()
out = {"first_frame": time.time()}
if mode == "memory":
    for _ in range(20):
        win.state.random_point()
        app.processEvents()
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child started from a
    # big benchmark process would report the parent's peak.
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
    out["peak_rss_mb"] = (int(hwm[0].split()[1]) / 1024 if hwm
                          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["atlas"] = win.state.atlas is not None
print("BENCH " + json.dumps(out), flush=True)
win.atlases.shutdown()
win.close()
"""


def _child(mode: str, models_dir: Path, model: str, settings: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LATENT_EXPLORER_SETTINGS=str(settings))
    root = Path(__file__).resolve().parents[2]
    t0 = time.time()
    r = subprocess.run([sys.executable, "-c", CHILD, mode, str(models_dir), model], capture_output=True, text=True,
                       env=env, cwd=root, timeout=300)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"benchmark child failed ({r.returncode}): {r.stderr[-500:]}")
    out = json.loads(line[6:])
    out["launch"] = t0
    return out


def cold_start(models_dir: Path, runs: int = 3) -> dict:
    """Seconds from launching a fresh Python process to the window's first frame (default model)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):
            out = _child("startup", models_dir, "", Path(tmp) / f"s{k}.ini")
            times.append(out["first_frame"] - out["launch"])
    return {"runs": times, "median_s": statistics.median(times)}


def peak_memory(models_dir: Path, models: list[Path]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in models:
            out = _child("memory", models_dir, str(p), Path(tmp) / f"{p.stem}.ini")
            rows.append({"model": p.stem, "peak_rss_mb": out["peak_rss_mb"], "atlas_loaded": out["atlas"]})
    return rows
