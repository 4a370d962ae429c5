"""Every numeric option of the command line has a documented range, checked before any
work; a value out of range is refused with the range and, where size is the reason, the
memory the value would take.  ``annotate`` writes each range into the option's help;
``check`` runs in ``main`` before the command; ``last_resort`` is the handler of anything
no command caught (no traceback reaches the user)."""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import warnings

from .cli import UsageError

_IMAGE = 28 * 28 * 4  # one float32 image, bytes
MAX_ITEMS = 1_000_000  # training/data.py: the most images an IDX file may declare


def _size(nbytes: float) -> str:
    return f"{nbytes / 2 ** 30:,.1f} GiB" if nbytes >= 2 ** 30 else f"{nbytes / 2 ** 20:,.0f} MiB"


def _render_pixels(dpi: float) -> str:
    w, h = 11 * dpi, 5 * dpi
    return f"a {w:,.0f} x {h:,.0f}-pixel figure ({_size(w * h * 4)} of pixels alone)"


def _compare_pixels(dpi: float) -> str:
    w, h = 7.5 * dpi, 4.8 * dpi
    return f"a figure of at least {w:,.0f} x {h:,.0f} pixels ({_size(w * h * 4)} of pixels alone)"


def _eval_images(samples: float) -> str:
    judge = min(8000, samples)  # training/evaluate.py: the judge's images come from the samples where they suffice
    n = max(samples, judge + min(2000, judge))
    return f"{n:,.0f} generated images kept at once ({_size(n * _IMAGE)})"


def _batch(b: float) -> str:
    return f"a batch of {b:,.0f} images ({_size(b * _IMAGE)} of input alone, several times that in activations)"


# (command, subcommand) -> option dest -> (low, high, what a too-large value costs or None)
# a low bound in a tuple ("gt", x) means "greater than x"
RANGES: dict[tuple[str, str | None], dict[str, tuple]] = {
    ("train", "classifier"): {
        "epochs": (1, 1000, None), "batch_size": (2, 4096, _batch), "lr": (("gt", 0.0), 1.0, None),
        "seed": (0, 2 ** 31 - 1, None)},
    ("train", "gan"): {
        "latent_dim": (1, 64, None), "epochs": (1, 100_000, None), "batch_size": (2, 4096, _batch),
        "lr": (("gt", 0.0), 1.0, None), "seed": (0, 2 ** 31 - 1, None), "limit": (0, MAX_ITEMS, None),
        "max_minutes": (0.0, 525_600.0, None), "map_resolution": (4, 256, None),
        "eval_samples": (100, 100_000, _eval_images)},
    ("train", "all"): {
        "minutes": (("gt", 0.0), 10_080.0, None), "batch_size": (2, 4096, _batch), "seed": (0, 2 ** 31 - 1, None),
        "limit": (0, MAX_ITEMS, None), "atlas_resolution": (2, 4096, None),
        "eval_samples": (100, 100_000, _eval_images)},
    ("atlas", "build"): {
        "resolution": (2, 4096, None), "stride": (1, 4096, None), "threads": (0, 1024, None),
        "block": (1, 50_000_000, None)},
    ("evaluate", None): {"samples": (100, 100_000, _eval_images)},
    ("bench", None): {"soak_minutes": (("gt", 0.0), 1440.0, None)},
    ("render", None): {"dpi": (10, 1000, _render_pixels), "resolution": (2, 512, None), "digit": (0, 9, None)},
    ("compare", None): {"dpi": (10, 1000, _compare_pixels), "digit": (0, 9, None)},
    ("export", "strip"): {"steps": (2, 200, None), "digit": (0, 9, None)},
    ("export", "layers-video"): {"steps": (2, 500, None), "digit": (0, 9, None), "fps": (0.5, 60.0, None)},
    ("units", None): {"points": (1, 4096, None), "digit": (0, 9, None), "top": (1, 256, None),
                      "seed": (0, 2 ** 31 - 1, None), "scale": (-1000.0, 1000.0, None), "exact_top": (0, 256, None)},
}
_SUB = {"train": "what", "atlas": "atlas_cmd", "export": "export_cmd"}


