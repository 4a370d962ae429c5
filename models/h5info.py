"""``latent-explorer info`` for HDF5 files (atlases and histories)."""
from __future__ import annotations

from pathlib import Path

import h5py


def describe_h5(path: Path) -> str:
    from . import h5safe
    from .atlas import AtlasError, load_atlas
    from .infotable import format_table

    try:
        with h5safe.open_file(path, AtlasError, "HDF5 file") as f:  # a FIFO or device is refused, not read
            fmt = h5safe.get_str(f.attrs, "format", "")
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise AtlasError(f"{path}: not a readable HDF5 file ({str(exc)[:200]})") from None
    if fmt == "latent-explorer-atlas":
        a = load_atlas(path)
        area = "  ".join(f"{i}:{100 * s:.1f}%" for i, s in enumerate(a.digit_area()))
        return format_table([
            ("file", path), ("kind", f"atlas ({'conditional, ' if a.conditional else ''}{a.latent_dim}-D)"),
            ("resolution", f"{a.resolution} ({a.labels.size:,} cells)"),
            ("method", f"{a.method}, {a.precision}, {a.evaluations:,} evaluations, {a.seconds:.1f} s"),
            ("generator", a.generator_digest[:16]), ("classifier", a.classifier_digest[:16]), ("digit area", area),
            ("overlays", f"{', '.join(a.overlays.maps)} on {a.overlays.resolution}^{a.latent_dim} points "
                         f"({a.overlays.seconds:.1f} s)" if a.overlays is not None else "none (format 2 or built without)")])
    if fmt == "latent-explorer-history":
        from latent_explorer.training.history import History

        from .maps import axis_name

        h = History.load(path)
        planes = [f"{axis_name(i)}-{axis_name(j)}" + (f" (digit {d})" if d >= 0 else "") for i, j, d in h.planes]
        return format_table([
            ("file", path), ("kind", f"training history of {h.name}"), ("epochs", h.epochs),
            ("steps", len(h.steps()[0])), ("map planes", ", ".join(planes)),
            ("last change", f"{100 * h.change_rate[-1]:.1f}% of cells" if h.epochs else "-"),
            ("generator", h.generator_digest[:16])])
    raise AtlasError(f"{path}: an HDF5 file, but not one of latent-explorer's (format {fmt!r})")
