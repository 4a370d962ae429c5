"""The benchmark suite's parts that need no long run: real atlas and throughput items on
tiny grids, the Markdown report with its verdicts, merging of partial runs, and the CLI's
refusal of unknown items.  Timings are reported, never asserted."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from latent_explorer.app.bench import engine_items
from latent_explorer.app.bench.markdown import render_markdown
from latent_explorer.app.bench.run import ITEMS, machine, merge_results
from latent_explorer.models.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_results(classifier):
    g2 = load_checkpoint(ROOT / "checkpoints" / "gan2d.pt")
    g3 = load_checkpoint(ROOT / "checkpoints" / "gan3d.pt")
    rows = engine_items.atlas_compare(g2, classifier, [17]) + engine_items.atlas_compare(g3, classifier, [9])
    tp = engine_items.throughput(g2, classifier, points=64)
    return {"machine": machine(), "quick": True, "command": "latent-explorer bench --quick", "seconds": 12.0,
            "item_seconds": {"atlas": 10.0, "throughput": 2.0}, "items": {"atlas": rows, "throughput": tp}}


def test_atlas_rows_compare_the_two_builders(small_results):
    rows = small_results["items"]["atlas"]
    assert [(r["latent_dim"], r["resolution"], r["cells"]) for r in rows] == [(2, 17, 289), (3, 9, 729)]
    for r in rows:
        assert r["full_evaluations"] == r["cells"]
        assert 0 < r["adaptive_evaluations"] <= r["cells"]
        assert 0.95 <= r["agreement"] <= 1.0
        assert r["speedup"] > 0


def test_throughput_rows_cover_the_settings(small_results):
    tp = small_results["items"]["throughput"]
    settings = {(r["channels_last"], r["precision"], r["batch"]) for r in tp["rows"]}
    assert len(settings) == 2 * 2 * 3
    assert all(r["labels_changed"] == 0 for r in tp["rows"] if r["precision"] == "float32")
    assert tp["best_float32"]["precision"] == "float32"


def test_markdown_states_each_verdict(small_results):
    md = render_markdown(small_results)
    assert "## 3. Atlas builds" in md and "| gan3d | 9 | 729 |" in md
    assert "Largest 3D case measured here (9^3)" in md and "(quick mode ran a smaller cube)" in md
    assert "Wall time per item of the default suite: atlas 10 s, throughput 2 s." in md
    assert "Raw labelling throughput" in md
    slow = dict(small_results, quick=False, seconds=700.0)
    assert "under 10 minutes: NOT met" in render_markdown(slow)
    fast = dict(small_results, quick=False, seconds=590.0)
    assert "under 10 minutes: met" in render_markdown(fast)


def test_merge_keeps_earlier_items_and_says_which_run_measured_each(small_results, tmp_path):
    old = dict(small_results, command="latent-explorer bench", items={"cold_start": {"median_s": 2.5, "runs": [2.5]},
                                                                      "atlas": [{"stale": True}]},
               item_seconds={"startup": 9.0, "atlas": 400.0})
    old["machine"] = dict(old["machine"], date="2026-01-01 00:00 UTC")
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(old))
    new = dict(small_results, command="latent-explorer bench --only atlas")
    merged = merge_results(path, new)
    assert merged["items"]["cold_start"] == {"median_s": 2.5, "runs": [2.5]}  # kept
    assert merged["items"]["atlas"] == small_results["items"]["atlas"]  # replaced
    assert merged["runs"]["cold_start"]["date"] == "2026-01-01 00:00 UTC"
    assert merged["runs"]["atlas"]["command"] == "latent-explorer bench --only atlas"
    assert merged["item_seconds"] == {"startup": 9.0, "atlas": 10.0, "throughput": 2.0}
    assert "Items were measured by separate runs" in render_markdown(merged)
    assert merged["seconds"] == old["seconds"] and merged["command"] == "latent-explorer bench"  # a partial run
    whole = dict(small_results, command="latent-explorer bench --only " + ",".join(ITEMS), seconds=555.0,
                 item_seconds={k: 1.0 for k in ITEMS})
    merged = merge_results(path, whole)
    assert merged["seconds"] == 555.0 and merged["command"] == whole["command"]  # the whole suite ran again
    path.write_text("{not json")  # an unreadable earlier file: the new run stands alone
    alone = merge_results(path, dict(small_results))
    assert set(alone["items"]) == {"atlas", "throughput"}


def test_cli_refuses_unknown_items_and_writes_nothing(tmp_path):
    out = tmp_path / "B.md"
    r = subprocess.run([sys.executable, "-m", "app", "bench", "--only", "frame,warp", "--out", str(out),
                        "--json", str(tmp_path / "b.json")], capture_output=True, text=True)
    assert r.returncode == 1  # the CLI's exit status for a clear error
    assert "unknown item(s) warp" in r.stderr and "frame" in r.stderr
    assert not out.exists()


def test_only_help_names_every_item():
    from latent_explorer.app.bench.run import EXTRA_ITEMS
    from latent_explorer.app.cli import build_parser

    bench = build_parser()._subparsers._group_actions[0].choices["bench"]
    text = next(a.help for a in bench._actions if "--only" in a.option_strings)
    for item in ITEMS + EXTRA_ITEMS:
        assert item in text, (item, text)


def _frame_row(model, dock, every95, jump95):
    pct = lambda p95: {"p50_ms": p95 / 2, "p95_ms": p95, "max_ms": p95 * 2}  # noqa: E731
    return {"model": model, "activations": dock, "forward_ms": 2.0,
            "drag": {"moves": 500, "every_view": pct(every95), "to_marker": pct(4.0), "to_frame": pct(6.0),
                     "ui_cpu_p50_ms": 5.0},
            "jump": {"moves": 250, "every_view": pct(jump95), "to_marker": pct(5.0), "to_frame": pct(7.0),
                     "ui_cpu_p50_ms": 6.0},
            "paint_ms_per_move": {"xy slice": 1.25, "image": 0.5, "rest of the window": 0.001},
            "settle_s": 4.25, "opening_drag": None if dock else dict(pct(21.0), moves=180)}


def test_frame_section_states_what_it_measures_and_each_verdict(small_results):
    fl = {"moves": 500, "drag_step": 0.008, "paint_moves": 120, "load": [1.5, 1.2, 1.0],
          "rows": [_frame_row("gan3d", False, 15.0, 24.0), _frame_row("gan3d", True, 26.0, 20.0)]}
    md = render_markdown(dict(small_results, items={"frame_latency": fl}))
    assert "**to the marker**" in md and "**to the frame**" in md and "**every view**" in md
    assert "Machine load during the run (1, 5, 15 min): 1.50, 1.20, 1.00" in md
    # the moves are timed once the model's opening work has ended; the drags made meanwhile are given too
    assert "it ended 4.2 s (gan3d) after the model opened" in md
    assert "while it computes (dock hidden), every view p50 / p95: gan3d 10.5 / 21.0 ms (180 moves)" in md
    # before and after, drag and jump verdicts in one row per model and dock, the first bench's figures last
    from latent_explorer.app.bench.markdown import BEFORE_RUN

    b = BEFORE_RUN["rows"][("gan3d", False)]
    assert (f"| gan3d | hidden | {b[0]:.1f} / {b[1]:.1f} → 7.5 / 15.0 | 4.0 | 6.0 | met | {b[2]:.1f} / {b[3]:.1f} → "
            f"12.0 / 24.0 | met | {b[4]:.1f} → 5.0 ms | 24.9 (18.8) |") in md
    b = BEFORE_RUN["rows"][("gan3d", True)]
    assert (f"| gan3d | shown | {b[0]:.1f} / {b[1]:.1f} → 13.0 / 26.0 | 4.0 | 6.0 | NOT met | {b[2]:.1f} / {b[3]:.1f} → "
            f"10.0 / 20.0 | met | {b[4]:.1f} → 5.0 ms | 39.3 (28.7) |") in md
    assert f"under load {', '.join(f'{v:.2f}' for v in BEFORE_RUN['load'])}" in md  # both runs' load
    # slowest view first, negligible ones left out, the paint of all views before and after
    assert (f"| gan3d | hidden | {BEFORE_RUN['rows'][('gan3d', False)][5]:.2f} → 1.75 | xy slice 1.25, image 0.50 |"
            in md)


def test_regenerated_markdown_keeps_the_cuda_section_without_cuda_results(tmp_path):
    """Section 4b comes from the generator: regenerating from results that hold no CUDA item
    (the project's own results file, any CUDA item taken out, merged with a partial run as
    `bench --only` does) states that there are no CUDA figures and how to measure them."""
    old = json.loads((ROOT / "bench-results.json").read_text())
    old["items"].pop("training_cuda", None)
    (old.get("runs") or {}).pop("training_cuda", None)
    path = tmp_path / "bench-results.json"
    path.write_text(json.dumps(old))
    new = {"machine": dict(machine(), date="2026-12-01 05:00 UTC"), "quick": True, "seconds": 3.0,
           "command": "latent-explorer bench --only startup", "item_seconds": {"startup": 3.0},
           "items": {"cold_start": {"median_s": 2.0, "runs": [2.0]}}}
    md = render_markdown(merge_results(path, new))
    section = md.split("## 4b. Training throughput on a CUDA GPU\n", 1)[1].split("\n## ", 1)[0]
    assert "No CUDA device was available to any run behind these results" in section
    assert "there are no CUDA figures" in section and "| batch |" not in section
    assert "`latent-explorer bench --only training`" in section and "tools/gpu_train_all.sh" in section
    assert md.index("## 4b.") < md.index("## 5. Cold start")  # in its place after section 4
    # a run that looked for a GPU and found none is named with its date and command
    stamp = {"date": "2026-12-01 04:00 UTC", "command": "latent-explorer bench --only training"}
    md = render_markdown(dict(old, items={"training_cuda": {"available": False}}, runs={"training_cuda": stamp}))
    assert ("No CUDA device was available to the run of 2026-12-01 04:00 UTC (`latent-explorer bench --only "
            "training`), so there are no CUDA figures") in md


def test_cuda_section_gives_the_figures_when_a_gpu_was_measured(small_results):
    rows = [{"batch": 512, "compiled": False, "images_per_second": 120_000.0},
            {"batch": 512, "compiled": True, "error": "RuntimeError: no compiler"}]
    item = {"available": True, "device": "NVIDIA H200", "rows": rows, "best": rows[0], "project_images": 60_000,
            "project_images_per_second": 50_000.0, "project_monitor_seconds": 0.1, "project_monitor_share": 0.05,
            "target_images_per_second": 100_000}
    md = render_markdown(dict(small_results, items={"training_cuda": item}))
    section = md.split("## 4b. Training throughput on a CUDA GPU\n", 1)[1]
    assert "No CUDA device" not in section and section.lstrip().startswith("NVIDIA H200:")
    assert "| 512 | False | 120,000 |" in section and "| 512 | True | failed: RuntimeError: no compiler |" in section
    assert "target >= 100,000: met" in section and "(5.0% of it; target <= 10%: met)" in section


def test_cold_start_section_says_how_much_of_it_is_imports(small_results):
    c = {"median_s": 3.4, "runs": [3.4, 3.1, 3.6], "imports_s": [2.6, 2.4, 2.8]}
    md = render_markdown(dict(small_results, items={"cold_start": c}))
    assert "median 3.40 s, runs 3.40, 3.10, 3.60 s. Target <= 3 s: NOT met." in md
    assert "importing the app's modules (torch, Qt, pyqtgraph, h5py and ours) took 2.60, 2.40, 2.80 s" in md
    md = render_markdown(dict(small_results, items={"cold_start": {"median_s": 2.5, "runs": [2.5]}}))
    assert "Target <= 3 s: met." in md and "importing" not in md  # results of the older bench


def test_cold_start_section_says_when_torch_came(small_results):
    c = {"median_s": 1.6, "runs": [1.5, 1.6, 1.9], "imports_s": [1.0, 1.1, 1.2], "engine_s": [3.5, 3.7, 3.6],
         "torch_at_first_frame": [False, False, False]}
    md = render_markdown(dict(small_results, items={"cold_start": c}))
    assert "median 1.60 s, runs 1.50, 1.60, 1.90 s. Target <= 3 s: met." in md
    assert "before torch is imported (checked in every run)" in md
    assert "(Qt, pyqtgraph, h5py and ours) took 1.00, 1.10, 1.20 s" in md
    assert "the torch engine was in at 3.50, 3.70, 3.60 s (median 3.60 s)" in md
    assert "commit de70053, which imported torch with the window's modules, medians 3.31 s (3.43, 3.28, 3.31)" in md
    md = render_markdown(dict(small_results, items={"cold_start": dict(c, torch_at_first_frame=[True, False, False])}))
    assert "torch was already in at the first frame in 1 of the runs" in md


def test_evaluation_item_times_a_real_evaluation_and_states_the_target(small_results):
    from latent_explorer.app.bench.evaluate_items import _timed
    from tests.conftest import find_mnist

    row = _timed(ROOT / "checkpoints" / "gan2d.pt", ROOT / "checkpoints" / "classifier.pt", find_mnist(), 100)
    assert row["seconds"] > 0 and row["cpu_seconds"] > 0 and 0 <= row["confident_share"] <= 1
    item = {"samples": 10000, "target_seconds": 60.0,
            "rows": [{"model": "gan2d", "cache": "cold", **row}, {"model": "gan2d", "cache": "warm", **row,
                                                                   "seconds": 75.0}]}
    text = render_markdown(dict(small_results, items={**small_results["items"], "evaluate": item}))
    assert "## 8. Evaluation (`latent-explorer evaluate`)" in text and "| gan2d | warm | 75.0 |" in text
    assert "<= 60 s: NOT met (slowest 75 s)" in text


def test_units_section_states_the_target_and_its_verdict():
    base = {"machine": machine(), "quick": False, "command": "latent-explorer bench --only units", "seconds": 80.0}
    rows = [{"model": "gan2d", "layer": "act0", "units": 256, "points": 256, "precision": p, "screened": k,
             "pairs": 65536 // (8 if k else 1), "seconds": s, "cpu_seconds": s * 2,
             "pairs_per_second": 65536 / s, "load_before": 1.0, "load_after": 2.0, "threads": 2}
            for p, k, s in (("float32", 0, 42.0), ("bfloat16", 0, 21.0), ("float32", 32, 9.0))]
    rows[1].update(max_prob_difference=0.012, top5_agreement=0.9)
    rows[2].update(max_prob_difference=0.0, top5_agreement=0.96)
    units = {"rows": rows, "target_seconds": 10.0, "sampling": "classes"}
    md = render_markdown(dict(base, items={"units": units}))
    assert "Every unit exactly (float32): NOT met (42.0 s). Fast ranking (float32): met (9.0 s), its top 5 per " \
           "digit the same as the full ranking's for 96%." in md
    assert "| gan2d | act0 | 256 x 256 | every unit | bfloat16 | 65,536 | 21.0 | 42.0 | 3,121 | 1.0 / 2.0 | max prob. " \
           "diff. 0.012, top-5 agreement 90% |" in md
    assert "| fast (top 32 per digit) | float32 | 8,192 | 9.0 |" in md
    rows[2]["seconds"] = 12.5
    md = render_markdown(dict(base, items={"units": units}))
    assert "Fast ranking (float32): NOT met (12.5 s)" in md
