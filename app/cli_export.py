"""``latent-explorer export strip``: the A-to-B walk as image, GIF, CSV and JSON files;
``export layers-video``: the walk as an animation of the layer heatmaps (models/layersvideo.py)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from .cli import CHECKPOINTS, UsageError


def _point(text: str, option: str) -> tuple[float, ...]:
    """``--a``/``--b`` as numbers in the latent box [-1, 1]; UsageError naming the option."""
    try:
        point = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{option}: expected comma-separated numbers such as -0.5,0.25, got {text!r}") from None
    if not all(math.isfinite(v) for v in point):
        raise UsageError(f"{option} {text}: every coordinate must be a finite number")
    if any(abs(v) > 1 for v in point):
        raise UsageError(f"{option} {text} lies outside the latent box [-1, 1]")
    return point


BESIDE = ""  # a bare --gif / --csv / --json: the file goes beside the strip


def output_paths(args) -> list[Path]:
    """The files to write: -o, then each of --gif, --csv, --json (a bare flag: the strip's
    name with that suffix)."""
    targets = [Path(args.out)] if args.out else []
    for suffix in ("gif", "csv", "json"):
        value = getattr(args, suffix)
        if value is None:
            continue
        if value == BESIDE:
            if not args.out:
                raise UsageError(f"--{suffix} without a file name writes beside the strip: give -o/--out too, "
                                 f"or a file name (--{suffix} walk.{suffix})")
            value = Path(args.out).with_suffix(f".{suffix}")
        targets.append(Path(value))
    return targets


def add_commands(sub) -> None:
    e = sub.add_parser("export", help="export walks through latent space")
    esub = e.add_subparsers(dest="export_cmd", required=True)
    s = esub.add_parser("strip", help="frames from A to B, with labels and crossed regions")
    s.add_argument("--model", required=True, help="shipped model name (gan2d, ...) or checkpoint path")
    s.add_argument("--a", required=True, help="start point, e.g. -1,0,0 (the fixed noise for --label-walk)")
    s.add_argument("--b", help="end point (not needed for --label-walk)")
    s.add_argument("--steps", type=int, default=10)
    s.add_argument("--path", default="lerp", choices=["lerp", "slerp"])
    s.add_argument("--digit", type=int, help="digit to generate (conditional models)")
    s.add_argument("--label-walk", help="conditional models: FROM,TO digits with the noise fixed at A")
    s.add_argument("--ablate", action="append", default=[], help="LAYER:CHANNELS edit, e.g. act2:0-7")
    s.add_argument("-o", "--out", help="strip image (.png, .svg or .pdf)")
    beside = "; bare, it is written beside the strip (-o) with this suffix"
    s.add_argument("--gif", nargs="?", const=BESIDE, metavar="FILE", help="animated GIF of the walk" + beside)
    s.add_argument("--csv", nargs="?", const=BESIDE, metavar="FILE",
                   help="every frame's coordinates (x, y, z, w), digit and confidence as CSV" + beside)
    s.add_argument("--json", nargs="?", const=BESIDE, metavar="FILE",
                   help="the same, plus the crossed regions, as JSON" + beside)
    s.add_argument("--force", action="store_true", help="overwrite existing files")
    s.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    v = esub.add_parser("layers-video", help="a walk as an animation of every layer's heatmap beside the image "
                                             "and the class map (GIF, or MP4 with imageio-ffmpeg)")
    v.add_argument("--model", required=True, help="shipped model name (gan2d, ...) or checkpoint path")
    v.add_argument("--a", required=True, help="start point, e.g. -1,0")
    v.add_argument("--b", required=True, help="end point")
    v.add_argument("--steps", type=int, default=24, help="frames from A to B")
    v.add_argument("--path", default="lerp", choices=["lerp", "slerp"])
    v.add_argument("--digit", type=int, help="digit to generate (conditional models)")
    v.add_argument("--ablate", action="append", default=[], help="LAYER:CHANNELS edit, e.g. act2:0-7")
    v.add_argument("--show", default="mean", choices=["mean", "max", "std"],
                   help="each layer's heatmap: mean, maximum or standard deviation over its channels")
    v.add_argument("--fps", type=float, default=6.0, help="frames per second")
    v.add_argument("-o", "--out", required=True, help="video file (.gif, or .mp4 with imageio-ffmpeg)")
    v.add_argument("--force", action="store_true", help="overwrite an existing file")
    v.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))


def cmd_layers_video(args) -> int:
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.engine import Ablation
    from latent_explorer.models.layersvideo import FORMATS, layer_walk, mp4_available, write_video
    from latent_explorer.models.registry import open_model, resolve

    from .cli_output import check_output

    out = check_output(args.out, args.force, "walk.gif")
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"{out}: the video must be .gif or .mp4")
    if fmt == "mp4" and not mp4_available():
        raise UsageError(f"{out}: MP4 needs imageio-ffmpeg (pip install 'latent-explorer[video]'); or write a .gif")
    a, b = _point(args.a, "--a"), _point(args.b, "--b")
    ablations = tuple(Ablation.parse(t) for t in args.ablate)
    model = open_model(resolve(args.model, CHECKPOINTS), load_checkpoint(args.classifier, expect="classifier"))
    engine = model.engine
    for option, point in (("--a", a), ("--b", b)):
        if len(point) != engine.latent_dim:
            raise UsageError(f"{option} {getattr(args, option[2:])} has {len(point)} coordinate(s); {model.name} has a "
                             f"{engine.latent_dim}-D latent space, so it needs {engine.latent_dim}")
    if engine.conditional and args.digit is None:
        raise UsageError(f"{model.name} is conditional: pass --digit 0..9")
    if not engine.conditional and args.digit is not None:
        raise UsageError(f"--digit {args.digit}: {model.name} is an unconditional model (leave --digit out)")
    walk = layer_walk(engine, a, b, args.steps, args.path, args.digit, ablations, model.atlas, args.show,
                      model=model.name)
    write_video(walk, out, fps=args.fps, overwrite=args.force)
    print(f"wrote {out} ({len(walk.t)} frames, {out.stat().st_size / 1024:.0f} KB)")
    return 0


def cmd_export(args) -> int:
    if args.export_cmd == "layers-video":
        return cmd_layers_video(args)
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.engine import Ablation, Engine
    from latent_explorer.models.paths import make_strip
    from latent_explorer.models.registry import resolve
    from latent_explorer.models.strip_export import export

    from .cli_output import check_output

    targets = output_paths(args)
    if not targets:
        raise UsageError("nothing to write: give -o/--out, --gif, --csv or --json")
    if not 2 <= args.steps <= 200:
        raise UsageError("--steps must be between 2 and 200")
    for t in targets:
        check_output(t, args.force, "strip.png", figure=bool(args.out) and t == Path(args.out))
    a = _point(args.a, "--a")  # points are checked before any model is loaded
    b = _point(args.b, "--b") if args.b and not args.label_walk else None
    path = resolve(args.model, CHECKPOINTS)
    engine = Engine(load_checkpoint(path, expect=("gan", "cgan")), load_checkpoint(args.classifier, expect="classifier"))
    if args.digit is not None and not engine.conditional:  # it would be ignored, and the JSON would name it
        raise UsageError(f"--digit {args.digit}: {path} is an unconditional model; unconditional models take no "
                         "digit (leave --digit out)")
    walk = None
    if args.label_walk:
        try:
            walk = tuple(int(v) for v in args.label_walk.split(","))
        except ValueError:  # not whole numbers: refused below with the option named
            walk = ()
        if len(walk) != 2 or not all(0 <= v <= 9 for v in walk):
            raise ValueError(f"--label-walk takes two digits FROM,TO, got {args.label_walk!r}")
        for option, given, why in (("--digit", args.digit, "the walk's digits are its FROM,TO"),
                                   ("--b", args.b, "the noise stays at --a")):
            if given is not None:  # it would be ignored
                raise UsageError(f"{option} {given} does not apply to --label-walk {args.label_walk}: {why} "
                                 f"(leave {option} out)")
        b = None
    else:
        if b is None:
            raise ValueError("--b is required (or --label-walk for conditional models)")
    for option, point in (("--a", a), ("--b", b)):
        if point is not None and len(point) != engine.latent_dim:
            raise UsageError(f"{option} {getattr(args, option[2:])} has {len(point)} coordinate(s); {path.stem} has a "
                             f"{engine.latent_dim}-D latent space, so it needs {engine.latent_dim}")
    ablations = tuple(Ablation.parse(t) for t in args.ablate)
    strip = make_strip(engine, a, b, args.steps, args.path, digit=args.digit, label_walk=walk,
                       model=engine.checkpoint.name, ablations=ablations)  # the name made printable
    for t in targets:
        export(strip, t, overwrite=args.force)
        print(f"wrote {t}")
    print("regions crossed: " + ", ".join(f"{c.digit} (t {c.t_enter:.3f}-{c.t_leave:.3f})" for c in strip.crossings))
    return 0


COMMANDS = {"export": cmd_export}
