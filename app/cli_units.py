"""``latent-explorer units``: rank a layer's units by what switching each one off does to
each digit; the unit x digit matrix as a figure and CSV (``models/unitrank.py``)."""
from __future__ import annotations

from pathlib import Path

from .cli import CHECKPOINTS, UsageError


def add_commands(sub) -> None:
    u = sub.add_parser("units", help="rank a layer's channels (or rows) by their effect on each digit",
                       description="Switch each channel (or row) of a generator layer off in turn at a set of "
                                   "latent points and measure how much each digit's probability drops (the "
                                   "independent classifier) and how much the image changes. Prints the top units "
                                   "per digit; -o writes the unit x digit matrix as a figure, --csv as a table.")
    u.add_argument("checkpoint", help="generator checkpoint file or shipped model name (gan2d, ...)")
    u.add_argument("--layer", default="act1", help="generator layer (dense, bn0, act0, deconv1, ..., act2, out)")
    u.add_argument("--rows", action="store_true", help="rank the layer's spatial rows instead of its channels")
    u.add_argument("--points", type=int, default=256, help="latent points to switch each unit off at")
    u.add_argument("--sampling", choices=["classes", "region", "uniform"], default="classes",
                   help="classes: points spread over every digit's region of the atlas (default); region: "
                        "points in --digit's region; uniform: over the box, each standing for the digit seen there")
    u.add_argument("--digit", type=int, help="the digit whose region --sampling region draws from")
    u.add_argument("--scale", type=float, default=0.0, help="what a unit is multiplied by (0: switched off)")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--top", type=int, default=5, help="units listed per digit")
    u.add_argument("--exact-top", type=int, default=0, metavar="K",
                   help="fast: estimate every unit's effect to first order, then switch off exactly only each "
                        "digit's K most likely units at its points (0, the default: every unit exactly)")
    u.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: about twice as fast on CPUs with AVX512-BF16, slightly inexact")
    u.add_argument("--atlas", help="atlas file (default: the one beside the checkpoint or in the cache)")
    u.add_argument("-o", "--out", help="figure of the unit x digit matrix (.png, .pdf or .svg)")
    u.add_argument("--csv", help="the matrix as CSV: one row per unit, the mean drop per digit and image change")
    u.add_argument("--force", action="store_true", help="overwrite existing files")
    u.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))


def cmd_units(args) -> int:
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.frame import GENERATOR_LAYERS
    from latent_explorer.models.registry import open_model, resolve
    from latent_explorer.models.unitrank import matrix_figure, points_for, rank_screened, rank_units

    from .cli_output import check_output

    if args.layer not in GENERATOR_LAYERS:
        raise UsageError(f"--layer {args.layer}: unknown layer (layers: {', '.join(GENERATOR_LAYERS)})")
    if args.sampling == "region" and args.digit is None:
        raise UsageError("--sampling region needs --digit 0..9 (whose region to draw points from)")
    if args.digit is not None and args.sampling != "region":
        raise UsageError(f"--digit {args.digit} applies only to --sampling region")
    outs = [check_output(p, args.force, ex) for p, ex in ((args.out, "units.png"), (args.csv, "units.csv")) if p]
    if len(outs) == 2 and outs[0].resolve() == outs[1].resolve():
        raise UsageError(f"-o and --csv name the same file {outs[0]}")
    if args.out and Path(args.out).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UsageError(f"{args.out}: the figure must be .png, .pdf or .svg")
    classifier = load_checkpoint(args.classifier, expect="classifier")
    model = open_model(resolve(args.checkpoint, CHECKPOINTS), classifier, atlas=args.atlas)
    engine = model.engine
    sampling = args.sampling
    if sampling != "uniform" and model.atlas is None:
        if sampling == "region":
            raise UsageError(f"{model.path}: no atlas beside it or in the cache, so no digit regions to draw points "
                             f"from; build one (`latent-explorer atlas build {model.path}`) or use --sampling uniform")
        print(f"note: {model.path} has no atlas; points drawn uniformly over the box instead")
        sampling = "uniform"
    points = points_for(engine, args.points, sampling, args.digit, model.atlas, args.seed)
    kind = "rows" if args.rows else "channels"
    if args.exact_top:
        ranking = rank_screened(engine, points, args.layer, kind, args.scale, per_digit=args.exact_top,
                                precision=args.precision)
    else:
        ranking = rank_units(engine, points, args.layer, kind, args.scale, precision=args.precision)
    how = f", exact for the top {args.exact_top} per digit" if args.exact_top else ""
    print(f"{model.name} {args.layer}: {ranking.units} {kind} x {len(points.points)} points "
          f"({points.description}{how}) in {ranking.seconds:.1f} s")
    digits = [args.digit] if sampling == "region" else [k for k in range(10) if ranking.counts()[k]]
    for k in digits:
        top = ranking.top(k, args.top)
        print(f"digit {k} ({int(ranking.counts()[k])} points): "
              + ", ".join(f"{ranking.unit_name(u)} ({-d:+.3f})" for u, d, _c in top))
    if args.out:
        from latent_explorer.models.figures import save_figure

        save_figure(matrix_figure(ranking, top=min(3, args.top)), args.out)
        print(f"wrote {args.out}")
    if args.csv:
        from latent_explorer.models.fileio import atomic_write_bytes

        atomic_write_bytes(Path(args.csv), ranking.csv_text().encode())
        print(f"wrote {args.csv}")
    return 0


COMMANDS = {"units": cmd_units}
