"""One latent point through generator and classifier as a single TorchScript call.

The interactive render runs in a worker thread beside the UI thread.  Run eagerly, it
hands the GIL back and forth around each of its ~60 torch calls, and every hand-back waits
for the UI thread's Python (slider handlers, pyqtgraph paints) to give it up: a 4 ms render
took 60 ms beside a busy Python thread.  Traced, the whole forward (every captured layer,
the classifier, the "not a digit" score) is one call that holds no GIL; the same test
takes 7-8 ms.

What is traced is the engine's own forward (``Engine._forward`` with every layer captured)
and judgement (``judge_tensor``), run on a copy of the engine.  :func:`traced_render`
builds one per model content (generator weights and config, classifier weights,
calibration) and checks it at the origin against the eager forward: the outputs must be
bit-identical, or it is not used (the engine stays eager).  Built ones are kept for the
life of the process: torch's tracer keeps every traced graph (and the weights it refers
to) in its global compilation unit anyway (pytorch/pytorch#35600), so tracing a model again
on each switch would leak a copy of it each time; kept, the memory is bounded by the
number of different models opened.  Ablations always take the eager path (their hooks
change what the layers return).
"""
from __future__ import annotations

import copy
import json
import threading
import warnings

import torch
import torch.nn as nn

from .digitness import judge_tensor
from .networks import Generator


class _Whole(nn.Module):
    """(z, labels) -> (image, probs, score, every layer's output in ``Generator.LAYERS``
    order), through the engine's own code; the networks are submodules, so the trace
    refers to their weights instead of copying them in as constants."""

    def __init__(self, engine) -> None:
        super().__init__()
        self.generator = engine.generator
        self.classifier = engine.classifier
        self.engine = engine

    def forward(self, z: torch.Tensor, labels: torch.Tensor):
        image, captured = self.engine._forward(z, labels if self.engine.conditional else None, True, ())
        probs, score = judge_tensor(self.classifier, image)
        return (image, probs, score, *(captured[name] for name in Generator.LAYERS))


class TracedRender:
    """The engine's forward for N points with their labels, traced (see the module docstring)."""

    def __init__(self, module) -> None:
        self._module = module

    @classmethod
    def build(cls, engine, z: torch.Tensor, labels: torch.Tensor | None) -> "TracedRender | None":
        """Trace ``engine`` (which the trace keeps: give it a copy) at (z, labels) and check
        the traced outputs there against the eager ones; ``None`` when tracing fails or they
        differ."""
        engine.classifier.eval()
        whole = _Whole(engine)
        labels = _labels(z, labels)
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings about Python values in the model code
                traced = torch.jit.trace(whole, (z, labels), check_trace=False)
                want = whole(z, labels)
                got = traced(z, labels)
        except Exception:  # noqa: BLE001 - any model the tracer cannot follow renders eagerly
            return None
        same = len(want) == len(got) and all(
            a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.nan_to_num(), b.nan_to_num())
            for a, b in zip(want, got))
        return cls(traced) if same else None

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None):
        """(image (N,1,28,28), probs (N,10), score (N,) float64, {layer: output})."""
        with torch.inference_mode():
            image, probs, score, *captured = self._module(z, _labels(z, labels))
        return image, probs, score, dict(zip(Generator.LAYERS, captured))


def _labels(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The traced module always takes labels; an unconditional model ignores these zeros."""
    return labels if labels is not None else torch.zeros(z.shape[0], dtype=torch.long, device=z.device)


_BUILT: dict[tuple, TracedRender | None] = {}
_LOCK = threading.Lock()


def traced_render(engine) -> TracedRender | None:
    """The traced render for the engine's model content, traced on a copy of the engine the
    first time (``None`` too is kept: a model that cannot be traced is not traced again)."""
    cal = getattr(engine.classifier, "digitness", None)
    key = (engine.checkpoint.digest, json.dumps(engine.checkpoint.config, sort_keys=True, default=str),
           engine.classifier_checkpoint.digest, cal.digest if cal is not None else None, str(engine.device))
    with _LOCK:
        if key not in _BUILT:
            z = torch.zeros(1, engine.latent_dim, device=engine.device)
            labels = torch.zeros(1, dtype=torch.long, device=engine.device) if engine.conditional else None
            _BUILT[key] = TracedRender.build(copy.deepcopy(engine), z, labels)  # the copy outlives the engine
        return _BUILT[key]
