"""``latent-explorer geometry``: a model's sensitivity and attribute maps as a figure and
JSON, without Qt."""
from __future__ import annotations

import json
import sys

from .cli import CHECKPOINTS, UsageError
from .cli_output import check_output
from .cli_render import _point

AXES = "xyzw"


def add_commands(sub) -> None:
    from latent_explorer.models.geometry import OVERLAYS

    g = sub.add_parser("geometry", help="where the image changes fast and what each direction does: sensitivity "
                                        "and attribute maps of a generator's latent box",
                       description="Map how fast a generator's image changes with the latent point (sensitivity, in "
                                   "pixels or in the classifier's features) and what it draws (ink, stroke thickness, "
                                   "slant, width, height from image moments), beside the class map; arrows point along "
                                   "the steepest increase of an attribute; the correlation of each latent axis with "
                                   "each attribute (per digit for conditional models). Stored overlays of the "
                                   "model's atlas are used when present; else they are computed.")
    g.add_argument("checkpoint", help="shipped model name (gan2d, cgan3d, ...) or checkpoint path")
    g.add_argument("--overlay", default="sensitivity", choices=list(OVERLAYS))
    g.add_argument("--digit", type=int, help="digit (conditional models; default 0)")
    g.add_argument("--point", type=_point, help="3-D/4-D: the slice goes through this point (default the centre)")
    g.add_argument("--axes", default="xy", help="the slice's two axes, e.g. xz (default xy)")
    g.add_argument("--resolution", type=int, default=0,
                   help="overlay grid points per axis (default: the atlas's stored overlays, else 128 in 2-D, "
                        "32 in 3-D, 16 in 4-D; fewer for conditional models)")
    g.add_argument("--atlas", help="atlas file (default: the one beside the model or in the cache)")
    g.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    g.add_argument("--dpi", type=float, default=100)
    g.add_argument("-o", "--out", help="figure (.png, .pdf, .svg)")
    g.add_argument("--json", help="the overlays' figures (range, mean, units) and the correlations as JSON")
    g.add_argument("--force", action="store_true", help="overwrite existing output files")


def _axes(text: str, latent_dim: int) -> tuple[int, int]:
    names = AXES[:latent_dim]
    if len(text) != 2 or text[0] == text[1] or any(c not in names for c in text):
        raise UsageError(f"--axes {text!r}: give two different axes of {', '.join(names)}, e.g. {names[:2]}")
    return names.index(text[0]), names.index(text[1])


def cmd_geometry(args) -> int:
    import numpy as np

    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.fileio import atomic_write_bytes
    from latent_explorer.models.geometry import overlays_for
    from latent_explorer.models.geometryfigures import geometry_figure
    from latent_explorer.models.maps import compute_slice
    from latent_explorer.models.figures import save_figure
    from latent_explorer.models.registry import open_model, resolve

    if not args.out and not args.json:
        raise UsageError("nothing to write: give -o FIGURE and/or --json FILE")
    out = check_output(args.out, args.force, "geometry.png") if args.out else None
    js = check_output(args.json, args.force, "geometry.json") if args.json else None
    if args.resolution and not 3 <= args.resolution <= 512:
        raise UsageError("--resolution must be between 3 and 512")
    classifier = load_checkpoint(args.classifier, expect="classifier")
    model = open_model(resolve(args.checkpoint, CHECKPOINTS), classifier, atlas=args.atlas)
    engine = model.engine
    d = engine.latent_dim
    if d < 2:
        raise UsageError("geometry needs a latent space of at least 2 dimensions")
    axes = _axes(args.axes, d)
    digit = args.digit
    if engine.conditional:
        digit = 0 if digit is None else digit
        if not 0 <= digit <= 9:
            raise UsageError(f"--digit must be 0..9, got {digit}")
    elif digit is not None:
        raise UsageError(f"{model.name} is not conditional; --digit does not apply")
    point = tuple(args.point) if args.point else (0.0,) * d
    if len(point) != d:
        raise UsageError(f"--point has {len(point)} coordinates, {model.name} has a {d}-D latent space")
    if any(not -1 <= v <= 1 for v in point):
        raise UsageError(f"--point {point} lies outside the latent box [-1, 1]")
    stored = getattr(model.atlas, "overlays", None) if model.atlas is not None else None
    if stored is not None and not args.resolution and (
            not stored.conditional or bool(np.isfinite(stored.maps[args.overlay][digit]).all())):
        overlays, source = stored, f"stored in {model.atlas.path}"
    else:
        digits = [digit] if engine.conditional else None
        overlays = overlays_for(model.checkpoint, classifier, args.resolution or None, digits=digits)
        source = f"computed: {overlays.evaluations:,} images in {overlays.seconds:.1f} s"
    if model.atlas is not None:
        labels, conf = model.atlas.slice2d(axes, point, digit)
    else:
        labels, conf = compute_slice(engine, axes, point, digit, resolution=64)
    if out is not None:
        fig = geometry_figure(overlays, args.overlay, labels, conf, model=model.name, axes=axes, point=point,
                              digit=digit, dpi=args.dpi)
        save_figure(fig, out)
        print(f"wrote {out}")
    summary = overlays.summary()
    from latent_explorer.models.geometry import ridges_on_borders

    summary["ridges"] = {name: ridges_on_borders(overlays.slice2d(name, axes, point, digit), labels)
                         for name in ("sensitivity", "sensitivity-features")}
    summary.update({"model": model.name, "overlay": args.overlay, "axes": [AXES[a] for a in axes],
                    "point": list(point), "digit": digit, "source": source})
    if js is not None:
        atomic_write_bytes(js, (json.dumps(summary, indent=2) + "\n").encode())
        print(f"wrote {js}")
    info = summary["overlays"][args.overlay]
    rid = summary["ridges"]["sensitivity"]
    print(f"ridges: {100 * rid['on_borders']:.0f}% of the 10% most sensitive points lie on a class border "
          f"(borders cover {100 * rid['border_area']:.0f}% of the plane)")
    print(f"{model.name}: {args.overlay} {info['min']:.4g} .. {info['max']:.4g} (median {info['median']:.4g}) "
          f"{info['unit']}; overlays {source}", file=sys.stdout)
    return 0


COMMANDS = {"geometry": cmd_geometry}
