"""``latent-explorer install-models ARCHIVE``: check a models archive (``train all``) and
install its files into the checkpoints folder (models/model_archive.py)."""
from __future__ import annotations

from pathlib import Path

from .cli import UsageError


def add_commands(sub) -> None:
    p = sub.add_parser("install-models", help="check a models archive (train all) and install it into the user's "
                                              "models folder")
    p.add_argument("archive", help="the archive, e.g. OUT/shipped-models.tar")
    p.add_argument("--into", help="folder to install into (default: the user's models folder, $LATENT_EXPLORER_MODELS "
                                  "or ~/.local/share/latent-explorer/models, which the app and every command search "
                                  "before the shipped models; --into checkpoints replaces a checkout's shipped models)")
    p.add_argument("--force", action="store_true", help="replace files that already exist there")


def cmd_install(args) -> int:
    from latent_explorer.models.model_archive import install

    from latent_explorer.models.registry import user_models_dir

    into = Path(args.into) if args.into else user_models_dir()
    if args.into is None:
        into.mkdir(parents=True, exist_ok=True)
    elif not into.is_dir():
        raise UsageError(f"--into {into}: " + ("is not a folder" if into.exists() else "no such folder; make it "
                                                "first, or leave --into out to use the user's models folder"))
    paths = install(Path(args.archive), into, force=args.force, log=lambda line: print(line, flush=True))
    print(f"installed {len(paths)} files into {into}")
    return 0


COMMANDS = {"install-models": cmd_install}
