"""Final evaluation of a generator: the strong real-vs-generated judge, classifier
confidence and digit coverage, a Frechet distance on the classifier's features, the
perceptual path length, and conditional agreement.  ``latent-explorer evaluate CHECKPOINT`` recomputes these.

Cost (profiled with cProfile on the 2-core CPU; BENCHMARKS.md has the evaluation row): one
generator pass and one classifier pass over the samples, which the figures share (the
classifier's probabilities, its "not a digit" scores and its features for the Frechet
distance come from the same pass; the strong judge trains on the same samples); the real
test set's features (mean and covariance) and its confident share depend only on the data
and the classifier, so they are computed once and cached (in memory and in the per-user
cache).  The strong judge trains on one thread: its layers are small, and on a shared
2-core CPU two threads made each step five times dearer in CPU time.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latent_explorer.models.checkpoint import CheckpointError, load_checkpoint, read_payload, save_payload
from latent_explorer.models.digitness import features as judge_features
from latent_explorer.models.frame import INVALID_IMAGE
from latent_explorer.models.geometry import PPL_SAMPLES, perceptual_path_length
from latent_explorer.models.networks import sample_latent
from latent_explorer.models.sampling import bulk_copy, generate

from .data import load_split, resolve_data_dir, to_gan_range
from .device import pick_device

CONFIDENT = 0.9
BLANK_PIXELS = 20  # an image with fewer pixels brighter than mid-grey (> 0 in [-1, 1]) counts as blank
SPREAD_SAMPLES = 300  # images per digit for the within-label spread
JUDGE_TEST = 2000  # real and generated images on which the strong judge is tested (at most as many as it trains on)
JUDGE_EPOCHS = 5
REFERENCE_VERSION = 1
# relative cost of one unit of each stage (CPU time on the 2-core machine), for the progress estimate
COST = {"generate": 1.0, "classify": 1.1, "judge": 0.15, "reference": 1.1}

Progress = Callable[[str, float, float], None]  # (stage, units done so far in all, units in all)


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of images (pixels in [0, 1])."""
    flat = ((images.reshape(len(images), -1).double() + 1) / 2)
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


def within_label_spread(generator: nn.Module, latent_dim: int, real: torch.Tensor, real_labels: np.ndarray,
                        seed: int = 0, samples: int = SPREAD_SAMPLES,
                        fake: torch.Tensor | None = None, fake_labels: torch.Tensor | None = None) -> list[float]:
    """Per digit: the mean pairwise pixel distance of a conditional generator's images of that
    label over that of real MNIST images of that digit (1.0 = as varied as real digits).
    Images already generated (``fake`` with ``fake_labels``) are used where they hold
    ``samples`` of a label; the rest are generated."""
    g = torch.Generator().manual_seed(seed + 77)
    out = []
    for k in range(10):
        have = None if fake is None else fake[fake_labels == k][:samples]
        if have is not None and len(have) == samples:
            images = have
        else:
            z = sample_latent(samples, latent_dim, g)
            images = generate(generator, z, torch.full((samples,), k, dtype=torch.long))
        idx = np.flatnonzero(real_labels == k)[:samples]
        out.append(mean_pairwise_distance(images) / max(mean_pairwise_distance(real[idx]), 1e-12))
    return out


class StrongJudge(nn.Module):
    """A small CNN trained to tell real from generated images."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread inside the block (the thread count is restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def strong_judge_error(real_train: torch.Tensor, fake_train: torch.Tensor, real_test: torch.Tensor,
                       fake_test: torch.Tensor, epochs: int = JUDGE_EPOCHS, seed: int = 0,
                       step: Callable[[int], None] | None = None) -> float:
    """Held-out error of the strong judge (0.5 means it cannot tell real from generated).
    ``step(n)`` is told after each batch of ``n`` images."""
    torch.manual_seed(seed)
    judge = StrongJudge()
    opt = torch.optim.Adam(judge.parameters(), lr=1e-3)
    x = torch.cat([real_train, fake_train])
    y = torch.cat([torch.ones(len(real_train)), torch.zeros(len(fake_train))])
    g = torch.Generator().manual_seed(seed)
    with one_thread():
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 128):
                idx = perm[i:i + 128]
                loss = F.binary_cross_entropy_with_logits(judge(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if step is not None:
                    step(len(idx))
        judge.eval()
        with torch.inference_mode():
            wrong = (judge(real_test) <= 0).sum() + (judge(fake_test) > 0).sum()
    return int(wrong) / (len(real_test) + len(fake_test))


@torch.inference_mode()
def features(classifier: nn.Module, images: torch.Tensor, batch: int = 2000) -> np.ndarray:
    classifier.eval()
    return torch.cat([classifier.embed(images[i:i + batch]) for i in range(0, len(images), batch)]).double().numpy()


@dataclass
class Pass:
    """One classifier pass over images: probabilities, "not a digit" scores, penultimate features."""

    probs: torch.Tensor   # (N, 10) float32
    score: np.ndarray     # (N,) float64; > 0: not a digit (NaN without a calibration: every image a digit)
    feats: np.ndarray     # (N, F) float64

    @property
    def is_digit(self) -> torch.Tensor:
        return torch.from_numpy(~(self.score > 0))


@torch.inference_mode()
def classifier_pass(classifier: nn.Module, images: torch.Tensor, batch: int = 1000,
                    step: Callable[[int], None] | None = None) -> Pass:
    """The classifier's answer for every image in one pass (a private channels-last copy, float32)."""
    model = bulk_copy(classifier)
    cal = getattr(classifier, "digitness", None)
    probs, scores, feats = [], [], []
    for i in range(0, len(images), batch):
        f, logits = judge_features(model, images[i:i + batch].contiguous(memory_format=torch.channels_last))
        probs.append(F.softmax(logits, dim=1))
        scores.append(cal.scores(f).numpy() if cal is not None else np.full(len(logits), np.nan))
        feats.append(f["penultimate"].double().numpy())
        if step is not None:
            step(len(logits))
    if not probs:
        return Pass(torch.empty(0, 10), np.empty(0), np.empty((0, 0)))
    return Pass(torch.cat(probs), np.concatenate(scores), np.concatenate(feats))


