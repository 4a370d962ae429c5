"""Take a screenshot of the explorer window on one checkpoint.

    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py checkpoints/gan2d.pt \
        --point -0.84,0.54 -o assets/window-gan2d.png

    # with the training-history dock
    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py checkpoints/gan2d.pt --history \
        --point -0.84,0.54 -o assets/window-history-gan2d.png

    # the layers dock's Rank units tab: act1 ranked for the current digit, the top unit clicked
    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py gan2d --point=-0.2,0.75 --layers units \
        --rank act1 -o assets/window-units-gan2d.png

    # the Find a digit dock with a drawn 7 found on the map, and its nearest training images
    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py gan2d --find 7 -o assets/window-find-gan2d.png

    # every shipped model in checkpoints/ -> assets/window-<name>.png
    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py --shipped assets

Opens the real window (settings in a temporary file, so the user's are untouched), waits
for the atlas (building one if the model has none), moves the point, lets the views
settle, then saves ``QWidget.grab()`` of the window as a PNG.  Under Xvfb with PyOpenGL
the 3-D view is the OpenGL one; set LATENT_EXPLORER_NO_GL=1 (or use the offscreen
platform) for the software-drawn cube.  On the offscreen platform the screen is made the
size of ``--size`` (its default screen of 800 x 800 would shrink the window to fit).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", help="generator checkpoint (.pt) or shipped model name")
    p.add_argument("-o", "--out", help="PNG to write")
    p.add_argument("--shipped", metavar="DIR",
                   help="instead: one screenshot per shipped model in checkpoints/, as DIR/window-NAME.png")
    p.add_argument("--point", help="latent point, e.g. -0.84,0.54 (default: the origin)")
    p.add_argument("--digit", type=int, help="digit to generate and whose atlas to show (conditional models)")
    p.add_argument("--atlas", help="atlas file to open after the model")
    p.add_argument("--classifier", default=str(ROOT / "checkpoints" / "classifier.pt"))
    p.add_argument("--size", default="1560x940", help="window size WIDTHxHEIGHT (default 1560x940)")
    p.add_argument("--atlas-resolution", type=int, default=0,
                   help="grid size of an on-demand atlas (default: the app's choice)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for an atlas build")
    p.add_argument("--overview-axis", type=int, help="axis of the small multiples (0, 1, 2)")
    p.add_argument("--plane", help="plane of the plane map for 4-D models, e.g. 0,3")
    p.add_argument("--fixed", action="store_true", help="switch the 3-D slices to fixed")
    p.add_argument("--history", action="store_true", help="show the training-history dock")
    p.add_argument("--history-epoch", type=int, help="epoch the history scrubber shows (default: the last)")
    p.add_argument("--walk-a", help="walk: start A, e.g. -1,0 (shows the walk dock's strip and the path)")
    p.add_argument("--walk-b", help="walk: end B, e.g. 1,0")
    p.add_argument("--walk-steps", type=int, default=10, help="walk: number of frames (default 10)")
    p.add_argument("--walk-path", choices=("lerp", "slerp"), default="lerp", help="walk: path kind")
    p.add_argument("--label-walk", help="walk: FROM,TO digits at fixed noise A (conditional models)")
    p.add_argument("--layers", choices=("heatmaps", "channels", "units"),
                   help="show the 'Inside the generator' dock on this tab")
    p.add_argument("--rank", metavar="LAYER[:UNIT_ROW]",
                   help="with --layers units: rank this layer (fast, 256 points in the current digit's region), "
                        "wait for it, and click the table's row UNIT_ROW (default 0: the top unit)")
    p.add_argument("--compare", action="store_true",
                   help="show the Compare generators dock (the same point through the activation variants)")
    p.add_argument("--find", metavar="DIGIT_OR_IMAGE",
                   help="show the Find a digit dock: draw a built-in stroke digit (0, 1, 3, 7) on its pad, or "
                        "load this image file, then search and wait for the answer and the nearest training images")
    p.add_argument("--data", help="MNIST folder for --find's nearest training images (default: the usual one)")
    p.add_argument("--ablate", action="append", default=[], metavar="LAYER:CHANNELS",
                   help="layer edit in force, e.g. act2:rows=3-5 (repeatable; see render --ablate)")
    return p.parse_args(argv)


def settle(app, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


# Points that show something typical of each shipped model (the 2-D one is the reference study's).
SHIPPED_VIEWS = {
    "gan2d": ["--point=-0.84,0.54"],
    "gan3d": ["--point=0.3,-0.5,0.2"],
    "gan4d": ["--point=0.3,-0.5,0.2,0.6", "--plane", "0,3"],
    "cgan2d": ["--point=0.3,-0.4", "--digit", "3"],
    "cgan3d": ["--point=0.3,-0.5,0.2", "--digit", "3"],
}


def show_history(app, window, epoch: int | None = None, timeout: float = 30) -> None:
    """Show the history dock and wait until it has read the model's history."""
    from PySide6.QtCore import Qt

    dock = window.history_dock
    dock.show()
    window.resizeDocks([dock], [int(0.47 * window.height())], Qt.Orientation.Vertical)
    dock.poll()
    start = time.monotonic()
    while dock.loader is not None or (dock.view.history is None and time.monotonic() - start < 2):
        if time.monotonic() - start > timeout:
            break
        settle(app, 0.1)
    if dock.view.history is None:
        print(f"screenshot: no history shown: {dock.view.message.text()}", file=sys.stderr)
    elif epoch is not None:
        dock.view.set_epoch(epoch)


