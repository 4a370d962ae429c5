"""The GAN networks of the reference study, in PyTorch.

Generator (any latent size d): dense d -> 7*7*256 (no bias), BatchNorm, activation,
transposed convolutions 256 -> 128 (stride 1) -> 64 (stride 2) -> 1 (stride 2), tanh.
Discriminator: conv 64 / conv 128 (5x5, stride 2) with LeakyReLU(0.3) and dropout,
then a dense layer to one logit.

Conditioning on the digit label (docs/training.md has the measurements behind it):
- generator, ``conditioning="hidden"`` (the default): a learned per-digit bias on the first
  hidden layer (10 x 12,544, the same as a dense layer on z concatenated with a one-hot
  label), so the label has a path of its own and z keeps its whole box;
- generator, ``conditioning="shift"`` (the reference study, and checkpoints made before):
  a 10 x d embedding added to z;
- discriminator, ``conditioning="projection"`` (Miyato & Koyama 2018): logit =
  head(phi(x)) + <embed(y), phi(x)> with a 10 x 6,272 embedding on the same trunk;
  ``"mask"`` (the reference): the image multiplied by a learned 28 x 28 map per digit.
A discriminator may also append a minibatch standard deviation feature (ProGAN/StyleGAN).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .frame import GENERATOR_LAYERS

ACTIVATIONS = ("leaky_relu", "relu", "prelu", "elu")
CONDITIONINGS = ("hidden", "shift")
DISCRIMINATOR_CONDITIONINGS = ("projection", "mask")
NUM_CLASSES = 10
IMAGE_SIZE = 28


def make_activation(name: str, channels: int) -> nn.Module:
    """The hidden activation named ``name`` (PReLU gets one slope per channel)."""
    if name == "leaky_relu":
        return nn.LeakyReLU(0.3)
    if name == "relu":
        return nn.ReLU()
    if name == "prelu":
        return nn.PReLU(channels, init=0.3)
    if name == "elu":
        return nn.ELU()
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


@dataclass(frozen=True)
class GanConfig:
    """Everything needed to rebuild a generator/discriminator pair."""

    latent_dim: int = 2
    conditional: bool = False
    activation: str = "leaky_relu"
    prior: str = "uniform[-1,1]"
    conditioning: str = "hidden"  # conditional generators: "hidden" (per-digit bias) or "shift" (reference)

    def __post_init__(self) -> None:
        if isinstance(self.latent_dim, bool) or not isinstance(self.latent_dim, int):
            raise ValueError(f"latent_dim must be an integer, got {type(self.latent_dim).__name__}")
        if not isinstance(self.conditional, bool):
            raise ValueError(f"conditional must be true or false, got {type(self.conditional).__name__}")
        if not 1 <= self.latent_dim <= 64:
            raise ValueError(f"latent_dim must be between 1 and 64, got {self.latent_dim}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.prior != "uniform[-1,1]":
            raise ValueError(f"unsupported latent prior {self.prior!r}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {self.conditioning!r}; choose one of {', '.join(CONDITIONINGS)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanConfig":
        known = {k: d[k] for k in ("latent_dim", "conditional", "activation", "prior", "conditioning") if k in d}
        known.setdefault("conditioning", "shift")  # checkpoints written before the hidden-layer label path
        return cls(**known)


def spread_points(n: int, d: int, radius: float = 5.0) -> torch.Tensor:
    """``n`` well-separated points at distance ``radius`` from the origin: the initial label
    embeddings of a conditional generator, so that the shifted latent boxes ``z + e_k`` of
    the ten digits start out disjoint (a circle in 2-D, a Fibonacci sphere in the first three
    coordinates for d >= 3, a line for d = 1)."""
    if d == 1:
        return torch.linspace(-radius, radius, n).unsqueeze(1) * 2
    pts = torch.zeros(n, d)
    if d == 2:
        angle = torch.arange(n) * (2 * torch.pi / n)
        pts[:, 0], pts[:, 1] = torch.cos(angle), torch.sin(angle)
    else:
        k = torch.arange(n, dtype=torch.float32) + 0.5
        polar = torch.acos(1 - 2 * k / n)
        azimuth = torch.pi * (1 + 5 ** 0.5) * k
        pts[:, 0] = torch.cos(azimuth) * torch.sin(polar)
        pts[:, 1] = torch.sin(azimuth) * torch.sin(polar)
        pts[:, 2] = torch.cos(polar)
    return pts * radius


def label_weights(labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Digit labels as (N, 10) weights: one-hot rows for integer labels, unchanged for soft
    (N, 10) weights (a label walk blends two digits' rows)."""
    if labels.is_floating_point():
        if labels.dim() != 2 or labels.shape[1] != NUM_CLASSES:
            raise ValueError(f"soft labels must have shape (N, {NUM_CLASSES}), got {tuple(labels.shape)}")
        return labels.to(dtype)
    return F.one_hot(labels.long(), NUM_CLASSES).to(dtype)


class LabelledDense(nn.Module):
    """The first layer of a ``conditioning="hidden"`` generator: dense(z) plus a learned bias
    per digit, i.e. a dense layer on [z, one-hot label]; labels may be soft (N, 10) weights."""

    def __init__(self, latent_dim: int, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, width, bias=False)
        bound = 1.0 / (latent_dim + NUM_CLASSES) ** 0.5  # as nn.Linear initialises a d + 10 input
        self.label_bias = nn.Parameter(torch.empty(NUM_CLASSES, width).uniform_(-bound, bound))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = self.linear(z)
        if labels.is_floating_point():
            return out + label_weights(labels, out.dtype) @ self.label_bias.to(out.dtype)
        return out + self.label_bias[labels].to(out.dtype)


