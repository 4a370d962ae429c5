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
