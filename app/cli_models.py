"""Subcommands that work on trained models: ``atlas build``, ``atlas info``, ``evaluate``, ``card``."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .cli import CHECKPOINTS, UsageError, model_file


def add_commands(sub) -> None:
    a = sub.add_parser("atlas", help="build class-region atlases")
    asub = a.add_subparsers(dest="atlas_cmd", required=True)
    b = asub.add_parser("build", help="label every cell of a grid over [-1, 1]^d")
    b.add_argument("checkpoint", type=model_file, help="checkpoint file or model name (gan2d, ...)")
    b.add_argument("--resolution", type=int, required=True)
    b.add_argument("--method", default="auto", choices=["auto", "adaptive", "full"],
                   help="adaptive: coarse grid + refinement where neighbours disagree; full: every cell; auto "
                        "(default): adaptive above 32,768 cells, where it agrees >= 99.5%% with the full grid, "
                        "full for smaller grids (cheap, exact, resumable)")
    b.add_argument("--stride", type=int, default=4, help="coarse grid step of the adaptive builder")
    b.add_argument("--finest", type=int, default=1, choices=[1, 2],
                   help="adaptive builder: split cells whose corners disagree down to this many grid steps; 2 labels "
                        "the points inside the last cells from their corners' classifier outputs, interpolated "
                        "(about 2^(d-1) times fewer evaluations; check with 'atlas check')")
    b.add_argument("--overlays", default="auto",
                   help="geometry overlays (sensitivity, ink, thickness, slant, width, height) stored beside the "
                        "classes on a grid of N points per axis; auto (default): 128 in 2-D, 32 in 3-D, 16 in 4-D "
                        "(fewer for conditional models), at most the atlas's resolution; 0: none")
    b.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    b.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    b.add_argument("-o", "--out", help="atlas file (default: CHECKPOINT with .atlas.h5 beside it; for a shipped "
                                       "model, in the current folder)")
    b.add_argument("--force", action="store_true", help="replace an existing atlas file")
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--block", type=int, default=16384,
                   help="cells per resumable block of the full builder (finished blocks are kept in OUT.partial; "
                        "running the same command again after an interruption resumes; default 16384)")
    rb = asub.add_parser("rebuild", help="rebuild atlases in place with their own grid (e.g. ones made by an older "
                                          "version); no file: every atlas in the shipped checkpoints folder")
    rb.add_argument("atlases", nargs="*", help="atlas files (*.atlas.h5) beside their checkpoints")
    rb.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    rb.add_argument("--outdated-only", action="store_true", help="skip atlases this version reads already")
    ck = asub.add_parser("check", help="compare an atlas with a full evaluation on a random sample of its cells")
    ck.add_argument("atlas", help="atlas file (*.atlas.h5) beside its checkpoint")
    ck.add_argument("--fraction", type=float, default=0.1, help="share of the cells to evaluate (default 0.1)")
    ck.add_argument("--seed", type=int, default=0)
    ck.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    ck.add_argument("--json", help="write the figures as JSON")
    ck.add_argument("--force", action="store_true", help="overwrite an existing JSON file")
    cal = sub.add_parser("calibrate", help="calibrate the classifier's 'not a digit' check (writes "
                                           "CLASSIFIER.ood.npz) and print its figures")
    cal.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    cal.add_argument("--data")
    cal.add_argument("--force", action="store_true", help="replace an existing calibration file")
    e = sub.add_parser("evaluate", help="recompute a generator's evaluation figures")
    e.add_argument("checkpoint", type=model_file, help="checkpoint file or model name (gan2d, ...)")
    e.add_argument("--classifier", default=str(CHECKPOINTS / "classifier.pt"))
    e.add_argument("--data")
    e.add_argument("--samples", type=int, default=10000, help="generated images to judge (default 10000)")
    e.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    e.add_argument("--write", action="store_true", help="store the figures in the checkpoint and its card (refused "
                                                        "where they hold figures already, unless --force or you "
                                                        "answer yes on a terminal; never in the installed package)")
    e.add_argument("--force", action="store_true", help="with --write: replace the figures already recorded")
    c = sub.add_parser("card", help="write the model card (Markdown) beside a checkpoint")
    c.add_argument("checkpoint", type=model_file, help="checkpoint file or model name (gan2d, ...)")
    c.add_argument("-o", "--out", help="card file (default: CHECKPOINT with .md beside it; for a shipped model, "
                                       "in the current folder)")
    c.add_argument("--force", action="store_true", help="overwrite an existing card")
    bn = sub.add_parser("bench", help="run the benchmark suite; results to BENCHMARKS.md and a JSON file")
    bn.add_argument("--quick", action="store_true", help="small sizes (for CI); minutes instead of ten")
    bn.add_argument("--only", help="comma-separated items: frame,engine,atlas,training,startup,memory,find,evaluate,units "
                                   "(the default suite), soak and sharp (the 3-D 128^3 and 4-D 48^4 atlases, about half an "
                                   "hour; only when named); with --only the results are "
                                   "merged into the existing results file")
    bn.add_argument("--soak-minutes", type=float, default=20.0, help="length of the soak run (default 20)")
    bn.add_argument("--out", default="BENCHMARKS.md", help="the report (default: BENCHMARKS.md in the current folder)")
    bn.add_argument("--json", default="bench-results.json",
                    help="the results file, merged with --only (default: bench-results.json in the current folder)")
    bn.add_argument("--models", default=str(CHECKPOINTS))
    bn.add_argument("--data")
    r = sub.add_parser("report", help="one-page training report (PNG, PDF, JSON) from a checkpoint's history")
    r.add_argument("checkpoint", type=model_file, help="checkpoint file or model name (gan2d, ...)")
    r.add_argument("-o", "--out", help="output prefix (default: CHECKPOINT without .pt, plus .report, beside it; for "
                                       "a shipped model, in the current folder); an existing folder: the files go "
                                       "into it")
    r.add_argument("--force", action="store_true", help="overwrite existing report files")


def default_atlas_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.stem + ".atlas.h5")


def cmd_atlas_rebuild(args) -> int:
    """Rebuild each atlas beside its checkpoint (``X.atlas.h5`` <- ``X.pt``) with the same
    resolution, method and precision, replacing the file atomically when done."""
    from latent_explorer.models.atlas import AtlasError, OLDEST_READABLE, build_atlas, read_header
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.training.progress import Progress

    paths = [Path(p) for p in args.atlases] or sorted(CHECKPOINTS.glob("*.atlas.h5"))
    if not paths:
        raise UsageError(f"no atlas files given and none in {CHECKPOINTS}")
    c = load_checkpoint(args.classifier, expect="classifier")
    for path in paths:
        if not path.name.endswith(".atlas.h5"):
            raise UsageError(f"{path}: not an atlas file name (*.atlas.h5)")
        head = read_header(path)
        if args.outdated_only and head["version"] >= OLDEST_READABLE:
            print(f"skip {path}: format version {head['version']} is read as it is")
            continue
        ckpt = path.with_name(path.name[:-len(".atlas.h5")] + ".pt")
        if not ckpt.exists():
            raise AtlasError(f"{path}: its checkpoint {ckpt.name} is not beside it")
        g = load_checkpoint(ckpt, expect=("gan", "cgan"))
        method, stride, finest = "full", 4, 1
        if head["method"].startswith("adaptive"):
            import re

            method = "adaptive"
            found = dict(re.findall(r"(\w+)=(\d+)", head["method"]))
            stride, finest = int(found.get("stride", 4)), int(found.get("finest", 1))
        bar = Progress(1, f"atlas {ckpt.stem} {head['resolution']}", unit="pts")

        def progress(done: int, total: int, bar=bar) -> None:
            bar.total = max(1, total)
            bar.update(done - bar.done)

        atlas = build_atlas(g, c, head["resolution"], path, method=method, precision=head["precision"],
                            progress=progress, stride=stride, finest=finest,
                            overlay_resolution=head.get("overlay_resolution", 0))
        bar.close()
        print(f"rebuilt {path}: {atlas.labels.size:,} cells ({atlas.method}, {atlas.seconds:.1f} s), "
              f"no digit on {atlas.no_digit_share():.1%}")
    return 0


def cmd_calibrate(args) -> int:
    from latent_explorer.training.calibrate_digitness import calibrate, default_out

    from .cli_output import default_output, refuse_existing

    out = default_output(args.classifier, default_out(args.classifier).name)
    refuse_existing([out], args.force)
    calibrate(args.classifier, args.data, out)
    return 0


def _overlay_resolution(text: str, generator, resolution: int) -> int:
    """``--overlays``: auto, 0 or a number of points per axis (3..512)."""
    from latent_explorer.models.geometry import default_resolution

    if text == "auto":
        return min(resolution, default_resolution(int(generator.config["latent_dim"]),
                                                  bool(generator.config.get("conditional"))))
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--overlays {text!r}: give auto, 0 or a number of points per axis") from None
    if n and not 3 <= n <= 512:
        raise UsageError("--overlays must be 0 (none) or between 3 and 512")
    return n


def cmd_atlas_check(args) -> int:
    """Compare an atlas with a full evaluation of a random sample of its cells."""
    from latent_explorer.models.atlas import AtlasError, load_atlas, sample_agreement
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.models.fileio import atomic_write_bytes
    from latent_explorer.training.progress import Progress

    from .cli_output import check_output

    js = check_output(args.json, args.force, "check.json") if args.json else None
    if not 0 < args.fraction <= 1:
        raise UsageError("--fraction must be in (0, 1]")
    path = Path(args.atlas)
    if not path.name.endswith(".atlas.h5"):
        raise UsageError(f"{path}: not an atlas file name (*.atlas.h5)")
    ckpt = path.with_name(path.name[:-len(".atlas.h5")] + ".pt")
    if not ckpt.exists():
        raise AtlasError(f"{path}: its checkpoint {ckpt.name} is not beside it")
    g = load_checkpoint(ckpt, expect=("gan", "cgan"))
    c = load_checkpoint(args.classifier, expect="classifier")
    atlas = load_atlas(path, g.digest, c.digest)
    bar = Progress(1, f"check {path.name}", unit="pts")

    def progress(done: int, total: int) -> None:
        bar.total = max(1, total)
        bar.update(done - bar.done)

    res = sample_agreement(atlas, g, c, fraction=args.fraction, seed=args.seed, progress=progress)
    bar.close()
    res.update({"atlas": str(path), "method": atlas.method, "resolution": atlas.resolution,
                "build_seconds": atlas.seconds, "evaluations": atlas.evaluations,
                "file_megabytes": path.stat().st_size / 2 ** 20})
    print(f"{path}: {res['agreement']:.3%} of {res['sampled']:,} sampled cells agree with a full evaluation "
          f"({res['agreement_not_evaluated']:.3%} of the {res['sampled_not_evaluated']:,} the builder did not "
          f"evaluate); {res['seconds']:.0f} s")
    if js is not None:
        atomic_write_bytes(js, (json.dumps(res, indent=2) + "\n").encode())
        print(f"wrote {js}")
    return 0


def cmd_atlas(args) -> int:
    import torch

    if args.atlas_cmd == "rebuild":
        return cmd_atlas_rebuild(args)
    if args.atlas_cmd == "check":
        return cmd_atlas_check(args)

    from latent_explorer.models.atlas import build_atlas, check_grid

    from .cli_output import default_output
    from latent_explorer.models.checkpoint import load_checkpoint
    from latent_explorer.training.progress import Progress

    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else default_output(ckpt, ckpt.stem + ".atlas.h5")
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give an atlas file name such as {out / (ckpt.stem + '.atlas.h5')}")
    if out.exists() and not args.force:
        from .cli_output import overwrite_message

        print(f"latent-explorer: error: {overwrite_message(out)}", file=sys.stderr)
        return 1
    if args.resolution < 2 or args.resolution > 4096:
        print("latent-explorer: error: --resolution must be between 2 and 4096", file=sys.stderr)
        return 1
    if args.block < 1:
        print("latent-explorer: error: --block must be at least 1", file=sys.stderr)
        return 1
    if out.is_dir() or not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        what = ("it is a folder" if out.is_dir() else
                f"folder {out.parent} is not writable" if out.parent.is_dir() else
                f"{out.parent} is not a folder" if out.parent.exists() else f"folder {out.parent} does not exist")
        print(f"latent-explorer: error: cannot write {out}: {what}", file=sys.stderr)
        return 1
    g = load_checkpoint(ckpt, expect=("gan", "cgan"))
    try:  # the grid must be one the atlas loader reads back; refused before any work
        check_grid(int(g.config["latent_dim"]), args.resolution, bool(g.config.get("conditional")))
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    overlays = _overlay_resolution(args.overlays, g, args.resolution)
    c = load_checkpoint(args.classifier, expect="classifier")
    bar = Progress(1, f"atlas {ckpt.stem} {args.resolution}", unit="pts")

    def progress(done: int, total: int) -> None:
        bar.total = max(1, total)
        bar.update(done - bar.done)

    atlas = build_atlas(g, c, args.resolution, out, method=args.method, precision=args.precision,
                        progress=progress, stride=args.stride, block=args.block, exclusive=not args.force,
                        finest=args.finest, overlay_resolution=overlays)
    bar.close()
    area = atlas.digit_area()
    print(f"saved {out}: {atlas.labels.size:,} cells, {atlas.evaluations:,} generator evaluations, "
          f"{atlas.seconds:.1f} s ({atlas.method}), {out.stat().st_size / 2 ** 20:.1f} MB"
          + (f"; overlays {atlas.overlays.resolution}^{atlas.latent_dim} in {atlas.overlays.seconds:.1f} s"
             if atlas.overlays is not None else ""))
    print("digit area: " + "  ".join(f"{i}:{100 * s:.1f}%" for i, s in enumerate(area))
          + f"  no digit:{100 * atlas.no_digit_share():.1f}%")
    return 0


def _recorded(checkpoint: Path) -> str | None:
    """What figures ``checkpoint`` and its card hold already (None: nothing to replace)."""
    from latent_explorer.models.checkpoint import load_checkpoint

    card = checkpoint.with_suffix(".md")
    ev = load_checkpoint(checkpoint, expect=("gan", "cgan")).meta.get("evaluation") or {}
    held = []
    if ev:
        epoch = f" of epoch {ev['epoch']}" if isinstance(ev.get("epoch"), int) else ""
        held.append(f"{checkpoint} holds evaluation figures{epoch}"
                    + (f" ({ev['samples']:,} samples)" if isinstance(ev.get("samples"), int) else ""))
    if card.exists():
        held.append(f"its card {card} exists")
    return " and ".join(held) or None


def cmd_evaluate(args) -> int:
    from latent_explorer.training.card import write_card
    from latent_explorer.training.evaluate import evaluate_checkpoint, figures_table
    from latent_explorer.training.progress import StageProgress

    from .cli_output import confirm, refuse_installed

    ckpt = Path(args.checkpoint)
    if args.write:  # the figures go into the checkpoint and its card: check both places before minutes of work
        from latent_explorer.models.fileio import check_writable

        refuse_installed(ckpt, "model")
        check_writable(ckpt)
        check_writable(ckpt.with_suffix(".md"))
        held = _recorded(ckpt) if not args.force else None
        if held:
            if not (sys.stdin.isatty() and confirm(f"{held}; replace them with the new figures?")):
                raise UsageError(f"{held}; pass --force to replace them (or evaluate without --write to only "
                                 f"print the figures)")
    progress = StageProgress(f"evaluate {ckpt.name}")
    figures = evaluate_checkpoint(ckpt, args.classifier, data=args.data, write=args.write,
                                  samples=args.samples, progress=progress)
    progress.close()
    if args.json:
        print(json.dumps(rounded(figures), indent=2, allow_nan=False))
    else:
        print(figures_table(figures, ckpt.name))
    if args.write:
        print(f"wrote {ckpt} (evaluation figures in its metadata)")
        print(f"wrote {write_card(ckpt)}")
    return 0


def rounded(obj, digits: int = 6):
    """Floats rounded to ``digits`` decimals (JSON for people: 0.12, not 0.11999999731779099);
    NaN (no value, e.g. the first epoch's map change) becomes null, which every JSON reader takes."""
    if isinstance(obj, float):
        return round(obj, digits) if obj == obj else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj


def cmd_card(args) -> int:
    from latent_explorer.training.card import write_card

    from .cli_output import default_output, refuse_existing

    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else default_output(ckpt, ckpt.stem + ".md")
    refuse_existing([out], args.force)
    print(f"wrote {write_card(ckpt, out=out)}")
    return 0


def cmd_report(args) -> int:
    from latent_explorer.training.report import write_report

    from .cli_output import default_output

    if args.out and args.out.endswith(("/", os.sep)):  # "-o reports/": a folder, made if missing
        Path(args.out).mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoint)
    prefix = Path(args.out) if args.out else default_output(ckpt, ckpt.stem + ".report")
    paths = write_report(ckpt, prefix, overwrite=args.force)
    for p in paths.values():
        print(f"wrote {p}")
    return 0


