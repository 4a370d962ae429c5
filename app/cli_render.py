"""``latent-explorer render``: one PNG of a latent point (image, class map, probabilities),
without Qt."""
from __future__ import annotations

import argparse

from .cli import CHECKPOINTS, UsageError


def _point(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as -0.84,0.54, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("the point needs at least one coordinate")
    return values


def add_commands(sub) -> None:
    r = sub.add_parser("render", help="write a PNG of one latent point: image, class map, probabilities",
                       description="Render one latent point of a generator to an image file: the generated "
                                   "digit, the class map with the point (for 3D/4D the xy slice through it) "
                                   "and the classifier's probabilities.")
    r.add_argument("--model", default="gan2d", help="shipped model name (gan2d, cgan3d, ...) or checkpoint path")
    r.add_argument("--point", type=_point, required=True, help="latent coordinates, e.g. -0.84,0.54")
    r.add_argument("--digit", type=int, help="digit to generate (conditional models)")
    r.add_argument("--atlas", help="atlas file (default: the one beside the model or in the cache)")
    r.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    r.add_argument("--resolution", type=int, default=64,
                   help="grid size of the map plane when there is no atlas (default 64)")
    r.add_argument("--dpi", type=float, default=100, help="pixels per inch (the figure is 11 x 5 inches)")
    r.add_argument("--ablate", action="append", default=[], metavar="LAYER:CHANNELS",
                   help="zero or scale part of a layer, e.g. act2:0-7, act2:rows=3-5, act1:*:scale=0.5 "
                        "(repeatable; named in the title)")
    r.add_argument("-o", "--out", required=True, help="output image (.png, also .pdf or .svg)")
    r.add_argument("--force", action="store_true", help="overwrite an existing output file")


def cmd_render(args) -> int:
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.engine import Ablation, RenderRequest
    from latent_explorer.models.figures import point_figure, save_figure, slice_title
    from latent_explorer.models.maps import axis_name, compute_slice
    from latent_explorer.models.registry import open_model, resolve

    from .cli_output import check_output

    out = check_output(args.out, args.force, "point.png", figure=True)
    if not 2 <= args.resolution <= 512:
        raise UsageError("--resolution must be between 2 and 512")
    path = resolve(args.model, CHECKPOINTS)
    classifier = load_checkpoint(args.classifier, expect="classifier")
    model = open_model(path, classifier, atlas=args.atlas)
    engine = model.engine
    point = tuple(args.point)
    if len(point) != engine.latent_dim:
        raise UsageError(f"--point has {len(point)} coordinate{'s' * (len(point) != 1)}, "
                         f"{model.name} has a {engine.latent_dim}-D latent space")
    outside = [f"{axis_name(i)} = {float(v)!r}" for i, v in enumerate(point) if not -1 <= v <= 1]
    if outside:
        raise UsageError(f"--point {','.join(repr(float(v)) for v in point)}: {', '.join(outside)} lies outside "
                         f"the latent box [-1, 1]")
    digit = args.digit
    if engine.conditional:
        if digit is None:
            raise UsageError(f"{model.name} is conditional: pass --digit 0..9")
        if not 0 <= digit <= 9:
            raise UsageError(f"--digit must be 0..9, got {digit}")
    elif digit is not None:
        raise UsageError(f"{model.name} is not conditional; --digit does not apply")
    try:
        ablations = tuple(Ablation.parse(spec) for spec in args.ablate)
        frame = engine.render(RenderRequest(point=point, digit=digit, capture=False, ablations=ablations))
    except ValueError as exc:
        raise UsageError(f"--ablate: {exc}") from None
    if engine.latent_dim < 2:
        raise UsageError("render needs a latent space of at least 2 dimensions")
    axes = (0, 1)
    if model.atlas is not None:
        labels, conf = model.atlas.slice2d(axes, point, digit)
    else:
        labels, conf = compute_slice(engine, axes, point, digit, resolution=args.resolution)
    fig = point_figure(frame, labels, conf, model=model.name, axes=axes, dpi=args.dpi,
                       map_title=slice_title(engine.latent_dim, axes, point, digit), ablations=ablations)
    save_figure(fig, out)
    edit = f" with {'; '.join(a.describe() for a in ablations)}" if ablations else ""
    print(f"wrote {out}: {model.name} at {point}{edit}: image class {frame.describe()}")
    return 0


COMMANDS = {"render": cmd_render}
