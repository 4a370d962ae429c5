"""The one rule for every command that writes a file: refuse to replace an existing file,
name it, and point to ``--force``; a folder or a missing folder is named as such."""
from __future__ import annotations

from pathlib import Path

from .cli import UsageError


def overwrite_message(path: Path) -> str:
    return f"{path}: already exists; pass --force to overwrite"


def check_output(path: str | Path, force: bool, example: str = "out.png", figure: bool = False) -> Path:
    """``path`` as a Path, once it is known that writing it is allowed (and, for a ``figure``,
    that its suffix names a format the figure can be written in)."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give a file name such as {out / example}")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: folder {out.parent} does not exist")
    if out.exists() and not force:
        raise UsageError(overwrite_message(out))
    if figure:  # its format follows the suffix: checked before any work
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        supported = FigureCanvasAgg.get_supported_filetypes()
        if (out.suffix.lstrip(".").lower() or "png") not in supported:
            raise UsageError(f"{out}: unsupported image format {out.suffix!r} (use one of "
                             f"{', '.join('.' + s for s in sorted(supported))})")
    return out


def refuse_existing(paths, force: bool) -> None:
    """Refuse before any work when one of ``paths`` exists and ``force`` is not given."""
    if force:
        return
    for p in paths:
        if Path(p).exists():
            raise UsageError(overwrite_message(Path(p)))


def default_output(beside: str | Path, name: str) -> Path:
    """Where a command writes by default: beside ``beside`` (its input), unless that is a
    shipped file inside the package; then in the current folder, so the package is never written."""
    from latent_explorer.models.registry import is_shipped

    beside = Path(beside)
    return Path(name) if is_shipped(beside) else beside.with_name(name)


def installed_roots() -> list[Path]:
    """The folders Python installs packages into (site-packages, system and user)."""
    import site
    import sysconfig

    roots = {sysconfig.get_paths().get(k) for k in ("purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # some virtual environments' site module lacks it
        pass
    roots.add(site.getusersitepackages())
    return [Path(r).resolve() for r in roots if r]


def refuse_installed(path: str | Path, what: str = "file") -> None:
    """Refuse to write ``path`` inside an installed package folder (site-packages): the
    installed copy's files are the shipped ones, never rewritten."""
    target = Path(path).absolute()
    try:
        real = target.resolve()
    except (OSError, RuntimeError):
        real = target
    for root in installed_roots():
        if real.is_relative_to(root) or target.is_relative_to(root):
            raise UsageError(f"{path}: is inside the installed package folder {root}; the installed {what} is never "
                             f"rewritten: copy it to a folder of your own (with its .history.h5 and .atlas.h5) and "
                             f"use the copy")


def confirm(question: str, stdin=None, stdout=None) -> bool:
    """Ask a yes/no question on the terminal (False unless the answer starts with y)."""
    import sys

    stdin, stdout = stdin or sys.stdin, stdout or sys.stderr
    stdout.write(f"{question} [y/N] ")
    stdout.flush()
    answer = stdin.readline()
    return answer.strip().lower().startswith("y")