def gaussian(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set (float64)."""
    return feats.mean(0), np.cov(feats, rowvar=False)


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Frechet distance between two Gaussians."""
    # tr sqrtm(s1 s2) = sum of sqrt(eigenvalues of s1^1/2 s2 s1^1/2), a symmetric PSD matrix:
    # stable for singular covariances (few samples), with no complex parts to drop
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets."""
    return frechet_from_stats(*gaussian(a), *gaussian(b))


# ------------------------------------------------------------------ what depends only on the data and the classifier

@dataclass
class Reference:
    """The real test set seen by the classifier: its feature mean and covariance (for the
    Frechet distance) and its share of confident images.  Depends on nothing else."""

    key: str
    mu: np.ndarray
    cov: np.ndarray
    real_confident_share: float


_REFERENCES: dict[str, Reference] = {}


def reference_key(classifier_digest: str, test_images: np.ndarray) -> str:
    data = hashlib.sha256(np.ascontiguousarray(test_images).tobytes()).hexdigest()[:16]
    return f"v{REFERENCE_VERSION}-{classifier_digest[:16]}-{data}"


def reference_path(key: str, cache: Path | None = None) -> Path:
    from latent_explorer.models.registry import cache_dir

    return (cache if cache is not None else cache_dir()) / "evaluation" / f"real-{key}.npz"


def _load_reference(path: Path, key: str, width: int) -> Reference:
    """A cached reference; ValueError when it is damaged or made for something else (only a
    regular file is read, its entries' shapes checked)."""
    from latent_explorer.models.regular import open_regular

    with open_regular(path, ValueError, "evaluation cache") as fh, np.load(fh, allow_pickle=False) as z:
        if set(z.files) != {"key", "mu", "cov", "real_confident_share"}:
            raise ValueError("unexpected entries")
        if str(z["key"]) != key:
            raise ValueError("made for other data or another classifier")
        mu, cov, share = z["mu"], z["cov"], z["real_confident_share"]
        if mu.shape != (width,) or cov.shape != (width, width) or share.shape != () \
                or not all(a.dtype == np.float64 for a in (mu, cov, share)):
            raise ValueError("unexpected shapes or types")
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov)) and 0 <= float(share) <= 1):
            raise ValueError("values out of range")
        return Reference(key, mu.copy(), cov.copy(), float(share))


def reference(classifier: nn.Module, digest: str | None, test_images: np.ndarray, real_test: torch.Tensor,
              cache: Path | None = None, step: Callable[[int], None] | None = None, memo: bool = True) -> Reference:
    """The real test set's :class:`Reference`: from memory (``memo``), else from the per-user cache,
    else computed (one classifier pass) and cached (``digest``: the classifier's weights
    digest; None computes it afresh, uncached).  A cache that cannot be read or written is
    passed by (the figures are the same either way)."""
    import zipfile

    from latent_explorer.models.fileio import atomic_write_bytes

    key = reference_key(digest, test_images) if digest else ""
    if memo and key in _REFERENCES:
        return _REFERENCES[key]
    path = reference_path(key, cache) if key else None
    width = int(getattr(getattr(classifier, "config", None), "features", 0))
    ref = None
    if path is not None and width and os.path.lexists(path):
        try:
            ref = _load_reference(path, key, width)
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
            ref = None  # damaged or foreign: computed again and replaced
    if ref is None:
        p = classifier_pass(classifier, real_test, step=step)
        mu, cov = gaussian(p.feats)
        share = int((p.probs.max(1).values >= CONFIDENT).sum()) / len(p.probs)
        ref = Reference(key, mu, cov, share)
        if path is None:
            return ref
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            np.savez(buf, key=np.array(key), mu=mu, cov=cov, real_confident_share=np.array(share, np.float64))
            atomic_write_bytes(path, buf.getvalue())
        except OSError:
            pass
    if memo:
        _REFERENCES[key] = ref
    return ref


