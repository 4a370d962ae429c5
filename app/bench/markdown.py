"""BENCHMARKS.md from a results dict, with targets met or the gap stated."""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from latent_explorer.models.figures import save_figure


def atlas_plot(rows: list[dict], path: Path) -> Path:
    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    for k, key in enumerate(("seconds", "evaluations")):
        ax = fig.add_subplot(1, 2, k + 1)
        for d in sorted({r["latent_dim"] for r in rows}):
            rs = [r for r in rows if r["latent_dim"] == d]
            cells = [r["cells"] for r in rs]
            ax.loglog(cells, [r[f"full_{key}"] for r in rs], "o-", label=f"{d}-D full")
            ax.loglog(cells, [r[f"adaptive_{key}"] for r in rs], "s--", label=f"{d}-D adaptive")
        ax.set_xlabel("cells in the atlas")
        ax.set_ylabel("wall seconds" if key == "seconds" else "generator evaluations")
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Atlas build: full grid against the adaptive builder", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# Frame latency before the render moved off the UI thread (BENCHMARKS.md of 2026-11-22
# 23:39 UTC, this machine, 500 random jumps; the old bench had no drag-like moves):
# (model, layer dock shown) -> (p50, p95, max) ms
BEFORE = {("gan2d", False): (10.09, 22.77, 33.5), ("gan2d", True): (19.65, 24.37, 33.1),
          ("gan3d", False): (18.81, 24.89, 89.4), ("gan3d", True): (28.67, 39.28, 51.2),
          ("gan4d", False): (27.97, 72.73, 116.9), ("gan4d", True): (39.60, 79.18, 102.1),
          ("cgan3d", False): (17.90, 24.01, 75.8), ("cgan3d", True): (29.55, 39.02, 49.8)}
# Before this round of frame-cost work (commit cc6ec00, session 7's start: the render
# thread ran ~60 eager torch calls per frame, each waiting for the UI thread to hand the GIL
# back; the walk's overlays, the overview's path and the soft cube's edges were painted by
# pyqtgraph in Python; every cube change rebuilt the overview mosaic), with the same models,
# measured by the same harness on the same 1920x1080 offscreen screen on the quiet machine:
# (model, dock shown) -> (drag p50, drag p95, jump p50, jump p95, UI CPU per drag move p50,
# paint CPU per drag move summed over the views) ms.  (The rounds before, 20eded3 -> b5bc77d
# -> cc6ec00, are in the git history of this file.)
BEFORE_RUN = {"date": "2026-12-01 07:19 UTC", "commit": "cc6ec00", "load": (0.88, 0.34, 0.13),
              "command": "latent-explorer bench --quick --only frame", "rows": {
                  ("gan2d", False): (13.4, 17.0, 13.5, 16.2, 6.6, 2.77),
                  ("gan2d", True): (19.5, 22.0, 20.7, 23.7, 13.9, 7.06),
                  ("gan3d", False): (14.1, 20.6, 16.6, 28.4, 7.9, 4.85),
                  ("gan3d", True): (21.3, 29.9, 23.8, 29.4, 17.5, 8.71),
                  ("gan4d", False): (16.0, 24.2, 19.6, 44.9, 9.9, 4.94),
                  ("gan4d", True): (21.2, 26.9, 26.6, 43.0, 17.4, 8.41),
                  ("cgan3d", False): (12.9, 20.3, 18.7, 23.6, 6.9, 4.09),
                  ("cgan3d", True): (18.9, 26.1, 20.3, 25.3, 14.8, 10.19)}}
# Cold start before the torch-free first frame (commit de70053: torch was imported with the
# window's modules), measured alternately with it (old, new, old, new; 3 runs each) by
# `latent-explorer bench --only startup` on the same machine.
COLD_START_BEFORE = {"date": "2026-12-01 17:25 UTC", "commit": "de70053", "after_commit": "540571e",
                     "old": ([3.43, 3.28, 3.31], [4.00, 3.11, 4.04]), "new": ([1.34, 1.09, 1.03], [1.36, 1.28, 1.13])}
