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

from latent_explorer.models.checkpoint import load_checkpoint
from latent_explorer.models.engine import Engine

from . import engine_items

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = ROOT / "checkpoints"
SHIPPED = ("gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d")
FRAME_KINDS = ("gan2d", "gan3d", "gan4d", "cgan3d")  # one per model kind for the frame-latency item


def machine() -> dict:
    from latent_explorer.training.train_gan import hardware_string

    return {"hardware": hardware_string(torch.device("cpu")), "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": str(torch.__version__), "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def available(models_dir: Path) -> list[Path]:
    return [models_dir / f"{n}.pt" for n in SHIPPED if (models_dir / f"{n}.pt").exists()]


ITEMS = ("frame", "engine", "atlas", "training", "startup", "memory", "find", "evaluate", "units")  # the default suite
EXTRA_ITEMS = ("soak", "sharp")  # run only when named: the soak takes as long as it is told to, the sharper
# atlases (3-D 128^3, 4-D 48^4, each checked on 10% of its cells) about half an hour


def run_suite(quick: bool, models_dir: Path, data: str | None, only: set[str] | None, log=print,
              soak_minutes: float = 20.0) -> dict:
    clf = load_checkpoint(models_dir / "classifier.pt", expect="classifier")
    models = available(models_dir)
    if not models:
        raise FileNotFoundError(f"{models_dir}: no shipped generator checkpoints to benchmark")
    res: dict = {"machine": machine(), "quick": quick, "command": "latent-explorer " + " ".join(sys.argv[1:]),
                 "items": {}}
    want = (lambda k: k in only if only is not None else k in ITEMS)
    t_all = time.perf_counter()
    item_seconds: dict[str, float] = {}  # wall time of each item, to see where the suite's time goes
    current: list = [None, 0.0]

    def begin(item: str | None, message: str = "") -> None:
        now = time.perf_counter()
        if current[0] is not None:
            item_seconds[current[0]] = item_seconds.get(current[0], 0.0) + now - current[1]
        current[0], current[1] = item, now
        if message:
            log(message)

    if want("frame"):
        from .gui_items import frame_latency

        begin("frame", "1. frame latency in the main window ...")
        # one model of each kind (2-D, 3-D, 4-D, conditional), 500 moves each as the issue asks
        kinds = [p for p in models if p.stem in FRAME_KINDS] or models
        res["items"]["frame_latency"] = frame_latency(kinds, moves=100 if quick else 500)
    if want("engine"):
        begin("engine", "2. engine step against a bare forward ...")
        rows = []
        for p in models:
            e = Engine(load_checkpoint(p), clf)
            r = engine_items.engine_overhead(e, reps=60 if quick else 300)
            r["model"] = p.stem
            rows.append(r)
        res["items"]["engine_overhead"] = rows
    if want("atlas"):
        begin("atlas", "3. atlas builders ...")
        rows = []
        by_name = {p.stem: p for p in models}
        if "gan2d" in by_name:
            rows += engine_items.atlas_compare(load_checkpoint(by_name["gan2d"]), clf,
                                               [32, 64] if quick else [64, 128, 192])
        if "gan3d" in by_name:
            rows += engine_items.atlas_compare(load_checkpoint(by_name["gan3d"]), clf,
                                               [12, 16] if quick else [16, 64])
        res["items"]["atlas"] = rows
        begin("throughput")
        first = load_checkpoint(by_name.get("gan2d", models[0]))
        res["items"]["throughput"] = engine_items.throughput(first, clf, points=512 if quick else 1024)
    if want("training"):
        begin("training", "4. training throughput ...")
        from latent_explorer.training.data import resolve_data_dir

        res["items"]["training"] = engine_items.training_overhead(resolve_data_dir(data), models_dir / "classifier.pt",
                                                                  images=1024 if quick else 3840)
        from .cuda_training import cuda_training

        res["items"]["training_cuda"] = cuda_training(resolve_data_dir(data), models_dir / "classifier.pt", quick)
    if want("startup") or want("memory"):
        from .gui_items import cold_start, peak_memory

        if want("startup"):
            begin("startup", "5. cold start ...")
            res["items"]["cold_start"] = cold_start(models_dir, runs=1 if quick else 3)
        if want("memory"):
            begin("memory", "6. peak memory ...")
            res["items"]["peak_memory"] = peak_memory(models_dir, models)
    if want("find"):
        from .find_items import find

        begin("find", "7. find a digit: projection and nearest training images ...")
        res["items"]["find"] = find(models, clf, data, quick)
    if want("evaluate"):
        from .evaluate_items import evaluation_times

        begin("evaluate", "8. evaluation ...")
        res["items"]["evaluate"] = evaluation_times(models, models_dir / "classifier.pt", data, quick)
    if want("units"):
        from .unit_items import units

        begin("units", "9. unit ranking: every channel of a layer switched off at every point ...")
        res["items"]["units"] = units(models, clf, quick)
    if want("sharp"):
        import tempfile

        begin("sharp", "9. sharper atlases: 3-D 128^3 and 4-D 48^4, adaptive with overlays, checked on 10% ...")
        by_name = {p.stem: p for p in models}
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, res_full, res_quick in (("gan3d", 128, 24), ("gan4d", 48, 12)):
                if name in by_name:
                    rows.append(engine_items.sharp_atlas(load_checkpoint(by_name[name]), clf,
                                                         res_quick if quick else res_full, tmp))
                    log(f"   {name}: {rows[-1]['wall_seconds']:.0f} s, {100 * rows[-1]['agreement']:.2f}%")
        res["items"]["sharp_atlas"] = rows
    if want("soak"):
        from .soak import soak

        begin("soak", f"9. soak: {soak_minutes:g} minutes of random use of the window ...")
        res["items"]["soak"] = soak(models, soak_minutes * 60, log=log)
    begin(None)
    res["seconds"] = time.perf_counter() - t_all
    res["item_seconds"] = {k: round(v, 1) for k, v in item_seconds.items()}
    return res


MAX_RESULTS_BYTES = 1 << 30  # an earlier results file larger than this is not read


def read_results(path: Path) -> dict | None:
    """The earlier results file, read whole and checked: None when there is none; ValueError
    naming it when it cannot be merged into (not a regular file, too large, not JSON, nested
    too deeply, or not shaped like results).  The command line calls it before the suite runs."""
    from latent_explorer.models.regular import open_regular

    path = Path(path)
    if not os.path.lexists(path):
        return None
    with open_regular(path, ValueError, "results file") as fh:  # a FIFO would hang the run
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_RESULTS_BYTES:
            raise ValueError(f"{path}: {size:,} bytes is larger than a results file may be ({MAX_RESULTS_BYTES:,})")
        text = fh.read()
    try:
        old = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not a results file ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(old, dict) or not isinstance(old.get("items"), dict):
        raise ValueError(f"{path}: not a results file (no 'items' object)")
    for key in ("runs", "machine", "item_seconds"):
        if key in old and not isinstance(old[key], dict):
            raise ValueError(f"{path}: not a results file ('{key}' is not an object)")
    if not all(isinstance(v, dict) for v in old.get("runs", {}).values()):
        raise ValueError(f"{path}: not a results file ('runs' holds something other than objects)")
    return old


def merge_results(previous: Path | dict | None, res: dict) -> dict:
    """Put a partial run's items into the results of earlier runs (``previous``: the file,
    kept when readable, or what :func:`read_results` read from it).

    Each item remembers the run that measured it (``runs``: item -> machine, date, command),
    so a merged file never passes off an old figure as new."""
    stamp = {"date": res["machine"]["date"], "command": res["command"], "quick": res["quick"],
             "hardware": res["machine"]["hardware"]}
    if isinstance(previous, dict) or previous is None:
        old = previous
    else:
        try:
            old = read_results(previous)
        except (OSError, ValueError):
            old = None
    if old is None:
        res["runs"] = {k: stamp for k in res["items"]}
        return res
    runs = dict(old.get("runs") or {})
    machine = old.get("machine") or {}
    for k in old["items"]:
        runs.setdefault(k, {"date": machine.get("date"), "command": old.get("command"),
                            "quick": old.get("quick"), "hardware": machine.get("hardware")})
    merged = dict(old)
    merged["items"] = {**old["items"], **res["items"]}
    merged["runs"] = {**runs, **{k: stamp for k in res["items"]}}
    # the suite's own wall time and command stay those of the last run of the whole default suite
    whole = set(ITEMS) <= set(res.get("item_seconds", {}))
    merged["seconds"] = res["seconds"] if whole else old.get("seconds", 0.0)
    merged["command"] = res["command"] if whole else old.get("command", res["command"])
    merged["machine"] = res["machine"] if whole else (machine or res["machine"])
    merged["item_seconds"] = {**(old.get("item_seconds") or {}), **res.get("item_seconds", {})}
    return merged
