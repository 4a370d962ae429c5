"""The Qt-free engine: one latent point in, one :class:`Frame` out.

``Engine.render(request)`` runs the generator once with forward hooks that capture every
layer's output (and apply any ablation), then the classifier on the image.  The GUI, the
command line and the tests all go through this one function.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import Checkpoint
from .digitness import Verdict, judge, judge_tensor
from .frame import FLAT_LAYERS, Ablation, Frame, RenderRequest, check_point, check_request  # noqa: F401 -- re-exported
from .networks import Generator
from .tracedrender import TracedRender, traced_render


class Engine:
    """Holds a generator and the classifier; renders frames for latent points."""

    def __init__(self, generator: Checkpoint, classifier: Checkpoint, device: str = "cpu", traced: bool = False) -> None:
        if generator.kind not in ("gan", "cgan"):
            raise ValueError(f"{generator.path}: not a generator checkpoint")
        self.checkpoint = generator
        self.classifier_checkpoint = classifier
        self.device = torch.device(device)
        self.generator: Generator = generator.model.to(self.device).eval()
        self.classifier = classifier.model.to(self.device).eval()
        self.latent_dim = int(generator.config["latent_dim"])
        self.conditional = bool(generator.config.get("conditional"))
        self._modules = {name: getattr(self.generator, name) for name in Generator.LAYERS}
        # traced: single points without ablations go through one TorchScript call once
        # prepare_trace() has built it (models/tracedrender.py; for a render thread beside a
        # UI thread); until then, and where tracing fails, renders are eager
        self._traced: TracedRender | None | bool = None if traced else False  # None: to build; False: eager only

    def validate_point(self, point) -> None:
        """Raise ValueError unless ``point`` has d finite coordinates inside [-1, 1]."""
        check_point(point, self.latent_dim)

    def validate(self, request: RenderRequest) -> None:
        check_request(request, self.latent_dim, self.conditional)

    @torch.inference_mode()
    def _forward(self, z: torch.Tensor, labels: torch.Tensor | None, capture: bool,
                 ablations: tuple[Ablation, ...]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        captured: dict[str, torch.Tensor] = {}
        handles = []
        by_layer: dict[str, list[Ablation]] = {}
        for ab in ablations:
            by_layer.setdefault(ab.layer, []).append(ab)

        def hook(name):
            def fn(_module, _inp, out):
                shaped = out.view(out.shape[0], 256, 7, 7) if name in FLAT_LAYERS else out
                if name in by_layer:
                    shaped = apply_ablations(shaped, by_layer[name])
                if capture:
                    captured[name] = shaped
                if name in by_layer:
                    return shaped.reshape(out.shape)
                return None
            return fn

        for name, module in self._modules.items():
            if capture or name in by_layer:
                handles.append(module.register_forward_hook(hook(name)))
        try:
            image = self.generator(z, labels)
        finally:
            for h in handles:
                h.remove()
        return image, captured

    def render(self, request: RenderRequest) -> Frame:
        """Image, all layer activations and the classifier's probabilities for one point."""
        t0 = time.perf_counter()
        self.validate(request)
        fast = self._traced if self._traced and not request.ablations else None
        reference = None
        if fast is not None:  # numpy out, no torch call from Python on the way
            image, probs, score, acts = fast(request.point, request.digit if self.conditional else None,
                                             request.capture)
        else:
            z = torch.tensor([request.point], dtype=torch.float32, device=self.device)
            labels = torch.tensor([int(request.digit)], device=self.device) if self.conditional else None
            image_t, captured = self._forward(z, labels, request.capture, request.ablations)
            if request.ablations:
                ref, _ = self._forward(z, labels, False, ())
                reference = ref[0, 0].float().cpu().numpy()
            with torch.inference_mode():
                probs_t, score_t = judge_tensor(self.classifier, image_t)
            image, probs, score = _numpy(image_t)[0, 0], _numpy(probs_t)[0], float(_numpy(score_t)[0])
            acts = {k: _numpy(v)[0] for k, v in captured.items()}
        return Frame(point=np.asarray(request.point, np.float32), digit=request.digit,
                     image=image, probs=probs, activations=acts,
                     reference_image=reference, seconds=time.perf_counter() - t0,
                     is_digit=not score > 0, digit_score=score)

    @property
    def trace_pending(self) -> bool:
        """True when this engine was asked to trace and :meth:`prepare_trace` has not run."""
        return self._traced is None

    @property
    def is_traced(self) -> bool:
        return bool(self._traced)

    def prepare_trace(self) -> bool:
        """Build the traced single-point render (about 0.1 s; checked at the origin against
        the eager one, which stays in use if they differ).  True when renders now use it."""
        if self._traced is None:
            self._traced = traced_render(self) or False
        return bool(self._traced)

    @torch.inference_mode()
    def images(self, points: np.ndarray, digits: np.ndarray | None = None,
               ablations: tuple[Ablation, ...] = ()) -> np.ndarray:
        """Images (N, 28, 28) for many points (eval mode, float32)."""
        z = torch.as_tensor(np.asarray(points, np.float32), device=self.device).reshape(-1, self.latent_dim)
        labels = None
        if self.conditional:
            if digits is None:
                raise ValueError("a conditional model needs digits")
            labels = torch.as_tensor(np.broadcast_to(np.asarray(digits, np.int64), (len(z),)).copy(), device=self.device)
        out = []
        for i in range(0, len(z), 512):
            img, _ = self._forward(z[i:i + 512], labels[i:i + 512] if labels is not None else None, False, ablations)
            out.append(img[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, 28, 28), np.float32)

    @torch.inference_mode()
    def classify(self, images: np.ndarray) -> np.ndarray:
        """Classifier probabilities (N, 10) for images (N, 28, 28) in [-1, 1]."""
        x = torch.as_tensor(np.asarray(images, np.float32), device=self.device).reshape(-1, 1, 28, 28)
        out = [F.softmax(self.classifier(x[i:i + 2048]).float(), 1).cpu().numpy() for i in range(0, len(x), 2048)]
        return np.concatenate(out) if out else np.empty((0, 10), np.float32)

    def judge(self, images: np.ndarray) -> Verdict:
        """Closest digit, confidence, is-a-digit and score for images (N, 28, 28) in [-1, 1]
        (:func:`models.digitness.judge`; ``.map_labels`` has 10 where there is no digit)."""
        return judge(self.classifier, images)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A float tensor as numpy with no torch call where none is needed (each torch call in the
    render thread hands the GIL to the UI thread and waits to get it back)."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return t.numpy()
    return t.float().cpu().numpy()


def apply_ablations(x: torch.Tensor, ablations: list[Ablation]) -> torch.Tensor:
    """Return a copy of ``x`` (N, C, H, W) with each ablation's region scaled."""
    x = x.clone()
    n, c, h, w = x.shape
    for ab in ablations:
        mask = torch.ones(c, h, w, dtype=torch.bool, device=x.device)
        for dim, idx, size in ((0, ab.channels, c), (1, ab.rows, h), (2, ab.cols, w)):
            if idx is not None:
                bad = [i for i in idx if not 0 <= i < size]
                if bad:
                    raise ValueError(f"ablation {ab.describe()}: index {bad[0]} out of range 0..{size - 1}")
                sel = torch.zeros(size, dtype=torch.bool, device=x.device)
                sel[list(idx)] = True
                shape = [1, 1, 1]
                shape[dim] = size
                mask &= sel.view(shape)
        x = torch.where(mask, x * ab.scale, x)
    return x