# The soak with glibc's default allocator, run right after section 7's on the same machine, for comparison.
SOAK_BEFORE: dict = {"minutes": 30, "date": "2026-12-01 21:42 UTC", "commit": "7ac400d",
                     "actions": "532 model switches, 815 dock toggles, 13,716 slider moves, 466 exports",
                     "moves": 13716, "baseline_mb": 623.7, "final_mb": 827.1, "max_mb": 861.5, "growth_mb": 143.3,
                     "half_slopes": [7.71, 2.36], "sd_mb": 51.9, "mean_mb": 766.5, "widgets": (942, 954)}
DRAG_TARGET = {False: 16.0, True: 25.0}  # ms, p95 of every view showing the new point, by dock
JUMP_TARGET = 25.0


def _settle_text(rows: list[dict]) -> str:
    """How long each model's opening work ran before its moves were timed."""
    settled = {r["model"]: r["settle_s"] for r in rows if "settle_s" in r}
    if not settled:
        return ""
    return (" Each model's moves are timed once the work that opening it starts has ended: the walk's strip "
            "(its frames, and the crossings found on 1025 renders) computes in a worker thread and takes one of "
            "the two cores meanwhile; it ended " + ", ".join(f"{v:.1f} s ({k})" for k, v in settled.items())
            + " after the model opened." + _opening_text(rows))


def _opening_text(rows: list[dict]) -> str:
    early = [(r["model"], r["opening_drag"]) for r in rows if r.get("opening_drag")]
    if not early:
        return ""
    return (" Drags made at once, while it computes (dock hidden), every view p50 / p95: "
            + ", ".join(f"{m} {d['p50_ms']:.1f} / {d['p95_ms']:.1f} ms ({d['moves']} moves)" for m, d in early)
            + "; the targets are for the settled window.")


