"""The first frame without torch: a numpy twin of ``Engine.render`` and the model opening
that uses it.

Importing torch takes about half of the app's start on a 2-core machine (1.5-1.9 s).
The window therefore opens its first model with :func:`open_preview`: the weights come
from the checkpoint files through ``models/previewread.py``, the generator, the classifier
and the "not a digit" check run in numpy (float32, the same layers as
``models/networks.py`` and ``models/classifier.py``), and the atlas comes from HDF5 as
always.  Right after the first frame the window loads the model with torch in the
background (:meth:`Preview.load`: ``load_checkpoint``, every check it makes, and the
torch engine), and checks that the weights are the ones the preview read.

Anything this module does not recognise (another network layout, dtype or pickle) raises
:class:`PreviewUnavailable`, and the window opens the model the usual way.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .checkpoint import FORMAT, FORMAT_VERSION, CheckpointError
from .digitness import Calibration, CalibrationError, calibration_path, load_calibration
from .frame import FLAT_LAYERS, Ablation, Frame, RenderRequest, check_request
from .previewread import PreviewUnavailable, read_arrays, state_digest

BN_EPS = 1e-5  # torch's BatchNorm default, which the networks use
ACTIVATIONS = ("leaky_relu", "relu", "prelu", "elu")


def _bn(x: np.ndarray, s: dict, name: str, axis: int = 0) -> np.ndarray:
    shape = [1] * x.ndim
    shape[axis] = -1
    scale = s[f"{name}.weight"] / np.sqrt(s[f"{name}.running_var"] + BN_EPS)
    shift = s[f"{name}.bias"] - s[f"{name}.running_mean"] * scale
    return x * scale.reshape(shape) + shift.reshape(shape)


def _activation(x: np.ndarray, kind: str, slope: np.ndarray | None) -> np.ndarray:
    """x is (C, H, W)."""
    if kind == "leaky_relu":
        return np.where(x >= 0, x, x * np.float32(0.3))
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "prelu":
        return np.where(x >= 0, x, x * slope.reshape(-1, 1, 1))
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))  # elu, alpha 1


def conv_transpose(x: np.ndarray, w: np.ndarray, stride: int, padding: int, output_padding: int) -> np.ndarray:
    """``ConvTranspose2d`` without bias: x (Cin, H, W), w (Cin, Cout, k, k) -> (Cout, H', W')."""
    cin, h, wd = x.shape
    cout, k = w.shape[1], w.shape[2]
    cols = (w.reshape(cin, cout * k * k).T @ x.reshape(cin, h * wd)).reshape(cout, k, k, h, wd)
    full = np.zeros((cout, (h - 1) * stride + k + output_padding, (wd - 1) * stride + k + output_padding), np.float32)
    for ky in range(k):
        for kx in range(k):
            full[:, ky:ky + stride * h:stride, kx:kx + stride * wd:stride] += cols[:, ky, kx]
    oh = (h - 1) * stride - 2 * padding + k + output_padding
    ow = (wd - 1) * stride - 2 * padding + k + output_padding
    return full[:, padding:padding + oh, padding:padding + ow]


def conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``Conv2d(kernel 3, padding 1)`` without bias: x (Cin, H, W), w (Cout, Cin, 3, 3)."""
    cin, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # (Cin, H, W, 3, 3)
    cols = cols.transpose(0, 3, 4, 1, 2).reshape(cin * 9, h * wd)
    return (w.reshape(w.shape[0], cin * 9) @ cols).reshape(w.shape[0], h, wd)


def _pool(x: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))


def apply_ablations(x: np.ndarray, ablations: list[Ablation]) -> np.ndarray:
    """``models.engine.apply_ablations`` for one (C, H, W) activation."""
    x = x.copy()
    c, h, w = x.shape
    for ab in ablations:
        mask = np.ones((c, h, w), bool)
        for dim, idx, size in ((0, ab.channels, c), (1, ab.rows, h), (2, ab.cols, w)):
            if idx is not None:
                bad = [i for i in idx if not 0 <= i < size]
                if bad:
                    raise ValueError(f"ablation {ab.describe()}: index {bad[0]} out of range 0..{size - 1}")
                sel = np.zeros(size, bool)
                sel[list(idx)] = True
                shape = [1, 1, 1]
                shape[dim] = size
                mask &= sel.reshape(shape)
        x = np.where(mask, x * np.float32(ab.scale), x)
    return x


