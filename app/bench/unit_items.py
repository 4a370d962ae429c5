"""Benchmark item ``units``: a full ranking of a layer's units (``models/unitrank.py``),
every channel switched off at every point, against the target of a 256-channel layer over
256 points in at most 10 s."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from latent_explorer.models.checkpoint import Checkpoint
from latent_explorer.models.registry import open_model

TARGET_S = 10.0
SCREENED = 32  # the window's fast ranking: each digit's 32 likeliest units switched off exactly


def units(paths: list[Path], clf: Checkpoint, quick: bool) -> dict:
    """gan2d's act0 (256 channels) over 256 points spread over the digits' regions, in
    float32 and bfloat16 (labels compared), then act1 (128) and act2 (64) in float32."""
    from latent_explorer.models.unitrank import points_for, rank_screened, rank_units

    path = next((p for p in paths if p.stem == "gan2d"), paths[0])
    model = open_model(path, clf)
    engine = model.engine
    n = 64 if quick else 256
    sampling = "classes" if model.atlas is not None else "uniform"
    pts = points_for(engine, n, sampling, atlas=model.atlas)
    rank_units(engine, pts, "act2", batch=256)  # warm-up
    rows, ref = [], None
    cases = (("act0", "float32", 0), ("act0", "bfloat16", 0), ("act0", "float32", SCREENED),
             ("act0", "bfloat16", SCREENED), ("act1", "float32", 0), ("act2", "float32", 0))
    for layer, precision, screened in cases:
        load0 = os.getloadavg()[0]
        c0, t0 = time.process_time(), time.perf_counter()
        if screened:
            r = rank_screened(engine, pts, layer, per_digit=screened, precision=precision)
        else:
            r = rank_units(engine, pts, layer, precision=precision)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pairs = int(np.isfinite(r.change).sum())
        row = {"model": path.stem, "layer": layer, "units": r.units, "points": n, "precision": precision,
               "screened": screened, "pairs": pairs,
               "seconds": wall, "cpu_seconds": cpu, "pairs_per_second": pairs / wall,
               "load_before": load0, "load_after": os.getloadavg()[0], "threads": torch.get_num_threads()}
        if layer == "act0" and precision == "float32" and not screened:
            ref = r
        elif layer == "act0" and ref is not None:
            row["max_prob_difference"] = float(np.nanmax(np.abs(r.probs - ref.probs)))
            row["top5_agreement"] = float(np.mean([_overlap(r, ref, k) for k in range(10) if ref.counts()[k]]))
        rows.append(row)
    return {"rows": rows, "target_seconds": TARGET_S, "sampling": sampling}


def _overlap(r, ref, digit: int, n: int = 5) -> float:
    """The share of ``ref``'s top ``n`` units for ``digit`` that ``r`` ranks in its top ``n`` too."""
    return len({u for u, _d, _c in r.top(digit, n)} & {u for u, _d, _c in ref.top(digit, n)}) / n


def units_section(res: dict) -> list[str]:
    rows = res["rows"]
    target = res["target_seconds"]

    def find(precision: str, screened: int) -> dict | None:
        return next((r for r in rows if r["layer"] == "act0" and r["precision"] == precision
                     and r.get("screened", 0) == screened), None)

    exact, fast = find("float32", 0), find("float32", SCREENED)
    full = exact is not None and exact["units"] == 256 and exact["points"] == 256

    def verdict(r: dict | None) -> str:
        if r is None:
            return "not measured"
        if not full:
            return f"not measured at full size (quick mode: {r['seconds']:.1f} s)"
        return f"{'met' if r['seconds'] <= target else 'NOT met'} ({r['seconds']:.1f} s)"

    fast_text = verdict(fast)
    if fast is not None and "top5_agreement" in fast:
        fast_text += f", its top 5 per digit the same as the full ranking's for {fast['top5_agreement']:.0%}"
    out = ["## Unit ranking: every unit of a layer switched off at every point", "",
           "`models/unitrank.py` (the window's Rank units tab, `latent-explorer units`): the generator runs once up "
           "to the layer; the units' edits pass the elementwise layers all at once and the next transposed "
           "convolution adds each channel's own contribution (one grouped convolution); the rest of the generator "
           "and the classifier then run once per (unit, point) pair. The fast ranking first estimates every unit's "
           "effect to first order (one backward pass) and switches off exactly only each digit's "
           f"{SCREENED} likeliest units at that digit's points. Points: {(exact or rows[0])['points']} spread over "
           f"the digits' regions ({res['sampling']}). Target: a 256-channel layer over 256 points in at most "
           f"{target:.0f} s. Every unit exactly (float32): {verdict(exact)}. Fast ranking (float32): {fast_text}.", "",
           "| model | layer | units x points | how | precision | pairs switched off | wall s | CPU s | pairs/s | "
           "load avg before / after | vs every unit exactly, float32 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        vs = ""
        if "max_prob_difference" in r:
            vs = f"max prob. diff. {r['max_prob_difference']:.3f}, top-5 agreement {r['top5_agreement']:.0%}"
        how = f"fast (top {r['screened']} per digit)" if r.get("screened") else "every unit"
        out.append(f"| {r['model']} | {r['layer']} | {r['units']} x {r['points']} | {how} | {r['precision']} | "
                   f"{r.get('pairs', r['units'] * r['points']):,} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                   f"{r['pairs_per_second']:,.0f} | {r['load_before']:.1f} / {r['load_after']:.1f} | {vs} |")
    loads = [v for r in rows for v in (r["load_before"], r["load_after"])]
    threads = rows[0].get("threads", 1)
    out += ["", f"The machine's 1-minute load average was {min(loads):.1f}-{max(loads):.1f} during this item (other "
            f"work shared its {os.cpu_count()} cores), so the wall times are several times what the ranking takes "
            f"alone. Its CPU time is what it costs: with {threads} threads, wall time on idle cores is at best the CPU "
            "time divided by the threads"
            + (f": {fast['cpu_seconds'] / threads:.1f} s for the fast ranking in float32" if fast else "")
            + (f" and {fb['cpu_seconds'] / threads:.1f} s in bfloat16" if (fb := find("bfloat16", SCREENED)) else "")
            + (f", {exact['cpu_seconds'] / threads:.1f} s for every unit exactly (float32)" if exact else "")
            + "."]
    out += ["", "Why every unit exactly is out of reach on this CPU: each of the 65,536 (unit, point) pairs needs "
            "the classifier (about 19 M multiply-adds per image) and, for act0, the generator after deconv1 (about "
            "10 M): some 1.9 T multiply-adds, while the raw labelling throughput above (generator and classifier, "
            "about 69 M each) is 1,300-2,100 images/s. bfloat16 roughly halves the time; the fast ranking does an "
            "eighth of the pairs.", ""]
    return out