def _frame_section(fl: dict) -> list[str]:
    """Section 1: frame latency, before and after, drag-like moves and random jumps."""
    if "rows" in fl and fl["rows"] and "drag" not in fl["rows"][0]:  # results of the old bench
        return ["## 1. Frame latency in the main window", "", "(results of the earlier bench, without drag "
                "moves; run `latent-explorer bench --only frame` again)", ""]
    load = fl.get("load")
    out = ["## 1. Frame latency in the main window", "",
           f"Scripted slider moves in the real main window (offscreen), one model of each kind, with the layer "
           f"heatmaps dock hidden and shown: {fl['moves']} drag-like moves (steps of {fl['drag_step']:g} of one "
           f"slider at a time, as a mouse drag produces, each slider in turn, turning back at the ends) and "
           f"{fl['moves'] // 2} random jumps (one slider to a random value). The render (generator, classifier, "
           "captured layers) runs in a worker thread as one traced TorchScript call that holds no GIL and "
           "writes its outputs into buffers made once, so a render takes the GIL back once "
           "(models/tracedrender.py), latest request wins; the maps' markers move in the slider's own handler.", "",
           "What each figure measures, from the slider's value change: **to the marker**: the slider's handlers "
           "and the first paint pass (the markers and crosshairs drawn at the new point); **to the frame**: the "
           "rendered frame handed to the views in the UI thread; **every view**: every view painted with the new "
           "point and its frame (the image, the classifier's bars, the maps, the layer heatmaps when shown). "
           "Targets apply to every view: drag p95 <= 16 ms with the dock hidden, <= 25 ms shown; jumps p95 <= 25 "
           "ms." + _settle_text(fl["rows"]) + (f" Machine load during the run (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in load)} on "
                    f"2 cores; the figures are wall-clock times and grow with it." if load else ""), "",
           "| model | layer dock | drag: every view p50 / p95, before → after | drag: to marker p95 | "
           "drag: to frame p95 | drag target | jumps: every view p50 / p95, before → after | jump target | "
           "UI CPU per drag move, before → after | first bench (11-22): jumps p95 (p50) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in fl["rows"]:
        dock = r["activations"]
        first = BEFORE.get((r["model"], dock))
        was = BEFORE_RUN["rows"].get((r["model"], dock))
        d, j = r["drag"], r["jump"]
        out.append(f"| {r['model']} | {'shown' if dock else 'hidden'} | "
                   + (f"{was[0]:.1f} / {was[1]:.1f} → " if was else "")
                   + f"{d['every_view']['p50_ms']:.1f} / {d['every_view']['p95_ms']:.1f} | "
                   f"{d['to_marker']['p95_ms']:.1f} | {d['to_frame']['p95_ms']:.1f} | "
                   f"{_verdict(d['every_view']['p95_ms'] <= DRAG_TARGET[dock])} | "
                   + (f"{was[2]:.1f} / {was[3]:.1f} → " if was else "")
                   + f"{j['every_view']['p50_ms']:.1f} / {j['every_view']['p95_ms']:.1f} | "
                   f"{_verdict(j['every_view']['p95_ms'] <= JUMP_TARGET)} | "
                   + (f"{was[4]:.1f} → " if was else "") + f"{d['ui_cpu_p50_ms']:.1f} ms | "
                   + (f"{first[1]:.1f} ({first[0]:.1f})" if first else "–") + " |")
    load_was = ", ".join(f"{v:.2f}" for v in BEFORE_RUN["load"])
    out += ["", f"Before: the code of commit {BEFORE_RUN['commit']}, measured by the same harness (`"
            f"{BEFORE_RUN['command']}`, the same window on the same screen) on {BEFORE_RUN['date']} under load "
            f"{load_was} (1, 5, 15 min) on 2 cores; after: this run" + (f", under load {', '.join(f'{v:.2f}' for v in load)}"
                                                                       if load else "")
            + ". Wall-clock figures follow the machine's load (other processes take most of the two cores), so "
            "compare the two runs by the UI thread's CPU time per drag move (p50), which the load changes less. "
            "First bench: the figures of 2026-11-22 (random jumps only; the render ran on the UI thread, every "
            "view redrew on every move).", "",
            "Not in **every view**: a plane cut for the first time during the moves shows at once, but its region "
            "digits are written 150 ms after the moves pause (a plane seen before gets them at once); the layer "
            "dock's table of statistics is filled 150 ms after the last frame (its heatmaps follow every frame)."
            + (f" The window is {fl['window'][0]}x{fl['window'][1]} on a {fl['screen'][0]}x{fl['screen'][1]} "
               "offscreen screen, every map on screen (on the offscreen platform's default 800x800 screen the "
               "window shrank and most maps were scrolled out of sight, where they were not painted)."
               if fl.get("window") and fl.get("screen") else ""), ""]
    painted = [r for r in fl["rows"] if r.get("paint_ms_per_move")]
    if painted:
        out += [f"Where the UI thread's paint time goes: {fl.get('paint_moves', 0)} further drag moves with each "
                "view's paint events timed (UI-thread CPU ms per move, summed over the view's widgets; the "
                "slowest view first; all views: the sum, before → after).", "",
                "| model | layer dock | all views, before → after | paint ms per move, by view |", "|---|---|---|---|"]
        for r in painted:
            views = ", ".join(f"{k} {v:.2f}" for k, v in r["paint_ms_per_move"].items() if v >= 0.005)
            was = BEFORE_RUN["rows"].get((r["model"], r["activations"]))
            total = (f"{was[5]:.2f} → " if was else "") + f"{sum(r['paint_ms_per_move'].values()):.2f}"
            out.append(f"| {r['model']} | {'shown' if r['activations'] else 'hidden'} | {total} | {views} |")
        out.append("")
    return out


def render_markdown(res: dict, plot: str | None = None) -> str:
    m = res["machine"]
    it = res["items"]
    out = ["# Benchmarks", "",
           f"Measured {m['date']} on {m['hardware']} ({m['cores']} cores), Python {m['python']}, torch {m['torch']}.",
           f"Command: `{res['command']}`{' (quick mode)' if res.get('quick') else ''}; the whole suite took "
           f"{res['seconds']:.0f} s. Every figure below is a comparison inside this one run; the machine is shared "
           "and noisy, so ratios mean more than absolute times.", ""]
    secs = dict(res.get("item_seconds") or {})
    soak_secs = secs.pop("soak", None)
    sharp_secs = secs.pop("sharp", None)
    if secs:
        out += ["Wall time per item of the default suite: " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items())
                + "." + ("" if res.get("quick") else
                         f" Target for the default suite: under 10 minutes: {_verdict(res.get('seconds', 0) < 600)}.")
                + (f" The soak runs only when named and took {soak_secs:.0f} s." if soak_secs else "")
                + (f" The sharper atlases run only when named and took {sharp_secs:.0f} s." if sharp_secs else ""), ""]
    if not res.get("quick") and res.get("seconds", 0) > 600 and "atlas" in it:
        big = max((r for r in it["atlas"] if r["latent_dim"] == 3), key=lambda r: r["resolution"], default=None)
        if big:
            out += [f"The suite is over its 10-minute target ({res['seconds'] / 60:.1f} min): the 3D "
                    f"{big['resolution']}^3 comparison alone (full grid {big['full_seconds']:.0f} s plus adaptive "
                    f"{big['adaptive_seconds']:.0f} s) takes {(big['full_seconds'] + big['adaptive_seconds']) / 60:.1f} "
                    "min of it; `--quick` runs in about two minutes.", ""]
    runs = res.get("runs") or {}
    if len({(r.get("date"), r.get("command")) for r in runs.values()}) > 1:
        out += ["Items were measured by separate runs (merged with `--only`):", ""]
        for item, r in sorted(runs.items()):
            out.append(f"- `{item}`: {r.get('date')}, `{r.get('command')}`{' (quick mode)' if r.get('quick') else ''}")
        out.append("")
    if "frame_latency" in it:
        out += _frame_section(it["frame_latency"])
    if "engine_overhead" in it:
        out += ["## 2. Engine step against a bare generator forward", "",
                "One point: `Engine.render` (image, every layer's activations, classifier) against `G(z)` alone, "
                "interleaved, medians.", "",
                "| model | bare forward ms | render, all layers ms | render without capture ms | overhead ratio |",
                "|---|---|---|---|---|"]
        for r in it["engine_overhead"]:
            out.append(f"| {r['model']} | {r['bare_forward_ms']:.2f} | {r['render_all_layers_ms']:.2f} | "
                       f"{r['render_image_and_classifier_ms']:.2f} | {r['overhead_ratio']:.2f}x |")
        out += ["", "The render includes the classifier's forward, so the ratio is bounded below by "
                "(generator + classifier) / generator.", ""]
    if "atlas" in it:
        rows = it["atlas"]
        out += ["## 3. Atlas builds", "", "Full grid against the adaptive builder (coarse grid every 4th point, "
                "cells whose corners disagree split down to single steps, cells whose corners agree filled, no point "
                "evaluated twice), float32, channels-last, same run.", "",
                "| model | resolution | cells | full s | full evals | adaptive s | adaptive evals | speed-up | agreement |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {r['model']} | {r['resolution']} | {r['cells']:,} | {r['full_seconds']:.1f} | "
                       f"{r['full_evaluations']:,} | {r['adaptive_seconds']:.1f} | {r['adaptive_evaluations']:,} | "
                       f"{r['speedup']:.2f}x | {100 * r['agreement']:.3f}% |")
        big3 = [r for r in rows if r["latent_dim"] == 3]
        if big3:
            r = max(big3, key=lambda r: r["resolution"])
            ok = r["speedup"] >= 3 and r["agreement"] >= 0.995
            out += ["", f"Target for the 3D 64^3 atlas: >= 3x faster with >= 99.5% agreement. Largest 3D case measured "
                    f"here ({r['resolution']}^3): {r['speedup']:.2f}x, {100 * r['agreement']:.3f}%: {_verdict(ok)}"
                    + ("" if r["resolution"] == 64 else " (quick mode ran a smaller cube)") + ".",
                    "", f"The adaptive builder evaluated {100 * r['adaptive_evaluations'] / r['cells']:.1f}% of the cells "
                    f"(those near class boundaries), which bounds its speed-up at "
                    f"{r['cells'] / r['adaptive_evaluations']:.2f}x: both builders label about the same number of points "
                    "per second, so the wall-time ratio follows the evaluation ratio."]
        if plot:
            out += ["", f"![atlas scaling]({plot})"]
        out.append("")
    if it.get("sharp_atlas"):
        out += sharp_lines(it["sharp_atlas"])
    if "throughput" in it:
        tp = it["throughput"]
        b, b32 = tp["best"], tp["best_float32"]
        out += ["### Raw labelling throughput (generator + classifier)", "",
                f"{tp['points']:,} points per setting. Best: {b['points_per_second']:,.0f} points/s "
                f"({b['precision']}, batch {b['batch']}, {b['threads']} threads, channels-last {b['channels_last']}); "
                f"best float32: {b32['points_per_second']:,.0f} points/s. Labels that bfloat16 changes against float32 "
                f"are counted per row.", "",
                "| threads | channels-last | precision | batch | points/s | labels changed |", "|---|---|---|---|---|---|"]
        for r in tp["rows"]:
            out.append(f"| {r['threads']} | {r['channels_last']} | {r['precision']} | {r['batch']} | "
                       f"{r['points_per_second']:,.0f} | {r['labels_changed']} |")
        out.append("")
    if "training" in it:
        t = it["training"]
        out += ["## 4. Training throughput (2D GAN, CPU)", "",
                f"The project's loop (`train_gan`, {t['images']:,} images, batch {t['batch']}, with its per-epoch "
                "monitoring) against a plain loop over the same networks and batch size, in the same run.", "",
                "| loop | images/s (steps) | seconds for a 60,000-image epoch |", "|---|---|---|",
                f"| plain | {t['plain_images_per_second']:,.0f} | {t['full_epoch_seconds_plain']:.0f} |",
                f"| project, with monitoring ({t['monitor_seconds_per_epoch']:.1f} s per epoch) | "
                f"{t['project_images_per_second_steps']:,.0f} | {t['full_epoch_seconds_project']:.0f} |", "",
                f"Monitoring overhead for a full epoch: {100 * t['overhead']:+.1f}% (target <= 10%: "
                f"{_verdict(t['overhead'] <= 0.10)}). CUDA figures: section 4b.", ""]
    # always written: the CUDA figures, or the statement that there are none (a hand-written
    # section here would be dropped by the next regeneration)
    from .cuda_training import markdown as cuda_markdown

    out += cuda_markdown(it.get("training_cuda"), (res.get("runs") or {}).get("training_cuda"))
    if "cold_start" in it:
        c = it["cold_start"]
        out += ["## 5. Cold start", "", f"From launching `latent-explorer` to the window showing its first frame "
                f"(offscreen), {len(c['runs'])} runs: median {c['median_s']:.2f} s, runs "
                + ", ".join(f"{v:.2f}" for v in c["runs"]) + f" s. Target <= 3 s: {_verdict(c['median_s'] <= 3)}."
                + _cold_start_detail(c), ""]
    if "peak_memory" in it:
        out += ["## 6. Peak memory", "", "Peak resident memory of the app process with each shipped model loaded "
                "and rendered (its atlas loaded).", "", "| model | peak RSS MB |", "|---|---|"]
        for r in it["peak_memory"]:
            out.append(f"| {r['model']} | {r['peak_rss_mb']:.0f} |")
        out.append("")
    if "soak" in it:
        sk = it["soak"]
        acts = ", ".join(f"{v:,} {k}" for k, v in sk["actions"].items())
        ok = sk["growth_mb"] <= 50
        out += ["## 7. Soak: hours of use, compressed", "",
                f"The real main window (offscreen) driven for {sk['seconds'] / 60:.0f} minutes after a "
                f"{sk['warm_up_seconds']:.0f} s warm-up that used every model, dock and export once: {acts}, over "
                f"{', '.join(sk['models'])}.", "",
                f"Resident memory: {sk['baseline_mb']:.0f} MB after the warm-up, {sk['final_mb']:.0f} MB at the end, "
                f"{sk['max_mb']:.0f} MB at most. Growth, the least-squares trend over the run: "
                f"{sk['growth_mb']:+.1f} MB. Target <= 50 MB: {_verdict(ok)}."
                + (f" The trend's slope was {hs[0]:+.2f} MB/min in the first half and {hs[1]:+.2f} MB/min in the "
                   "second (a leak keeps its slope; caches filling up flatten)"
                   if (hs := sk.get("half_slopes_mb_per_min")) and None not in hs else "")
                + (f"; the median of the last quarter of samples minus the first sample, a cruder figure that "
                   f"rests on one sample, is {sk['tail_minus_first_mb']:+.1f} MB"
                   if sk.get("tail_minus_first_mb") is not None else "")
                + ". Samples are taken in one fixed state "
                "(first model, docks as at start, point at the origin, no worker busy, after the release of freed "
                "memory that the window does after 3 idle seconds) every "
                f"{sk['samples'][1][0] if len(sk['samples']) > 1 else 0:.0f} s or so; live widgets "
                f"{sk['widgets'][0]} at the start and {sk['widgets'][-1]} at the end.", ""]
        heap = sk.get("heap") or []
        if heap and "in_use" in heap[0]:
            ins = [h["in_use"] for h in heap]
            out += [f"The C heap (glibc's count of allocated blocks over all its arenas, blocks mapped on their own "
                    f"included): {ins[0]:.0f} MB in use at the baseline, "
                    f"{ins[-1]:.0f} MB at the end, {min(ins):.0f}-{max(ins):.0f} MB over all samples; tensors reachable "
                    f"from Python {heap[0]['tensors']:.0f} MB at the baseline and {heap[-1]['tensors']:.0f} MB at the end. "
                    "Before each sample's idle release the resident size was "
                    f"{sum(h['rss_before_idle_release'] - h['rss'] for h in heap) / len(heap):.0f} MB higher on average.", ""]
        if "allocator" in sk:
            out += [_allocator_text(sk), ""]
        out += [f"Error messages shown: {len(sk['errors'])}" + (": " + "; ".join(sk["errors"][:5]) if sk["errors"] else "")
                + f". Python warnings: {sum(sk['python_warnings'].values())}"
                + (" (" + "; ".join(f"{k} x{v}" for k, v in sk["python_warnings"].items()) + ")"
                   if sk["python_warnings"] else "")
                + f". Qt warnings: {sum(sk['qt_messages'].values())}"
                + (" (" + "; ".join(f"{k} x{v}" for k, v in sk["qt_messages"].items()) + ")" if sk["qt_messages"] else "")
                + (f"; the offscreen platform's own notes ({', '.join(sk['qt_benign'])}) are left out"
                   if sk.get("qt_benign") else "") + ".", ""]
    if "find" in it:
        from .find_items import find_section

        out += find_section(it["find"])
    if "evaluate" in it:
        from .evaluate_items import evaluate_section

        out += evaluate_section(it["evaluate"], _verdict)
    if "units" in it:
        from .unit_items import units_section

        out += units_section(it["units"])
    return "\n".join(out) + "\n"


