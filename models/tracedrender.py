"""One latent point through generator and classifier as a single TorchScript call.

The interactive render runs in a worker thread beside the UI thread.  Run eagerly, it
hands the GIL back and forth around each of its ~60 torch calls, and every hand-back waits
for the UI thread's Python (slider handlers, pyqtgraph paints) to give it up: a 4 ms render
took 60 ms beside a busy Python thread.  Traced, the whole forward (every captured layer,
the classifier, the "not a digit" score) is one call that holds no GIL; the same test
takes 7-8 ms.

:func:`traced_render` builds one per model content (generator weights and config,
classifier weights, calibration) and checks it at the origin against the eager forward:
the outputs must be bit-identical, or it is not used (the engine stays eager).  Built
ones are kept for the life of the process: torch's tracer keeps every traced graph (and
the weights it refers to) in its global compilation unit anyway (pytorch/pytorch#35600),
so tracing a model again on each switch would leak a copy of it each time; with the
cache the memory is bounded by the number of different models opened.  A trace is made
from copies of the modules, so no engine's later changes to its own modules reach it.  Ablations always
take the eager path (their hooks change what the layers return).
"""
from __future__ import annotations

import json
import threading
import warnings

import torch
import torch.nn as nn

from .digitness import features


class _Whole(nn.Module):
    """(z, labels) -> (image, probs, score, layer outputs...) for a traced forward."""

    def __init__(self, generator: nn.Module, classifier: nn.Module, layers: tuple[str, ...], flat: tuple[str, ...],
                 conditional: bool) -> None:
        super().__init__()
        self.generator = generator
        self.classifier = classifier
        self.layers = layers
        self.flat = flat  # flat 12544-vectors, shown as 256 x 7 x 7 maps
        self.conditional = conditional
        self._captured: list[torch.Tensor] = []

    def _hook(self, name: str):
        def fn(_module, _inp, out):
            self._captured.append(out.view(out.shape[0], 256, 7, 7) if name in self.flat else out)
        return fn

    def forward(self, z: torch.Tensor, labels: torch.Tensor):
        self._captured = []
        handles = [getattr(self.generator, n).register_forward_hook(self._hook(n)) for n in self.layers]
        try:
            image = self.generator(z, labels if self.conditional else None)
        finally:
            for h in handles:
                h.remove()
        feats, logits = features(self.classifier, image)
        probs = torch.softmax(logits, dim=1)
        cal = getattr(self.classifier, "digitness", None)
        score = cal.scores(feats) if cal is not None else torch.full((z.shape[0],), float("nan"), dtype=torch.float64)
        captured, self._captured = self._captured, []
        return (image, probs, score, *captured)


class TracedRender:
    """The engine's forward for N points with their labels, traced (see the module docstring)."""

    def __init__(self, module, layers: tuple[str, ...]) -> None:
        self._module = module
        self.layers = layers

    @classmethod
    def build(cls, generator: nn.Module, classifier: nn.Module, layers: tuple[str, ...], flat: tuple[str, ...],
              conditional: bool, z: torch.Tensor, labels: torch.Tensor | None) -> "TracedRender | None":
        """Trace at (z, labels) and check the traced outputs there against the eager ones;
        ``None`` when tracing fails or they differ."""
        whole = _Whole(generator, classifier, layers, flat, conditional)
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
        return cls(traced, layers) if same else None

    def __call__(self, z: torch.Tensor, labels: torch.Tensor | None):
        """(image (N,1,28,28), probs (N,10), score (N,) float64, {layer: output})."""
        with torch.inference_mode():
            image, probs, score, *captured = self._module(z, _labels(z, labels))
        return image, probs, score, dict(zip(self.layers, captured))


def _labels(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The traced module always takes labels; an unconditional model ignores these zeros."""
    return labels if labels is not None else torch.zeros(z.shape[0], dtype=torch.long, device=z.device)


_BUILT: dict[tuple, TracedRender | None] = {}
_LOCK = threading.Lock()


def content_key(generator_digest: str, config: dict, classifier_digest: str, classifier: nn.Module,
                device: torch.device) -> tuple:
    """What a traced render depends on: the weights' digests, the generator's config, the
    classifier's calibration and the device."""
    cal = getattr(classifier, "digitness", None)
    return (generator_digest, json.dumps(config, sort_keys=True, default=str), classifier_digest,
            cal.digest if cal is not None else None, str(device))


def traced_render(key: tuple, build) -> TracedRender | None:
    """The traced render for ``key``, made by ``build()`` the first time (``None`` too is kept:
    a model that cannot be traced is not traced again)."""
    with _LOCK:
        if key not in _BUILT:
            _BUILT[key] = build()
        return _BUILT[key]
