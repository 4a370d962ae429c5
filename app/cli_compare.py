"""``latent-explorer compare``: the same latent point through several generators, and their
evaluation figures in one table (the activation-function comparison), without Qt."""
from __future__ import annotations

from pathlib import Path

from .cli import CHECKPOINTS, UsageError
from .cli_render import _point


def add_commands(sub) -> None:
    c = sub.add_parser("compare", help="one latent point through several generators, with their evaluation table",
                       description="Compare generators that share a latent space (e.g. the activation variants "
                                   "gan2d-relu, gan2d-leakyrelu, gan2d-prelu, gan2d-elu): print their evaluation "
                                   "figures as a Markdown table and, with -o, write a figure of the same point "
                                   "through each one above that table.")
    c.add_argument("models", nargs="*", help="model names or checkpoint paths (default: every generator in "
                                             "checkpoints/ with the latent size of --like)")
    c.add_argument("--like", default="gan2d", help="with no models named: compare all models with this model's "
                                                   "latent size and conditioning (default gan2d)")
    c.add_argument("--point", type=_point, help="latent coordinates (default: the origin)")
    c.add_argument("--digit", type=int, help="digit to generate (conditional models)")
    c.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    c.add_argument("--dpi", type=float, default=150)
    c.add_argument("-o", "--out", help="figure file (.png, .pdf or .svg)")
    c.add_argument("--force", action="store_true", help="overwrite an existing figure file")


def cmd_compare(args) -> int:
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.compare import Comparison, comparable_in, comparison_figure, default_paths, markdown_table
    from latent_explorer.models.figures import save_figure
    from latent_explorer.models.frame import INVALID_IMAGE
    from latent_explorer.models.registry import read_entry, resolve

    out = Path(args.out) if args.out else None
    if out is not None:
        if out.is_dir():
            raise UsageError(f"{out}: is a folder; give a file name such as {out / 'compare.png'}")
        if not out.parent.is_dir():
            raise UsageError(f"{out}: folder {out.parent} does not exist")
        if out.exists() and not args.force:
            raise UsageError(f"{out}: already exists; pass --force to overwrite")
    if args.models:
        paths = default_paths(CHECKPOINTS, args.models)
    else:
        like = read_entry(resolve(args.like, CHECKPOINTS))
        paths = [e.path for e in comparable_in(CHECKPOINTS, like.latent_dim, like.conditional)]
    classifier = load_checkpoint(args.classifier, expect="classifier")
    try:
        comparison = Comparison.open(paths, classifier)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    point = tuple(args.point) if args.point else (0.0,) * comparison.latent_dim
    if len(point) != comparison.latent_dim:
        raise UsageError(f"--point has {len(point)} coordinates; the models have a {comparison.latent_dim}-D "
                         f"latent space")
    if any(not -1 <= v <= 1 for v in point):
        raise UsageError(f"--point {','.join(repr(float(v)) for v in point)} lies outside the latent box [-1, 1]")
    digit = args.digit
    if comparison.conditional:
        if digit is None or not 0 <= digit <= 9:
            raise UsageError("the models are conditional: pass --digit 0..9")
    elif digit is not None:
        raise UsageError("the models are not conditional; --digit does not apply")
    columns = comparison.render(point, digit)
    for path, col in zip(paths, columns):
        if not col.valid:  # never shown beside the figures of a healthy model
            raise ValueError(f"{path}: {INVALID_IMAGE} at this point; it cannot be compared (its weights are "
                             f"damaged or out of range)")
    rows = comparison.rows()
    print(markdown_table(rows, columns), end="")
    if out is not None:
        save_figure(comparison_figure(columns, rows, point, digit, dpi=args.dpi), out)
        print(f"wrote {out}")
    return 0


COMMANDS = {"compare": cmd_compare}
