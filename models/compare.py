"""Side-by-side comparison of generators that share a latent space (Qt-free).

The activation-function study trains generators that differ only in their hidden
activation; this module puts them next to each other: the same latent point (and digit)
through every one, and their evaluation figures in one table.  The desktop app's
comparison dock and ``latent-explorer compare`` both use it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .checkpoint import Checkpoint, load_checkpoint
from .frame import Frame, RenderRequest, describe
from .registry import GENERATOR_KINDS, ModelEntry, model_folders, resolve, scan_folders

# Display order of the hidden activations (the reference study's comparison set).
ACTIVATION_ORDER = ("relu", "leaky_relu", "prelu", "elu")
ACTIVATION_LABEL = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "prelu": "PReLU", "elu": "ELU"}


@dataclass(frozen=True)
class Column:
    """One generator's result at the compared point."""

    name: str
    activation: str
    image: np.ndarray  # (28, 28) in [-1, 1]
    predicted: int
    confidence: float
    is_digit: bool = True  # the classifier's "not a digit" check (predicted is then the closest digit)
    valid: bool = True  # False: the generator produced NaN or infinite pixels here (no class at all)

    @property
    def verdict(self) -> str:
        """``7 (0.97)``, ``not a digit (closest: 1, 97%)`` or the invalid-image sentence."""
        if self.valid and self.is_digit:
            return f"{self.predicted} ({self.confidence:.2f})"
        return describe(self.predicted, self.confidence, self.is_digit, self.valid)


@dataclass(frozen=True)
class Row:
    """One generator's training budget and evaluation figures (from its checkpoint)."""

    name: str
    activation: str
    epochs: int | None
    seconds: float | None
    confident_share: float | None
    strong_judge_error: float | None
    frechet_distance: float | None
    smallest_digit_share: float | None
    digits_present: int | None


def comparable(entries: Iterable[ModelEntry], latent_dim: int, conditional: bool) -> list[ModelEntry]:
    """The entries with this latent size and conditioning, ordered by activation then name."""
    rank = {a: i for i, a in enumerate(ACTIVATION_ORDER)}
    same = [e for e in entries if e.latent_dim == latent_dim and e.conditional == conditional]
    return sorted(same, key=lambda e: (rank.get(e.activation, len(rank)), e.name))


def comparable_in(folder: str | os.PathLike, latent_dim: int, conditional: bool) -> list[ModelEntry]:
    """:func:`comparable` over the generator checkpoints in ``folder``."""
    return comparable(scan_folders(model_folders(folder)), latent_dim, conditional)


def _number(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def evaluation_row(checkpoint: Checkpoint) -> Row:
    """The figures recorded in a checkpoint's metadata (None where it has none)."""
    meta = checkpoint.meta if isinstance(checkpoint.meta, dict) else {}
    ev = meta.get("evaluation") if isinstance(meta.get("evaluation"), dict) else {}
    shares = ev.get("digit_share")
    smallest = present = None
    if isinstance(shares, (list, tuple)) and len(shares) == 10:
        arr = np.asarray([_number(s) or 0.0 for s in shares])
        smallest, present = float(arr.min()), int((arr > 0).sum())
    epochs = meta.get("epochs")
    return Row(name=checkpoint.name, activation=str(checkpoint.config.get("activation", "leaky_relu")),
               epochs=int(epochs) if isinstance(epochs, int) else None, seconds=_number(meta.get("seconds")),
               confident_share=_number(ev.get("confident_share")),
               strong_judge_error=_number(ev.get("strong_judge_error")),
               frechet_distance=_number(ev.get("frechet_distance")),
               smallest_digit_share=smallest, digits_present=present)


class Comparison:
    """Several generators (same latent size and conditioning) and one classifier."""

    def __init__(self, generators: Sequence[Checkpoint], classifier: Checkpoint) -> None:
        if not generators:
            raise ValueError("nothing to compare: no generators given")
        from .engine import Engine

        self.engines = [Engine(g, classifier) for g in generators]
        dims = {(e.latent_dim, e.conditional) for e in self.engines}
        if len(dims) != 1:
            listing = ", ".join(f"{e.checkpoint.name} ({e.latent_dim}-D{', conditional' if e.conditional else ''})"
                                for e in self.engines)
            raise ValueError(f"cannot compare generators with different latent spaces: {listing}")
        self.latent_dim, self.conditional = dims.pop()

    @classmethod
    def open(cls, paths: Iterable[str | os.PathLike], classifier: Checkpoint) -> "Comparison":
        """Load the checkpoints (CheckpointError names a bad file)."""
        return cls([load_checkpoint(p, expect=GENERATOR_KINDS) for p in paths], classifier)

    @property
    def names(self) -> list[str]:
        return [e.checkpoint.name for e in self.engines]

    def render(self, point: Sequence[float], digit: int | None = None, first: Frame | None = None) -> list[Column]:
        """The same point (and digit, for conditional models) through every generator.

        ``first``: a frame the first generator already rendered for this request (the
        window's own frame), so it is not computed twice."""
        request = RenderRequest(point=tuple(float(v) for v in point),
                                digit=digit if self.conditional else None, capture=False)
        columns = []
        for i, engine in enumerate(self.engines):
            frame = first if i == 0 and first is not None else engine.render(request)
            columns.append(Column(name=engine.checkpoint.name,
                                  activation=str(engine.checkpoint.config.get("activation", "leaky_relu")),
                                  image=frame.image, predicted=frame.predicted,
                                  confidence=float(frame.probs[frame.predicted]), is_digit=frame.is_digit,
                                  valid=frame.valid))
        return columns

    def rows(self) -> list[Row]:
        return [evaluation_row(e.checkpoint) for e in self.engines]


# ------------------------------------------------------------------ text


def _pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}%"