def shoot_shipped(folder: Path, extra: list[str]) -> int:
    """One child process per shipped model (each gets a fresh window)."""
    import subprocess

    from latent_explorer.models.registry import SHIPPED

    checkpoints = ROOT / "checkpoints"
    failed = 0
    done = 0
    for name in SHIPPED:
        path = checkpoints / f"{name}.pt"
        if not path.exists():
            print(f"skip {name}: {path} not found")
            continue
        cmd = [sys.executable, __file__, str(path), "-o", str(folder / f"window-{name}.png"),
               *SHIPPED_VIEWS.get(name, []), *extra]
        failed += subprocess.run(cmd).returncode != 0
        done += 1
    print(f"{done - failed} of {done} screenshots written to {folder}")
    return 1 if failed or not done else 0


# Strokes for --find, in pad cells (x right, y down), drawn with the pad's brush.
STROKES = {
    "7": [[(6.5, 6.5), (21.5, 6.5), (14.0, 22.5)], [(10.0, 14.5), (18.5, 14.5)]],
    "1": [[(15.0, 5.5), (13.0, 22.5)]],
    "0": [[(14.0, 5.5), (9.5, 8.5), (8.0, 14.0), (9.5, 20.0), (14.0, 22.5), (18.5, 20.0), (20.0, 14.0),
           (18.5, 8.5), (14.0, 5.5)]],
    "3": [[(8.5, 7.0), (13.0, 5.5), (18.5, 7.5), (17.0, 12.0), (12.0, 14.0), (18.5, 16.0), (19.0, 20.5),
           (13.5, 22.5), (8.0, 20.5)]],
}


def find_digit(app, window, args: argparse.Namespace) -> None:
    """Draw (or load) a digit in the Find dock, search, and wait for the answer and the neighbours."""
    from PySide6.QtCore import Qt

    dock = window.find_dock
    panel = dock.panel
    if args.data:
        panel.data_dir = args.data
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [int(0.42 * window.width())], Qt.Orientation.Horizontal)
    if args.find in STROKES:
        panel.pad.brush = 1.2
        for line in STROKES[args.find]:
            for a, b in zip(line[:-1], line[1:]):
                panel.pad.stroke(a, b)
    elif not panel.load_image(Path(args.find)):
        return
    panel.find()
    start = time.monotonic()
    while (panel.job is not None or panel.index_job is not None) and time.monotonic() - start < args.timeout:
        settle(app, 0.2)
    if panel.result is not None:
        print(f"find: {panel.result.sentence()}")


