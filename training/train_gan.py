"""``latent-explorer train gan``: the GAN training loop with monitoring, per-epoch
atomic checkpoints and exact resume.

Each epoch seeds every random source from (seed, epoch), so a run interrupted after any
epoch and resumed ends with the same weights as one that was not interrupted.
"""
from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, read_payload, save_checkpoint, save_payload, state_digest
from latent_explorer.models.networks import Discriminator, GanConfig, Generator, sample_latent

from .data import data_checksum, load_split, resolve_data_dir, to_gan_range
from . import fast
from .device import autocast, cpu_has_bf16
from .distributed import from_environment
from .history import History
from .run_checks import check_history, check_sizes, check_state, load_into
from .monitor import Monitor
from .progress import Progress
from .recipe import (R1_EVERY, SETTINGS, Unroller, WeightAverage, class_entropy_loss, lr_factor, r1_penalty,
                     resolve)


@dataclass
class GanRun:
    latent_dim: int = 2
    conditional: bool = False
    activation: str = "leaky_relu"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    real_label: float = 0.9  # one-sided label smoothing for the discriminator
    seed: int = 0
    device: str = "auto"
    limit: int = 0
    name: str | None = None
    mixed_precision: bool = True
    map_precision: str | None = None  # None: bfloat16 where native, else float32
    map_resolution: int | None = None  # cells per axis of the per-epoch maps; None: 64 (conditional: 32 per digit)
    eval_samples: int = 10000
    compile: bool = False  # CUDA only: torch.compile the networks (eager if compiling fails)
    recipe: str = "explore"
    # each None takes the recipe's value (training/recipe.py); set, it overrides it
    ema: float | None = None
    lr_decay: float | None = None
    minibatch_std: bool | None = None
    unroll: int | None = None
    r1: float | None = None
    class_entropy: float | None = None
    g_conditioning: str | None = None
    d_conditioning: str | None = None

    def __post_init__(self) -> None:
        settings = resolve(self.recipe, self.conditional, **{k: getattr(self, k) for k in SETTINGS})
        for key, value in settings.items():  # stored resolved, so a state file says exactly what ran
            setattr(self, key, value)

    @property
    def config(self) -> GanConfig:
        return GanConfig(self.latent_dim, self.conditional, self.activation, conditioning=self.g_conditioning)

    @property
    def model_name(self) -> str:
        if self.name:
            return self.name
        base = f"{'c' if self.conditional else ''}gan{self.latent_dim}d"
        return base if self.activation == "leaky_relu" else f"{base}-{self.activation.replace('_', '')}"


# the settings of runs saved before recipes existed (their state files do not name them)
RECIPE_BEFORE = {"ema": 0.0, "lr_decay": 0.0, "minibatch_std": False, "unroll": 0, "r1": 0.0, "class_entropy": 0.0,
                 "g_conditioning": "shift", "d_conditioning": "mask"}


def run_paths(out: Path, name: str) -> dict[str, Path]:
    return {"checkpoint": out / f"{name}.pt", "history": out / f"{name}.history.h5",
            "state": out / f"{name}.state.pt", "card": out / f"{name}.md"}


def hardware_string(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {torch.get_num_threads()} threads" + (", bfloat16 autocast" if cpu_has_bf16() else "")


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2 ** 31)


