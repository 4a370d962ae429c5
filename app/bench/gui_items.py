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


class _PaintClock:
    """CPU time the UI thread spends painting each view (Qt paint events, summed per view)."""

    def __init__(self, views: dict) -> None:
        self.names = {id(w): name for name, w in views.items()}
        self.seconds: dict[str, float] = {}

    def add(self, receiver, seconds: float) -> None:
        from PySide6.QtWidgets import QWidget

        w = receiver
        while w is not None and id(w) not in self.names:
            w = w.parentWidget() if isinstance(w, QWidget) else None
        name = self.names[id(w)] if w is not None else "other"
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def _timed_app_class():
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    class TimedApplication(QApplication):
        """The benchmark's QApplication: times paint events while a clock is set."""

        clock: _PaintClock | None = None

        def notify(self, receiver, event):  # noqa: D401 - Qt override
            clock = self.clock
            if clock is None or event.type() != QEvent.Type.Paint:
                return super().notify(receiver, event)
            t = time.thread_time()
            try:
                return super().notify(receiver, event)
            finally:
                clock.add(receiver, time.thread_time() - t)

    return TimedApplication


SCREEN = (1920, 1080)  # the offscreen screen the frame benchmark's window is shown on
WINDOW = (1500, 950)  # ... and the window's size (every map on screen)


