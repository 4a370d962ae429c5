"""Unit ranking: which channels (or rows) of a generator layer matter for which digit.

For one layer, every unit (a channel, or a spatial row) is switched off in turn (scaled by
``scale``, 0 by default: the same edit as :class:`models.frame.Ablation`) at a set of latent
points, and the independent classifier says how much each digit's probability drops; the
mean absolute pixel change of the image is kept beside it.  Qt-free; the window, the
``units`` command and the benchmark all call :func:`rank_units`.

Exact and batched: the generator runs once up to the layer for all points; the layer's
unit edits pass through the elementwise layers that follow it (BatchNorm in eval mode,
the activation) for all units at once, and the next transposed convolution, being linear,
adds only each unit's own contribution (one grouped convolution for all channels) to the
unedited output.  Only the rest of the generator and the classifier run per unit and point.

The fast ranking (:func:`rank_screened`) estimates every unit's effect to first order (one
backward pass) and switches off exactly only each digit's likeliest units at its points.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .frame import GENERATOR_LAYERS, Ablation
from .layers import LAYER_SHAPES

KINDS = ("channels", "rows")
SAMPLINGS = ("region", "classes", "uniform")
LINEAR = ("deconv1", "deconv2", "deconv3")  # the layers after which an edit no longer stays in its unit
BATCH = 2048  # (unit, point) pairs per pass through the rest of the generator and the classifier


class Cancelled(Exception):
    """The ranking was stopped (``should_stop`` returned True)."""


@dataclass
class PointSet:
    """Latent points to rank units over, each with the digit whose probability is measured."""

    points: np.ndarray          # (P, d) float32 in [-1, 1]
    classes: np.ndarray         # (P,) int: the digit each point stands for
    gen_digits: np.ndarray | None = None  # (P,) conditional models: the label fed to the generator
    description: str = ""


@dataclass
class UnitRanking:
    """Per unit and point: every digit's probability with the unit off, and the image change."""

    model: str
    layer: str
    kind: str
    scale: float
    points: PointSet
    base_probs: np.ndarray      # (P, 10) with nothing switched off
    probs: np.ndarray           # (U, P, 10) with unit u switched off
    change: np.ndarray          # (U, P) mean |pixel change| (pixels in [-1, 1])
    seconds: float = 0.0
    precision: str = "float32"
    meta: dict = field(default_factory=dict)

    @property
    def units(self) -> int:
        return int(self.probs.shape[0])

    def unit_name(self, u: int) -> str:
        return f"{'ch' if self.kind == 'channels' else 'row'} {u}"

    def ablation(self, u: int) -> Ablation:
        """The layer edit that switches unit ``u`` off (for the live view, renders, exports)."""
        return Ablation(self.layer, **{self.kind: (int(u),)}, scale=self.scale)

    def drop(self) -> np.ndarray:
        """(U, P): the drop of each point's own digit's probability when unit u is off."""
        idx = np.arange(len(self.points.classes))
        own = self.probs[:, idx, self.points.classes]
        return self.base_probs[idx, self.points.classes][None] - own

    def matrix(self) -> np.ndarray:
        """(U, 10): mean drop of digit k's probability over the points standing for k (NaN
        for a digit without points, and for a unit not switched off there)."""
        d = self.drop()
        out = np.full((self.units, 10), np.nan, np.float32)
        for k in range(10):
            sel = self.points.classes == k
            if sel.any():
                out[:, k] = _nanmean(d[:, sel])
        return out

    @property
    def screened(self) -> int:
        """0 for a full ranking, else how many units per digit were switched off exactly."""
        return int(self.meta.get("screened", 0))

    def counts(self) -> np.ndarray:
        """(10,) how many points stand for each digit."""
        return np.bincount(self.points.classes, minlength=10)[:10]

    def mean_change(self) -> np.ndarray:
        return _nanmean(self.change)

    def top(self, digit: int | None = None, n: int = 10) -> list[tuple[int, float, float]]:
        """The ``n`` units whose removal lowers ``digit``'s probability most (all points'
        own digits when None): (unit, mean drop, mean image change), largest drop first."""
        score = _nanmean(self.drop()) if digit is None else self.matrix()[:, digit]
        measured = np.nonzero(np.isfinite(score))[0]  # a screened ranking leaves the other units out
        order = measured[np.argsort(-score[measured], kind="stable")][:n]
        ch = self.mean_change()
        return [(int(u), float(score[u]), float(ch[u])) for u in order]

    def csv_text(self) -> str:
        """One row per unit: the mean drop for each digit, the mean over all points and the
        mean image change; a comment header names the model, layer and points."""
        buf = io.StringIO()
        counts = self.counts()
        how = f"; exact for the top {self.screened} units per digit, the rest left empty" if self.screened else ""
        buf.write(f"# {self.model} {self.layer} {self.kind} x{self.scale:g}{how}; {len(self.points.classes)} points "
                  f"({self.points.description}); points per digit: "
                  + " ".join(f"{k}:{int(c)}" for k, c in enumerate(counts)) + "\n")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["unit", *[f"drop_{k}" for k in range(10)], "drop_mean", "image_change"])
        m, mean, ch = self.matrix(), _nanmean(self.drop()), self.mean_change()
        for u in range(self.units):
            w.writerow([u, *[_num(v) for v in m[u]], _num(mean[u]), _num(ch[u])])
        return buf.getvalue()


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the finite values; NaN where there are none (no warning)."""
    ok = np.isfinite(a)
    n = ok.sum(-1)
    total = np.where(ok, a, 0.0).sum(-1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan).astype(np.float32)


def _num(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:.6f}"


# ------------------------------------------------------------------ points


def _region_cells(atlas, digit: int, gen_digit: int | None) -> np.ndarray:
    labels, _ = atlas.volume(gen_digit if atlas.conditional else None)
    return np.argwhere(labels == digit)


def sample_points(latent_dim: int, n: int, sampling: str = "classes", digit: int | None = None, atlas=None,
                  conditional: bool = False, seed: int = 0, label=None) -> PointSet:
    """``n`` points: ``region`` (inside ``digit``'s region of the atlas), ``classes`` (shared
    equally among the digits that have a region) or ``uniform`` (over the box; each point stands for the
    digit the classifier sees there, given by ``label(points, gen_digits) -> digits``).
    Points are drawn at random inside the atlas's cells (seeded)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r} (one of {', '.join(SAMPLINGS)})")
    if n < 1:
        raise ValueError("at least one point is needed")
    rng = np.random.default_rng(seed)
    if sampling == "uniform":
        pts = rng.uniform(-1, 1, (n, latent_dim)).astype(np.float32)
        gen = (np.arange(n) % 10).astype(np.int64) if conditional else None
        if label is None:
            raise ValueError("uniform sampling needs the classifier's labels")
        return PointSet(pts, np.asarray(label(pts, gen), np.int64), gen, f"{n} uniform")
    if atlas is None:
        raise ValueError(f"{sampling} sampling needs the model's atlas (build one with `latent-explorer atlas build`)")
    if sampling == "region":
        if digit is None or not 0 <= digit <= 9:
            raise ValueError("region sampling needs a digit 0..9")
        wanted = {digit: n}
    else:  # n shared among the digits that have a region
        present = [k for k in range(10) if len(_region_cells(atlas, k, k if conditional else None))]
        wanted = {k: n // len(present) + (1 if i < n % len(present) else 0) for i, k in enumerate(present)} \
            if present else {}
    half = 1.0 / max(1, atlas.resolution - 1)  # half a cell: the grid points are cell centres
    axis = atlas.axis
    pts, classes = [], []
    for k, m in wanted.items():
        if m == 0:
            continue
        cells = _region_cells(atlas, k, k if conditional else None)
        if len(cells) == 0:
            if sampling == "region":
                raise ValueError(f"digit {k} has no region in the atlas: no points to rank units over")
            continue
        pick = cells[rng.integers(0, len(cells), m)]
        p = axis[pick] + rng.uniform(-half, half, pick.shape)
        pts.append(np.clip(p, -1, 1).astype(np.float32))
        classes.append(np.full(m, k, np.int64))
    if not pts:
        raise ValueError("the atlas has no digit regions: no points to rank units over")
    P, C = np.concatenate(pts), np.concatenate(classes)
    what = f"{len(P)} in digit {digit}'s region" if sampling == "region" else \
        f"{len(P)} spread over the digits' regions"
    return PointSet(P, C, C.copy() if conditional else None, what)


# ------------------------------------------------------------------ ranking


def _run_layers(g, names, x):
    """The generator's layers ``names`` in order on ``x`` (N, C, H, W): the flat BatchNorm
    on the flattened features, as the generator's forward does."""
    for name in names:
        m = getattr(g, name)
        x = m(x.reshape(len(x), -1)).view(-1, 256, 7, 7) if name == "bn0" else m(x)
    return x


def unit_count(layer: str, kind: str) -> int:
    c, h, _w = LAYER_SHAPES[layer]
    return c if kind == "channels" else h


def _check(layer: str, kind: str) -> None:
    if layer not in GENERATOR_LAYERS:
        raise ValueError(f"unknown layer {layer!r} (layers: {', '.join(GENERATOR_LAYERS)})")
    if kind not in KINDS:
        raise ValueError(f"unknown unit kind {kind!r} (one of {', '.join(KINDS)})")


def rank_units(engine, points: PointSet, layer: str, kind: str = "channels", scale: float = 0.0,
               batch: int = BATCH, precision: str = "float32", pairs: np.ndarray | None = None,
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> UnitRanking:
    """Switch each unit of ``layer`` off in turn at every point of ``points`` (see the module
    docstring); ``engine`` is a :class:`models.engine.Engine` (its generator and classifier
    are only read, so a worker thread may share them with renders of single frames).
    ``pairs`` (units x points, bool) limits the work to those pairs (the rest stay NaN)."""
    import torch

    from .sampling import bulk_copy, precision_context

    _check(layer, kind)
    t0 = time.perf_counter()
    g = engine.generator
    device = engine.device
    clf = bulk_copy(engine.classifier)
    order = list(GENERATOR_LAYERS)
    li = order.index(layer)
    nxt = next((name for name in order[li + 1:] if name in LINEAR), None)
    elementwise = order[li + 1:order.index(nxt)] if nxt else order[li + 1:]
    after = order[order.index(nxt) + 1:] if nxt else []
    U = unit_count(layer, kind)
    P = len(points.points)
    done = 0

    def run(names, x):
        return _run_layers(g, names, x)

    def classify(images):
        with precision_context(device, precision):
            logits = clf(images.contiguous(memory_format=torch.channels_last))
        return torch.softmax(logits.float(), 1)

    with torch.inference_mode():
        z = torch.as_tensor(points.points, dtype=torch.float32, device=device)
        labels = None
        if engine.conditional:
            labels = torch.as_tensor(points.gen_digits, dtype=torch.long, device=device)
        base_img, acts = engine._forward(z, labels, True, ())
        base_img = base_img.float()
        base_probs = classify(base_img)
        A = acts[layer].float()                              # (P, C, H, W) the layer's output
        E = run(elementwise, A)                              # unedited, at the end of its elementwise run
        E_off = run(elementwise, A * scale)                  # every unit off at once: elementwise, so each unit's
        delta = E_off - E                                    # slice is what it alone being off gives
        if kind == "rows":
            rows = torch.eye(A.shape[2], dtype=torch.bool, device=device)  # (H, H): unit r covers row r
        lin = getattr(g, nxt) if nxt else None
        Y = lin(E) if lin is not None else E                 # the linear layer's unedited output
        sel = np.ones((U, P), bool) if pairs is None else np.asarray(pairs, bool)
        if sel.shape != (U, P):
            raise ValueError(f"pairs must be ({U}, {P}) for {U} {kind} and {P} points, got {sel.shape}")
        total = int(sel.sum())
        probs = torch.full((U, P, 10), float("nan"))
        change = torch.full((U, P), float("nan"))
        base_flat = base_img.reshape(P, -1)
        sparse = kind == "channels" and lin is not None and not sel.all()
        for chunk in _chunks(sel, batch, sparse):
            if should_stop is not None and should_stop():
                raise Cancelled()
            idx = torch.as_tensor(chunk, dtype=torch.long, device=device)
            n = len(chunk)
            if sparse:
                # only the pairs asked for: each pair's channel alone through the linear layer, one group a pair
                pu, pi = np.nonzero(sel[chunk])
                units_of = np.asarray(chunk)[pu]
                at_u = torch.as_tensor(units_of, device=device)
                at_p = torch.as_tensor(pi, device=device)
                d = delta[at_p, at_u][None]                  # (1, k, H, W)
                c = torch.nn.functional.conv_transpose2d(d, lin.weight[at_u], None, lin.stride, lin.padding,
                                                         lin.output_padding, groups=len(pi))
                y = Y[at_p] + c.view(len(pi), *Y.shape[1:])
                flat = units_of * P + pi
            elif kind == "channels":
                d = delta[:, idx]                            # (P, n, H, W)
                if lin is not None:
                    # each channel's contribution alone: a grouped transposed convolution
                    w = lin.weight[idx]                      # (n, O, k, k)
                    c = torch.nn.functional.conv_transpose2d(d, w, None, lin.stride, lin.padding, lin.output_padding,
                                                             groups=n)
                    c = c.view(P, n, *Y.shape[1:]).transpose(0, 1)  # (n, P, O, H', W')
                    y = (Y[None] + c).reshape(n * P, *Y.shape[1:])
                else:
                    y = E[None].repeat(n, 1, 1, 1, 1)
                    for j, u in enumerate(chunk):
                        y[j, :, u] += d[:, j]
                    y = y.reshape(n * P, *E.shape[1:])
            else:
                m = rows[idx][:, None, None, :, None]        # (n, 1, 1, H, 1)
                d = (delta[None] * m).reshape(n * P, *delta.shape[1:])
                if lin is not None:
                    c = torch.nn.functional.conv_transpose2d(d, lin.weight, None, lin.stride, lin.padding,
                                                             lin.output_padding)
                    y = (Y[None] + c.view(n, P, *Y.shape[1:])).reshape(n * P, *Y.shape[1:])
                else:
                    y = (E[None] + d.view(n, P, *E.shape[1:])).reshape(n * P, *E.shape[1:])
            if not sparse:
                flat = (np.asarray(chunk)[:, None] * P + np.arange(P)[None]).reshape(-1)
                mask = sel[chunk].reshape(-1)
                if not mask.all():                           # only the pairs asked for go on
                    y = y[torch.as_tensor(mask, device=device)]
                    flat = flat[mask]
            with precision_context(device, precision):
                img = run(after, y).float()
            at = torch.as_tensor(flat)
            probs.view(U * P, 10)[at] = classify(img).cpu()
            change.view(U * P)[at] = (img.reshape(len(flat), -1) - base_flat[torch.as_tensor(flat % P, device=device)]
                                      ).abs().mean(1).cpu()
            done += len(flat)
            if progress is not None:
                progress(done, total)
    name = engine.checkpoint.name if getattr(engine, "checkpoint", None) is not None else "model"
    return UnitRanking(model=name, layer=layer, kind=kind, scale=float(scale), points=points,
                       base_probs=base_probs.cpu().numpy(), probs=probs.numpy(), change=change.numpy(),
                       seconds=time.perf_counter() - t0, precision=precision)


def _chunks(sel: np.ndarray, batch: int, sparse: bool = False) -> list[list[int]]:
    """Units with work to do, grouped so each pass runs about ``batch`` (unit, point) pairs
    (and, unless ``sparse`` (pairs built one by one), builds at most four times that many
    edited activations)."""
    P = sel.shape[1]
    chunks, cur, count = [], [], 0
    for u in np.nonzero(sel.any(1))[0]:
        cur.append(int(u))
        count += int(sel[u].sum())
        if count >= batch or (not sparse and (len(cur) + 1) * P > 4 * batch):
            chunks.append(cur)
            cur, count = [], 0
    if cur:
        chunks.append(cur)
    return chunks


def estimate_drops(engine, points: PointSet, layer: str, kind: str = "channels", scale: float = 0.0) -> np.ndarray:
    """(U, P): a first-order estimate of how much each unit being off lowers the log
    probability of each point's digit (the gradient at the layer times the edit: one
    backward pass for all units), to choose which units to switch off exactly."""
    import torch

    from .sampling import bulk_copy

    _check(layer, kind)
    g = engine.generator
    clf = bulk_copy(engine.classifier)
    order = list(GENERATOR_LAYERS)
    z = torch.as_tensor(points.points, dtype=torch.float32, device=engine.device)
    labels = None
    if engine.conditional:
        labels = torch.as_tensor(points.gen_digits, dtype=torch.long, device=engine.device)
    _img, acts = engine._forward(z, labels, True, ())
    with torch.enable_grad():
        a = acts[layer].float().clone().requires_grad_(True)  # out of inference mode: a tensor autograd can use
        x = _run_layers(g, order[order.index(layer) + 1:], a)
        logp = torch.log_softmax(clf(x.contiguous(memory_format=torch.channels_last)).float(), 1)
        own = logp[torch.arange(len(z)), torch.as_tensor(points.classes)]
        (grad,) = torch.autograd.grad(own.sum(), a)
    contrib = (grad * a.detach()).float() * (1.0 - scale)  # -(change of log p) = -grad . (scale - 1) a
    per = contrib.sum((2, 3)) if kind == "channels" else contrib.sum((1, 3))
    return per.T.contiguous().numpy()


def screened_pairs(estimate: np.ndarray, classes: np.ndarray, per_digit: int) -> np.ndarray:
    """(U, P) bool: for each digit, its ``per_digit`` units of largest mean estimated drop,
    at that digit's points."""
    sel = np.zeros(estimate.shape, bool)
    for k in np.unique(classes):
        at = classes == k
        top = np.argsort(-estimate[:, at].mean(1), kind="stable")[:per_digit]
        sel[np.ix_(top, at)] = True
    return sel


def rank_screened(engine, points: PointSet, layer: str, kind: str = "channels", scale: float = 0.0,
                  per_digit: int = 32, **kw) -> UnitRanking:
    """The fast ranking: estimate every unit's effect (:func:`estimate_drops`), then switch
    off exactly, at each digit's points, only that digit's ``per_digit`` most likely units;
    the figures of the units ranked are exact, the others are left out (NaN)."""
    t0 = time.perf_counter()
    est = estimate_drops(engine, points, layer, kind, scale)
    r = rank_units(engine, points, layer, kind, scale, pairs=screened_pairs(est, points.classes, per_digit), **kw)
    r.seconds = time.perf_counter() - t0
    r.meta.update(screened=per_digit, estimate=est)
    return r


def points_for(engine, n: int, sampling: str = "classes", digit: int | None = None, atlas=None,
               seed: int = 0) -> PointSet:
    """:func:`sample_points` for an engine (its latent size, conditioning and classifier)."""
    def label(pts, gen):
        return engine.classify(engine.images(pts, gen)).argmax(1)

    return sample_points(engine.latent_dim, n, sampling, digit, atlas, engine.conditional, seed, label)


def activation_map(engine, point, layer: str, kind: str, unit: int, digit: int | None = None) -> np.ndarray:
    """The unit's activation at one point: a channel's (H, W) map, or a row's (C, W) slice."""
    from .frame import RenderRequest

    frame = engine.render(RenderRequest(tuple(float(v) for v in point), digit=digit))
    a = frame.activations[layer]
    return a[unit] if kind == "channels" else a[:, unit, :]


# ------------------------------------------------------------------ figure


def matrix_figure(ranking: UnitRanking, top: int = 3, dpi: float = 100):
    """The unit x digit matrix as a heatmap (units down, digits across; mean drop of the
    digit's probability when the unit is off), the strongest units per digit marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = ranking.matrix()
    U = ranking.units
    height = min(14.0, max(3.4, 1.7 + U * 0.045))
    top_in, bottom_in = 0.8, 0.6  # inches for the titles and the digit axis
    fig = Figure(figsize=(6.4, height), dpi=dpi)
    FigureCanvasAgg(fig)
    box = (bottom_in / height, 1 - (top_in + bottom_in) / height)
    ax = fig.add_axes((0.12, box[0], 0.62, box[1]))
    lim = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    lim = lim if lim > 1e-9 else 1.0
    im = ax.imshow(np.ma.masked_invalid(m), aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xticks(range(10))
    ax.set_xticklabels([str(k) for k in range(10)])
    ax.set_xlabel("digit (points in its region: " + " ".join(str(int(c)) for c in ranking.counts()) + ")",
                  fontsize=8)
    ax.set_ylabel(f"{ranking.layer} {ranking.kind[:-1]}")
    for k in range(10):
        if not np.isfinite(m[:, k]).any():
            continue
        for u, _d, _c in ranking.top(k, top):
            ax.plot(k, u, marker="o", ms=4 if U > 64 else 6, mfc="none", mec="black", mew=0.8)
    cax = fig.add_axes((0.78, box[0], 0.03, box[1]))
    fig.colorbar(im, cax=cax, label="drop of the digit's probability")
    fig.text(0.5, 1 - 0.25 / height, f"{ranking.model}: which {ranking.layer} {ranking.kind} matter for which digit",
             ha="center", va="center", fontsize=10)
    how = f"; exact for the top {ranking.screened} per digit, others blank" if ranking.screened else ""
    fig.text(0.5, 1 - 0.52 / height, f"each unit switched off (x{ranking.scale:g}) at {len(ranking.points.classes)} "
             f"points ({ranking.points.description}){how}; circles: top {top} per digit", ha="center", va="center",
             fontsize=7)
    return fig