# ------------------------------------------------------------------ the evaluation

def plan_units(samples: int, judge_samples: int, extra_fakes: int, with_reference: bool) -> float:
    """The work of one evaluation in cost units (see ``COST``), for the progress estimate."""
    units = COST["generate"] * (samples + extra_fakes) + COST["classify"] * samples
    units += COST["judge"] * JUDGE_EPOCHS * 2 * judge_samples
    if with_reference:
        units += COST["reference"] * 10000
    return units


def evaluate_generator(generator: nn.Module, config: dict, classifier: nn.Module, data: str | Path | None,
                       samples: int = 10000, judge_samples: int | None = None, seed: int = 0,
                       classifier_digest: str = "", progress: Progress | None = None) -> dict:
    """All final figures for one generator (CPU, float32).  ``progress(stage, done, total)``
    is told how far the work is (in cost units, see ``COST``)."""
    judge_samples = judge_samples or min(8000, samples)
    folder = resolve_data_dir(data)
    train, test = load_split("train", folder), load_split("test", folder)
    d, conditional = int(config["latent_dim"]), bool(config.get("conditional"))
    # the judge trains on the first judge_samples samples and is tested on the next JUDGE_TEST;
    # those beyond the samples are generated in addition
    judge_test = min(JUDGE_TEST, judge_samples)
    total = max(samples, judge_samples + judge_test)
    key = reference_key(classifier_digest, test.images) if classifier_digest else None
    cached = key is not None and (key in _REFERENCES or os.path.isfile(reference_path(key)))
    units = plan_units(samples, judge_samples, total - samples, not cached)
    done = [0.0]

    def stepper(stage: str, cost: float) -> Callable[[int], None]:
        def step(n: int) -> None:
            done[0] += cost * n
            if progress is not None:
                progress(stage, done[0], units)
        return step

    g = torch.Generator().manual_seed(seed + 4242)
    z = sample_latent(total, d, g)
    labels = (torch.arange(total) % 10)[torch.randperm(total, generator=g)] if conditional else None
    gen_step = stepper("generating samples", COST["generate"])
    chunks = []
    for i in range(0, total, 1000):
        chunks.append(generate(generator, z[i:i + 1000], None if labels is None else labels[i:i + 1000]))
        gen_step(len(chunks[-1]))
    fake = torch.cat(chunks)
    bad = int((~torch.isfinite(fake.reshape(len(fake), -1)).all(1)).sum())
    if bad:  # no figure means anything then (numpy's eigenvalues would not converge)
        raise ValueError(f"{INVALID_IMAGE}: {bad:,} of the {len(fake):,} generated images hold NaN or infinite "
                         f"pixels; the weights are damaged or out of range, so this model cannot be evaluated")
    real_test = to_gan_range(test.images)
    ref = reference(classifier, classifier_digest or None, test.images, real_test,
                    step=stepper("measuring the real test digits (once; cached)", COST["reference"]))
    seen = classifier_pass(classifier, fake[:samples], step=stepper("classifying samples", COST["classify"]))
    conf, digit = seen.probs.max(1)
    is_digit = seen.is_digit
    counts = torch.bincount(digit[is_digit], minlength=10)
    figures: dict = {
        "samples": samples,
        # shares of all samples; only images the check accepts as digits count as confident or as a digit
        "not_digit_share": int((~is_digit).sum()) / samples,
        "confident_share": int(((conf >= CONFIDENT) & is_digit).sum()) / samples,
        "digit_share": [int(c) / samples for c in counts],
    }
    figures["digits_present"] = int((counts > 0).sum())
    figures["blank_share"] = int(((fake[:samples] > 0).flatten(1).sum(1) < BLANK_PIXELS).sum()) / samples
    if conditional:
        figures["conditional_agreement"] = int(((digit == labels[:samples]) & is_digit).sum()) / samples
        figures["within_label_spread"] = within_label_spread(generator, d, real_test, test.labels, seed,
                                                             fake=fake[:samples], fake_labels=labels[:samples])
    figures["frechet_distance"] = frechet_from_stats(ref.mu, ref.cov, *gaussian(seen.feats))
    ridx = torch.randperm(len(train), generator=g)[:judge_samples]
    real_train = to_gan_range(train.images[ridx.numpy()])
    figures["strong_judge_error"] = strong_judge_error(
        real_train, fake[:judge_samples], real_test[:judge_test], fake[judge_samples:judge_samples + judge_test],
        seed=seed, step=stepper("training the strong judge", COST["judge"]))
    figures["real_confident_share"] = ref.real_confident_share
    # perceptual path length (Karras et al. 2019) on the classifier's unit-length features
    figures.update(perceptual_path_length(generator, classifier, d, conditional,
                                          samples=min(PPL_SAMPLES, samples), seed=seed))
    if progress is not None:
        progress("done", units, units)
    return figures


