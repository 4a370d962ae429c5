"""The CUDA fast path of the training step: fast kernels, channels-last weights, fused Adam
and an optional ``torch.compile`` with a fallback.  On the CPU every function here leaves
the run exactly as it was (the CPU path and its exact resume do not change)."""
from __future__ import annotations

import torch
from torch import nn


def configure(device: torch.device) -> None:
    """cuDNN autotuning and TensorFlow-32 matrix products on CUDA (bfloat16 autocast does
    the rest); nothing on the CPU."""
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def prepare(module: nn.Module, device: torch.device) -> nn.Module:
    """The module on ``device``; on CUDA with its convolution weights channels-last."""
    module = module.to(device)
    if device.type == "cuda":
        module = module.to(memory_format=torch.channels_last)
    return module


def adam(params, lr: float, betas: tuple[float, float], device: torch.device) -> torch.optim.Adam:
    """Adam; on CUDA the fused kernel (one launch for all parameters, same state layout)."""
    if device.type == "cuda":
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas)


def images(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The training images on ``device`` (kept there for the whole run)."""
    x = x.to(device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


class CompiledOrEager:
    """``torch.compile(module)`` on CUDA when asked, falling back to the eager module (with a
    log line) if compiling fails at the first call.  Called like the module."""

    def __init__(self, module: nn.Module, enabled: bool, device: torch.device, log=print, name: str = "") -> None:
        self.eager = module
        self.log, self.name = log, name
        self.compiled = None
        self.ok: bool | None = None
        if enabled and device.type == "cuda":
            try:
                self.compiled = torch.compile(module, dynamic=False)
            except Exception as exc:  # pragma: no cover - depends on the installed compiler
                log(f"torch.compile unavailable for {name} ({type(exc).__name__}: {exc}); running eager")

    def __call__(self, *args, **kwargs):
        if self.compiled is None or self.ok is False:
            return self.eager(*args, **kwargs)
        if self.ok:
            return self.compiled(*args, **kwargs)
        try:  # first call: compiling happens here, before any weight is changed
            out = self.compiled(*args, **kwargs)
        except Exception as exc:  # pragma: no cover - GPU only
            self.ok = False
            self.log(f"torch.compile failed for {self.name} ({type(exc).__name__}: {str(exc)[:200]}); running eager")
            return self.eager(*args, **kwargs)
        self.ok = True
        return out
