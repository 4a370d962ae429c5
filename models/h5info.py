"""``latent-explorer info`` for HDF5 files (atlases and histories)."""
from __future__ import annotations

from pathlib import Path

import h5py


def describe_h5(path: Path) -> str:
    from . import h5safe
    from .atlas import AtlasError, load_atlas

    try:
        with h5py.File(path, "r") as f:
            fmt = h5safe.get_str(f.attrs, "format", "")
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise AtlasError(f"{path}: not a readable HDF5 file ({str(exc)[:200]})") from None
    if fmt == "latent-explorer-atlas":
        a = load_atlas(path)
        area = "  ".join(f"{i}:{100 * s:.1f}%" for i, s in enumerate(a.digit_area()))
        return (f"file:        {path}\nkind:        atlas ({'conditional, ' if a.conditional else ''}{a.latent_dim}-D)\n"
                f"resolution:  {a.resolution} ({a.labels.size:,} cells)\nmethod:      {a.method}, {a.precision}, "
                f"{a.evaluations:,} evaluations, {a.seconds:.1f} s\n"
                f"generator:   {a.generator_digest[:16]}\nclassifier:  {a.classifier_digest[:16]}\n"
                f"digit area:  {area}")
    if fmt == "latent-explorer-history":
        from latent_explorer.training.history import History

        h = History.load(path)
        last = f"{h.change_rate[-1]:.3f}" if h.epochs else "-"
        return (f"file:        {path}\nkind:        training history of {h.name}\nepochs:      {h.epochs}\n"
                f"steps:       {len(h.steps()[0]):,}\nmap planes:  {h.planes}\nlast change: {last}\n"
                f"generator:   {h.generator_digest[:16]}")
    raise AtlasError(f"{path}: an HDF5 file, but not one of latent-explorer's (format {fmt!r})")
