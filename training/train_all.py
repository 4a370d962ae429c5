"""``latent-explorer train all``: retrain every shipped generator within one wall-clock
budget, evaluate each, build its atlas, write its card and pack them into one archive.

Budget split: the five models of the main set (gan2d, gan3d, gan4d, cgan2d, cgan3d) get
14% of the minutes each, the four activation variants 7.5% each (70% + 30%).  The models
run in turn; model k's slot ends at the cumulative share of the budget from the start, so
time one model leaves unused goes to the next.  Its finishing work (evaluation, atlas,
card) is taken out of its slot.

The budget covers the whole command: training, evaluation, atlas, card and packing.  A small
part (``PACK_SHARE``) is kept for packing; each model's finishing work is predicted from the
speed of generator and classifier measured at the start (and corrected by each model's
actual finishing time), and where it would not fit its slot the evaluation's sample count
and the atlas's resolution are lowered (never below ``MIN_EVAL_SAMPLES`` and
``MIN_RESOLUTION``; the log, the manifest and the card say what they were).  One epoch per
model is the least a run can do: when even that does not fit, the log says so, with the
time it needs.

Epochs from the measured speed, so that the learning-rate decay runs to its end: each model
first trains one epoch of a 2-epoch run (with the explore recipe the first half of a run
has a constant rate, so that epoch is the same as the first epoch of any longer run), the
wall time of that epoch (training, monitoring, saving) sets how many epochs fit before the
deadline, and the run resumes with that many epochs planned -- bit for bit the run that
``train gan --epochs E`` would make.  Should the epochs turn out slower than the first, a
guard stops before an epoch that would end past the deadline (the card then says so).
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


# name -> (GanRun fields, share of the budget, atlas resolution of the shipped atlas)
MODELS: dict[str, tuple[dict, float, int]] = {
    "gan2d": (dict(latent_dim=2, class_entropy=3.0), 0.14, 256),  # as shipped (docs/training.md)
    "gan3d": (dict(latent_dim=3, class_entropy=3.0), 0.14, 64),
    "gan4d": (dict(latent_dim=4, class_entropy=3.0), 0.14, 24),
    "cgan2d": (dict(latent_dim=2, conditional=True), 0.14, 256),
    "cgan3d": (dict(latent_dim=3, conditional=True), 0.14, 32),
    "gan2d-relu": (dict(latent_dim=2, activation="relu"), 0.075, 256),
    "gan2d-leakyrelu": (dict(latent_dim=2, activation="leaky_relu"), 0.075, 256),
    "gan2d-prelu": (dict(latent_dim=2, activation="prelu"), 0.075, 256),
    "gan2d-elu": (dict(latent_dim=2, activation="elu"), 0.075, 256),
}
ARCHIVE_NAME = "shipped-models.tar"
ARCHIVE_TARGET_BYTES = 60 * 2 ** 20
PROBE_EPOCHS = 2  # the first epoch is trained as epoch 1 of a 2-epoch run (constant rate)
FINISH_SHARE = 0.4  # at most this share of a slot goes to finishing work before it is scaled down
PACK_SHARE = 0.02  # of the budget, kept for packing the archive (at least PACK_SECONDS)
PACK_SECONDS = 1.0
MIN_EVAL_SAMPLES = 100
MIN_RESOLUTION = {1: 64, 2: 24, 3: 8, 4: 6}  # per latent size: the least atlas that still shows the regions
DATA_SECONDS = 2.0  # reading MNIST for the evaluation (both splits), assumed before it is measured
REFERENCE_IMAGES = 10000  # the real test images the first evaluation measures once (cached after)


@dataclass
class TrainAll:
    minutes: float
    out: Path
    data: str | None = None
    device: str = "auto"
    limit: int = 0
    batch_size: int = 128
    seed: int = 0
    classifier: Path = Path("checkpoints/classifier.pt")
    atlas_resolution: int | None = None  # None: each model's shipped resolution
    eval_samples: int = 10000
    models: tuple[str, ...] = tuple(MODELS)
    compile: bool = False
    force: bool = False
    results: dict = field(default_factory=dict)

    def shares(self) -> dict[str, float]:
        total = sum(MODELS[m][1] for m in self.models)
        return {m: MODELS[m][1] / total for m in self.models}


def run_paths(folder: Path, name: str) -> dict[str, Path]:
    from .train_gan import run_paths as paths

    return paths(folder, name)


def model_files(folder: Path, name: str) -> dict[str, Path]:
    """The files of one trained model that ship (the training state does not)."""
    p = run_paths(folder, name)
    return {"checkpoint": p["checkpoint"], "history": p["history"], "atlas": folder / f"{name}.atlas.h5",
            "card": p["card"]}


def check_plan(plan: TrainAll) -> Path:
    """The run folder (DIR/models), after refusing what would overwrite an earlier run."""
    unknown = [m for m in plan.models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if not plan.models:
        raise ValueError("no models to train")
    twice = sorted({m for m in plan.models if plan.models.count(m) > 1})
    if twice:
        raise ValueError(f"--models names {', '.join(twice)} more than once; each model is trained once")
    if not plan.minutes > 0:
        raise ValueError(f"--minutes must be positive, got {plan.minutes}")
    work = plan.out / "models"
    if not plan.force:
        found = [plan.out / ARCHIVE_NAME] + [p for m in plan.models
                                             for p in [*model_files(work, m).values(), run_paths(work, m)["state"]]]
        found = [p for p in found if p.exists()]
        if found:
            raise FileExistsError(f"{found[0]}: already exists (an earlier train all in {plan.out}); pass --force "
                                  "to train again and replace it, or choose another --out")
    return work


@dataclass
class FinishPlan:
    """The finishing work of one model and its predicted seconds."""

    samples: int
    resolution: int
    seconds: float


def atlas_cells(latent_dim: int, conditional: bool, resolution: int) -> float:
    """Cells the atlas builder labels (``auto``: adaptive above the full builder's limit,
    where it labels about a third of them)."""
    from latent_explorer.models.atlas import FULL_LIMIT

    cells = resolution ** latent_dim * (10 if conditional else 1)
    return cells if cells <= FULL_LIMIT else 0.35 * cells


def predict_finish(image_seconds: float, latent_dim: int, conditional: bool, samples: int, resolution: int,
                   reference_cached: bool) -> float:
    """Seconds of evaluation, atlas and card, from the seconds one image costs the generator
    and the classifier together (the strong judge's image-epoch costs about a seventh of it)."""
    from .evaluate import COST, JUDGE_EPOCHS

    judge = min(8000, samples)
    units = samples * (COST["generate"] + COST["classify"]) + COST["judge"] * JUDGE_EPOCHS * 2 * judge
    units += 0 if reference_cached else COST["reference"] * REFERENCE_IMAGES
    unit = image_seconds / (COST["generate"] + COST["classify"])
    return DATA_SECONDS + units * unit + atlas_cells(latent_dim, conditional, resolution) * image_seconds + 0.5


def plan_finish(available: float, image_seconds: float, latent_dim: int, conditional: bool, samples: int,
                resolution: int, reference_cached: bool) -> FinishPlan:
    """The largest finishing work (down to the floors) predicted to fit in ``available`` s."""
    floor_res = min(resolution, MIN_RESOLUTION.get(latent_dim, 6))
    floor_samples = min(samples, MIN_EVAL_SAMPLES)
    while True:
        t = predict_finish(image_seconds, latent_dim, conditional, samples, resolution, reference_cached)
        if t <= available or (samples <= floor_samples and resolution <= floor_res):
            return FinishPlan(samples, resolution, t)
        samples = max(floor_samples, samples // 2)
        resolution = max(floor_res, int(resolution * 0.8))


def image_seconds(classifier) -> float:
    """Seconds one image costs a 2-D generator and the classifier together (timed on 256)."""
    import torch

    from latent_explorer.models.networks import GanConfig, Generator
    from latent_explorer.models.sampling import label_points

    g = Generator(GanConfig(2)).eval()
    z = torch.rand(256, 2) * 2 - 1
    label_points(g, classifier.model, z[:32])  # warm-up
    t = time.perf_counter()
    label_points(g, classifier.model, z)
    return (time.perf_counter() - t) / len(z)


def _clock(start: float) -> str:
    return f"[{time.perf_counter() - start:6.1f} s]"


def train_all(plan: TrainAll, log=print) -> Path:
    """Train, evaluate, map and card every model of ``plan``; returns the archive's path."""
    from latent_explorer.models.checkpoint import load_checkpoint

    from latent_explorer.models.model_archive import pack
    from .device import pick_device

    start = time.perf_counter()
    device = pick_device(plan.device)
    work = check_plan(plan)
    work.mkdir(parents=True, exist_ok=True)
    classifier = load_checkpoint(plan.classifier, expect="classifier")
    shares = plan.shares()
    budget = plan.minutes * 60
    pack_reserve = max(PACK_SECONDS, PACK_SHARE * budget)
    per_image = image_seconds(classifier)
    log(f"train all: {len(plan.models)} models in {plan.minutes:g} min on {device.type} (training, evaluation, "
        f"atlas, card and packing); budget split " + ", ".join(f"{m} {100 * s:.1f}%" for m, s in shares.items()))
    correction = 1.0  # actual over predicted finishing time, from the models finished so far
    reference_cached = False
    cumulative = 0.0
    entries = {}
    for k, name in enumerate(plan.models, 1):
        cumulative += shares[name]
        slot_end = start + (budget - pack_reserve) * cumulative
        slot = (budget - pack_reserve) * shares[name]
        d, conditional = MODELS[name][0]["latent_dim"], bool(MODELS[name][0].get("conditional"))
        resolution = plan.atlas_resolution or MODELS[name][2]
        finish = plan_finish(FINISH_SHARE * slot, per_image * correction, d, conditional, plan.eval_samples,
                             resolution, reference_cached)
        deadline = slot_end - finish.seconds
        log(f"{_clock(start)} [{k}/{len(plan.models)}] {name}: training until {deadline - start:.0f} s "
            f"(slot ends at {slot_end - start:.0f} s, {finish.seconds:.0f} s kept for evaluation, atlas and card)")
        run, info = _train_one(plan, name, work, deadline, start, log)
        # what is left of the slot now (training cannot stop inside its first epoch)
        finish = plan_finish(max(0.0, slot_end - time.perf_counter()), per_image * correction, d, conditional,
                             plan.eval_samples, resolution, reference_cached)
        if finish.samples < plan.eval_samples or finish.resolution < resolution:
            log(f"{_clock(start)}   {name}: to fit the budget: evaluation on {finish.samples:,} samples "
                f"(asked {plan.eval_samples:,}), atlas resolution {finish.resolution} (asked {resolution})")
        t_finish = time.perf_counter()
        entries[name] = _finish_one(plan, name, work, run, info, classifier, device, start, log,
                                    samples=finish.samples, resolution=finish.resolution)
        took = time.perf_counter() - t_finish
        correction = min(8.0, max(0.25, correction * took / max(finish.seconds, 1e-3)))
        reference_cached = True
        over = time.perf_counter() - slot_end
        if over > 0.1 * slot:
            log(f"{_clock(start)}   {name}: {over:.0f} s past its slot: one epoch and the smallest evaluation and "
                f"atlas take {time.perf_counter() - slot_end + slot:.0f} s here; the budget is too small for "
                f"{len(plan.models)} models (give more --minutes, fewer --models or a smaller --limit)")
    manifest = {
        "format": "latent-explorer-models", "version": 1,
        "command": " ".join(shlex.quote(a) for a in ["latent-explorer"] + sys.argv[1:]),
        "device": device.type, "minutes": plan.minutes, "training_images": plan.limit or 60000,
        "shares": shares, "seconds": round(time.perf_counter() - start, 1), "models": entries,
    }
    files = [p for name in plan.models for p in model_files(work, name).values()]
    archive = plan.out / ARCHIVE_NAME
    size = pack(archive, files, manifest)
    log(f"{_clock(start)} wrote {archive}: {len(files) + 1} files, {size / 2 ** 20:.1f} MB"
        + ("" if size < ARCHIVE_TARGET_BYTES else f" -- above the {ARCHIVE_TARGET_BYTES // 2 ** 20} MB target"))
    took = time.perf_counter() - start
    log(f"{_clock(start)} done in {took / 60:.1f} min of the {plan.minutes:g}-min budget"
        + ("" if took <= budget else f" ({took - budget:.0f} s over: the least work per model did not fit)"))
    plan.results = entries
    return archive


def _train_one(plan: TrainAll, name: str, work: Path, deadline: float, start: float, log) -> tuple:
    """One model: the probe epoch, then the epochs that fit before ``deadline``."""
    from .train_gan import GanRun, train_gan

    fields = MODELS[name][0]

    def make(epochs: int) -> GanRun:
        return GanRun(**fields, name=name, epochs=epochs, batch_size=plan.batch_size, seed=plan.seed,
                      device=plan.device, limit=plan.limit, eval_samples=plan.eval_samples, compile=plan.compile)

    calls: list[float] = []

    def probe_stop() -> bool:  # asked before each epoch: one epoch, timed from start to start
        calls.append(time.perf_counter())
        return len(calls) > 1

    quiet_log = (lambda *_: None)
    t_call = time.perf_counter()
    train_gan(make(PROBE_EPOCHS), plan.data, work, resume=False, classifier_path=plan.classifier,
              evaluate_at_end=False, quiet=True, log=quiet_log, should_stop=probe_stop)
    epoch_seconds = calls[1] - calls[0]
    setup = calls[0] - t_call  # loading data, classifier and state: the resumed call pays it again
    epochs = max(1, 1 + int((deadline - time.perf_counter() - setup) // epoch_seconds))
    log(f"{_clock(start)}   {name}: first epoch {epoch_seconds:.1f} s -> {epochs} epoch(s) planned")
    info = {"epochs_planned": epochs, "first_epoch_seconds": round(epoch_seconds, 2), "stopped_early": False}
    if epochs == 1:  # no room for a second epoch: the rate never decayed (the card says 1 of 2 planned)
        info.update(epochs_done=1, stopped_early=True)
        return make(PROBE_EPOCHS), info
    run = make(epochs)
    marks: list[float] = []

    def guard() -> bool:  # stop before an epoch that would end past the deadline
        now = time.perf_counter()
        marks.append(now)
        recent = [b - a for a, b in zip(marks[-4:], marks[-3:])] or [epoch_seconds]
        return now + max(recent) > deadline + 0.25 * epoch_seconds

    def progress(line: str) -> None:
        if " epoch " in line or "stopping" in line:
            log(f"{_clock(start)}   {line}")

    result = train_gan(run, plan.data, work, resume=True, classifier_path=plan.classifier, evaluate_at_end=False,
                       quiet=True, log=progress, should_stop=guard)
    info["epochs_done"] = int(result["epochs_done"])
    info["stopped_early"] = info["epochs_done"] < epochs
    return run, info


def _finish_one(plan: TrainAll, name: str, work: Path, run, info: dict, classifier, device, start, log,
                samples: int | None = None, resolution: int | None = None) -> dict:
    """Evaluate, build the atlas (on the run's device, the CPU if that fails), write the card."""
    from latent_explorer.models.atlas import build_atlas
    from latent_explorer.models.checkpoint import load_checkpoint

    from .card import write_card
    from .evaluate import evaluate_checkpoint

    files = model_files(work, name)
    info.setdefault("epochs_done", 1)
    from .progress import StageProgress

    progress = StageProgress(f"{name} evaluation")  # stderr, with the time left
    figures = evaluate_checkpoint(files["checkpoint"], plan.classifier, data=plan.data, device=plan.device,
                                  write=True, samples=samples or plan.eval_samples, progress=progress)
    progress.close()
    log(f"{_clock(start)}   {name}: evaluated: strong judge error {figures['strong_judge_error']:.4f}, "
        f"Frechet distance {figures['frechet_distance']:.1f}, digits present {figures.get('digits_present', '?')}/10")
    resolution = resolution or plan.atlas_resolution or MODELS[name][2]
    ck = load_checkpoint(files["checkpoint"], expect=("gan", "cgan"))
    try:
        ck.model.to(device), classifier.model.to(device)
        atlas = build_atlas(ck, classifier, resolution, files["atlas"], method="auto")
    except Exception as exc:  # a GPU that cannot take it: the CPU builds the same atlas
        if device.type == "cpu":
            raise
        log(f"{_clock(start)}   {name}: atlas on {device.type} failed ({exc}); building it on the CPU")
        ck.model.cpu(), classifier.model.cpu()
        atlas = build_atlas(ck, classifier, resolution, files["atlas"], method="auto")
    finally:
        classifier.model.cpu()
    log(f"{_clock(start)}   {name}: atlas {resolution} ({atlas.method}) {atlas.seconds:.1f} s")
    command = _equivalent_command(run, plan, info)
    write_card(files["checkpoint"], command=command)
    return {**info, "files": {k: p.name for k, p in files.items()}, "evaluation": figures, "eval_samples": figures["samples"],
            "atlas_resolution": resolution, "command": command}


def _equivalent_command(run, plan: TrainAll, info: dict) -> str:
    """The ``train gan`` command that makes the same model (what the card states)."""
    parts = ["latent-explorer", "train", "gan", "--latent-dim", str(run.latent_dim)]
    if run.conditional:
        parts.append("--conditional")
    if run.activation != "leaky_relu":
        parts += ["--activation", run.activation]
    parts += ["--epochs", str(run.epochs), "--batch-size", str(run.batch_size), "--seed", str(run.seed),
              "--device", plan.device, "--name", run.model_name]
    if run.limit:
        parts += ["--limit", str(run.limit)]
    made = f"made by: train all --minutes {plan.minutes:g}"
    if info["stopped_early"]:
        made += f"; stopped by the time budget after epoch {info['epochs_done']}"
    return " ".join(parts) + f"  ({made})"
