"""One latent point through generator and classifier as a single TorchScript call.

The interactive render runs in a worker thread beside the UI thread.  Run eagerly, it
hands the GIL back and forth around each of its ~60 torch calls, and every hand-back waits
for the UI thread's Python (slider handlers, pyqtgraph paints) to give it up: a 4 ms render
took 60 ms beside a busy Python thread.  Traced, the whole forward (every captured layer,
the classifier, the "not a digit" score) is one call that holds no GIL.  Its outputs are
written into two flat buffers (float32, and the float64 score) and split with numpy:
a Python tensor handed back, made or freed in the render thread takes the GIL again (for
a freed one, torch releases it while the tensor is destroyed), and each time the UI thread
is busy that is a wait of up to a switch interval; fourteen outputs and the inputs made
19 such waits a render, now there is one (the call's return).

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

import numpy as np
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


class _Packed(nn.Module):
    """:class:`_Whole`'s outputs written into two flat buffers given as inputs: the float32
    outputs joined in order into ``out32`` and the float64 ones into ``out64`` (the tracer
    cannot reinterpret float64 as float32); returns ``out32``."""

    def __init__(self, whole: _Whole) -> None:
        super().__init__()
        self.whole = whole

    def forward(self, z: torch.Tensor, labels: torch.Tensor, out32: torch.Tensor, out64: torch.Tensor):
        out = self.whole(z, labels)
        torch.cat([t.reshape(-1) for t in out if t.dtype == torch.float64], out=out64)
        return torch.cat([t.reshape(-1) for t in out if t.dtype == torch.float32], out=out32)


class TracedRender:
    """The engine's forward and judgement for one point, traced (see the module docstring).

    Inputs and outputs live in tensors made once and reached through numpy views, so a
    render creates and frees no Python tensor: freeing one hands the GIL over too."""

    def __init__(self, module, layout: list[tuple[tuple[int, ...], np.dtype]], tensors: tuple) -> None:
        self._module = module  # traced on ``tensors``: (z, labels, out32, out64)
        self._layout = layout  # (shape, dtype) of each output, in the packed order
        self._tensors = tensors
        self._cpu = tensors[0].device.type == "cpu"
        self._head_words = sum(int(np.prod(shape)) for shape, dt in layout[:3] if dt == np.float32)
        # numpy views made once: each .numpy() makes a Python tensor that is freed with its view
        self._views = tuple(t.numpy() for t in self._tensors) if self._cpu else None
        self._lock = threading.Lock()  # one render at a time through the shared buffers

    @classmethod
    def build(cls, engine, z: torch.Tensor, labels: torch.Tensor) -> "TracedRender | None":
        """Trace ``engine`` (which the trace keeps: give it a copy) at (z, labels) and check
        the traced outputs there against the eager ones; ``None`` when tracing fails or they
        differ.  ``labels`` are ignored by an unconditional model, but always given."""
        engine.classifier.eval()
        whole = _Whole(engine)
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings about Python values in the model code
                want = [t.cpu().numpy() for t in whole(z, labels)]
                layout = [(w.shape, w.dtype) for w in want]
                if any(dt not in (np.float32, np.float64) for _, dt in layout):
                    return None
                sizes = {t: sum(int(np.prod(shape)) for shape, dt in layout if dt == t) for t in (np.float32, np.float64)}
                tensors = (z.clone(), labels.clone(), torch.empty(sizes[np.float32], dtype=torch.float32, device=z.device),
                           torch.empty(sizes[np.float64], dtype=torch.float64, device=z.device))
                built = cls(torch.jit.trace(_Packed(whole), tensors, check_trace=False), layout, tensors)
                got = built._unpack(*built._run(tensors[0], tensors[1]))
        except Exception:  # noqa: BLE001 - any model the tracer cannot follow renders eagerly
            return None
        same = len(want) == len(got) and all(
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
            for a, b in zip(want, got))
        return built if same else None

    def _run(self, z: torch.Tensor, labels: torch.Tensor, words: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The traced module on (z, labels); copies of the two buffers (of the float32 one,
        its first ``words`` only when given)."""
        _, _, out32, out64 = self._tensors
        with torch.inference_mode():
            self._module(z, labels, out32, out64)
        if not self._cpu:
            return out32[:words].cpu().numpy(), out64.cpu().numpy()
        return _copy(self._views[2][:words]), _copy(self._views[3])

    def _unpack(self, out32: np.ndarray, out64: np.ndarray) -> list[np.ndarray]:
        """The outputs, in order, as views of the two buffers (as many as they hold)."""
        out, at = [], {np.float32: 0, np.float64: 0}
        for shape, dtype in self._layout:
            flat, n = (out64 if dtype == np.float64 else out32), int(np.prod(shape))
            if at[dtype.type] + n > len(flat):
                break
            out.append(flat[at[dtype.type]:at[dtype.type] + n].reshape(shape))
            at[dtype.type] += n
        return out

    def __call__(self, point, digit: int | None, capture: bool = True):
        """One point (d floats) and its digit (conditional models; else None) ->
        (image (28, 28), probs (10,), score (float), {layer: output (C, H, W)}), numpy;
        no layers ({}) unless ``capture``."""
        with self._lock:
            z, labels = self._tensors[:2]
            if self._cpu:
                self._views[0][0] = point
                self._views[1][0] = 0 if digit is None else int(digit)
            else:
                z = torch.tensor([point], dtype=torch.float32, device=z.device)
                labels = torch.tensor([0 if digit is None else int(digit)], device=z.device)
            if capture:
                image, probs, score, *captured = self._unpack(*self._run(z, labels))
            else:  # the image and the probabilities lead the float32 buffer
                image, probs, score = self._unpack(*self._run(z, labels, self._head_words))[:3]
                captured = []
        return image[0, 0], probs[0], float(score[0]), {name: c[0] for name, c in zip(Generator.LAYERS, captured)}


def _copy(a: np.ndarray) -> np.ndarray:
    """A writable copy of a flat array made while holding the GIL (numpy's own copy lets it
    go for large arrays, and getting it back can wait a switch interval)."""
    return np.frombuffer(bytearray(memoryview(a)), dtype=a.dtype)


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
            labels = torch.zeros(1, dtype=torch.long, device=engine.device)  # an unconditional model ignores them
            _BUILT[key] = TracedRender.build(copy.deepcopy(engine), z, labels)  # the copy outlives the engine
        return _BUILT[key]
