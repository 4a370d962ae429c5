"""Batched generation and labelling of latent points (shared by monitoring, atlases, evaluation)."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable

import numpy as np

from .lazytorch import inference_mode

if TYPE_CHECKING:
    import torch
    from torch import nn


# Points per forward pass when labelling many points: on the 2-core CPU 256 labels about 1.4x
# more points per second than 1024 (BENCHMARKS.md, raw labelling throughput).
BATCH = 256


def bulk_copy(model: nn.Module) -> nn.Module:
    """A private copy of ``model`` in channels-last memory format for labelling many points.

    On the 2-core CPU channels-last labels about 1.2x more points per second in float32 with
    the same labels (BENCHMARKS.md, raw labelling throughput).  A copy, so that the model the
    window renders with (possibly from another thread) is never changed underneath it."""
    import copy

    import torch

    return copy.deepcopy(model).eval().to(memory_format=torch.channels_last)


def grid_axis(resolution: int) -> np.ndarray:
    """``resolution`` evenly spaced coordinates from -1 to 1 inclusive (float32)."""
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    return np.linspace(-1.0, 1.0, resolution, dtype=np.float32)


def grid_index(value: float, resolution: int) -> int:
    """The index of the coordinate of ``grid_axis(resolution)`` nearest to ``value``
    (clipped to the box; a value halfway between two takes the even index, as ``np.rint``).
    The one rounding rule of the app: atlas cells, the overview's tiles and the slices'
    cuts all use it, so they agree on which slice is current."""
    return int(round((min(1.0, max(-1.0, float(value))) + 1) / 2 * (resolution - 1)))


def grid_indices(values, resolution: int) -> np.ndarray:
    """:func:`grid_index` of many values at once (the same float64 arithmetic and rounding)."""
    v = np.clip(np.asarray(values, np.float64), -1.0, 1.0)
    return np.rint((v + 1) / 2 * (resolution - 1)).astype(np.int64)


def precision_context(device: torch.device, precision: str):
    """'float32' (exact), or 'bfloat16' autocast (faster on CPUs with AVX512-BF16 and on GPUs)."""
    import torch

    if precision == "float32":
        return contextlib.nullcontext()
    if precision == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ValueError(f"unknown precision {precision!r}")


@inference_mode
def generate(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch: int = BATCH, precision: str = "float32") -> torch.Tensor:
    """Images (N, 1, 28, 28) float32 in [-1, 1] for latent points ``z`` (eval mode)."""
    import torch

    generator.eval()
    device = next(generator.parameters()).device
    out = []
    for i in range(0, len(z), batch):
        zb = z[i:i + batch].to(device)
        lb = labels[i:i + batch].to(device) if labels is not None else None
        with precision_context(device, precision):
            out.append(generator(zb, lb).float())
    return torch.cat(out) if out else torch.empty(0, 1, 28, 28)


@inference_mode
def classify(classifier: nn.Module, images: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """Softmax probabilities (N, 10), float32."""
    import torch
    import torch.nn.functional as F

    classifier.eval()
    device = next(classifier.parameters()).device
    out = [F.softmax(classifier(images[i:i + batch].to(device)).float(), dim=1) for i in range(0, len(images), batch)]
    return torch.cat(out) if out else torch.empty(0, 10)


@inference_mode
def label_points(generator: nn.Module, classifier: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                 batch: int = BATCH, precision: str = "float32",
                 progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classifier digit (uint8; ``NO_DIGIT`` = 10 where the image is not a digit, see
    :mod:`models.digitness`) and confidence of the closest digit (float32) for each latent point."""
    import torch

    from .digitness import NO_DIGIT, judge_tensor

    digits, confs = [], []
    for i in range(0, len(z), batch):
        lb = labels[i:i + batch] if labels is not None else None
        probs, score = judge_tensor(classifier, generate(generator, z[i:i + batch], lb, batch, precision))
        conf, dig = probs.max(dim=1)
        dig = torch.where(score.to(dig.device) > 0, torch.full_like(dig, NO_DIGIT), dig)
        digits.append(dig.to(torch.uint8).cpu().numpy())
        confs.append(conf.cpu().numpy())
        if progress:
            progress(len(z[i:i + batch]))
    if not digits:
        return np.empty(0, np.uint8), np.empty(0, np.float32)
    return np.concatenate(digits), np.concatenate(confs)


def plane_points(latent_dim: int, axes: tuple[int, int], resolution: int,
                 origin: np.ndarray | None = None) -> torch.Tensor:
    """Points of a resolution x resolution grid on the plane spanned by ``axes`` through
    ``origin`` (default the centre); row i varies the first axis, column j the second."""
    import torch

    ax = grid_axis(resolution)
    base = np.zeros(latent_dim, np.float32) if origin is None else np.asarray(origin, np.float32)
    pts = np.repeat(base[None, :], resolution * resolution, axis=0)
    a, b = np.meshgrid(ax, ax, indexing="ij")
    pts[:, axes[0]] = a.ravel()
    pts[:, axes[1]] = b.ravel()
    return torch.from_numpy(pts)