def cmd_bench(args) -> int:
    from latent_explorer.app.bench.markdown import atlas_plot, render_markdown
    from latent_explorer.app.bench.run import EXTRA_ITEMS, ITEMS, merge_results, read_results, run_suite
    from latent_explorer.models.fileio import atomic_write_bytes

    from .cli_output import check_output

    only = None
    if args.only is not None:
        only = {k.strip() for k in args.only.split(",") if k.strip()}
        if not only:
            raise UsageError(f"--only: name at least one item ({', '.join(ITEMS + EXTRA_ITEMS)}); leave --only out "
                             f"to run the default suite")
    unknown = sorted((only or set()) - set(ITEMS) - set(EXTRA_ITEMS))
    if unknown:
        raise UsageError(f"--only: unknown item(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(ITEMS + EXTRA_ITEMS)}")
    if args.soak_minutes <= 0:
        raise UsageError("--soak-minutes must be positive")
    # every output place and the earlier results are checked before the suite runs (minutes of work)
    check_output(args.out, True, "BENCHMARKS.md")
    check_output(args.json, True, "bench-results.json")
    previous = None
    if only is not None:
        try:
            previous = read_results(Path(args.json))
        except ValueError as exc:
            raise UsageError(f"{exc}; --only merges into it: move it away or give --json another file") from None
    res = run_suite(args.quick, Path(args.models), args.data, only, soak_minutes=args.soak_minutes)
    if only is not None:
        res = merge_results(previous, res)
    out = Path(args.out)
    plot = None
    if res["items"].get("atlas"):
        plot_path = out.parent / "assets" / "bench-atlas.png"
        plot_path.parent.mkdir(exist_ok=True)
        atlas_plot(res["items"]["atlas"], plot_path)
        plot = str(plot_path.relative_to(out.parent)) if plot_path.is_relative_to(out.parent) else str(plot_path)
    atomic_write_bytes(Path(args.json), json.dumps(res, indent=2, default=str).encode())
    atomic_write_bytes(out, render_markdown(res, plot).encode())
    print(f"wrote {out} and {args.json} ({res['seconds']:.0f} s)")
    return 0


COMMANDS = {"bench": cmd_bench, "atlas": cmd_atlas, "calibrate": cmd_calibrate, "evaluate": cmd_evaluate, "card": cmd_card, "report": cmd_report}