def train_gan(run: GanRun, data: str | None, out: Path, resume: bool = False,
              classifier_path: Path | None = None, evaluate_at_end: bool = True, quiet: bool = False,
              log=print, should_stop=None, max_minutes: float = 0.0) -> dict:
    """Train (or resume) a GAN; returns the paths written and the final figures.

    Started by torchrun (``WORLD_SIZE`` > 1) it is one of several processes of one run
    (training/distributed.py): each trains on its share of every global batch and rank 0
    alone monitors and writes."""
    procs = from_environment(run.device)
    device = procs.device
    if procs.active and run.unroll > 0:
        raise ValueError("--unroll is not supported with several processes (torchrun); use one process")
    if not procs.main:  # one process reports and writes: the others train their share quietly
        log, quiet, evaluate_at_end = (lambda *_: None), True, False
    fast.configure(device)
    try:  # fail before any work if the run folder cannot take the files
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the run folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise PermissionError(f"cannot write in the run folder {out}: it is not writable")
    name = run.model_name
    paths = run_paths(out, name)
    config = run.config
    folder = resolve_data_dir(data)
    train = load_split("train", folder)
    n = check_sizes(run, len(train), str(folder))  # epochs, batch size and limit against the data, before any work
    x_all = fast.images(to_gan_range(train.images[:n]), device)
    y_all = torch.from_numpy(train.labels[:n]).long().to(device)
    classifier = load_checkpoint(classifier_path or Path("checkpoints/classifier.pt"), expect="classifier")
    clf_model = classifier.model.to(device)

    torch.manual_seed(run.seed)  # the initial weights depend on the seed alone
    G = fast.prepare(Generator(config), device)
    classes = run.class_entropy > 0
    D = fast.prepare(Discriminator(config, conditioning=run.d_conditioning, minibatch_std=run.minibatch_std,
                                   class_head=classes), device)
    opt_g = fast.adam(G.parameters(), run.lr, (run.beta1, 0.999), device)
    opt_d = fast.adam(D.parameters(), run.lr, (run.beta1, 0.999), device)
    average = WeightAverage(G, run.ema) if run.ema > 0 else None
    unroller = Unroller(D, opt_d, run.unroll) if run.unroll > 0 else None
    monitor = Monitor(config, clf_model, x_all, run.seed, resolution=run.map_resolution, precision=run.map_precision)
    history = History(name=name, config=config.to_dict(), planes=monitor.planes,
                      map_resolution=monitor.resolution, map_precision=monitor.precision, classifier_digest=classifier.digest)
    start_epoch, seconds_before = 0, 0.0
    earlier_evaluation = None  # a resumed run's last figures, kept with the epoch they describe
    if resume:
        if not paths["state"].exists():
            raise CheckpointError(f"{paths['state']}: no training state to resume from")
        state = read_payload(paths["state"])
        start_epoch, seconds_before = check_state(paths["state"], state, run)  # keys, types, epoch <= planned
        if state["run"]["latent_dim"] != run.latent_dim or state["run"]["conditional"] != run.conditional \
                or state["run"]["activation"] != run.activation:
            raise CheckpointError(f"{paths['state']}: was made for a different model ({state['run']})")
        saved = {k: state["run"].get(k, RECIPE_BEFORE[k]) for k in SETTINGS}
        if saved != {k: getattr(run, k) for k in SETTINGS}:
            raise CheckpointError(f"{paths['state']}: was trained with other recipe settings ({saved}); "
                                  "resume with the same --recipe and flags")
        load_into(paths["state"], state, {"generator": G, "discriminator": D, "opt_g": opt_g, "opt_d": opt_d,
                                          **({"average": average} if average is not None else {})})
        history = History.load(paths["history"])
        if history.map_resolution != monitor.resolution:  # the run's maps keep the size they began with
            monitor = Monitor(config, clf_model, x_all, run.seed, resolution=history.map_resolution,
                              precision=run.map_precision)
        check_history(paths["state"], history, start_epoch,
                      state["average"]["model"] if average is not None else state["generator"],
                      config.to_dict(), classifier.digest)
        history.truncate(start_epoch)
        earlier_evaluation = _earlier_evaluation(paths["checkpoint"])
        log(f"resuming {name} after epoch {start_epoch}")
    steps = procs.steps(n, run.batch_size)
    total_steps = steps * run.epochs
    # what the steps run: DistributedDataParallel copies under torchrun, compiled on CUDA when asked
    G_step = fast.CompiledOrEager(procs.wrap(G), run.compile, device, log, f"{name} generator")
    D_step = fast.CompiledOrEager(procs.wrap(D), run.compile, device, log, f"{name} discriminator")
    use_amp = run.mixed_precision
    shown = average.model if average is not None else G  # what is monitored, evaluated and saved

    def d_loss_of(disc, real, real_y, fake, fake_y, digits=None):
        """D's loss; with ``digits`` (the real images' labels, class_entropy on) also its class head's."""
        with autocast(device, use_amp):
            if digits is not None:
                d_real, d_classes = disc(real, real_y, with_classes=True)
                d_real = d_real.float()
            else:
                d_real = disc(real, real_y).float()
            d_fake = disc(fake, fake_y).float()
        loss = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, run.real_label)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        if digits is not None:
            loss = loss + F.cross_entropy(d_classes.float(), digits)
        return loss
    prev_map = history.maps[-1] if history.maps else None
    seconds = seconds_before
    wall_start = time.perf_counter()
    timings: list[dict] = []  # per epoch of this call: training and monitoring seconds
    stopped_early = False
    for epoch in range(start_epoch, run.epochs):
        if procs.any(bool((should_stop and should_stop())
                          or (max_minutes and time.perf_counter() - wall_start > 60 * max_minutes))):
            stopped_early = True
            log(f"{name}: stopping after epoch {epoch} ({'time budget' if max_minutes else 'asked to stop'})")
            break
        t0 = time.perf_counter()
        torch.manual_seed(_epoch_seed(run.seed, epoch))
        G.train(), D.train()
        perm = torch.randperm(n, device=device)
        g_losses = torch.zeros(steps, device=device)
        d_losses = torch.zeros(steps, device=device)
        bar = Progress(n, f"{name} epoch {epoch + 1}/{run.epochs}", unit="img", enabled=not quiet)
        for i in range(steps):
            factor = lr_factor(epoch * steps + i, total_steps, run.lr_decay)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = run.lr * factor
            idx = perm[i * run.batch_size:(i + 1) * run.batch_size]
            b = len(idx)  # the global batch: every process draws the same noise and labels
            z = torch.rand(b, run.latent_dim, device=device) * 2 - 1
            fake_y = torch.randint(0, 10, (b,), device=device) if run.conditional else None
            idx, z, fake_y = procs.shard(idx, z, fake_y)  # this process's rows (all of them alone)
            real, real_y = x_all[idx], y_all[idx]
            real_y = real_y if run.conditional else None
            with autocast(device, use_amp):
                fake = G_step(z, fake_y)
            d_loss = d_loss_of(D_step, real, real_y, fake.detach(), fake_y, y_all[idx] if classes else None)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            if run.r1 > 0 and i % R1_EVERY == 0:  # lazy R1 on this step's real images, gradients added to D's
                r1_penalty(D_step, real, real_y, run.r1).backward()
            opt_d.step()
            judge = D
            if unroller is not None:
                def shadow_step(disc, opt):
                    j = torch.randint(0, n, (b,), device=device)
                    loss = d_loss_of(disc, x_all[j], y_all[j] if run.conditional else None, fake.detach(), fake_y,
                                     y_all[j] if classes else None)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                judge = unroller.lookahead(shadow_step)
            with autocast(device, use_amp):
                d_gen = judge(fake, fake_y, with_classes=True) if classes else judge(fake, fake_y)
            if classes:
                d_gen, g_classes = d_gen
            d_gen = d_gen.float()
            g_loss = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            if classes:
                g_loss = g_loss + run.class_entropy * class_entropy_loss(g_classes)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if average is not None:
                average.update(G)
            g_losses[i] = g_loss.detach()
            d_losses[i] = d_loss.detach()
            bar.update(b)
        bar.close()
        train_seconds = time.perf_counter() - t0
        G.eval()
        if average is not None:
            average.recalibrate(run.latent_dim, run.conditional, device)
        g_losses, d_losses = procs.mean(g_losses), procs.mean(d_losses)
        if not procs.main:
            continue
        t_mon = time.perf_counter()
        record = monitor.epoch_record(shown, prev_map)
        timings.append({"epoch": epoch + 1, "train_seconds": train_seconds,
                        "monitor_seconds": time.perf_counter() - t_mon, "images": n})
        prev_map = record["map"]
        seconds += time.perf_counter() - t0
        history.g_loss.append(g_losses.cpu().numpy())
        history.d_loss.append(d_losses.cpu().numpy())
        for key in ("grid", "map", "map_conf"):
            getattr(history, {"grid": "grids", "map": "maps", "map_conf": "map_conf"}[key]).append(record[key])
        history.change_rate.append(record["change_rate"])
        history.weak_judge_acc.append(record["weak_judge_acc"])
        history.seconds.append(time.perf_counter() - t0)
        meta = _meta(run, device, epoch + 1, seconds, folder)
        if earlier_evaluation:
            meta["evaluation"] = earlier_evaluation
        if procs.active:
            meta["processes"] = procs.world
        digest = save_checkpoint(paths["checkpoint"], "cgan" if run.conditional else "gan", config.to_dict(), shown, meta)
        history.generator_digest = digest
        history.save(paths["history"])
        save_payload(paths["state"], {
            "format": "latent-explorer-train-state", "run": asdict(run), "epoch": epoch + 1, "seconds": seconds,
            "generator": G.state_dict(), "discriminator": D.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            **({"average": average.state_dict()} if average is not None else {})})
        digits = np.bincount(record["map"].ravel(), minlength=11)[:10]  # 10 = "not a digit"
        change = record["change_rate"]  # NaN at the first epoch: no map before it to compare with
        log(f"{name} epoch {epoch + 1}/{run.epochs}: D {d_losses.mean():.3f} G {g_losses.mean():.3f} "
            f"map change {'-' if change != change else f'{change:.3f}'} weak judge {record['weak_judge_acc']:.3f} "
            f"digits on map {int((digits > 0).sum())}/10 "
            f"({n / train_seconds:,.0f} img/s, {time.perf_counter() - t0:.0f} s)")
    result = {"checkpoint": paths["checkpoint"], "history": paths["history"], "state": paths["state"],
              "epochs_done": history.epochs, "timings": timings}
    command = " ".join(shlex.quote(a) for a in ["latent-explorer"] + sys.argv[1:])
    if evaluate_at_end and (history.epochs >= run.epochs or (stopped_early and max_minutes)):
        from .evaluate import evaluate_checkpoint
        from .card import write_card
        from .progress import StageProgress

        log(f"{name}: final evaluation of {run.eval_samples:,} generated images (progress on stderr)")
        progress = StageProgress(f"{name} final evaluation", enabled=not quiet)
        figures = evaluate_checkpoint(paths["checkpoint"], classifier_path or Path("checkpoints/classifier.pt"),
                                      data=folder, device=run.device, write=True,
                                      samples=run.eval_samples, progress=progress)
        progress.close()
        log(f"wrote {write_card(paths['checkpoint'], command=command)}")
        result["evaluation"] = figures
    elif procs.main and paths["card"].exists() and timings:
        # a card from an earlier call describes an earlier epoch: rewritten, it names the epoch its
        # figures describe and the epoch the model is at now
        from .card import write_card

        try:
            log(f"wrote {write_card(paths['checkpoint'], command=command)} (not evaluated at this epoch)")
        except (OSError, CheckpointError) as exc:  # the training is saved; only its old card stays
            log(f"{paths['card']}: not rewritten ({exc}); it describes an earlier epoch")
    procs.close()
    return result


