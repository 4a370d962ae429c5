"""What one render asks for and what it gives back: plain data, no torch.

:class:`RenderRequest` (a point, a digit, layer edits) goes in, :class:`Frame` (image,
probabilities, activations) comes out, whichever engine made it: the torch one
(``models/engine.py``) or the numpy one that shows the first frame before torch is loaded
(``models/previewengine.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NO_DIGIT = 10  # the label value meaning "not a digit" in label arrays (maps, atlases, histories)
# The generator's layers after which the explorer shows activations, in forward order
# (``Generator.LAYERS``).
GENERATOR_LAYERS = ("dense", "bn0", "act0", "deconv1", "bn1", "act1", "deconv2", "bn2", "act2", "deconv3", "out")


INVALID_IMAGE = "the model produced an invalid image (NaN or infinite pixels)"


def describe(closest: int, confidence: float, is_digit: bool, valid: bool = True) -> str:
    """``7 (97%)`` or ``not a digit (closest: 1, 97%)``, or :data:`INVALID_IMAGE`."""
    if not valid:
        return INVALID_IMAGE
    if is_digit:
        return f"{closest} ({confidence:.0%})"
    return f"not a digit (closest: {closest}, {confidence:.0%})"


# Layers whose output is a flat 12544-vector, shown as 256 x 7 x 7 maps.
FLAT_LAYERS = ("dense", "bn0", "act0")


@dataclass(frozen=True)
class Ablation:
    """Zero (scale 0) or scale part of one layer's output: some channels, rows or columns.

    ``None`` for channels/rows/cols means "all"; the edit covers the intersection.
    """

    layer: str
    channels: tuple[int, ...] | None = None
    rows: tuple[int, ...] | None = None
    cols: tuple[int, ...] | None = None
    scale: float = 0.0

    def describe(self) -> str:
        parts = [self.layer]
        for name in ("channels", "rows", "cols"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={','.join(map(str, v))}")
        parts.append(f"x{self.scale:g}")
        return " ".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Ablation":
        """``LAYER:CHANNELS`` e.g. ``act2:0-7,12`` or ``act2:rows=3-5`` or ``act1:*:scale=0.5``."""
        head, _, rest = text.partition(":")
        if head not in GENERATOR_LAYERS:
            raise ValueError(f"unknown layer {head!r} in ablation {text!r} (layers: {', '.join(GENERATOR_LAYERS)})")
        kw: dict = {"layer": head}
        for part in filter(None, rest.split(":")):
            key, eq, val = part.partition("=")
            if not eq:
                key, val = "channels", part
            if key == "scale":
                try:
                    kw["scale"] = float(val)
                except ValueError:
                    raise ValueError(f"bad scale {val!r} in ablation {text!r}") from None
                if not -MAX_SCALE <= kw["scale"] <= MAX_SCALE:  # NaN fails too
                    raise ValueError(f"scale {val} in ablation {text!r} must be a number from {-MAX_SCALE:g} to "
                                     f"{MAX_SCALE:g}")
            elif key in ("channels", "rows", "cols"):
                kw[key] = None if val == "*" else _parse_ranges(val, text)
            else:
                raise ValueError(f"unknown ablation field {key!r} in {text!r}")
        return cls(**kw)


MAX_INDEX = 4096  # above any layer's channels, rows or columns: bounds what an index list can expand to
MAX_SCALE = 1000.0


def _parse_ranges(text: str, whole: str) -> tuple[int, ...]:
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = (int(v) for v in part.split("-"))
                bounds = (a, b)
                if b < a:  # an empty range: the edit would silently do nothing
                    raise LookupError(f"range {part!r} in ablation {whole!r} runs backwards (write {b}-{a})")
            elif part:
                a = b = int(part)
                bounds = (a,)
            else:
                continue
            if not all(0 <= v < MAX_INDEX for v in bounds) or len(out) + b - a + 1 > MAX_INDEX:
                raise OverflowError
            out.extend(range(a, b + 1))
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    except ValueError:
        raise ValueError(f"bad index list {text!r} in ablation {whole!r}") from None
    except OverflowError:
        raise ValueError(f"index list {text[:40]!r} in ablation {whole[:60]!r}: indices must be 0..{MAX_INDEX - 1}, "
                         f"at most {MAX_INDEX} of them") from None
    return tuple(out)


@dataclass(frozen=True)
class RenderRequest:
    """What to compute: a latent point, a digit (conditional models), ablations."""

    point: tuple[float, ...]
    digit: int | None = None
    capture: bool = True
    ablations: tuple[Ablation, ...] = ()


@dataclass
class Frame:
    """Everything the views show for one point (plain numpy data)."""

    point: np.ndarray
    digit: int | None
    image: np.ndarray  # (28, 28) float32 in [-1, 1]
    probs: np.ndarray  # (10,)
    activations: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> (C, H, W)
    reference_image: np.ndarray | None = None  # without ablations (only when ablations are set)
    seconds: float = 0.0
    is_digit: bool = True  # the classifier's "not a digit" check (models/digitness.py)
    digit_score: float = float("nan")  # > 0: not a digit; NaN without a calibration

    @property
    def valid(self) -> bool:
        """False when the generator produced NaN or infinite pixels: then there is no class
        (probabilities 0, not a digit) and every view says :data:`INVALID_IMAGE`."""
        return bool(np.isfinite(self.image).all())

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    @property
    def label(self) -> int:
        """The predicted digit, or ``NO_DIGIT`` (10) when the image is not a digit."""
        return self.predicted if self.is_digit else NO_DIGIT

    def describe(self) -> str:
        """``7 (97%)`` or ``not a digit (closest: 1, 97%)``."""
        return describe(self.predicted, self.confidence, self.is_digit, self.valid)


def check_point(point, latent_dim: int) -> None:
    """Raise ValueError unless ``point`` has ``latent_dim`` finite coordinates inside [-1, 1]."""
    p = np.asarray(point, dtype=np.float64)
    if p.shape != (latent_dim,):
        raise ValueError(f"point has {p.size} coordinates, the model has a {latent_dim}-D latent space")
    if not np.all(np.isfinite(p)) or np.any(np.abs(p) > 1.0 + 1e-9):
        raise ValueError(f"point {tuple(float(v) for v in p)} lies outside the latent box [-1, 1]^{latent_dim}")


def check_request(request: RenderRequest, latent_dim: int, conditional: bool) -> None:
    """Raise ValueError for a request that a model of this kind cannot render."""
    check_point(request.point, latent_dim)
    if conditional and (request.digit is None or not 0 <= int(request.digit) <= 9):
        raise ValueError("a conditional model needs a digit from 0 to 9")
    for ab in request.ablations:
        if ab.layer not in GENERATOR_LAYERS:
            raise ValueError(f"unknown layer {ab.layer!r}")
