"""Benchmark item ``training`` on a CUDA GPU: images per second of the bare GAN step at
several batch sizes, eager and ``torch.compile``d, and of the project's loop for a full
60,000-image epoch with its monitoring share (target: >= 100,000 images/s for the 2-D GAN,
monitoring <= 10% of an epoch).  Without a GPU it records that none was there."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

TARGET_IMAGES_PER_SECOND = 100_000


def step_rate(real: torch.Tensor, batch: int, steps: int, compile: bool = False, latent_dim: int = 2) -> float:
    """Images/s of the explore recipe's networks (projection-free unconditional pair with
    minibatch-std, bfloat16 autocast, channels-last, fused Adam) on ``real``'s device;
    the host waits for the GPU only at the end of the timed steps."""
    import torch.nn.functional as F

    from latent_explorer.models.networks import Discriminator, GanConfig, Generator
    from latent_explorer.training import fast
    from latent_explorer.training.device import autocast

    device = real.device
    torch.manual_seed(0)
    cfg = GanConfig(latent_dim)
    G = fast.prepare(Generator(cfg), device)
    D = fast.prepare(Discriminator(cfg, minibatch_std=True), device)
    og, od = fast.adam(G.parameters(), 2e-4, (0.5, 0.999), device), fast.adam(D.parameters(), 2e-4, (0.5, 0.999), device)
    g_fwd = torch.compile(G) if compile else G
    d_fwd = torch.compile(D) if compile else D
    n = len(real)

    def step(i: int) -> None:
        start = (i * batch) % (n - batch)
        x = real[start:start + batch]
        z = torch.rand(batch, latent_dim, device=device) * 2 - 1
        with autocast(device):
            fake = g_fwd(z)
            dr, df = d_fwd(x).float(), d_fwd(fake.detach()).float()
        ld = F.binary_cross_entropy_with_logits(dr, torch.full_like(dr, 0.9)) + \
            F.binary_cross_entropy_with_logits(df, torch.zeros_like(df))
        od.zero_grad(set_to_none=True)
        ld.backward()
        od.step()
        with autocast(device):
            dg = d_fwd(fake).float()
        lg = F.binary_cross_entropy_with_logits(dg, torch.ones_like(dg))
        og.zero_grad(set_to_none=True)
        lg.backward()
        og.step()

    for i in range(10):  # warm-up: cuDNN autotuning, compiling
        step(i)
    torch.cuda.synchronize(device)
    t = time.perf_counter()
    for i in range(steps):
        step(i)
    torch.cuda.synchronize(device)
    return steps * batch / (time.perf_counter() - t)


def cuda_training(data, classifier_path: Path, quick: bool = False) -> dict:
    """The CUDA figures, or ``{"available": False}`` on a machine without a GPU."""
    if not torch.cuda.is_available():
        return {"available": False}
    from latent_explorer.training.data import load_split, to_gan_range
    from latent_explorer.training.fast import configure, images
    from latent_explorer.training.train_gan import GanRun, train_gan

    device = torch.device("cuda")
    configure(device)
    real = images(to_gan_range(load_split("train", data).images), device)
    rows = []
    for batch in ((128, 1024) if quick else (128, 512, 2048)):
        for compiled in (False, True):
            row = {"batch": batch, "compiled": compiled}
            try:
                row["images_per_second"] = step_rate(real, batch, max(20, (20_000 if quick else 60_000) // batch),
                                                     compiled)
            except Exception as exc:  # compiling can fail on some installs: recorded, eager kept
                row["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
            rows.append(row)
    with tempfile.TemporaryDirectory() as tmp:  # the project's loop: 2 epochs, the second timed
        run = GanRun(latent_dim=2, epochs=2, batch_size=128, seed=0, device="cuda", limit=20_000 if quick else 0)
        result = train_gan(run, data=str(data), out=Path(tmp), classifier_path=classifier_path,
                           evaluate_at_end=False, quiet=True, log=lambda *_: None)
    t = result["timings"][-1]
    good = [r for r in rows if "images_per_second" in r]
    best = max(good, key=lambda r: r["images_per_second"]) if good else None
    return {"available": True, "device": torch.cuda.get_device_name(device), "rows": rows, "best": best,
            "project_images": t["images"], "project_images_per_second": t["images"] / t["train_seconds"],
            "project_monitor_seconds": t["monitor_seconds"],
            "project_monitor_share": t["monitor_seconds"] / (t["train_seconds"] + t["monitor_seconds"]),
            "target_images_per_second": TARGET_IMAGES_PER_SECOND}


def markdown(item: dict | None, run: dict | None = None) -> list[str]:
    """The section of BENCHMARKS.md for this item: its figures, or, where the results hold no
    CUDA result (``item`` None) or the run found no GPU, that there are none and how to get them.
    ``run`` is the item's entry of the results' ``runs`` (date and command), when known."""
    out = ["## 4b. Training throughput on a CUDA GPU", ""]
    if not item or not item.get("available"):
        if not item:
            who = "any run behind these results (none of them recorded a CUDA result)"
        elif run and run.get("date"):
            who = f"the run of {run['date']}" + (f" (`{run['command']}`)" if run.get("command") else "")
        else:
            who = "this run"
        return out + [f"No CUDA device was available to {who}, so there are no CUDA figures: the CUDA fast path, "
                      "`train all --device cuda` and NCCL training are not measured here. `latent-explorer bench "
                      "--only training` measures them on a machine with a CUDA GPU (target: >= "
                      f"{TARGET_IMAGES_PER_SECOND:,} images/s for the 2-D GAN on an H100/H200-class GPU, monitoring "
                      "<= 10% of an epoch); `tools/gpu_train_all.sh` is the prepared `train all` run.", ""]
    out += [f"{item['device']}: the bare step of the explore recipe's 2-D networks (bfloat16 autocast, channels-last, "
            "fused Adam, data on the GPU), eager and compiled, by batch size.", "",
            "| batch | torch.compile | images/s |", "|---|---|---|"]
    for r in item["rows"]:
        out.append(f"| {r['batch']} | {r['compiled']} | "
                   + (f"{r['images_per_second']:,.0f}" if "images_per_second" in r else f"failed: {r['error']}") + " |")
    best = item.get("best")
    share = item["project_monitor_share"]
    out += ["", f"The project's loop (`train_gan`, batch 128, {item['project_images']:,} images, second epoch): "
            f"{item['project_images_per_second']:,.0f} images/s in its steps, monitoring "
            f"{item['project_monitor_seconds']:.2f} s per epoch ({100 * share:.1f}% of it; target <= 10%: "
            f"{'met' if share <= 0.10 else 'not met'}). Best bare step: "
            + (f"{best['images_per_second']:,.0f} images/s (batch {best['batch']}, compiled {best['compiled']}); "
               f"target >= {TARGET_IMAGES_PER_SECOND:,}: "
               f"{'met' if best['images_per_second'] >= TARGET_IMAGES_PER_SECOND else 'not met'}." if best else
               "every setting failed."), ""]
    return out