def _allocator_text(sk: dict) -> str:
    """The soak's allocator settings, and the run with glibc's defaults to compare with."""
    b, settings = SOAK_BEFORE, sk["allocator"]
    if settings:
        head = (f"The window tunes glibc's allocator when it starts (models/memory.py `tune_allocator`): at most "
                f"{settings['arena_max']} arenas, and blocks of {settings['mmap_threshold'] // 1024} KB or more mapped "
                "on their own and unmapped when freed. Left at its defaults, glibc gives each short-lived worker "
                "thread (walk strips, atlas builds, history and comparison loads) an arena of its own, up to 16 on "
                "two cores, and lets large blocks move into them; the partly used pages those arenas keep are what "
                "made the resident size scatter and climb.")
    else:
        head = "glibc's allocator ran on its defaults in this run (no `tune_allocator`)."
    if not b:
        return head
    mb = np.array([m for _, m in sk["samples"]], float)
    moves = sk["actions"].get("slider moves", 0)
    return (head + f" This run's samples: mean {mb.mean():.0f} MB, standard deviation {mb.std():.0f} MB. The same soak "
            f"with glibc's defaults (`MALLOC_PERTURB_=0`, which makes `tune_allocator` step aside), {b['minutes']} "
            f"minutes on {b['date']} at {b['commit']}: {b['actions']}; resident memory {b['baseline_mb']:.0f} MB after "
            f"the warm-up, {b['final_mb']:.0f} at the end, {b['max_mb']:.0f} at most; growth {b['growth_mb']:+.1f} MB "
            f"(half slopes {b['half_slopes'][0]:+.2f} and {b['half_slopes'][1]:+.2f} MB/min); samples' mean "
            f"{b['mean_mb']:.0f} MB, standard deviation {b['sd_mb']:.0f} MB; live widgets {b['widgets'][0]} and "
            f"{b['widgets'][1]}. That run made {b['moves']:,} slider moves in the time this one made {moves:,} "
            f"({(moves / b['moves'] - 1) * 100:+.0f}%): mapping large blocks afresh costs page faults (a model-switch "
            "loop counted about 40% more), and the soak's actions wait for worker threads that allocate such blocks. "
            "The frame bench's UI time per drag move showed no difference beyond the machine's noise.")