def _key(args) -> tuple[str, str | None]:
    command = getattr(args, "command", None) or "gui"
    sub = _SUB.get(command)
    return command, (getattr(args, sub, None) if sub else None)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _describe(low, high) -> str:
    if isinstance(low, tuple):
        return f"more than {low[1]:g} and at most {high:g}"
    return f"{low:,}..{high:,}" if isinstance(low, int) and isinstance(high, int) else f"{low:g}..{high:g}"


def check(args) -> None:
    """Refuse (UsageError) any numeric option outside its range, and any NaN or infinite
    number, before the command does any work."""
    for dest, value in sorted(vars(args).items()):
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{_flag(dest)} {value}: not a finite number")
    for dest, (low, high, cost) in RANGES.get(_key(args), {}).items():
        value = getattr(args, dest, None)
        if value is None or isinstance(value, bool):
            continue
        above = isinstance(low, tuple) and value <= low[1]
        if above or (not isinstance(low, tuple) and value < low) or value > high:
            shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
            extra = f"; {shown} would mean {cost(value)}" if cost and value > high else ""
            raise UsageError(f"{_flag(dest)} {shown} is out of range: it must be {_describe(low, high)}{extra}")


def annotate(parser: argparse.ArgumentParser) -> None:
    """Append each option's range to its help text (so ``--help`` documents it)."""
    for key, ranges in RANGES.items():
        p = _subparser(parser, [k for k in key if k])
        if p is None:
            continue
        for action in p._actions:
            if action.dest in ranges and action.help != argparse.SUPPRESS:
                low, high, _ = ranges[action.dest]
                text = f"range {_describe(low, high)}"
                if text not in (action.help or ""):
                    action.help = f"{action.help} ({text})" if action.help else text


def _subparser(parser, names):
    for name in names:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or name not in sub.choices:
            return None
        parser = sub.choices[name]
    return parser


class PrintableStream:
    """A text stream that passes every write through :func:`printable_lines`: no control,
    bidi or format character from a file's text or a file name reaches the terminal raw."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        from latent_explorer.models.printable import printable_lines

        self.stream.write(printable_lines(text))
        return len(text)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, buffer, ...
        return getattr(self.stream, name)


@contextlib.contextmanager
def safe_streams():
    """While the command runs: print what cannot be encoded (an undecodable file name, an
    emoji on an ASCII terminal) as backslash escapes instead of failing with
    UnicodeEncodeError, and escape control characters (:class:`PrintableStream`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    saved = sys.stdout, sys.stderr, warnings.showwarning
    sys.stdout, sys.stderr = PrintableStream(sys.stdout), PrintableStream(sys.stderr)
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        sys.stdout, sys.stderr, warnings.showwarning = saved


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr (``latent-explorer: warning: ...``), not Python's form."""
    print(f"latent-explorer: warning: {message}", file=sys.stderr)


_FILE_ARGS = ("file", "checkpoint", "model", "models", "atlas", "out", "classifier", "data")


def last_resort(args, exc: BaseException) -> int:
    """Report an exception no command caught: what failed and on which files, without a
    traceback (``LATENT_EXPLORER_DEBUG=1`` prints it); exit status 1."""
    command = " ".join(str(k) for k in _key(args) if k)
    files = []
    for name in _FILE_ARGS:
        value = getattr(args, name, None)
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, str) and v:
                files.append(v)
    where = f" on {', '.join(files)}" if files else ""
    if isinstance(exc, MemoryError):
        what = "ran out of memory"
    else:
        first = (str(exc).splitlines() or [""])[0][:300]
        what = f"unexpected {type(exc).__name__}" + (f": {first}" if first else "")
    print(f"latent-explorer: error: {command}{where} failed: {what} (an input this program does not check, or "
          f"a bug; set LATENT_EXPLORER_DEBUG=1 for the traceback)", file=sys.stderr)
    if os.environ.get("LATENT_EXPLORER_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    return 1