class Generator(nn.Module):
    """Latent point (and optional digit label) -> 1 x 28 x 28 image in [-1, 1].

    The named submodules are the layers the explorer captures, in forward order.
    A conditional generator takes the label on its first hidden layer (``dense`` is a
    LabelledDense: z and label have separate paths), or, for ``conditioning="shift"``
    checkpoints, adds a label embedding to the noise (``z + embed[label]``).
    Labels are digit indices or soft (N, 10) weights.
    """

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        d, act = config.latent_dim, config.activation
        self.hidden_label = config.conditional and config.conditioning == "hidden"
        if config.conditional and not self.hidden_label:
            self.label_embedding = nn.Embedding(NUM_CLASSES, d)
            with torch.no_grad():  # start with the ten digits' boxes apart (see spread_points)
                self.label_embedding.weight.copy_(spread_points(NUM_CLASSES, d))
        self.dense = LabelledDense(d, 7 * 7 * 256) if self.hidden_label else nn.Linear(d, 7 * 7 * 256, bias=False)
        self.bn0 = nn.BatchNorm1d(7 * 7 * 256)
        self.act0 = make_activation(act, 256)
        self.deconv1 = nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(128)
        self.act1 = make_activation(act, 128)
        self.deconv2 = nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.act2 = make_activation(act, 64)
        self.deconv3 = nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False)
        self.out = nn.Tanh()

    def combine(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The noise fed to the dense layer: for ``shift`` conditioning shifted by the label's
        embedding (soft labels blend the embeddings); otherwise z itself."""
        if self.config.conditional and labels is None:
            raise ValueError("a conditional generator needs digit labels")
        if self.config.conditional and not self.hidden_label:
            return z + label_weights(labels, z.dtype) @ self.label_embedding.weight.to(z.dtype)
        return z

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.combine(z, labels)
        x = self.dense(z, labels) if self.hidden_label else self.dense(z)
        x = self.act0(self.bn0(x).view(-1, 256, 7, 7))
        x = self.act1(self.bn1(self.deconv1(x)))
        x = self.act2(self.bn2(self.deconv2(x)))
        return self.out(self.deconv3(x))

    # The layers after which the explorer shows activations, in order.
    LAYERS = GENERATOR_LAYERS


class Discriminator(nn.Module):
    """Image (and optional label) -> one real/fake logit.

    ``conditioning`` (conditional models): "projection" adds <embed(y), phi(x)> to the logit;
    "mask" multiplies the image by a learned 28 x 28 map per digit (the reference).
    ``minibatch_std`` appends the batch's mean feature standard deviation to phi(x), so the
    discriminator can see a batch that lacks variety.
    """

    def __init__(self, config: GanConfig, conditioning: str = "projection", minibatch_std: bool = False,
                 class_head: bool = False) -> None:
        super().__init__()
        if conditioning not in DISCRIMINATOR_CONDITIONINGS:
            raise ValueError(f"unknown discriminator conditioning {conditioning!r}")
        self.config = config
        self.conditioning = conditioning if config.conditional else None
        self.minibatch_std = minibatch_std
        width = 128 * 7 * 7
        if self.conditioning == "mask":
            self.label_embedding = nn.Embedding(NUM_CLASSES, IMAGE_SIZE * IMAGE_SIZE)
            nn.init.ones_(self.label_embedding.weight)
        elif self.conditioning == "projection":
            self.projection = nn.Embedding(NUM_CLASSES, width)
            nn.init.normal_(self.projection.weight, std=0.02)
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Flatten(),
        )
        self.head = nn.Linear(width + int(minibatch_std), 1)
        # unconditional models, recipe setting class_entropy: a digit classifier on the same
        # features, trained on the real images' labels (see training/recipe.py)
        self.classes = nn.Linear(width, NUM_CLASSES) if class_head else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, with_classes: bool = False):
        """The real/fake logit; with ``with_classes`` also the class head's logits (N, 10)."""
        if self.conditioning is not None and labels is None:
            raise ValueError("a conditional discriminator needs digit labels")
        if self.conditioning == "mask":
            x = x * self.label_embedding(labels).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        phi = self.features(x)
        h = phi
        if self.minibatch_std:
            std = (phi.float().var(0, unbiased=False) + 1e-8).sqrt().mean()
            h = torch.cat([phi, std.to(phi.dtype).expand(len(phi), 1)], 1)
        logit = self.head(h).squeeze(1)
        if self.conditioning == "projection":
            logit = logit + (self.projection(labels).to(phi.dtype) * phi).sum(1)
        if with_classes:
            if self.classes is None:
                raise ValueError("this discriminator has no class head")
            return logit, self.classes(phi)
        return logit


def count_parameters(module: nn.Module) -> dict[str, int]:
    """Parameter counts as Keras reports them: BatchNorm running mean and variance count
    as non-trainable parameters (the step counter ``num_batches_tracked`` does not)."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    stats = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    non_trainable = frozen + stats
    return {"total": trainable + non_trainable, "trainable": trainable, "non_trainable": non_trainable}


def sample_latent(n: int, latent_dim: int, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """n points drawn uniformly from the latent box [-1, 1]^d."""
    return torch.rand(n, latent_dim, generator=generator, device=device) * 2 - 1