def _expect(state: dict, shapes: dict[str, tuple]) -> None:
    for key, shape in shapes.items():
        a = state.get(key)
        if not isinstance(a, np.ndarray) or tuple(a.shape) != shape:
            raise PreviewUnavailable(f"weight {key} is not {shape}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise PreviewUnavailable(f"weight {key} is not finite")


def _bn_shapes(name: str, n: int) -> dict[str, tuple]:
    return {f"{name}.{p}": (n,) for p in ("weight", "bias", "running_mean", "running_var")}


class PreviewEngine:
    """``Engine.render`` in numpy for one generator and the classifier (no tracing, no
    batches: what the window needs until its torch engine is loaded)."""

    trace_pending = False

    def __init__(self, config: dict, state: dict, classifier_config: dict, classifier_state: dict,
                 calibration: Calibration | None) -> None:
        d, self.conditional = config["latent_dim"], config["conditional"]
        self.latent_dim, self.activation = d, config["activation"]
        self.hidden_label = self.conditional and config["conditioning"] == "hidden"
        shapes = {"deconv1.weight": (256, 128, 5, 5), "deconv2.weight": (128, 64, 5, 5),
                  "deconv3.weight": (64, 1, 5, 5), **_bn_shapes("bn0", 12544), **_bn_shapes("bn1", 128),
                  **_bn_shapes("bn2", 64)}
        if self.hidden_label:
            shapes |= {"dense.linear.weight": (12544, d), "dense.label_bias": (10, 12544)}
        else:
            shapes["dense.weight"] = (12544, d)
            if self.conditional:
                shapes["label_embedding.weight"] = (10, d)
        if self.activation == "prelu":
            shapes |= {"act0.weight": (256,), "act1.weight": (128,), "act2.weight": (64,)}
        _expect(state, shapes)
        self.g = {k: state[k].astype(np.float32) for k in shapes}
        w, f = classifier_config["width"], classifier_config["features"]
        cshapes = {"body.0.weight": (w, 1, 3, 3), "body.3.weight": (w, w, 3, 3), "body.7.weight": (2 * w, w, 3, 3),
                   "body.10.weight": (2 * w, 2 * w, 3, 3), "body.15.weight": (f, 2 * w * 49),
                   "head.weight": (10, f), "head.bias": (10,)}
        for name, n in (("body.1", w), ("body.4", w), ("body.8", 2 * w), ("body.11", 2 * w), ("body.16", f)):
            cshapes |= _bn_shapes(name, n)
        _expect(classifier_state, cshapes)
        self.c = {k: classifier_state[k].astype(np.float32) for k in cshapes}
        self.calibration = calibration

    def _generate(self, point, digit: int | None, capture: bool,
                  ablations: tuple[Ablation, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        g, act = self.g, self.activation
        by_layer: dict[str, list[Ablation]] = {}
        for ab in ablations:
            by_layer.setdefault(ab.layer, []).append(ab)
        captured: dict[str, np.ndarray] = {}

        def out(name: str, x: np.ndarray) -> np.ndarray:
            shaped = x.reshape(256, 7, 7) if name in FLAT_LAYERS else x
            if name in by_layer:
                shaped = apply_ablations(shaped, by_layer[name])
            if capture:
                captured[name] = shaped
            return shaped.reshape(x.shape)

        z = np.asarray(point, np.float32)
        if self.hidden_label:
            x = g["dense.linear.weight"] @ z + g["dense.label_bias"][digit]
        else:
            if self.conditional:
                z = z + g["label_embedding.weight"][digit]
            x = g["dense.weight"] @ z
        x = out("dense", x)
        x = out("bn0", _bn(x, g, "bn0"))
        x = out("act0", _activation(x.reshape(256, 7, 7), act, g.get("act0.weight")))
        x = out("deconv1", conv_transpose(x, g["deconv1.weight"], 1, 2, 0))
        x = out("bn1", _bn(x, g, "bn1"))
        x = out("act1", _activation(x, act, g.get("act1.weight")))
        x = out("deconv2", conv_transpose(x, g["deconv2.weight"], 2, 2, 1))
        x = out("bn2", _bn(x, g, "bn2"))
        x = out("act2", _activation(x, act, g.get("act2.weight")))
        x = out("deconv3", conv_transpose(x, g["deconv3.weight"], 2, 2, 1))
        x = out("out", np.tanh(x))
        return x[0], captured

    def _judge(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Softmax probabilities (10,) and the "not a digit" score (NaN without a calibration)."""
        if not np.isfinite(image).all():  # an invalid image: no class, never a digit (as judge_tensor)
            return np.zeros(10, np.float32), float("inf")
        c = self.c
        h = image[None].astype(np.float32)
        for conv, bn in (("body.0", "body.1"), ("body.3", "body.4"), ("body.7", "body.8"), ("body.10", "body.11")):
            h = np.maximum(_bn(conv3x3(h, c[f"{conv}.weight"]), c, bn), 0)
            if conv == "body.3":
                h = _pool(h)
        block4 = np.concatenate([h.mean((1, 2)), h.std((1, 2), ddof=1)])
        pen = np.maximum(_bn(c["body.15.weight"] @ _pool(h).reshape(-1), c, "body.16"), 0)
        logits = c["head.weight"] @ pen + c["head.bias"]
        e = np.exp(logits - logits.max())
        probs = (e / e.sum()).astype(np.float32)
        if self.calibration is None:
            return probs, float("nan")
        score = self.calibration.scores_numpy({"penultimate": pen[None], "block4": block4[None]})
        return probs, float(score[0])

    def render(self, request: RenderRequest) -> Frame:
        """Image, layer activations and the classifier's verdict for one point."""
        t0 = time.perf_counter()
        check_request(request, self.latent_dim, self.conditional)
        digit = int(request.digit) if self.conditional else None
        image, acts = self._generate(request.point, digit, request.capture, request.ablations)
        reference = self._generate(request.point, digit, False, ())[0] if request.ablations else None
        probs, score = self._judge(image)
        return Frame(point=np.asarray(request.point, np.float32), digit=request.digit, image=image, probs=probs,
                     activations=acts, reference_image=reference, seconds=time.perf_counter() - t0,
                     is_digit=not score > 0, digit_score=score)


class Preview:
    """What :func:`open_preview` read, and how to load the same model with torch."""

    def __init__(self, path: Path, digest: str, classifier_digest: str, engine: PreviewEngine,
                 load_classifier: Callable[[], object]) -> None:
        self.path, self.digest, self.classifier_digest, self.engine = path, digest, classifier_digest, engine
        self._load_classifier = load_classifier
        self.on_loaded: list[Callable[[], None]] = []  # called once the model is loaded with torch

    def load(self):
        """(checkpoint, engine) loaded with torch (``load_checkpoint``'s checks, the torch
        engine); raises CheckpointError if the file no longer holds the weights previewed."""
        from .checkpoint import load_checkpoint
        from .engine import Engine
        from .registry import GENERATOR_KINDS

        classifier = self._load_classifier()
        if classifier is None:
            raise CheckpointError("cannot explore models without the classifier")
        ckpt = load_checkpoint(self.path, expect=GENERATOR_KINDS)
        if ckpt.digest != self.digest or classifier.digest != self.classifier_digest:
            raise CheckpointError(f"{self.path}: the file changed while it was being opened; open it again")
        return ckpt, Engine(ckpt, classifier)


def _header(path: Path, payload: dict, kinds: tuple[str, ...]) -> tuple[str, dict, dict]:
    if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION \
            or payload.get("kind") not in kinds:
        raise PreviewUnavailable(f"{path}: not a {' or '.join(kinds)} checkpoint of this format")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise PreviewUnavailable(f"{path}: no config or weights")
    return payload["kind"], config, state


def read_classifier(path: str | os.PathLike) -> tuple[dict, dict, str, Calibration | None]:
    """The classifier's config, numpy weights, digest and calibration, without torch."""
    path = Path(path)
    _, config, state = _header(path, read_arrays(path), ("classifier",))
    cfg = {"width": config.get("width", 32), "features": config.get("features", 128)}
    if not all(type(v) is int and 1 <= v <= 4096 for v in cfg.values()):
        raise PreviewUnavailable(f"{path}: unusual classifier size")
    digest = state_digest(state)
    calibration = None
    if calibration_path(path).exists():
        try:
            calibration = load_calibration(calibration_path(path), digest,
                                           {"penultimate": cfg["features"], "block4": 4 * cfg["width"]})
        except CalibrationError as exc:
            raise PreviewUnavailable(str(exc)) from None
    return cfg, state, digest, calibration


def open_preview(path: str | os.PathLike, classifier: tuple[dict, dict, str, Calibration | None],
                 load_classifier: Callable[[], object]):
    """A :class:`~models.registry.LoadedModel` for the generator at ``path`` whose frames
    come from numpy until it is completed with torch; its atlas is found as
    :func:`~models.registry.open_model` finds it.  ``classifier`` is :func:`read_classifier`'s
    answer; ``load_classifier`` returns the torch classifier when the model is completed."""
    from types import SimpleNamespace

    from .registry import GENERATOR_KINDS, LoadedModel, find_atlas, outdated_atlas

    path = Path(path)
    kind, config, state = _header(path, read_arrays(path), GENERATOR_KINDS)
    cfg = {"latent_dim": config.get("latent_dim"), "conditional": config.get("conditional", False),
           "activation": config.get("activation", "leaky_relu"),
           "conditioning": config.get("conditioning", "shift")}  # as GanConfig.from_dict reads it
    if type(cfg["latent_dim"]) is not int or not 1 <= cfg["latent_dim"] <= 64 or cfg["conditional"] != (kind == "cgan") \
            or cfg["activation"] not in ACTIVATIONS or cfg["conditioning"] not in ("hidden", "shift") \
            or config.get("prior", "uniform[-1,1]") != "uniform[-1,1]":
        raise PreviewUnavailable(f"{path}: a config this preview does not know")
    ccfg, cstate, cdigest, calibration = classifier
    engine = PreviewEngine(cfg, state, ccfg, cstate, calibration)
    digest = state_digest(state)
    # what find_atlas and outdated_atlas read of a checkpoint: its path and digest
    gen, cls = SimpleNamespace(path=path, digest=digest), SimpleNamespace(path=None, digest=cdigest)
    atlas, notes = find_atlas(gen, cls)
    if atlas is not None and (atlas.latent_dim != engine.latent_dim or atlas.conditional != engine.conditional):
        raise PreviewUnavailable(f"{atlas.path}: does not fit the model")  # open_model reports it
    return LoadedModel(atlas=atlas, notes=tuple(notes), outdated_atlas=outdated_atlas(gen),
                       preview=Preview(path, digest, cdigest, engine, load_classifier))
