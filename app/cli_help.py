"""The command line's help, finished in one place: every option gets a line of help and its
default, every subcommand an example, and a wrong option is answered with the usage of the
subcommand it was given to (not the top level's)."""
from __future__ import annotations

import argparse

# Help for options that many subcommands share, by destination; a parser's own text wins.
COMMON = {
    "classifier": "the digit classifier that judges the images (default: the shipped classifier.pt)",
    "data": "folder with the four MNIST .gz files (default: $LATENT_EXPLORER_DATA, else the per-user cache "
            "that `latent-explorer download` fills)",
    "device": "where to compute: auto (CUDA when present, else CPU), cpu or cuda",
    "conditional": "a conditional GAN: the digit label is an input of both networks",
    "activation": "the generator's hidden activation",
    "quiet": "print only the final lines, no per-epoch progress",
    "precision": "number format of the generator and classifier while building (bfloat16: faster on recent "
                 "CPUs, may differ on a few border cells)",
    "path": "lerp: a straight line from A to B; slerp: the arc between them (keeps the distance from the origin)",
    "pixel_weight": "weight of the pixel distance in the match",
    "feature_weight": "weight of the classifier-feature distance in the match",
    "model": "model name (gan2d, cgan3d, ...) or checkpoint path",
    "space": "compare images by the classifier's features (feature) or by their pixels (pixel)",
    "models": "folder with the models to measure",
    "epochs": "passes over the training images",
    "batch_size": "images per training step",
    "lr": "learning rate (Adam)",
    "seed": "random seed: the same seed and settings give the same run",
    "overlay": "the continuous map drawn beside the class map: how fast the image changes (sensitivity, in "
               "pixels or classifier features) or an attribute of the drawn digit",
    "latent_dim": "size of the latent space (the app explores 2, 3 and 4)",
    "resolution": "cells per axis of the grid",
    "threads": "CPU threads for torch (0: torch's default)",
    "samples": "generated images to judge",
    "steps": "frames from A to B",
    "dpi": "pixels per inch of the figure",
}

# Command path -> examples shown under its help.
EXAMPLES = {
    "": ["latent-explorer                      # open the app on the 2-D GAN",
         "latent-explorer render --model gan2d --point -0.84,0.54 -o point.png",
         "latent-explorer info gan2d"],
    "gui": ["latent-explorer gui cgan3d"],
    "train": ["latent-explorer train gan --latent-dim 2 --epochs 5 --out runs/gan2d"],
    "train classifier": ["latent-explorer train classifier --epochs 6"],
    "train gan": ["latent-explorer train gan --latent-dim 3 --epochs 5 --out runs/gan3d",
                  "latent-explorer train gan --latent-dim 3 --epochs 10 --out runs/gan3d --resume"],
    "train all": ["latent-explorer train all --minutes 60 --out runs/all"],
    "info": ["latent-explorer info gan2d", "latent-explorer info runs/gan2d/gan2d.history.h5"],
    "download": ["latent-explorer download", "latent-explorer download --data ~/mnist"],
    "verify-data": ["latent-explorer verify-data --data ~/mnist"],
    "atlas": ["latent-explorer atlas build runs/gan2d/gan2d.pt --resolution 256"],
    "atlas build": ["latent-explorer atlas build runs/gan3d/gan3d.pt --resolution 64",
                    "latent-explorer atlas build gan2d --resolution 128 -o gan2d-128.atlas.h5"],
    "atlas rebuild": ["latent-explorer atlas rebuild runs/gan2d/gan2d.atlas.h5"],
    "calibrate": ["latent-explorer calibrate --classifier my-classifier.pt"],
    "evaluate": ["latent-explorer evaluate gan2d", "latent-explorer evaluate runs/gan2d/gan2d.pt --samples 2000 --json"],
    "card": ["latent-explorer card runs/gan2d/gan2d.pt", "latent-explorer card gan2d -o gan2d-card.md"],
    "bench": ["latent-explorer bench --quick", "latent-explorer bench --only frame,startup"],
    "report": ["latent-explorer report gan2d -o reports/"],
    "render": ["latent-explorer render --model gan2d --point -0.84,0.54 -o point.png",
               "latent-explorer render --model cgan3d --point 0.1,0.2,-0.3 --digit 7 -o seven.png"],
    "export": ["latent-explorer export strip --model gan2d --a -0.8,0.3 --b 0.9,-0.6 -o walk.png"],
    "export strip": ["latent-explorer export strip --model gan2d --a -0.8,0.3 --b 0.9,-0.6 --steps 12 -o walk.png"],
    "compare": ["latent-explorer compare --point 0.2,-0.4 -o compare.png",
                "latent-explorer compare gan2d gan2d-relu --point 0.2,-0.4 -o compare.png"],
    "project": ["latent-explorer project my-digit.png --model gan2d"],
    "neighbours": ["latent-explorer neighbours --model gan2d --point 0.2,-0.4"],
    "install-models": ["latent-explorer install-models runs/all/shipped-models.tar"],
    "geometry": ["latent-explorer geometry gan2d --overlay sensitivity -o sensitivity.png --json sensitivity.json",
                 "latent-explorer geometry gan3d --overlay slant --axes xz -o slant.png"],
    "atlas check": ["latent-explorer atlas check gan3d.atlas.h5 --fraction 0.1"],
    "units": ["latent-explorer units gan2d --layer act1 -o units.png --csv units.csv",
              "latent-explorer units cgan2d --layer act0 --sampling region --digit 7"],
    "export layers-video": ["latent-explorer export layers-video --model gan2d --a -0.9,-0.6 --b 0.9,0.6 --steps 20 "
                            "-o walk.gif"],
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands refuse unknown options themselves, so the error
    shows the usage of the subcommand that was mistyped."""

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return ns, extras


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for the parser and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, path + (name,))


def _with_default(action: argparse.Action) -> None:
    default = action.default
    if (not action.option_strings or default in (None, False, argparse.SUPPRESS) or action.help is None
            or "default" in action.help or isinstance(action, (argparse._HelpAction, argparse._VersionAction))):
        return
    action.help = f"{action.help} (default: {default})"


def finish(parser: argparse.ArgumentParser) -> None:
    """Fill in help lines, defaults and examples for the whole command tree."""
    for path, p in walk(parser):
        p.formatter_class = argparse.RawDescriptionHelpFormatter
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help:
                action.help = COMMON.get(action.dest)
            _with_default(action)
        examples = EXAMPLES.get(" ".join(path))
        if examples and not (p.epilog or "").startswith("examples:"):
            p.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) + (
                "\n\n" + p.epilog if p.epilog else "")
