"""Benchmark items that need no window: engine overhead, atlas builders, raw throughput,
training throughput."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from latent_explorer.models.atlas import build_adaptive, build_full
from latent_explorer.models.checkpoint import Checkpoint
from latent_explorer.models.engine import Engine, RenderRequest
from latent_explorer.models.sampling import bulk_copy, label_points


def _median_ms(fn, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def engine_overhead(engine: Engine, reps: int = 300) -> dict:
    """One point: Engine.render (image + every layer + classifier) against a bare generator
    forward, interleaved so both see the same machine state."""
    g = engine.generator
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (reps, engine.latent_dim)).astype(np.float32)
    digit = 0 if engine.conditional else None
    label = torch.tensor([0]) if engine.conditional else None

    def bare(i=[0]):
        with torch.inference_mode():
            g(torch.from_numpy(pts[i[0] % reps][None]), label)
        i[0] += 1

    def full(i=[0]):
        engine.render(RenderRequest(tuple(float(v) for v in pts[i[0] % reps]), digit=digit))
        i[0] += 1

    def image_only(i=[0]):
        engine.render(RenderRequest(tuple(float(v) for v in pts[i[0] % reps]), digit=digit, capture=False))
        i[0] += 1

    for f in (bare, full, image_only):  # warm up
        for _ in range(10):
            f()
    b, f_, io = [], [], []
    for _ in range(reps):
        b.append(_median_ms(bare, 1)[0])
        f_.append(_median_ms(full, 1)[0])
        io.append(_median_ms(image_only, 1)[0])
    mb, mf, mi = statistics.median(b), statistics.median(f_), statistics.median(io)
    return {"bare_forward_ms": mb, "render_all_layers_ms": mf, "render_image_and_classifier_ms": mi,
            "overhead_ratio": mf / mb, "reps": reps}


def atlas_compare(generator: Checkpoint, classifier: Checkpoint, resolutions: list[int], stride: int = 4) -> list[dict]:
    """Full grid against the adaptive builder at each resolution: time, evaluations, agreement."""
    rows = []
    for r in resolutions:
        full = build_full(generator, classifier, r)
        adaptive = build_adaptive(generator, classifier, r, stride=stride)
        rows.append({"model": generator.name, "latent_dim": int(generator.config["latent_dim"]), "resolution": r,
                     "cells": int(full.labels.size),
                     "full_seconds": full.seconds, "full_evaluations": full.evaluations,
                     "adaptive_seconds": adaptive.seconds, "adaptive_evaluations": adaptive.evaluations,
                     "speedup": full.seconds / max(adaptive.seconds, 1e-9),
                     "agreement": float((full.labels == adaptive.labels).mean())})
    return rows


def throughput(generator: Checkpoint, classifier: Checkpoint, points: int = 4096) -> dict:
    """Points per second for batch size x threads x precision x memory format, and how
    many labels bfloat16 changes against float32."""
    d = int(generator.config["latent_dim"])
    rng = np.random.default_rng(1)
    z = torch.from_numpy(rng.uniform(-1, 1, (points, d)).astype(np.float32))
    labels = torch.zeros(points, dtype=torch.long) if generator.config.get("conditional") else None
    plain = (generator.model.eval(), classifier.model.eval())
    channels_last = (bulk_copy(generator.model), bulk_copy(classifier.model))  # as the atlas builders label
    threads0 = torch.get_num_threads()
    rows = []
    reference = None
    for threads in sorted({1, threads0}):
        torch.set_num_threads(threads)
        for cl in (False, True):
            g, c = channels_last if cl else plain
            for precision in ("float32", "bfloat16"):
                for batch in (128, 256, 1024):
                    label_points(g, c, z[:batch], None if labels is None else labels[:batch], batch=batch,
                                 precision=precision)  # warm-up
                    t = time.perf_counter()
                    lab, _ = label_points(g, c, z, labels, batch=batch, precision=precision)
                    secs = time.perf_counter() - t
                    if reference is None and precision == "float32":
                        reference = lab
                    rows.append({"threads": threads, "channels_last": cl, "precision": precision, "batch": batch,
                                 "points_per_second": points / secs,
                                 "labels_changed": int((lab != reference).sum()) if reference is not None else 0})
    torch.set_num_threads(threads0)
    best = max(rows, key=lambda r: r["points_per_second"])
    best32 = max((r for r in rows if r["precision"] == "float32"), key=lambda r: r["points_per_second"])
    return {"points": points, "rows": rows, "best": best, "best_float32": best32}


def plain_training_rate(latent_dim: int, batch: int, steps: int, real: torch.Tensor) -> float:
    """Images per second of a bare GAN loop (same networks, losses, bfloat16 autocast where
    native, no monitoring, no logging)."""
    import torch.nn.functional as F

    from latent_explorer.models.networks import Discriminator, GanConfig, Generator
    from latent_explorer.training.device import autocast

    torch.manual_seed(0)
    cfg = GanConfig(latent_dim)
    G, D = Generator(cfg), Discriminator(cfg)
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    dev = torch.device("cpu")

    def step(x):
        z = torch.rand(len(x), latent_dim) * 2 - 1
        with autocast(dev):
            fake = G(z)
            dr, df = D(x).float(), D(fake.detach()).float()
        ld = F.binary_cross_entropy_with_logits(dr, torch.full_like(dr, 0.9)) + \
            F.binary_cross_entropy_with_logits(df, torch.zeros_like(df))
        od.zero_grad(set_to_none=True)
        ld.backward()
        od.step()
        with autocast(dev):
            dg = D(fake).float()
        lg = F.binary_cross_entropy_with_logits(dg, torch.ones_like(dg))
        og.zero_grad(set_to_none=True)
        lg.backward()
        og.step()

    step(real[:batch])
    t = time.perf_counter()
    for i in range(steps):
        step(real[(i * batch) % (len(real) - batch):][:batch])
    return steps * batch / (time.perf_counter() - t)


def training_overhead(data: str | Path, classifier_path: Path, images: int, batch: int = 128) -> dict:
    """The project's training loop with its monitoring against the plain loop, same model
    and batch size, in one run.  The monitoring cost is per epoch, so its share is given
    for a full 60,000-image epoch."""
    import tempfile

    from latent_explorer.training.data import load_split, to_gan_range
    from latent_explorer.training.train_gan import GanRun, train_gan

    real = to_gan_range(load_split("train", data).images[:images])
    plain_before = plain_training_rate(2, batch, max(4, images // batch), real)
    with tempfile.TemporaryDirectory() as tmp:
        run = GanRun(latent_dim=2, epochs=1, batch_size=batch, limit=images, seed=0)
        result = train_gan(run, data=str(data), out=Path(tmp), classifier_path=classifier_path,
                           evaluate_at_end=False, quiet=True, log=lambda *_: None)
    plain_after = plain_training_rate(2, batch, max(4, images // batch), real)
    timing = result["timings"][0]
    project_rate = timing["images"] / timing["train_seconds"]
    plain = (plain_before + plain_after) / 2
    epoch_plain = 60000 / plain
    epoch_project = 60000 / project_rate + timing["monitor_seconds"]
    return {"images": images, "batch": batch, "plain_images_per_second": plain,
            "plain_rates": [plain_before, plain_after],
            "project_images_per_second_steps": project_rate, "monitor_seconds_per_epoch": timing["monitor_seconds"],
            "full_epoch_seconds_plain": epoch_plain, "full_epoch_seconds_project": epoch_project,
            "overhead": epoch_project / epoch_plain - 1}


SHARP_TARGETS = {3: (128, 300.0), 4: (48, 600.0)}  # latent size -> (resolution, seconds) on the 2-core CPU
SHARP_AGREEMENT = 0.995
SHARP_MEGABYTES = 25.0


def sharp_atlas(generator: Checkpoint, classifier: Checkpoint, resolution: int, folder, *, stride: int = 8,
                finest: int = 2, fraction: float = 0.1) -> dict:
    """One sharper atlas as ``latent-explorer atlas build --method adaptive --finest 2`` makes it
    (overlays included, saved to a file in ``folder``): wall and CPU time, evaluations, file
    size, and the agreement with a full evaluation of a random ``fraction`` of its cells."""
    from pathlib import Path

    from latent_explorer.models.atlas import build_atlas, sample_agreement
    from latent_explorer.models.geometry import default_resolution

    d, cond = int(generator.config["latent_dim"]), bool(generator.config.get("conditional"))
    out = Path(folder) / f"{generator.name}-{resolution}.atlas.h5"
    cpu0, t0 = time.process_time(), time.perf_counter()
    atlas = build_atlas(generator, classifier, resolution, out, method="adaptive", stride=stride, finest=finest,
                        overlay_resolution=min(resolution, default_resolution(d, cond)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    check = sample_agreement(atlas, generator, classifier, fraction=fraction)
    target = SHARP_TARGETS.get(d)
    row = {"model": generator.name, "latent_dim": d, "conditional": cond, "resolution": resolution,
           "cells": int(atlas.labels.size), "evaluations": atlas.evaluations, "method": atlas.method,
           "wall_seconds": wall, "cpu_seconds": cpu, "overlay_resolution": atlas.overlays.resolution,
           "overlay_seconds": atlas.overlays.seconds, "megabytes": out.stat().st_size / 2 ** 20,
           "fraction": fraction, "sampled": check["sampled"], "agreement": check["agreement"],
           "agreement_not_evaluated": check["agreement_not_evaluated"],
           "target_seconds": target[1] if target and target[0] == resolution else None,
           "threads": torch.get_num_threads()}
    out.unlink()
    return row