def last_change_rates(path: Path, epochs: int = 3) -> list[float] | None:
    """The class map's change rate over the last ``epochs`` epochs, from the training history
    beside the checkpoint (None when there is none or it cannot be read)."""
    from .history import History, HistoryError

    hist = path.with_name(path.stem + ".history.h5")
    if not hist.is_file():
        return None
    try:
        rates = History.load(hist).change_rate[-epochs:]
    except (HistoryError, OSError, ValueError):
        return None
    return [float(r) for r in rates]


def evaluate_checkpoint(path: str | Path, classifier_path: str | Path, data: str | Path | None = None,
                        device: str = "cpu", write: bool = False, samples: int = 10000,
                        progress: Progress | None = None) -> dict:
    """Evaluate a saved generator; with ``write`` store the figures in its metadata.  The
    figures name the epoch of the model they measured (``epoch``)."""
    pick_device(device)  # validates the name; evaluation itself runs on the CPU in float32
    ck = load_checkpoint(path, expect=("gan", "cgan"))
    clf = load_checkpoint(classifier_path, expect="classifier")
    try:
        figures = evaluate_generator(ck.model, ck.config, clf.model, data, samples=samples,
                                     classifier_digest=clf.digest, progress=progress)
    except ValueError as exc:
        if INVALID_IMAGE not in str(exc):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    figures["classifier_digest"] = clf.digest[:16]
    if isinstance(ck.meta.get("epochs"), int):
        figures["epoch"] = ck.meta["epochs"]
    change = last_change_rates(Path(path))
    if change is not None:
        figures["map_change_last3"] = change
    if write:
        payload = read_payload(path)
        payload["meta"]["evaluation"] = figures
        save_payload(path, payload)
    return figures


def figures_table(figures: dict, name: str = "") -> str:
    """The figures as a plain-text table for people (``evaluate`` without ``--json``)."""
    f = figures

    def pct(v: float) -> str:
        return f"{100 * v:.1f}%" if v >= 0.001 or v == 0 else f"{100 * v:.2f}%"

    head = f"{name}: " if name else ""
    epoch = f"model at epoch {f['epoch']}, " if isinstance(f.get("epoch"), int) else ""
    rows = [("confident digits (confidence >= 0.9)", pct(f["confident_share"]),
             f"real test digits: {pct(f['real_confident_share'])}" if "real_confident_share" in f else ""),
            ("not a digit (the classifier's check)", pct(f["not_digit_share"]), "") if "not_digit_share" in f else None,
            ("blank (fewer than 20 bright pixels)", pct(f["blank_share"]), "") if "blank_share" in f else None,
            ("digits present", f"{f['digits_present']}/10", "") if "digits_present" in f else None,
            ("Frechet distance on classifier features", f"{f['frechet_distance']:.2f}", "lower is better"),
            ("strong judge held-out error", pct(f["strong_judge_error"]),
             "50% = it cannot tell real from generated"),
            ("label agreement", pct(f["conditional_agreement"]), "the classifier sees the digit asked for")
            if "conditional_agreement" in f else None,
            ("perceptual path length", f"{f['perceptual_path_length']:.1f}",
             "image change per small latent step, on classifier features; lower is smoother")
            if isinstance(f.get("perceptual_path_length"), (int, float)) else None]
    rows = [r for r in rows if r is not None]
    width = max(len(r[0]) for r in rows)
    lines = [f"{head}{epoch}{f['samples']:,} samples"]
    lines += [f"  {label:<{width}}  {value:>7}" + (f"   ({note})" if note else "") for label, value, note in rows]
    digits = "  ".join(f"{k}: {100 * v:.1f}" for k, v in enumerate(f["digit_share"]))
    lines.append(f"  {'share per digit (%)':<{width}}  {digits}")
    if "within_label_spread" in f:
        spread = "  ".join(f"{k}: {100 * v:.0f}" for k, v in enumerate(f["within_label_spread"]))
        lines.append(f"  {'within-label spread (% of real)':<{width}}  {spread}")
    rates = [r for r in f.get("map_change_last3") or [] if r == r]
    if rates:
        lines.append(f"  {'class map change, last epochs':<{width}}  {', '.join(pct(r) for r in rates)}")
    return "\n".join(lines)