def _cold_start_detail(c: dict) -> str:
    """How the cold start splits up; results written before the torch-free first frame
    (no ``engine_s``) imported torch before the window."""
    if "engine_s" not in c:
        return (" Of each run, starting Python and importing the app's modules (torch, Qt, pyqtgraph, h5py and "
                "ours) took " + ", ".join(f"{v:.2f}" for v in c["imports_s"]) + " s; the window, the model and the "
                "first render the rest.") if c.get("imports_s") else ""
    torch_in = sum(bool(v) for v in c.get("torch_at_first_frame", []))
    return (" The first frame comes from a numpy copy of the engine (`models/previewengine.py`), before torch is "
            "imported" + (f" (torch was already in at the first frame in {torch_in} of the runs)" if torch_in else
                          " (checked in every run)") + ". Of each run, starting Python and importing the app's "
            "modules (Qt, pyqtgraph, h5py and ours) took " + ", ".join(f"{v:.2f}" for v in c["imports_s"])
            + " s. Once the frames pause after the first one (250 ms), a background thread imports torch and loads "
            "the model with it; the torch engine was in at " + ", ".join(f"{v:.2f}" for v in c["engine_s"]) + " s (median "
            f"{statistics.median(c['engine_s']):.2f} s), until then frames come from numpy." + _cold_start_before())