TABLE_HEADER = ("model", "activation", "epochs", "training time", "confident (>=0.9)",
                "strong judge error", "Frechet distance", "smallest digit share")


def row_cells(row: Row) -> tuple[str, ...]:
    """A row as display strings, in :data:`TABLE_HEADER` order."""
    return (row.name, ACTIVATION_LABEL.get(row.activation, row.activation),
            "-" if row.epochs is None else str(row.epochs),
            "-" if row.seconds is None else f"{row.seconds / 60:.0f} min",
            _pct(row.confident_share), _pct(row.strong_judge_error, 2),
            "-" if row.frechet_distance is None else f"{row.frechet_distance:.1f}",
            _pct(row.smallest_digit_share))


def markdown_table(rows: Sequence[Row], columns: Sequence[Column] | None = None) -> str:
    """The evaluation table in Markdown (with each model's label at the point, if given)."""
    header = list(TABLE_HEADER) + (["at the point"] if columns else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    at = {c.name: c.verdict for c in columns or ()}
    for row in rows:
        cells = list(row_cells(row)) + ([at.get(row.name, "-")] if columns else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def comparison_figure(columns: Sequence[Column], rows: Sequence[Row], point: Sequence[float],
                      digit: int | None = None, dpi: int = 150):
    """A matplotlib figure: the images side by side above the evaluation table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib only when a figure is made
    from matplotlib.figure import Figure

    n = len(columns)
    fig = Figure(figsize=(max(7.5, 1.9 * n), 4.8), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, n, height_ratios=(1.3, 1.0), hspace=0.3, left=0.03, right=0.97, top=0.86, bottom=0.02)
    for i, col in enumerate(columns):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(col.image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{col.name}\n{ACTIVATION_LABEL.get(col.activation, col.activation)}", fontsize=8)
        ax.set_xlabel(f"digit {col.verdict}" if col.valid and col.is_digit else col.verdict, fontsize=8)
    table_ax = fig.add_subplot(grid[1, :])
    table_ax.axis("off")
    labels = [h.replace(" (", "\n(").replace("strong judge ", "strong judge\n").replace("time", "\ntime")
              .replace("Frechet ", "Frechet\n").replace("smallest ", "smallest\n") for h in TABLE_HEADER]
    table = table_ax.table(cellText=[row_cells(r) for r in rows], colLabels=labels, loc="upper center",
                           cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    for (r, _c), cell in table.get_celld().items():
        cell.set_height(0.2 if r == 0 else 0.11)
    coords = ", ".join(f"{v:+.2f}" for v in point)
    extra = f", digit {digit}" if digit is not None else ""
    fig.suptitle(f"The same latent point ({coords}{extra}) through each generator", fontsize=10)
    return fig


def default_paths(folder: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    """Checkpoint paths for model names or paths (``gan2d-relu`` -> folder/gan2d-relu.pt)."""
    return [resolve(n, folder) for n in names]
