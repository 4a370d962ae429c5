"""The command line: ``latent-explorer`` with no arguments opens the app; subcommands
do the same work headless.  Errors go to stderr with a non-zero exit status."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"


class UsageError(Exception):
    """Bad command-line input that argparse itself cannot catch."""


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def model_file(text: str) -> str:
    """argparse type of every argument that takes a model: a path as given, or a model name
    (``gan2d``: the user's models folder, then the shipped one) -> its checkpoint's path."""
    path = Path(text).expanduser()
    if path.exists() or path.suffix or os.sep in text or not text:
        return text
    from latent_explorer.models.registry import resolve

    try:
        return str(resolve(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the classifier or a GAN")
    tsub = p.add_subparsers(dest="what", required=True)
    c = tsub.add_parser("classifier", help="train the independent digit classifier")
    c.add_argument("--epochs", type=int, default=6)
    c.add_argument("--batch-size", type=int, default=128)
    c.add_argument("--lr", type=float, default=2e-3)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c.add_argument("--data", help="folder with the four MNIST .gz files")
    c.add_argument("-o", "--out", help="the classifier file (default: classifier.pt in the user's models folder, "
                                       "$LATENT_EXPLORER_MODELS or ~/.local/share/latent-explorer/models)")
    c.add_argument("--force", action="store_true", help="replace an existing classifier file")
    g = tsub.add_parser("gan", help="train a GAN (with monitoring) and write its checkpoint")
    g.add_argument("--latent-dim", type=int, default=2)
    g.add_argument("--conditional", action="store_true")
    g.add_argument("--activation", default="leaky_relu", choices=["leaky_relu", "relu", "prelu", "elu"])
    g.add_argument("--epochs", type=int, default=20)
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--lr", type=float, default=2e-4)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    g.add_argument("--data", help="folder with the four MNIST .gz files")
    g.add_argument("--out", required=True, help="run folder (training state, history, checkpoint)")
    g.add_argument("--name", help="model name (default: gan2d, cgan3d, ...)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out")
    g.add_argument("--force", action="store_true", help="start again in a run folder that holds a run")
    g.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    g.add_argument("--limit", type=int, default=0, help="use only the first N training images (tests)")
    g.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    g.add_argument("--map-resolution", type=int, help="cells per axis of the class maps recorded after each epoch "
                   "(default: 64; conditional models 32 per digit); smaller is faster on a slow machine")
    g.add_argument("--eval-samples", type=int, default=10000,
                   help="generated images in the final evaluation (default 10000)")
    g.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop (and evaluate) after the first epoch that ends past this wall-clock budget")
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--compile", action="store_true",
                   help="CUDA: torch.compile the networks (falls back to eager if compiling fails)")
    r = g.add_argument_group("recipe", "the training recipe (docs/training.md); each flag overrides one setting")
    r.add_argument("--recipe", default="explore", choices=["explore", "reference"],
                   help="explore (default): the recipe behind the shipped models; reference: the study's plain loop")
    r.add_argument("--ema", type=float, help="weight average of the generator, decay per step (0 = off)")
    r.add_argument("--lr-decay", type=float, help="fraction of the run, at its end, over which the rate falls to 0")
    r.add_argument("--minibatch-std", action=argparse.BooleanOptionalAction, default=None,
                   help="discriminator sees the batch's feature spread")
    r.add_argument("--unroll", type=int, help="judge the generator by a copy of D trained this many more steps")
    r.add_argument("--r1", type=float, help="R1 gradient penalty weight on real images, applied lazily (0 = off)")
    r.add_argument("--class-entropy", type=float,
                   help="unconditional models: weight of the class-entropy term (D learns the real digits' "
                        "labels; G makes clear digits, every digit evenly; 0 = off)")
    r.add_argument("--g-conditioning", choices=["hidden", "shift"], help="how the generator takes the label")
    r.add_argument("--d-conditioning", choices=["projection", "mask"], help="how the discriminator takes the label")
    from .cli_train_all import add_train_all

    add_train_all(tsub)


def build_parser() -> argparse.ArgumentParser:
    from .cli_help import Parser, finish

    parser = Parser(prog="latent-explorer",
                                     description="Look inside small GANs: latent sliders, layer activations, class maps.")
    parser.add_argument("--version", action="version", version="latent-explorer 0.1.0")
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("model", nargs="?", help="checkpoint file or shipped model name")
    _add_train(sub)
    info = sub.add_parser("info", help="print what a checkpoint, atlas or history file holds")
    info.add_argument("file", type=model_file, help="a file the project writes (checkpoint, atlas, history, "
                      "calibration, training state) or a model name such as gan2d")
    dl = sub.add_parser("download", help="download and verify MNIST")
    dl.add_argument("--data", help="target folder (default: $LATENT_EXPLORER_DATA or the user cache)")
    vf = sub.add_parser("verify-data", help="check the MNIST files' checksums")
    vf.add_argument("--data")
    for module in _extensions():
        module.add_commands(sub)
    from .cli_checks import annotate

    finish(parser)  # every option's help line and default, every subcommand's examples
    annotate(parser)  # each numeric option's range in its help
    return parser


EXTENSIONS = ("latent_explorer.app.cli_models", "latent_explorer.app.cli_render",
              "latent_explorer.app.cli_export", "latent_explorer.app.cli_compare",
              "latent_explorer.app.cli_find", "latent_explorer.app.cli_install",
              "latent_explorer.app.cli_units", "latent_explorer.app.cli_geometry")


def _extensions():
    """Subcommand modules; each has ``add_commands(subparsers)`` and a ``COMMANDS`` dict."""
    import importlib

    mods = []
    for name in EXTENSIONS:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def _folders_made_by(path: Path) -> list[Path]:
    """The folders that ``path.mkdir(parents=True)`` would create, deepest first: none when
    ``path`` exists, or when the missing part of it holds '..' (then which folders it makes
    is not plain from the names, so none is ever removed)."""
    missing: list[Path] = []
    p = path.absolute()
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    return [] if any(m.name == ".." for m in missing) else missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty folders; rmdir never removes
    anything inside, so a folder that got a file stays, and so do the ones above it."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


def cmd_train(args) -> int:
    from .cli_output import refuse_existing

    if args.what == "classifier":
        from latent_explorer.training.train_classifier import ClassifierRun, train_classifier

        from latent_explorer.models.registry import user_models_dir

        out = Path(args.out) if args.out else user_models_dir() / "classifier.pt"
        if not args.out:
            out.parent.mkdir(parents=True, exist_ok=True)
        refuse_existing([out], args.force)
        meta = train_classifier(ClassifierRun(args.epochs, args.batch_size, args.lr, args.seed, args.device),
                                args.data, out)
        print(f"saved {out}: test accuracy {meta['test_accuracy']:.4%} in {meta['seconds']:.0f} s")
        return 0
    if args.what == "all":
        from .cli_train_all import cmd_train_all

        return cmd_train_all(args)
    from latent_explorer.training.train_gan import GanRun, train_gan

    run = GanRun(latent_dim=args.latent_dim, conditional=args.conditional, activation=args.activation,
                 epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                 device=args.device, limit=args.limit, name=args.name, recipe=args.recipe, ema=args.ema,
                 lr_decay=args.lr_decay, minibatch_std=args.minibatch_std, unroll=args.unroll, r1=args.r1,
                 class_entropy=args.class_entropy, map_resolution=args.map_resolution, eval_samples=args.eval_samples,
                 g_conditioning=args.g_conditioning, d_conditioning=args.d_conditioning, compile=args.compile)
    if not args.resume and not args.force:
        from latent_explorer.training.train_gan import run_paths

        found = [p for p in run_paths(Path(args.out), run.model_name).values() if p.exists()]
        if found:
            raise UsageError(f"{found[0]}: already exists; pass --resume to continue that run or --force to "
                             f"start again")
    made = _folders_made_by(Path(args.out))
    try:
        result = train_gan(run, data=args.data, out=Path(args.out), resume=args.resume,
                           classifier_path=Path(args.classifier), evaluate_at_end=not args.no_eval,
                           quiet=args.quiet, max_minutes=args.max_minutes)
    except BaseException:  # a refused run (bad --data, classifier, sizes, ...) leaves no empty folder behind
        _remove_if_empty(made)
        raise
    if int(os.environ.get("RANK", "0") or 0) == 0:  # under torchrun rank 0 alone writes and reports
        print(f"saved {result['checkpoint']}")
    return 0


def cmd_info(args) -> int:
    from latent_explorer.models.fileinfo import describe_file

    print(describe_file(Path(args.file)))
    return 0


def cmd_download(args) -> int:
    from latent_explorer.training.data import download

    folder = download(args.data)
    print(f"MNIST ready in {folder}")
    return 0


def cmd_verify(args) -> int:
    from latent_explorer.training.data import resolve_data_dir, verify

    folder = resolve_data_dir(args.data)
    for name, md5 in verify(folder).items():
        print(f"ok  {name}  {md5}")
    return 0


def cmd_gui(args) -> int:
    from latent_explorer.app.qt.main import run_gui

    return run_gui(getattr(args, "model", None))


COMMANDS = {"train": cmd_train, "info": cmd_info, "download": cmd_download, "verify-data": cmd_verify,
            "gui": cmd_gui}


def known_errors() -> tuple[type[BaseException], ...]:
    from latent_explorer.models.checkpoint import CheckpointError
    from latent_explorer.training.data import DataError

    errors: list[type[BaseException]] = [CheckpointError, DataError, UsageError, OSError, ValueError, RuntimeError]
    try:
        from latent_explorer.models.atlas import AtlasError
        from latent_explorer.models.model_archive import ArchiveError
        errors += [AtlasError, ArchiveError]
    except ImportError:
        pass
    try:
        from latent_explorer.training.history import HistoryError
        errors.append(HistoryError)
    except ImportError:
        pass
    return tuple(errors)


POINT_OPTIONS = ("--a", "--b", "--point")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _join_point_values(argv: list[str]) -> list[str]:
    """Let ``--a -1,0,0`` through: argparse would take ``-1,0,0`` for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in POINT_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--") and _looks_numeric(argv[i + 1].split(",")[0]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _resume_hint(args) -> str:
    """After Ctrl-C: how to go on where a resumable command stopped."""
    command, what = getattr(args, "command", None), getattr(args, "what", None)
    if command == "train" and what == "gan":
        return (f"; the finished epochs are kept in {args.out}: run the same command with --resume to go on "
                f"(at most the epoch in progress was lost)")
    if command == "train" and what == "all":
        return f"; run the same command with --resume to go on from the runs in {args.out}"
    if command == "atlas" and getattr(args, "atlas_cmd", None) == "build":
        return "; finished blocks are kept: run the same command again to resume"
    return ""


def main(argv: list[str] | None = None) -> int:
    from . import cli_checks

    with cli_checks.safe_streams():  # no raw control character from a file reaches the terminal
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_point_values(list(sys.argv[1:] if argv is None else argv)))
    command = args.command or "gui"
    handler = COMMANDS.get(command)
    for module in _extensions():
        handler = handler or module.COMMANDS.get(command)
    from . import cli_checks

    try:
        cli_checks.check(args)  # every numeric option in its documented range, before any work
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("latent-explorer: interrupted" + _resume_hint(args), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `latent-explorer info X | head`: the reader has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0
    except known_errors() as exc:
        print(f"latent-explorer: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last resort: no traceback reaches the user
        return cli_checks.last_resort(args, exc)


def json_dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
