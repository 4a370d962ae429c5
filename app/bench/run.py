"""Run the benchmark suite and write ``BENCHMARKS.md`` and ``bench-results.json``."""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from models.checkpoint import load_checkpoint
from models.engine import Engine

from . import engine_items

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = ROOT / "checkpoints"
SHIPPED = ("gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d")


def machine() -> dict:
    from training.train_gan import hardware_string

    return {"hardware": hardware_string(torch.device("cpu")), "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": str(torch.__version__), "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def available(models_dir: Path) -> list[Path]:
    return [models_dir / f"{n}.pt" for n in SHIPPED if (models_dir / f"{n}.pt").exists()]


def run_suite(quick: bool, models_dir: Path, data: str | None, only: set[str] | None, log=print) -> dict:
    clf = load_checkpoint(models_dir / "classifier.pt", expect="classifier")
    models = available(models_dir)
    if not models:
        raise FileNotFoundError(f"{models_dir}: no shipped generator checkpoints to benchmark")
    res: dict = {"machine": machine(), "quick": quick, "command": "latent-explorer " + " ".join(sys.argv[1:]),
                 "items": {}}
    want = (lambda k: only is None or k in only)
    t_all = time.perf_counter()
    if want("frame"):
        from .gui_items import frame_latency

        log("1. frame latency in the main window ...")
        res["items"]["frame_latency"] = frame_latency(models, moves=100 if quick else 500)
    if want("engine"):
        log("2. engine step against a bare forward ...")
        rows = []
        for p in models:
            e = Engine(load_checkpoint(p), clf)
            r = engine_items.engine_overhead(e, reps=60 if quick else 300)
            r["model"] = p.stem
            rows.append(r)
        res["items"]["engine_overhead"] = rows
    if want("atlas"):
        log("3. atlas builders ...")
        rows = []
        by_name = {p.stem: p for p in models}
        if "gan2d" in by_name:
            rows += engine_items.atlas_compare(load_checkpoint(by_name["gan2d"]), clf,
                                               [32, 64] if quick else [32, 64, 128, 256])
        if "gan3d" in by_name:
            rows += engine_items.atlas_compare(load_checkpoint(by_name["gan3d"]), clf,
                                               [12, 16] if quick else [16, 32, 64])
        res["items"]["atlas"] = rows
        first = load_checkpoint(by_name.get("gan2d", models[0]))
        res["items"]["throughput"] = engine_items.throughput(first, clf, points=1024 if quick else 4096)
    if want("training"):
        log("4. training throughput ...")
        from training.data import resolve_data_dir

        res["items"]["training"] = engine_items.training_overhead(resolve_data_dir(data), models_dir / "classifier.pt",
                                                                  images=1024 if quick else 6400)
    if want("startup") or want("memory"):
        from .gui_items import cold_start, peak_memory

        if want("startup"):
            log("5. cold start ...")
            res["items"]["cold_start"] = cold_start(models_dir, runs=1 if quick else 3)
        if want("memory"):
            log("6. peak memory ...")
            res["items"]["peak_memory"] = peak_memory(models_dir, models)
    res["seconds"] = time.perf_counter() - t_all
    return res
