"""ExplorerState: the one object every panel reads from and writes to.

User actions change the state through its setters; each setter emits a signal only when
something really changed, so panels can update their widgets from the signals without
feedback loops.  The renderer listens too and stores the resulting :class:`Frame` here.
"""
from __future__ import annotations

import random
from typing import Any, Iterable, Mapping

import numpy as np
from PySide6.QtCore import QObject, Signal

from latent_explorer.models.atlas import Atlas
from latent_explorer.models.frame import Ablation, Frame
from latent_explorer.models.registry import LoadedModel

from .walkstate import WalkState

DEFAULT_OPTIONS: dict[str, Any] = {
    "plane": (0, 1),           # the coordinate plane the plane map shows
    "overview_axis": 2,        # small multiples are slices along this axis
    "overview_count": 16,      # ... this many of them
    "follow": True,            # orthogonal slices follow the point (else: stay at `anchor`)
    "anchor": None,            # where fixed slices were frozen (a point tuple)
    "hidden_digits": frozenset(),  # digits the 3-D view leaves out
    "overlay": None,           # a geometry overlay over the class maps (models/geometry.OVERLAYS) or None
}
KEPT_OPTIONS = ("overlay",)  # options that stay when the model changes


def clamp(v: float) -> float:
    return float(min(1.0, max(-1.0, v)))


class ExplorerState(QObject):
    """Model, latent point, digits and view options, with change signals."""

    modelChanged = Signal()         # a new model (or none): controls are rebuilt
    engineReady = Signal()          # a model opened before torch was loaded now has its torch engine
    pointChanged = Signal()         # the latent point moved
    digitChanged = Signal()         # the digit to generate (conditional models)
    atlasChanged = Signal()         # the atlas arrived, was replaced or removed
    atlasDigitChanged = Signal()    # whose atlas is shown (conditional models)
    optionChanged = Signal(str)     # a view option changed (its name)
    frameChanged = Signal()         # the renderer produced a new frame
    ablationsChanged = Signal()     # the layer edits in force changed
    overlaysChanged = Signal()      # the geometry overlays of the model arrived or were replaced

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model: LoadedModel | None = None
        self.atlas: Atlas | None = None
        self.overlays = None  # models.geometry.Overlays of the model, or None (app/qt/overlayjob.py)
        self.point: tuple[float, ...] = ()
        self.digit: int = 0
        self.atlas_digit: int = 0
        self.frame: Frame | None = None
        self.options: dict[str, Any] = dict(DEFAULT_OPTIONS)
        self.ablations: tuple[Ablation, ...] = ()  # layer edits every render applies
        self.walk = WalkState(self)  # the A-to-B walk (its own signals)

    # ------------------------------------------------------------ reading
    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim if self.model else 0

    @property
    def conditional(self) -> bool:
        return bool(self.model and self.model.conditional)

    def digit_or_none(self) -> int | None:
        """The digit to generate, or None for unconditional models."""
        return self.digit if self.conditional else None

    def atlas_digit_or_none(self) -> int | None:
        """Whose atlas to show, or None for unconditional models."""
        return self.atlas_digit if self.conditional else None

    def option(self, name: str) -> Any:
        return self.options[name]

    def slice_point(self) -> tuple[float, ...]:
        """Where orthogonal slices are cut: the point, or the anchor when slices are fixed."""
        anchor = self.options["anchor"]
        if self.options["follow"] or anchor is None or len(anchor) != len(self.point):
            return self.point
        return anchor

    # ------------------------------------------------------------ writing
    def set_model(self, model: LoadedModel | None) -> None:
        """Switch models: the point goes to the origin, options back to their defaults."""
        self.model = model
        self.atlas = model.atlas if model else None
        self.point = (0.0,) * model.latent_dim if model else ()
        self.digit = self.atlas_digit = 0
        self.frame = None
        kept = {k: self.options[k] for k in KEPT_OPTIONS}
        self.options = dict(DEFAULT_OPTIONS, **kept)
        self.overlays = getattr(model.atlas, "overlays", None) if model else None
        self.ablations = ()
        if model and model.latent_dim < 3:
            self.options["overview_axis"] = max(0, model.latent_dim - 1)
        self.walk.reset(model.latent_dim if model else 0)
        self.modelChanged.emit()

    def set_atlas(self, atlas: Atlas | None) -> None:
        if atlas is self.atlas:
            return
        self.atlas = atlas
        if self.model is not None:
            self.model.atlas = atlas
        self.atlasChanged.emit()

    def set_overlays(self, overlays) -> None:
        """The model's geometry overlays (:class:`models.geometry.Overlays`) or None."""
        if overlays is not self.overlays:
            self.overlays = overlays
            self.overlaysChanged.emit()

    def set_point(self, point: Iterable[float]) -> None:
        p = tuple(clamp(float(v)) for v in point)
        if len(p) != self.latent_dim:
            raise ValueError(f"point has {len(p)} coordinates, the model has {self.latent_dim}")
        if p != self.point:
            self.point = p
            self.pointChanged.emit()

    def set_coordinates(self, values: Mapping[int, float]) -> None:
        """Change some coordinates (axis -> value) in one step."""
        p = list(self.point)
        for axis, value in values.items():
            p[axis] = value
        self.set_point(p)

    def set_coordinate(self, axis: int, value: float) -> None:
        self.set_coordinates({axis: value})

    def reset_point(self) -> None:
        self.set_point((0.0,) * self.latent_dim)

    def random_point(self, rng: random.Random | np.random.Generator | None = None) -> None:
        rng = rng or np.random.default_rng()
        self.set_point(tuple(float(rng.uniform(-1, 1)) for _ in range(self.latent_dim)))

    def set_digit(self, digit: int) -> None:
        digit = int(digit)
        if not 0 <= digit <= 9:
            raise ValueError(f"digit must be 0..9, got {digit}")
        if digit != self.digit:
            self.digit = digit
            self.digitChanged.emit()

    def set_atlas_digit(self, digit: int) -> None:
        digit = int(digit)
        if not 0 <= digit <= 9:
            raise ValueError(f"digit must be 0..9, got {digit}")
        if digit != self.atlas_digit:
            self.atlas_digit = digit
            self.atlasDigitChanged.emit()

    def set_option(self, name: str, value: Any) -> None:
        if name not in self.options:
            raise KeyError(f"unknown view option {name!r}")
        if name == "follow" and not value:
            self.options["anchor"] = self.point
        if self.options[name] != value:
            self.options[name] = value
            self.optionChanged.emit(name)

    def set_ablations(self, ablations: Iterable[Ablation]) -> None:
        """Replace the layer edits (zeroed or scaled channels, rows, columns) in force."""
        abl = tuple(ablations)
        if abl != self.ablations:
            self.ablations = abl
            self.ablationsChanged.emit()

    def clear_ablations(self) -> None:
        self.set_ablations(())

    def set_frame(self, frame: Frame | None) -> None:
        self.frame = frame
        self.frameChanged.emit()
