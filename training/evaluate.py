"""Final evaluation of a generator: the strong real-vs-generated judge, classifier
confidence and digit coverage, a Frechet distance on the classifier's features, the
perceptual path length, and conditional agreement.  ``latent-explorer evaluate CHECKPOINT`` recomputes these."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latent_explorer.models.checkpoint import load_checkpoint, read_payload, save_payload
from latent_explorer.models.digitness import judge
from latent_explorer.models.geometry import PPL_SAMPLES, perceptual_path_length
from latent_explorer.models.networks import sample_latent
from latent_explorer.models.sampling import classify, generate

from .data import load_split, resolve_data_dir, to_gan_range
from .device import pick_device

CONFIDENT = 0.9
BLANK_PIXELS = 20  # an image with fewer pixels brighter than mid-grey (> 0 in [-1, 1]) counts as blank
SPREAD_SAMPLES = 300  # images per digit for the within-label spread


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of images (pixels in [0, 1])."""
    flat = ((images.reshape(len(images), -1).double() + 1) / 2)
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


def within_label_spread(generator: nn.Module, latent_dim: int, real: torch.Tensor, real_labels: np.ndarray,
                        seed: int = 0, samples: int = SPREAD_SAMPLES) -> list[float]:
    """Per digit: the mean pairwise pixel distance of a conditional generator's images of that
    label over that of real MNIST images of that digit (1.0 = as varied as real digits)."""
    g = torch.Generator().manual_seed(seed + 77)
    out = []
    for k in range(10):
        z = sample_latent(samples, latent_dim, g)
        fake = generate(generator, z, torch.full((samples,), k, dtype=torch.long))
        idx = np.flatnonzero(real_labels == k)[:samples]
        out.append(mean_pairwise_distance(fake) / max(mean_pairwise_distance(real[idx]), 1e-12))
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


def strong_judge_error(real_train: torch.Tensor, fake_train: torch.Tensor, real_test: torch.Tensor,
                       fake_test: torch.Tensor, epochs: int = 5, seed: int = 0) -> float:
    """Held-out error of the strong judge (0.5 means it cannot tell real from generated)."""
    torch.manual_seed(seed)
    judge = StrongJudge()
    opt = torch.optim.Adam(judge.parameters(), lr=1e-3)
    x = torch.cat([real_train, fake_train])
    y = torch.cat([torch.ones(len(real_train)), torch.zeros(len(fake_train))])
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = F.binary_cross_entropy_with_logits(judge(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    judge.eval()
    with torch.inference_mode():
        right = (judge(real_test) > 0).sum() + (judge(fake_test) <= 0).sum()
    return float(1 - right.item() / (len(real_test) + len(fake_test)))


@torch.inference_mode()
def features(classifier: nn.Module, images: torch.Tensor, batch: int = 2000) -> np.ndarray:
    classifier.eval()
    return torch.cat([classifier.embed(images[i:i + batch]) for i in range(0, len(images), batch)]).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrtm(s1 s2) = sum of sqrt(eigenvalues of s1^1/2 s2 s1^1/2), a symmetric PSD matrix:
    # stable for singular covariances (few samples), with no complex parts to drop
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def evaluate_generator(generator: nn.Module, config: dict, classifier: nn.Module, data: str | Path | None,
                       samples: int = 10000, judge_samples: int | None = None, seed: int = 0) -> dict:
    """All final figures for one generator (CPU, float32)."""
    judge_samples = judge_samples or min(8000, samples)
    folder = resolve_data_dir(data)
    train, test = load_split("train", folder), load_split("test", folder)
    d, conditional = int(config["latent_dim"]), bool(config.get("conditional"))
    g = torch.Generator().manual_seed(seed + 4242)
    total = samples + judge_samples + 2000
    z = sample_latent(total, d, g)
    labels = (torch.arange(total) % 10)[torch.randperm(total, generator=g)] if conditional else None
    fake = generate(generator, z, labels)
    verdict = judge(classifier, fake[:samples])  # closest digit, confidence and the "not a digit" check
    conf, digit = torch.from_numpy(verdict.confidence), torch.from_numpy(verdict.label).long()
    is_digit = torch.from_numpy(verdict.is_digit)
    figures: dict = {
        "samples": samples,
        # shares of all samples; only images the check accepts as digits count as confident or as a digit
        "not_digit_share": float((~is_digit).float().mean()),
        "confident_share": float(((conf >= CONFIDENT) & is_digit).float().mean()),
        "digit_share": (torch.bincount(digit[is_digit], minlength=10).float() / samples).tolist(),
    }
    figures["digits_present"] = int((torch.bincount(digit[is_digit], minlength=10) > 0).sum())
    figures["blank_share"] = float(((fake[:samples] > 0).flatten(1).sum(1) < BLANK_PIXELS).float().mean())
    real_test = to_gan_range(test.images)
    if conditional:
        figures["conditional_agreement"] = float(((digit == labels[:samples]) & is_digit).float().mean())
        figures["within_label_spread"] = within_label_spread(generator, d, real_test, test.labels, seed)
    figures["frechet_distance"] = frechet_distance(features(classifier, real_test), features(classifier, fake[:samples]))
    ridx = torch.randperm(len(train), generator=g)[:judge_samples]
    real_train = to_gan_range(train.images[ridx.numpy()])
    figures["strong_judge_error"] = strong_judge_error(
        real_train, fake[samples:samples + judge_samples], real_test[:2000], fake[samples + judge_samples:], seed=seed)
    real_probs = classify(classifier, real_test)
    figures["real_confident_share"] = float((real_probs.max(1).values >= CONFIDENT).float().mean())
    # perceptual path length (Karras et al. 2019) on the classifier's unit-length features
    figures.update(perceptual_path_length(generator, classifier, d, conditional,
                                          samples=min(PPL_SAMPLES, samples), seed=seed))
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
                        device: str = "cpu", write: bool = False, samples: int = 10000) -> dict:
    """Evaluate a saved generator; with ``write`` store the figures in its metadata."""
    pick_device(device)  # validates the name; evaluation itself runs on the CPU in float32
    ck = load_checkpoint(path, expect=("gan", "cgan"))
    clf = load_checkpoint(classifier_path, expect="classifier")
    figures = evaluate_generator(ck.model, ck.config, clf.model, data, samples=samples)
    figures["classifier_digest"] = clf.digest[:16]
    change = last_change_rates(Path(path))
    if change is not None:
        figures["map_change_last3"] = change
    if write:
        payload = read_payload(path)
        payload["meta"]["evaluation"] = figures
        save_payload(path, payload)
    return figures
