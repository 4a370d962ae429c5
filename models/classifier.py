"""The independent digit classifier: the judge behind every class map.

A small VGG-style CNN, unrelated to the discriminator, trained on real MNIST in [-1, 1].
Its 128-wide penultimate layer gives the features for the Frechet distance.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    width: int = 32
    features: int = 128

    def __post_init__(self) -> None:
        if not (1 <= self.width <= 4096 and 1 <= self.features <= 65536):
            raise ValueError(f"implausible classifier size (width {self.width}, features {self.features})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        return cls(**{k: int(d[k]) for k in ("width", "features") if k in d})


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitClassifier(nn.Module):
    """1 x 28 x 28 image in [-1, 1] -> 10 logits."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            *_block(1, w), *_block(w, w), nn.MaxPool2d(2),
            *_block(w, 2 * w), *_block(2 * w, 2 * w), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, config.features, bias=False), nn.BatchNorm1d(config.features), nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(config.features, 10)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (used for the Frechet distance)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x)))