def _cold_start_before() -> str:
    b = COLD_START_BEFORE

    def runs(groups) -> str:
        return " and ".join(f"{statistics.median(g):.2f} s (" + ", ".join(f"{v:.2f}" for v in g) + ")" for g in groups)

    return (f" Before and after, measured alternately (old, new, old, new) on {b['date']}: commit {b['commit']}, "
            f"which imported torch with the window's modules, medians {runs(b['old'])}; commit {b['after_commit']}, "
            f"medians {runs(b['new'])}.")


def sharp_lines(rows: list[dict]) -> list[str]:
    """Section 3's sharper atlases: the shipped 3-D and 4-D models at 128 and 48 per axis."""
    from .engine_items import SHARP_AGREEMENT, SHARP_MEGABYTES

    out = ["### Sharper atlases", "",
           "The shipped 3-D and 4-D generators at 128 and 48 points per axis, as `latent-explorer atlas build "
           "--method adaptive --stride 8 --finest 2` builds them (coarse grid every 8th point, cells whose corners "
           "disagree split down to 2 steps, the inside of the last ones labelled from their corners' interpolated "
           "classifier outputs), geometry overlays included; agreement: a random sample of the cells evaluated "
           "in full (`latent-explorer atlas check`). Wall time on the shared machine and the process's CPU time.", "",
           "| model | resolution | cells | evaluations | wall s | CPU s | overlays | file MB | sample | agreement "
           "| agreement where not evaluated | target |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        limit = r.get("target_seconds")
        ok = (r["agreement"] >= SHARP_AGREEMENT and r["megabytes"] <= SHARP_MEGABYTES
              and (limit is None or r["wall_seconds"] <= limit))
        target = (f"<= {limit / 60:.0f} min, >= {100 * SHARP_AGREEMENT:.1f}%, <= {SHARP_MEGABYTES:.0f} MB: "
                  f"{_verdict(ok)}" if limit else "smaller grid (quick mode)")
        out.append(f"| {r['model']} | {r['resolution']}^{r['latent_dim']} | {r['cells']:,} | {r['evaluations']:,} "
                   f"({100 * r['evaluations'] / r['cells']:.1f}%) | {r['wall_seconds']:.0f} | {r['cpu_seconds']:.0f} | "
                   f"{r['overlay_resolution']}^{r['latent_dim']}, {r['overlay_seconds']:.0f} s | {r['megabytes']:.1f} | "
                   f"{100 * r['fraction']:.0f}% ({r['sampled']:,}) | {100 * r['agreement']:.3f}% | "
                   f"{100 * r['agreement_not_evaluated']:.2f}% | {target} |")
    return out + [""]
