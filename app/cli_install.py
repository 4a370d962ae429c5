"""``latent-explorer install-models ARCHIVE``: check a models archive (``train all``) and
install its files into the checkpoints folder (models/model_archive.py)."""
from __future__ import annotations

from pathlib import Path

from .cli import CHECKPOINTS


def add_commands(sub) -> None:
    p = sub.add_parser("install-models", help="check a models archive (train all) and install it into checkpoints/")
    p.add_argument("archive", help="the archive, e.g. OUT/shipped-models.tar")
    p.add_argument("--into", default=str(CHECKPOINTS), help="folder to install into (default: the shipped models')")
    p.add_argument("--force", action="store_true", help="replace files that already exist there")


def cmd_install(args) -> int:
    from latent_explorer.models.model_archive import install

    paths = install(Path(args.archive), Path(args.into), force=args.force, log=lambda line: print(line, flush=True))
    print(f"installed {len(paths)} files into {args.into}")
    return 0


COMMANDS = {"install-models": cmd_install}
