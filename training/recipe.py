"""Training recipes: the study's plain loop ("reference") and the default ("explore"), and
the pieces the default adds (weight averaging, learning-rate decay, unrolled discriminator).

docs/training.md has the ablation behind each choice.  A recipe is a set of named settings;
every setting can also be changed on its own (``latent-explorer train gan --ema 0 ...``), so an
ablation row is one flag away from the default.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

RECIPES: dict[str, dict] = {
    # the reference study's loop: Adam 2e-4 / 0.5, label smoothing 0.9, label shift and mask
    "reference": {"ema": 0.0, "lr_decay": 0.0, "minibatch_std": False, "unroll": 0, "r1": 0.0, "class_entropy": 0.0,
                  "g_conditioning": "shift", "d_conditioning": "mask"},
    # the default: see docs/training.md for the measurements behind each setting
    "explore": {"ema": 0.999, "lr_decay": 0.5, "minibatch_std": True, "unroll": 0, "r1": 0.0, "class_entropy": 0.0,
                "g_conditioning": "hidden", "d_conditioning": "projection"},
}
SETTINGS = tuple(RECIPES["reference"])
# Unconditional generators under "explore": the reference loop plus the class-entropy term and
# the learning-rate decay (docs/training.md: on full data, 5 epochs, gan2d's confident share
# 19% -> 40%, gan3d 12% -> 44%, gan4d 23% -> 61%).  Minibatch-std and the weight average hurt
# unconditional runs (gan2d 8% -> 2% over 4 epochs), so they stay off; the conditional models
# gained from all three.
UNCONDITIONAL = {"explore": {"minibatch_std": False, "lr_decay": 0.5, "ema": 0.0, "class_entropy": 1.0}}


def resolve(recipe: str, conditional: bool = True, **overrides) -> dict:
    """The settings of ``recipe`` (for a conditional or an unconditional model) with every
    non-None override applied (names checked)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    out = dict(RECIPES[recipe])
    if not conditional:
        out.update(UNCONDITIONAL.get(recipe, {}))
    for key, value in overrides.items():
        if key not in out:
            raise ValueError(f"unknown recipe setting {key!r}")
        if value is not None:
            out[key] = value
    if not 0.0 <= float(out["ema"]) < 1.0:
        raise ValueError(f"--ema must be in [0, 1), got {out['ema']}")
    if not 0.0 <= float(out["lr_decay"]) <= 1.0:
        raise ValueError(f"--lr-decay must be in [0, 1], got {out['lr_decay']}")
    if not 0 <= int(out["unroll"]) <= 20:
        raise ValueError(f"--unroll must be from 0 to 20, got {out['unroll']}")
    if not 0.0 <= float(out["r1"]) <= 1000.0:
        raise ValueError(f"--r1 must be from 0 to 1000, got {out['r1']}")
    if not 0.0 <= float(out["class_entropy"]) <= 100.0:
        raise ValueError(f"--class-entropy must be from 0 to 100, got {out['class_entropy']}")
    if conditional and float(out["class_entropy"]) > 0:
        raise ValueError("--class-entropy is for unconditional models (a conditional one is told its digit)")
    return out


def lr_factor(step: int, total: int, decay: float) -> float:
    """Constant learning rate, then linear decay to zero over the last ``decay`` of the steps."""
    if decay <= 0 or total <= 0:
        return 1.0
    start = total * (1.0 - decay)
    if step < start:
        return 1.0
    return max(0.0, (total - step) / max(total - start, 1.0))


R1_EVERY = 16  # lazy R1: the penalty every 16th discriminator step, scaled by 16 (Karras et al. 2020)


def r1_penalty(disc: nn.Module, real: torch.Tensor, labels: torch.Tensor | None, gamma: float) -> torch.Tensor:
    """R1 gradient penalty (Mescheder et al. 2018): gamma/2 * E ||grad_x D(x)||^2 on real
    images, computed in float32, scaled for the lazy schedule."""
    real = real.detach().float().requires_grad_(True)
    logits = disc(real, labels).float()
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return 0.5 * gamma * R1_EVERY * grad.pow(2).flatten(1).sum(1).mean()


def class_entropy_loss(class_logits: torch.Tensor) -> torch.Tensor:
    """The generator's class-entropy term (after CatGAN, Springenberg 2016): each fake image
    should be one clear digit for the discriminator's class head (low entropy per image), and
    the batch should hold every digit evenly (high entropy of the batch's mean prediction).
    Returns mean_i H(p_i) - H(mean_i p_i); its minimum, -log 10, is a batch of confident,
    evenly spread digits."""
    logp = torch.log_softmax(class_logits.float(), 1)
    p = logp.exp()
    per_image = -(p * logp).sum(1).mean()
    marginal = p.mean(0)
    return per_image + (marginal * torch.log(marginal + 1e-8)).sum()


class WeightAverage:
    """An exponential moving average of a generator's weights (buffers copied as they are).

    The averaged copy is what gets monitored, evaluated and saved: it is the generator the
    training has converged towards, without the last steps' jitter."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))  # short memory at the start
        mine = list(self.model.parameters())
        theirs = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(mine, theirs, 1.0 - decay)
        for b_mine, b_theirs in zip(self.model.buffers(), model.buffers()):
            b_mine.copy_(b_theirs)  # replaced by recalibrate() before the average is used

    @torch.no_grad()
    def recalibrate(self, latent_dim: int, conditional: bool, device, batches: int = 16, batch: int = 256) -> None:
        """Recompute the averaged generator's BatchNorm statistics from its own forward passes
        (the copied running statistics belong to the live weights, not to the average)."""
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        self.model.train()
        g = torch.Generator().manual_seed(1234)
        for _ in range(batches):
            z = (torch.rand(batch, latent_dim, generator=g) * 2 - 1).to(device)
            labels = torch.randint(0, 10, (batch,), generator=g).to(device) if conditional else None
            self.model(z, labels)
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        self.model.eval()

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["model"])


@dataclass
class Unroller:
    """First-order unrolled discriminator (after Metz et al. 2017): the generator is judged
    by a copy of D trained ``steps`` more steps on fresh batches, so G cannot win by hopping
    to wherever D is weak right now.  The copy and its optimiser are reused between steps."""

    discriminator: nn.Module
    optimizer: torch.optim.Optimizer
    steps: int

    def __post_init__(self) -> None:
        self.shadow = copy.deepcopy(self.discriminator)
        self.shadow_opt = type(self.optimizer)(self.shadow.parameters(), **self.optimizer.defaults)

    def lookahead(self, d_step) -> nn.Module:
        """Copy D (weights and optimiser moments), run ``d_step(shadow, shadow_opt)`` ``steps``
        times and return the shadow discriminator."""
        with torch.no_grad():
            for mine, theirs in zip(self.shadow.parameters(), self.discriminator.parameters()):
                mine.copy_(theirs)
                # the optimiser's moments are copied, never shared: the lookahead must not move D's
                self.shadow_opt.state[mine] = {k: v.clone() if torch.is_tensor(v) else v
                                               for k, v in self.optimizer.state.get(theirs, {}).items()}
        for group in self.shadow_opt.param_groups:
            group["lr"] = self.optimizer.param_groups[0]["lr"]
        for _ in range(self.steps):
            d_step(self.shadow, self.shadow_opt)
        return self.shadow
