"""Bench item ``evaluate``: the wall and CPU time of ``latent-explorer evaluate`` on shipped
models, first with the real test set's statistics computed (a fresh cache, as on a user's
first evaluation) and then with them cached (every later one).  Target: a 10,000-sample
evaluation in <= 60 s on the 2-core CPU."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0


def _timed(checkpoint: Path, classifier: Path, data, samples: int) -> dict:
    from latent_explorer.training.evaluate import evaluate_checkpoint

    t, c = time.perf_counter(), time.process_time()
    figures = evaluate_checkpoint(checkpoint, classifier, data=data, samples=samples)
    return {"seconds": round(time.perf_counter() - t, 2), "cpu_seconds": round(time.process_time() - c, 2),
            "confident_share": figures["confident_share"], "frechet_distance": figures["frechet_distance"],
            "strong_judge_error": figures["strong_judge_error"]}


def evaluation_times(models: list[Path], classifier: Path, data, quick: bool) -> dict:
    """Per model (gan2d and cgan2d where shipped): cold (statistics computed) and warm runs."""
    from latent_explorer.training import evaluate as ev

    samples = 1000 if quick else 10000
    wanted = [p for p in models if p.stem in ("gan2d", "cgan2d")] or models[:1]
    rows = []
    before = os.environ.get("LATENT_EXPLORER_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LATENT_EXPLORER_CACHE"] = cache  # a fresh cache: the first run computes the statistics
        try:
            for k, path in enumerate(wanted):
                if k == 0:
                    ev._REFERENCES.clear()
                    rows.append({"model": path.stem, "cache": "cold", **_timed(path, classifier, data, samples)})
                rows.append({"model": path.stem, "cache": "warm", **_timed(path, classifier, data, samples)})
        finally:
            if before is None:
                os.environ.pop("LATENT_EXPLORER_CACHE", None)
            else:
                os.environ["LATENT_EXPLORER_CACHE"] = before
    return {"samples": samples, "rows": rows, "target_seconds": TARGET_SECONDS}


def evaluate_section(item: dict, verdict) -> list[str]:
    rows = item["rows"]
    out = ["## 8. Evaluation (`latent-explorer evaluate`)", "",
           f"{item['samples']:,} generated images per model: one generator and one classifier pass, the strong judge "
           "trained on the same samples (one thread), Frechet statistics of the real test set computed once per "
           "classifier and data (cold: a fresh cache, as on a user's first evaluation; warm: every later one).", "",
           "| model | real test statistics | wall s | CPU s | confident | Frechet | strong judge error |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['cache']} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                   f"{100 * r['confident_share']:.1f}% | {r['frechet_distance']:.2f} | "
                   f"{100 * r['strong_judge_error']:.2f}% |")
    full = item["samples"] >= 10000
    worst = max(r["seconds"] for r in rows)
    out += ["", f"Target: a 10,000-sample evaluation in <= {item['target_seconds']:.0f} s: "
            + (f"{verdict(worst <= item['target_seconds'])} (slowest {worst:.0f} s)." if full else
               "not measured in quick mode (1,000 samples)."), ""]
    return out
