"""``latent-explorer project`` (find an image in a generator's latent box) and
``latent-explorer neighbours`` (a point's nearest MNIST training images), without Qt."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .cli import CHECKPOINTS, UsageError
from .cli_output import check_output
from .cli_render import _point


def _out(path: str | None, force: bool, example: str) -> Path | None:
    """The output place, checked by the one overwrite rule (None when not asked for)."""
    return check_output(path, force, example, figure=example.endswith(".png")) if path else None


def add_commands(sub) -> None:
    p = sub.add_parser("project", help="find the latent point whose image is closest to an image file",
                       description="Make an image file MNIST-like (greyscale, inverted when the background is "
                                   "light, centred by mass in a 20 x 20 box) and search the generator's latent "
                                   "box for the closest image: pixel and classifier-feature distance, coarse "
                                   "grid then gradient steps kept in the box, several starts.")
    p.add_argument("image", help="PNG, JPEG, ... of one digit")
    p.add_argument("--model", default="gan2d", help="shipped model name or checkpoint path")
    p.add_argument("--digit", type=int, help="conditional models: search this digit only (default: all)")
    p.add_argument("--pixel-weight", type=float, default=1.0)
    p.add_argument("--feature-weight", type=float, default=0.5)
    p.add_argument("--no-fit", action="store_true", help="only resize to 28 x 28 (no crop and centring)")
    p.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    p.add_argument("--data", help="folder with the MNIST .gz files: real test digits tell how close this generator "
                                  "usually gets (measured once per model, then cached)")
    p.add_argument("-o", "--out", help="figure (.png, .pdf, .svg): target, best image, difference, map")
    p.add_argument("--json", help="write the answer as JSON")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    n = sub.add_parser("neighbours", help="the nearest MNIST training images of a latent point's image",
                       description="Generate the image at a latent point and list the nearest MNIST training "
                                   "images (classifier features or pixels) with a memorisation gauge. The "
                                   "feature index is built once (minutes) and cached in the user cache.")
    n.add_argument("--model", default="gan2d")
    n.add_argument("--point", type=_point, required=True, help="latent coordinates, e.g. -0.84,0.54")
    n.add_argument("--digit", type=int, help="digit to generate (conditional models)")
    n.add_argument("--space", choices=["feature", "pixel"], default="feature")
    n.add_argument("-k", type=int, default=8, help="how many neighbours (1..64, default 8)")
    n.add_argument("--data", help="folder with the four MNIST .gz files")
    n.add_argument("--limit", type=int, default=0, help="index only the first N training images (tests)")
    n.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    n.add_argument("-o", "--out", help="figure file")
    n.add_argument("--json", help="write the neighbours and the gauge as JSON")
    n.add_argument("--force", action="store_true", help="overwrite existing output files")


def _write_json(path: Path, data: dict) -> None:
    from latent_explorer.models.fileio import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def _open(model_name: str, classifier_path: str):
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.registry import open_model, resolve

    classifier = load_checkpoint(classifier_path, expect="classifier")
    return open_model(resolve(model_name, CHECKPOINTS), classifier)


def cmd_project(args) -> int:
    from latent_explorer.models.digitimage import load_digit_image
    from latent_explorer.models.projection import Projector, Weights

    out = _out(args.out, args.force, "project.png")
    js = _out(args.json, args.force, "project.json")
    try:
        weights = Weights(args.pixel_weight, args.feature_weight)
    except ValueError as exc:
        raise UsageError(f"--pixel-weight, --feature-weight: {exc}") from None
    target = load_digit_image(args.image, fit=not args.no_fit)  # DigitImageError is a ValueError: reported
    model = _open(args.model, args.classifier)
    engine = model.engine
    if engine.latent_dim > 4:
        raise UsageError(f"{model.name} has a {engine.latent_dim}-D latent space; projection searches up to 4-D")
    if args.digit is not None:
        if not engine.conditional:
            raise UsageError(f"{model.name} is not conditional; --digit does not apply")
        if not 0 <= args.digit <= 9:
            raise UsageError(f"--digit must be 0..9, got {args.digit}")
    from latent_explorer.models.projection import open_reach

    projector = Projector(engine, weights)
    notes: list[str] = []
    open_reach(projector, model.digest, model.classifier_digest, args.data, notes=notes,
               log=lambda msg: print(msg, file=sys.stderr, flush=True))
    for note in notes:
        print(note)
    proj = projector.project(target, args.digit)
    print(f"{model.name}: {proj.sentence()}")
    print(f"weights: {weights.describe()}; pixel {proj.best.pixel:.4f}, feature {proj.best.feature:.4f}; "
          f"{proj.seconds:.2f} s, {proj.evaluations:,} images evaluated")
    for k, m in enumerate(proj.candidates, start=1):
        label = f" label {m.digit}" if m.digit is not None else ""
        print(f"  candidate {k}: ({', '.join(f'{v:+.3f}' for v in m.point)}){label}: class {m.predicted}, "
              f"distance {m.distance:.4f}")
    if js is not None:
        _write_json(js, {"model": model.name, "image": str(args.image), **proj.to_dict()})
        print(f"wrote {js}")
    if out is not None:
        from latent_explorer.models.figures import save_figure, slice_title
        from latent_explorer.models.findfigures import projection_figure
        from latent_explorer.models.maps import compute_slice

        labels = conf = None
        point, digit = proj.best.point, proj.best.digit
        if engine.latent_dim >= 2:
            if model.atlas is not None:
                labels, conf = model.atlas.slice2d((0, 1), point, digit)
            else:
                labels, conf = compute_slice(engine, (0, 1), point, digit, resolution=48)
        fig = projection_figure(proj, labels, conf, model=model.name,
                                map_title=slice_title(engine.latent_dim, (0, 1), point, digit))
        save_figure(fig, out)
        print(f"wrote {out}")
    return 0


def cmd_neighbours(args) -> int:
    from latent_explorer.models.engine import RenderRequest
    from latent_explorer.models.neighbours import open_index

    out = _out(args.out, args.force, "neighbours.png")
    js = _out(args.json, args.force, "neighbours.json")
    if not 1 <= args.k <= 64:
        raise UsageError(f"-k must be 1..64, got {args.k}")
    model = _open(args.model, args.classifier)
    engine = model.engine
    point = tuple(args.point)
    if len(point) != engine.latent_dim:
        raise UsageError(f"--point has {len(point)} coordinate{'s' * (len(point) != 1)}, "
                         f"{model.name} has a {engine.latent_dim}-D latent space")
    if any(not -1 <= v <= 1 for v in point):
        raise UsageError(f"--point {','.join(repr(float(v)) for v in point)} lies outside the latent box [-1, 1]")
    if engine.conditional and (args.digit is None or not 0 <= args.digit <= 9):
        raise UsageError(f"{model.name} is conditional: pass --digit 0..9")
    if not engine.conditional and args.digit is not None:
        raise UsageError(f"{model.name} is not conditional; --digit does not apply")
    frame = engine.render(RenderRequest(point=point, digit=args.digit, capture=False))
    if not frame.valid:  # its neighbours would mean nothing
        from latent_explorer.models.frame import INVALID_IMAGE

        raise ValueError(f"{model.path}: {INVALID_IMAGE} at this point; it has no neighbours")
    notes: list[str] = []
    if args.limit < 0:
        raise UsageError(f"--limit must be >= 0, got {args.limit}")
    index = open_index(model.classifier, args.data, notes=notes, limit=args.limit or None,
                       progress=lambda f, msg: print(f"\r{msg}", end="", flush=True))
    for note in notes:
        print(note)
    nb = index.query(frame.image, args.k, args.space)
    gauge = index.gauge(float(nb.distances[0]), args.space)
    print(f"\n{model.name} at ({', '.join(f'{v:+.3f}' for v in point)}): image class {frame.describe()}; "
          f"nearest training images ({args.space} space):")
    for i, lab, d in zip(nb.indices, nb.labels, nb.distances):
        print(f"  #{int(i):>5}  digit {int(lab)}  distance {float(d):.4f}")
    print(f"gauge: {gauge.sentence()}")
    if js is not None:
        _write_json(js, {"model": model.name, "point": list(point), "digit": args.digit, **nb.to_dict(),
                         "gauge": gauge.to_dict()})
        print(f"wrote {js}")
    if out is not None:
        from latent_explorer.models.figures import save_figure
        from latent_explorer.models.findfigures import neighbours_figure

        title = f"{model.name} at ({', '.join(f'{v:+.2f}' for v in point)}): nearest MNIST training images"
        save_figure(neighbours_figure(frame.image, nb, gauge, title=title), out)
        print(f"wrote {out}")
    return 0


COMMANDS = {"project": cmd_project, "neighbours": cmd_neighbours}