def _screen_config(folder: Path, width: int, height: int) -> str:
    """``QT_QPA_PLATFORM`` value for an offscreen screen of this size."""
    path = Path(folder) / f"screen-{width}x{height}.json"
    path.write_text(json.dumps({"screens": [{"name": "bench", "x": 0, "y": 0, "width": width, "height": height,
                                             "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={path}"


def _window(models_dir: Path, settings_file: Path):
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    from latent_explorer.app.qt.main import make_app
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow

    os.environ["LATENT_EXPLORER_SETTINGS"] = str(settings_file)
    if QApplication.instance() is None:  # a first app of our own, to time each view's paints
        platform = os.environ.get("QT_QPA_PLATFORM")
        if platform == "offscreen":
            # the offscreen platform's own screen (800 x 800) is smaller than the window, which
            # then shrinks to it and scrolls most maps out of sight, where they are not painted
            os.environ["QT_QPA_PLATFORM"] = _screen_config(settings_file.parent, *SCREEN)
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        _timed_app_class()(sys.argv[:1])
        if platform is not None:
            os.environ["QT_QPA_PLATFORM"] = platform  # read once, at the start; child processes get the plain one
    app = make_app()
    win = MainWindow(models_dir, models_dir / "classifier.pt", make_settings(), autobuild_atlas=False)
    return app, win


def _wait(app, cond, timeout: float = 30.0) -> None:
    """Run the event loop until ``cond()``, sleeping (not spinning) between events, so the
    render thread is not starved as it would be by a busy loop."""
    from PySide6.QtCore import QEventLoop, QTimer

    tick = QTimer()
    tick.start(50)  # wakes the wait up now and then, for the timeout
    t = time.perf_counter()
    try:
        while not cond():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            if time.perf_counter() - t > timeout:
                raise TimeoutError("the window did not reach the expected state")
    finally:
        tick.stop()


def _settle(app, win, since: float) -> float:
    """Wait for the work a model starts when it opens (the walk's strip: a path of frames
    and its crossings, found on 1025 renders, in a worker thread); seconds from ``since``.
    The moves are timed in the settled window: while the strip computes it takes a core."""
    runner = win.walk.dock.panel.runner
    _wait(app, lambda: not runner.busy and not win.atlases.busy, timeout=120)
    return time.perf_counter() - since


def _opening_drag(app, win, most: int = 400) -> dict | None:
    """Drag moves (dock hidden) made while the model's opening work still runs, in batches
    of 10 until it has ended: what a user who drags at once gets."""
    runner = win.walk.dock.panel.runner
    sliders = win.sliders_panel.sliders
    every = []
    while runner.busy and len(every) < most:
        every += _move_times(app, win, _drag_plan(sliders, 10))[2]
    return _pct(every) | {"moves": len(every)} if every else None


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


DRAG_STEP = 8  # slider ticks (0.008) per drag move: one pixel of a mouse drag on a 250-pixel slider


def _views(win) -> dict:
    """The window's views by name, for per-view paint times."""
    from latent_explorer.app.qt.panels.slices3d import PLANES, Slices3DPanel
    from latent_explorer.models.maps import axis_name

    views = {"image": win.image_panel, "classifier": win.readout_panel, "sliders": win.sliders_panel,
             "point text": win.point_panel, "layer heatmaps dock": win.layers_dock}
    names = {"Map2DPanel": "map", "AreasPanel": "digit areas", "OverviewPanel": "overview",
             "View3DPanel": "3-D cube"}
    for panel in win.map_area.panels:
        if isinstance(panel, Slices3DPanel):
            for view, (a, b) in zip(panel.views, PLANES):
                views[f"{axis_name(a)}{axis_name(b)} slice"] = view
            views["slices (title)"] = panel
        else:
            views[names.get(type(panel).__name__, type(panel).__name__)] = panel
    views["rest of the window"] = win
    return views


def _pct(values: list[float]) -> dict:
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95)),
            "max_ms": float(np.max(values))}


def _moves(app, win, plan, clock=None) -> dict:
    """``_move_times`` summed up: percentiles of each time, the UI CPU's median."""
    marker, frame, every, cpu = _move_times(app, win, plan, clock)
    return {"moves": len(plan), "every_view": _pct(every), "to_marker": _pct(marker), "to_frame": _pct(frame),
            "ui_cpu_p50_ms": float(np.percentile(cpu, 50))}


def _move_times(app, win, plan, clock=None) -> tuple[list[float], list[float], list[float], list[float]]:
    """Run ``plan`` (slider index, target value) pairs; per move, in ms: the time to the
    markers (the slider's handlers and the first paint pass), to the frame (the rendered
    frame handed to the views) and to every view (all views painted with the new frame),
    and the UI thread's CPU time."""
    st = win.state
    sliders = win.sliders_panel.sliders
    arrived = [0.0]

    def stamp() -> None:
        arrived[0] = time.perf_counter()

    st.frameChanged.connect(stamp)
    marker, frame, every, cpu = [], [], [], []
    if clock is not None:
        app.clock = clock
    try:
        for i, target in plan:
            want = target / 1000
            t0, c0 = time.perf_counter(), time.thread_time()
            sliders[i].setValue(target)
            app.processEvents()
            t1 = time.perf_counter()
            _wait(app, lambda: (st.frame is not None and not win.renderer.pending
                                and abs(float(st.frame.point[i]) - want) < 1e-6))
            app.processEvents()  # the views repaint
            t2 = time.perf_counter()
            marker.append((t1 - t0) * 1000)
            frame.append((max(arrived[0], t0) - t0) * 1000)
            every.append((t2 - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
    finally:
        app.clock = None
        st.frameChanged.disconnect(stamp)
    return marker, frame, every, cpu


def _drag_plan(sliders, moves: int) -> list[tuple[int, int]]:
    """Small steps of one slider at a time (as a mouse drag produces), each slider in turn,
    turning back at the ends of its range."""
    plan = []
    per = max(1, moves // len(sliders))
    for i, s in enumerate(sliders):
        v, step = s.value(), DRAG_STEP
        for _ in range(per):
            if abs(v + step) > s.maximum():
                step = -step
            v += step
            plan.append((i, v))
    return plan


def _jump_plan(sliders, moves: int, rng) -> list[tuple[int, int]]:
    """Random jumps of one slider at a time (clicks on the slider, typed values)."""
    plan, current = [], [s.value() for s in sliders]
    for k in range(moves):
        i = k % len(sliders)
        target = int(rng.integers(-1000, 1001))
        if target == current[i]:
            target = -target or 1
        current[i] = target
        plan.append((i, target))
    return plan


def frame_latency(models: list[Path], moves: int = 500, paint_moves: int = 120) -> dict:
    """Scripted slider moves in the real window: drag-like steps and random jumps, with and
    without the layer heatmaps dock; then a pass of drag moves with each view's paint time."""
    rows = []
    load_before = _loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        app, win = _window(models[0].parent, Path(tmp) / "s.ini")
        win.resize(*WINDOW)
        win.show()
        screen = win.screen().availableGeometry()
        rng = np.random.default_rng(0)
        timed = hasattr(app, "clock")
        for path in models:
            win.layers_dock.setVisible(False)
            opened = time.perf_counter()
            assert win.open_path(path, report=False), f"cannot open {path}"
            _wait(app, lambda: win.state.frame is not None and not win.renderer.pending)
            opening = _opening_drag(app, win)
            forward = _bare_forward_ms(win.state.model.engine)
            settle = _settle(app, win, opened)
            for capture in (False, True):
                # "on": the Inside-the-generator dock is shown, so every layer's heatmap redraws
                win.layers_dock.setVisible(capture)
                _wait(app, lambda: win.renderer.capture == capture and not win.renderer.pending)
                sliders = win.sliders_panel.sliders
                _moves(app, win, _drag_plan(sliders, 8 * len(sliders)))  # warm-up
                drag = _moves(app, win, _drag_plan(sliders, moves))
                jump = _moves(app, win, _jump_plan(sliders, moves // 2, rng))
                row = {"model": path.stem, "activations": capture, "forward_ms": forward, "drag": drag, "jump": jump,
                       "settle_s": settle, "opening_drag": opening if not capture else None}
                if timed and paint_moves:
                    clock = _PaintClock(_views(win))
                    paint = _moves(app, win, _drag_plan(sliders, paint_moves), clock=clock)
                    row["paint_ms_per_move"] = {k: v * 1000 / paint["moves"] for k, v in
                                                sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
                rows.append(row)
        win.layers_dock.setVisible(False)
        win.atlases.shutdown()
        win.close()
        win.deleteLater()
        app.processEvents()
    return {"moves": moves, "drag_step": DRAG_STEP / 1000, "paint_moves": paint_moves, "rows": rows,
            "load": _loadavg(), "window": list(WINDOW), "screen": [screen.width(), screen.height()],
            "load_before": load_before}


def _loadavg() -> list[float] | None:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


CHILD = r"""
import os, sys, time, json, resource
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
mode, models_dir, model = sys.argv[1], sys.argv[2], sys.argv[3]
from pathlib import Path
from latent_explorer.app.qt.main import make_app
from latent_explorer.app.qt.settings import make_settings
from latent_explorer.app.qt.window import MainWindow
imported = time.time()  # the app's modules: Qt, pyqtgraph, h5py and ours (torch comes after the first frame)
app = make_app()
win = MainWindow(Path(models_dir), Path(models_dir) / "classifier.pt", make_settings(), autobuild_atlas=False)
win.open_initial(model or None)
win.show()
t = time.time()
torch_before = False
def _first():  # connected before the loop: is torch in when the first frame reaches the state?
    global torch_before
    torch_before = torch_before or (win.state.frame is not None and "torch" in sys.modules)
win.state.frameChanged.connect(_first)
while win.state.frame is None or win.renderer.pending:
    app.processEvents()
    time.sleep(0.0005)  # the frame comes from the render thread
    if time.time() - t > 60:
        sys.exit(3)
app.processEvents()
out = {"first_frame": time.time(), "imported": imported, "torch_at_first_frame": torch_before}
# the model opened before torch (app/qt/modelloader.py) gets its torch engine: left to itself,
# the loader starts once the frames pause
while win.state.model is not None and (win.state.model.pending or win.loader.loading):
    app.processEvents()
    time.sleep(0.002)
    if time.time() - t > 180:
        sys.exit(4)
app.processEvents()
out["engine"] = time.time()
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
    times, imports, engine, torch_in = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):
            out = _child("startup", models_dir, "", Path(tmp) / f"s{k}.ini")
            times.append(out["first_frame"] - out["launch"])
            imports.append(out["imported"] - out["launch"])
            engine.append(out["engine"] - out["launch"])
            torch_in.append(bool(out["torch_at_first_frame"]))
    return {"runs": times, "median_s": statistics.median(times), "imports_s": imports, "engine_s": engine,
            "torch_at_first_frame": torch_in}


def peak_memory(models_dir: Path, models: list[Path]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in models:
            out = _child("memory", models_dir, str(p), Path(tmp) / f"{p.stem}.ini")
            rows.append({"model": p.stem, "peak_rss_mb": out["peak_rss_mb"], "atlas_loaded": out["atlas"]})
    return rows
