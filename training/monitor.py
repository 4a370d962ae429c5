"""Per-epoch monitoring: the fixed-noise grid, class maps, their change rate, the weak judge."""
from __future__ import annotations

import itertools

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from latent_explorer.models.networks import GanConfig, sample_latent
from latent_explorer.models.sampling import classify, generate, label_points, plane_points

MAP_RESOLUTION = 64
CONDITIONAL_MAP_RESOLUTION = 32  # ten digit planes per epoch: kept cheap


def default_precision() -> str:
    """bfloat16 where the hardware runs it natively (maps are a monitoring signal), else float32."""
    from latent_explorer.training.device import cpu_has_bf16

    return "bfloat16" if (torch.cuda.is_available() or cpu_has_bf16()) else "float32"
WEAK_JUDGE_SAMPLES = 1000  # per class and per split (train / test)


def map_planes(config: GanConfig) -> list[tuple[int, int, int]]:
    """The 2D slices through the origin that the per-epoch class map covers:
    (axis a, axis b, digit), digit -1 for unconditional models."""
    if config.conditional:
        return [(0, 1 if config.latent_dim > 1 else 0, k) for k in range(10)]
    return [(a, b, -1) for a, b in itertools.combinations(range(config.latent_dim), 2)] or [(0, 0, -1)]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float images (N, 1, 28, 28) -> (N, 28, 28) uint8."""
    return ((images.squeeze(1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


class Monitor:
    """Computes one epoch's monitoring record for a generator."""

    def __init__(self, config: GanConfig, classifier: torch.nn.Module, real_images: torch.Tensor, seed: int,
                 resolution: int | None = None, precision: str | None = None) -> None:
        self.config = config
        self.classifier = classifier
        self.resolution = resolution or (CONDITIONAL_MAP_RESOLUTION if config.conditional else MAP_RESOLUTION)
        self.precision = precision or default_precision()
        self.planes = map_planes(config)
        g = torch.Generator().manual_seed(seed + 9_999)
        self.fixed_noise = sample_latent(64, config.latent_dim, g)
        self.fixed_labels = torch.arange(64) % 10 if config.conditional else None
        n = min(WEAK_JUDGE_SAMPLES * 2, len(real_images))
        idx = torch.randperm(len(real_images), generator=g)[:n]
        self.judge_real = real_images[idx].reshape(n, -1).float().cpu().numpy()
        self.judge_noise = sample_latent(n, config.latent_dim, g)
        self.judge_labels = torch.randint(0, 10, (n,), generator=g) if config.conditional else None
        self.points = [plane_points(config.latent_dim, (a, b), self.resolution) for a, b, _ in self.planes]

    def grid(self, generator: torch.nn.Module) -> np.ndarray:
        return to_uint8(generate(generator, self.fixed_noise, self.fixed_labels, precision=self.precision))

    def class_maps(self, generator: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        r = self.resolution
        maps, confs = [], []
        for (a, b, digit), pts in zip(self.planes, self.points):
            labels = torch.full((len(pts),), digit, dtype=torch.long) if digit >= 0 else None
            dig, conf = label_points(generator, self.classifier, pts, labels, precision=self.precision)
            maps.append(dig.reshape(r, r))
            confs.append(conf.reshape(r, r).astype(np.float16))
        return np.stack(maps), np.stack(confs)

    def weak_judge(self, generator: torch.nn.Module) -> float:
        """Held-out accuracy of a logistic regression on pixels, real vs generated (0.5 = can't tell)."""
        fake = generate(generator, self.judge_noise, self.judge_labels, precision=self.precision).cpu()
        fake = fake.reshape(len(fake), -1).cpu().numpy()
        n = min(len(fake), len(self.judge_real)) // 2
        x_train = np.concatenate([self.judge_real[:n], fake[:n]])
        y_train = np.concatenate([np.ones(n), np.zeros(n)])
        x_test = np.concatenate([self.judge_real[n:2 * n], fake[n:2 * n]])
        y_test = np.concatenate([np.ones(n), np.zeros(n)])
        clf = LogisticRegression(max_iter=300, C=0.1)
        clf.fit(x_train, y_train)
        return float(clf.score(x_test, y_test))

    def epoch_record(self, generator: torch.nn.Module, previous_map: np.ndarray | None) -> dict:
        maps, confs = self.class_maps(generator)
        change = float("nan") if previous_map is None else float((maps != previous_map).mean())
        return {"grid": self.grid(generator), "map": maps, "map_conf": confs, "change_rate": change,
                "weak_judge_acc": self.weak_judge(generator)}


def labels_histogram(digits: np.ndarray) -> list[float]:
    return (np.bincount(digits.ravel().astype(np.int64), minlength=10) / max(1, digits.size)).tolist()


def classify_images(classifier, images):
    return classify(classifier, images)
