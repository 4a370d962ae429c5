"""The soak run: drive the real main window for a long time (random slider moves, model
switches, docks shown and hidden, exports) and report memory growth, warnings and errors.

``latent-explorer bench --only soak --soak-minutes 20`` runs it as a benchmark item; the
tests run a short version.  Memory is the process's resident size (VmRSS) after a garbage
collection, sampled every few seconds from the end of a warm-up in which every model,
dock and export has been used once (first-use caches are not leaks); growth is the
least-squares trend of the samples (:func:`growth_stats`).
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Messages the offscreen platform prints for any dock widget; they say nothing about the app.
BENIGN_QT = ("This plugin does not support propagateSizeHints()",)


def growth_stats(samples: list[tuple[float, float]]) -> dict:
    """Memory growth over the run from (seconds, MB) samples.

    ``growth_mb`` is the least-squares trend over the whole run (slope x duration): samples
    in the fixed state still scatter (worker threads' caches: walk strips, loaded comparison
    models, histories; by tens of MB on glibc's default arenas), so one sample is no
    baseline.  Also given: the slopes of the first and second half (a leak keeps its slope;
    filling caches flatten), and the cruder last-quarter median minus the first sample."""
    t = np.array([a for a, _ in samples], float)
    m = np.array([b for _, b in samples], float)
    if len(t) < 3 or t[-1] <= 0:
        return {"growth_mb": float(m[-1] - m[0]) if len(m) else 0.0, "slope_mb_per_min": None,
                "half_slopes_mb_per_min": None, "tail_minus_first_mb": float(m[-1] - m[0]) if len(m) else 0.0}
    slope = float(np.polyfit(t, m, 1)[0])
    h = len(t) // 2
    halves = [float(np.polyfit(t[p], m[p], 1)[0] * 60) if len(t[p]) >= 2 else None
              for p in (slice(0, h + 1), slice(h, None))]
    tail = m[-max(1, len(m) // 4):]
    return {"growth_mb": float(slope * t[-1]), "slope_mb_per_min": slope * 60, "half_slopes_mb_per_min": halves,
            "tail_minus_first_mb": float(np.median(tail) - m[0])}


def rss_mb() -> float:
    """Resident memory of this process in MiB (VmRSS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _QtMessages:
    """Collects Qt's warnings (qWarning and friends) while installed."""

    def __init__(self) -> None:
        self.messages: Counter[str] = Counter()
        self._previous = None

    def __enter__(self) -> "_QtMessages":
        from PySide6.QtCore import qInstallMessageHandler

        def handler(mode, context, message) -> None:
            self.messages[f"{mode.name}: {message}"] += 1

        self._handler = handler
        self._previous = qInstallMessageHandler(handler)
        return self

    def __exit__(self, *exc) -> None:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(self._previous)


WEIGHTS = {"move": 0.86, "switch": 0.03, "toggle": 0.05, "export": 0.03, "random": 0.03}


def soak(models: list[Path], seconds: float, seed: int = 0, sample_every: float = 15.0,
         log: Callable[[str], None] = print, weights: dict[str, float] | None = None) -> dict:
    """Drive one main window on ``models`` (checkpoints in one folder) for ``seconds``."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from latent_explorer.app.qt.main import make_app
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow
    from latent_explorer.models.figures import save_figure
    from latent_explorer.models.memory import allocator_settings, heap_stats, live_tensor_mb
    from latent_explorer.models.strip_export import export as export_strip

    rng = np.random.default_rng(seed)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    samples: list[tuple[float, float]] = []
    heap: list[dict[str, float]] = []  # per sample: RSS, live tensors, glibc in-use and free-held MiB
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught, _QtMessages() as qt:
        warnings.simplefilter("always")
        tmp = Path(tmp)
        os.environ["LATENT_EXPLORER_SETTINGS"] = str(tmp / "settings.ini")
        app = make_app()
        folder = models[0].parent
        win = MainWindow(folder, folder / "classifier.pt", make_settings(), autobuild_atlas=False)
        win.show_error = lambda title, message: errors.append(f"{title}: {message}")
        win.resize(1500, 950)
        win.show()
        docks = [d for d in (win.layers_dock, win.compare_dock, getattr(win, "history_dock", None), win.walk.dock)
                 if d is not None]

        def events() -> None:
            # what the event loop does between user actions, deferred deletions included
            # (processEvents alone leaves widgets that deleteLater() was called on alive)
            app.processEvents()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)

        def pump(cond: Callable[[], bool] | None = None, timeout: float = 30.0) -> None:
            t = time.perf_counter()
            events()
            while cond is not None and not cond():
                events()
                if time.perf_counter() - t > timeout:
                    errors.append("soak: the window did not settle within 30 s")
                    return
                time.sleep(0.001)

        def settled() -> bool:
            st = win.state
            return st.frame is not None and not win.renderer.pending and np.allclose(st.frame.point, st.point)

        def idle() -> bool:
            """No worker thread busy (walk strip, atlas, history or comparison loads)."""
            return not (win.walk.dock.panel.runner.busy or win.atlases.busy
                        or getattr(win.history_dock, "loader", None) is not None
                        or win.compare_dock.panel.loader is not None)

        def move() -> None:
            sliders = win.sliders_panel.sliders
            i = int(rng.integers(len(sliders)))
            sliders[i].setValue(int(rng.integers(-1000, 1001)))
            pump(settled)
            counts["slider moves"] += 1

        def switch(path: Path | None = None) -> None:
            path = path or models[int(rng.integers(len(models)))]
            if not win.open_path(path, report=False):
                errors.append(f"soak: could not open {path}")
            pump(settled)
            if win.state.conditional:
                win.state.set_digit(int(rng.integers(10)))
                pump(settled)
            counts["model switches"] += 1

        def toggle(dock=None) -> None:
            dock = dock or docks[int(rng.integers(len(docks)))]
            dock.setVisible(not dock.isVisible())
            pump()
            counts["dock toggles"] += 1

        def export() -> None:
            kind = ("point", "strip", "compare")[counts["exports"] % 3]
            target = tmp / f"export-{counts['exports']}"
            try:
                if kind == "point":
                    win.export(target.with_suffix(".png"))
                elif kind == "strip":
                    strip = win.walk.dock.panel.runner.current_strip()
                    if strip is not None:
                        export_strip(strip, target.with_suffix(".png"), overwrite=True)
                else:
                    fig = win.compare_dock.panel.figure()
                    if fig is not None:
                        save_figure(fig, target.with_suffix(".png"))
            except (OSError, ValueError) as exc:
                errors.append(f"soak: export {kind}: {exc}")
            for f in tmp.glob("export-*"):
                f.unlink()
            counts["exports"] += 1

        initial_docks = {d: d.isVisible() for d in docks}

        def canonical_rss() -> float:
            """RSS in one fixed state (first model, docks as at start, point at the origin, the
            idle release done), so samples differ by what was leaked, not by which model or dock
            happens to be open or by freed memory the allocator has not yet handed back."""
            if win.state.model is None or win.state.model.path != models[0]:
                switch(models[0])
            for d, visible in initial_docks.items():
                d.setVisible(visible)
            win.state.reset_point()
            pump(settled)
            pump(idle)
            gc.collect()
            pump()
            before = rss_mb()
            win.release_idle_memory()  # what the window does after a few idle seconds
            rss = rss_mb()
            heap.append({"rss": round(rss, 1), "rss_before_idle_release": round(before, 1),
                         "tensors": round(live_tensor_mb(), 1),
                         **{k: round(v, 1) for k, v in heap_stats().items()}})
            return rss

        # warm-up: every model, every dock shown and hidden, every export once
        t0 = time.perf_counter()
        for path in models:
            switch(path)
            for dock in docks:
                toggle(dock)
                for _ in range(3):
                    move()
                toggle(dock)
            for _ in range(3):
                export()
        base = canonical_rss()
        widgets = [len(app.allWidgets())]
        warm = time.perf_counter() - t0
        log(f"soak: warm-up {warm:.0f} s, baseline {base:.0f} MB; running {seconds:.0f} s")
        start = time.perf_counter()
        samples.append((0.0, base))
        next_sample = sample_every
        named = {"move": move, "switch": switch, "toggle": toggle, "export": export,
                 "random": lambda: (win.state.random_point(), pump(settled))}
        chosen = {k: v for k, v in (weights or WEIGHTS).items() if v > 0}
        actions = [named[k] for k in chosen]
        p = np.array(list(chosen.values()), dtype=float)
        p /= p.sum()
        while (now := time.perf_counter() - start) < seconds:
            actions[int(rng.choice(len(actions), p=p))]()
            if now >= next_sample:
                samples.append((now, canonical_rss()))
                widgets.append(len(app.allWidgets()))
                next_sample += sample_every
        samples.append((time.perf_counter() - start, canonical_rss()))
        widgets.append(len(app.allWidgets()))
        win.close()
        win.deleteLater()
        pump()
        py_warnings = Counter(f"{w.category.__name__}: {w.message}" for w in caught)
    mem = np.array([m for _, m in samples])
    log(f"soak: {dict(counts)}; memory {base:.0f} -> {mem[-1]:.0f} MB (max {mem.max():.0f})")
    qt_all = dict(qt.messages)
    return {"seconds": seconds, "warm_up_seconds": warm, "models": [p.stem for p in models],
            "actions": dict(counts), "baseline_mb": float(base), "final_mb": float(mem[-1]),
            "max_mb": float(mem.max()), **growth_stats(samples),
            "samples": [(round(t, 1), round(m, 1)) for t, m in samples],
            "widgets": widgets,  # live QWidgets at each sample: a leak of widgets shows here first
            "allocator": allocator_settings(),  # glibc's arena and mmap settings, None for its defaults
            "heap": heap,  # RSS, tensors reachable from Python, glibc's in-use and freed-but-held MiB
            "errors": errors, "python_warnings": dict(py_warnings),
            "qt_messages": {k: v for k, v in qt_all.items() if not any(b in k for b in BENIGN_QT)},
            "qt_benign": {k: v for k, v in qt_all.items() if any(b in k for b in BENIGN_QT)}}