def walk_to(app, window, args: argparse.Namespace) -> None:
    """Set the walk from the options and wait for its strip."""
    walk = window.state.walk
    walk.set_a(float(v) for v in args.walk_a.split(","))
    if args.walk_b:
        walk.set_b(float(v) for v in args.walk_b.split(","))
    walk.set_steps(args.walk_steps)
    walk.set_kind(args.walk_path)
    if args.label_walk:
        walk.set_label_walk(tuple(int(v) for v in args.label_walk.split(",")))
    runner = window.walk.dock.panel.runner
    start = time.monotonic()
    settle(app, 0.2)
    while runner.busy and time.monotonic() - start < args.timeout:
        settle(app, 0.2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.shipped:
        extra = ["--size", args.size, "--timeout", str(args.timeout), "--classifier", args.classifier]
        return shoot_shipped(Path(args.shipped), extra)
    if not args.checkpoint or not args.out:
        print("screenshot: give a checkpoint and -o OUT.png (or --shipped DIR)", file=sys.stderr)
        return 2
    settings_file = Path(tempfile.mkdtemp(prefix="le-shot-")) / "settings.ini"
    os.environ["LATENT_EXPLORER_SETTINGS"] = str(settings_file)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":  # its default screen is 800 x 800: the window would be fitted to it
        screen = settings_file.parent / "screen.json"
        screen.write_text(json.dumps({"screens": [{"name": "shot", "x": 0, "y": 0, "width": width, "height": height,
                                                   "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
        os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"
    from PySide6.QtCore import Qt

    from latent_explorer.app.qt.main import CHECKPOINTS, make_app
    from latent_explorer.app.qt.settings import make_settings
    from latent_explorer.app.qt.window import MainWindow
    from latent_explorer.models.registry import quick_resolution, resolve

    app = make_app()
    res = (lambda d, c: args.atlas_resolution) if args.atlas_resolution else quick_resolution
    window = MainWindow(CHECKPOINTS, Path(args.classifier), make_settings(), atlas_resolution=res)
    errors: list[str] = []
    window.show_error = lambda title, message: errors.append(f"{title}: {message}")  # no modal dialogs here
    window.resize(width, height)
    window.show()
    if not window.open_path(resolve(args.checkpoint, CHECKPOINTS)):
        print(f"screenshot: {errors[-1] if errors else 'cannot open the model'}", file=sys.stderr)
        return 1
    if args.atlas and not window.open_path(Path(args.atlas)):
        print(f"screenshot: {errors[-1]}", file=sys.stderr)
        return 1
    start = time.monotonic()
    while window.atlases.busy and time.monotonic() - start < args.timeout:
        settle(app, 0.2)
    if window.atlases.busy:
        print("screenshot: the atlas build did not finish in time; taking the picture anyway", file=sys.stderr)
    state = window.state
    if args.digit is not None:
        state.set_digit(args.digit)
        state.set_atlas_digit(args.digit)
    if args.point:
        state.set_point(float(v) for v in args.point.split(","))
    if args.overview_axis is not None:
        state.set_option("overview_axis", args.overview_axis)
    if args.plane:
        state.set_option("plane", tuple(int(v) for v in args.plane.split(",")))
    if args.fixed:
        state.set_option("follow", False)
    if args.ablate:
        from latent_explorer.models.engine import Ablation

        state.set_ablations(Ablation.parse(spec) for spec in args.ablate)
    if args.layers:
        dock = window.layers_dock
        dock.show()
        dock.tabs.setCurrentWidget({"heatmaps": dock.layers, "channels": dock.channels,
                                    "units": dock.units}[args.layers])
        window.resizeDocks([dock], [int(0.5 * width)], Qt.Orientation.Horizontal)
        if args.layers == "units" and args.rank:
            layer, _, row = args.rank.partition(":")
            panel = dock.units
            settle(app, 1.0)
            panel.layer.setCurrentText(layer)
            panel.start()
            start = time.monotonic()
            while panel.ranking is None and time.monotonic() - start < args.timeout:
                settle(app, 0.5)
            if panel.ranking is not None:
                panel.pick_row(int(row or 0))
                settle(app, 1.0)
    if args.walk_a:
        walk_to(app, window, args)
    if args.history:
        if not args.walk_a:  # the history dock gets the whole bottom row (the walk dock would halve it)
            window.walk.dock.hide()
        show_history(app, window, args.history_epoch)
    if args.compare:
        dock = window.compare_dock
        dock.show()
        dock.raise_()
        window.resizeDocks([dock], [int(0.42 * height)], Qt.Orientation.Vertical)
        start = time.monotonic()
        while not dock.panel.columns and time.monotonic() - start < 60:
            settle(app, 0.2)
    if args.find:
        find_digit(app, window, args)
    window.renderer.render_now()
    settle(app, 1.0)
    start = time.monotonic()
    while window.walk.dock.panel.runner.busy and time.monotonic() - start < 60:  # let the walk strip finish
        settle(app, 0.2)
    settle(app, 0.3)  # a strip that arrived during the last wait gets its tiles laid out before the grab
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        print(f"screenshot: could not write {out}", file=sys.stderr)
        return 1
    frame = state.frame
    print(f"wrote {out}: {state.model.describe()} at {tuple(round(v, 3) for v in state.point)}, "
          f"image class {frame.predicted} ({frame.confidence:.1%})")
    window.close()
    window.deleteLater()
    settle(app, 0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