def _earlier_evaluation(checkpoint: Path) -> dict | None:
    """The figures a run's checkpoint holds from an earlier call, with the epoch they
    describe (None when there are none or the file cannot be read)."""
    try:
        payload = read_payload(checkpoint)
        ev = dict(payload["meta"].get("evaluation") or {})
        if ev and not isinstance(ev.get("epoch"), int):
            ev["epoch"] = int(payload["meta"]["epochs"])
    except (CheckpointError, OSError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return ev or None


def _meta(run: GanRun, device: torch.device, epochs: int, seconds: float, folder: Path) -> dict:
    return {
        "name": run.model_name,
        "epochs": epochs,
        "epochs_planned": run.epochs,
        "batch_size": run.batch_size,
        "lr": run.lr,
        "beta1": run.beta1,
        "seed": run.seed,
        "recipe": run.recipe,
        **{k: getattr(run, k) for k in SETTINGS},
        "seconds": round(seconds, 1),
        "device": device.type,
        "hardware": hardware_string(device),
        "mixed_precision": bool(run.mixed_precision and (device.type == "cuda" or cpu_has_bf16())),
        "training_images": run.limit or 60000,
        "data_checksum": data_checksum(folder),
        "torch": str(torch.__version__),
        "command": " ".join(shlex.quote(a) for a in ["latent-explorer"] + sys.argv[1:]),
    }
