"""The model registry: find generator checkpoints, pair them with their atlas and
history files, and open one as a ready-to-render :class:`LoadedModel`.

Qt-free; the desktop app and the ``render`` command both use it.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .atlas import OLDEST_READABLE, Atlas, AtlasError, load_atlas, read_header
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_payload

if TYPE_CHECKING:
    from .engine import Engine

GENERATOR_KINDS = ("gan", "cgan")
# The shipped generators, in the order the model chooser lists them.
SHIPPED = ("gan2d", "gan3d", "gan4d", "cgan2d", "cgan3d")
DEFAULT_MODEL = "gan2d"


@dataclass(frozen=True)
class ModelEntry:
    """One generator checkpoint on disk, described from its header only."""

    path: Path
    kind: str
    latent_dim: int
    conditional: bool
    activation: str = "leaky_relu"

    @property
    def name(self) -> str:
        from .printable import printable

        return printable(self.path.stem, 80)

    @property
    def atlas_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".atlas.h5")

    @property
    def history_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".history.h5")

    def describe(self) -> str:
        """A short label such as ``gan3d  (3-D, conditional)``."""
        extra = ", conditional" if self.conditional else ""
        return f"{self.name}  ({self.latent_dim}-D{extra})"


def read_entry(path: str | os.PathLike) -> ModelEntry:
    """Describe one checkpoint file; raise :class:`CheckpointError` unless it is a generator."""
    from .previewread import PreviewUnavailable, read_header

    path = Path(path)
    try:
        payload = read_header(path)  # the header only, without torch
    except PreviewUnavailable:
        payload = read_payload(path)  # torch's reader, which names any real problem
    kind = payload.get("kind") if isinstance(payload, dict) else None
    config = payload.get("config") if isinstance(payload, dict) else None
    if kind not in GENERATOR_KINDS or not isinstance(config, dict):
        what = f"a {kind} model" if isinstance(kind, str) else "no generator"
        raise CheckpointError(f"{path}: holds {what}, expected a generator (gan or cgan)")
    dim, conditional, activation = config.get("latent_dim"), config.get("conditional", False), \
        config.get("activation", "leaky_relu")
    if type(dim) is not int or not 1 <= dim <= 64:  # as GanConfig checks it: no float, inf or 5000-digit int
        raise CheckpointError(f"{path}: the config has no usable latent_dim (an integer 1..64)")
    if type(conditional) is not bool or not isinstance(activation, str):
        raise CheckpointError(f"{path}: the config's conditional or activation setting is not usable")
    return ModelEntry(path=path, kind=kind, latent_dim=dim, conditional=conditional, activation=activation[:40])


def scan(folder: str | os.PathLike) -> list[ModelEntry]:
    """All generator checkpoints in ``folder``: shipped names first, then the rest by name.

    Files that are not generators (the classifier) or cannot be read are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.pt")):
        try:
            entries.append(read_entry(path))
        except CheckpointError:
            continue
        except Exception:  # noqa: BLE001 -- one bad file must never keep the app or a command from starting
            continue
    rank = {name: i for i, name in enumerate(SHIPPED)}
    return sorted(entries, key=lambda e: (rank.get(e.name, len(SHIPPED)), e.name))


def default_entry(entries: list[ModelEntry]) -> ModelEntry | None:
    """The model the app opens first: the shipped 2D GAN, else the first one found."""
    for e in entries:
        if e.name == DEFAULT_MODEL:
            return e
    return entries[0] if entries else None


# The models that ship inside the package (checkpoints/ in a checkout, latent_explorer/checkpoints installed).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


def user_models_dir() -> Path:
    """The per-user models folder, where ``install-models`` and ``train classifier`` write by
    default and the app looks first: $LATENT_EXPLORER_MODELS, else
    $XDG_DATA_HOME/latent-explorer/models (~/.local/share/latent-explorer/models)."""
    env = os.environ.get("LATENT_EXPLORER_MODELS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "latent-explorer" / "models"


def is_shipped(path: str | os.PathLike) -> bool:
    """True for a file inside the package's own checkpoints folder (never written by default)."""
    try:
        return Path(path).resolve().is_relative_to(SHIPPED_DIR)
    except OSError:
        return False


def model_folders(folder: str | os.PathLike | None = None) -> list[Path]:
    """Where models are looked up by name: with the shipped folder (the default), the user's
    models folder first and then the shipped one; any other folder alone."""
    folder = Path(folder) if folder else SHIPPED_DIR
    return [user_models_dir(), folder] if is_shipped(folder) or folder.resolve() == SHIPPED_DIR else [folder]


def scan_folders(folders) -> list[ModelEntry]:
    """:func:`scan` over several folders; a name found in an earlier folder hides later ones."""
    seen: dict[str, ModelEntry] = {}
    for folder in folders:
        for e in scan(folder):
            seen.setdefault(e.name, e)
    rank = {name: i for i, name in enumerate(SHIPPED)}
    return sorted(seen.values(), key=lambda e: (rank.get(e.name, len(SHIPPED)), e.name))


def resolve(name_or_path: str, folder: str | os.PathLike | None = None) -> Path:
    """A model name (``gan2d``: the user's models folder, then the shipped one) or a path ->
    the checkpoint path."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".pt" or path.exists() or os.sep in name_or_path:
        return path
    folders = model_folders(folder)
    for f in folders:
        candidate = f / f"{name_or_path}.pt"
        if candidate.exists():
            return candidate
    known = ", ".join(e.name for e in scan_folders(folders)) or "none yet"
    raise ValueError(f"no model named {name_or_path!r} in {' or '.join(map(str, folders))} (available: {known})")


# ------------------------------------------------------------------ atlases


def cache_dir() -> Path:
    """The per-user cache folder ($LATENT_EXPLORER_CACHE, else $XDG_CACHE_HOME/latent-explorer)."""
    env = os.environ.get("LATENT_EXPLORER_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "latent-explorer"


def quick_resolution(latent_dim: int, conditional: bool) -> int:
    """The grid size of an on-demand atlas: seconds to build on a laptop CPU."""
    plain = {1: 256, 2: 64, 3: 24, 4: 12}
    per_digit = {1: 128, 2: 48, 3: 14, 4: 8}  # ten cubes: about as many cells in all
    return (per_digit if conditional else plain).get(latent_dim, 6 if not conditional else 4)


def cached_atlas_path(checkpoint: Checkpoint, classifier: Checkpoint, resolution: int) -> Path:
    """Where an on-demand atlas for this generator/classifier pair is cached."""
    key = f"{checkpoint.digest[:16]}-{classifier.digest[:12]}-r{resolution}"
    return cache_dir() / "atlases" / f"{key}.atlas.h5"


def find_atlas(checkpoint: Checkpoint, classifier: Checkpoint) -> tuple[Atlas | None, list[str]]:
    """The atlas beside the checkpoint if it belongs to it, else a cached one.

    Returns the atlas (or None) and notes on files that were found but refused.
    """
    notes: list[str] = []
    candidates = []
    if checkpoint.path is not None:
        candidates.append(checkpoint.path.with_name(checkpoint.path.stem + ".atlas.h5"))
    folder = cache_dir() / "atlases"
    if folder.is_dir():
        candidates += sorted(folder.glob(f"{checkpoint.digest[:16]}-{classifier.digest[:12]}-r*.atlas.h5"),
                             key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if not path.exists():
            continue
        try:
            return load_atlas(path, checkpoint.digest, classifier.digest), notes
        except AtlasError as exc:
            notes.append(str(exc))
    return None, notes


# ------------------------------------------------------------------ opening


class LoadedModel:
    """A generator ready to explore: its checkpoint, an engine and (maybe) an atlas.

    A model opened before torch is loaded (``preview``, see ``models/previewengine.py``)
    renders its frames with a numpy engine and loads its checkpoint, classifier and torch
    engine when one of them is first asked for, or when :meth:`complete` runs (the window
    runs it in the background after the first frame).  Its path, name, digests and latent
    size are known from the start.
    """

    def __init__(self, checkpoint: Checkpoint | None = None, engine: Engine | None = None, atlas: Atlas | None = None,
                 notes: tuple[str, ...] = (), outdated_atlas: Path | None = None, preview=None) -> None:
        if engine is None and preview is None:
            raise ValueError("a model needs an engine or a preview")
        self._checkpoint, self._engine, self.preview = checkpoint, engine, preview
        self.atlas = atlas
        self.notes = tuple(notes)
        self.outdated_atlas = outdated_atlas  # the atlas beside the checkpoint, made by an older format: rebuild it
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        """True while the torch checkpoint and engine are not loaded yet (a preview)."""
        return self._engine is None

    def complete(self) -> None:
        """Load the torch checkpoint, classifier and engine of a preview (at once for other
        models; waits for a load already under way in another thread)."""
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is not None:
                return  # another thread loaded it meanwhile
            self._checkpoint, self._engine = self.preview.load()
        for tell in self.preview.on_loaded:  # once, in the thread that loaded it
            tell()

    @property
    def render_engine(self):
        """What renders single frames now: the torch engine, or the preview's numpy one."""
        engine = self._engine
        return engine if engine is not None else self.preview.engine

    @property
    def checkpoint(self) -> Checkpoint:
        self.complete()
        return self._checkpoint

    @property
    def engine(self) -> Engine:
        self.complete()
        return self._engine

    @property
    def classifier(self) -> Checkpoint:
        return self.engine.classifier_checkpoint

    @property
    def digest(self) -> str:
        """The generator's weight digest (without loading a preview)."""
        return self._checkpoint.digest if self._engine is not None else self.preview.digest

    @property
    def classifier_digest(self) -> str:
        return self._engine.classifier_checkpoint.digest if self._engine is not None else self.preview.classifier_digest

    @property
    def path(self) -> Path | None:
        return self._checkpoint.path if self._engine is not None else self.preview.path

    @property
    def name(self) -> str:
        from .printable import printable

        return self._checkpoint.name if self._engine is not None else printable(self.preview.path.stem, 80)

    @property
    def latent_dim(self) -> int:
        return self.render_engine.latent_dim

    @property
    def conditional(self) -> bool:
        return self.render_engine.conditional

    def describe(self) -> str:
        extra = ", conditional" if self.conditional else ""
        return f"{self.name} ({self.latent_dim}-D{extra})"


def open_model(path: str | os.PathLike, classifier: Checkpoint, atlas: str | os.PathLike | None = None,
               find: bool = True) -> LoadedModel:
    """Load a generator checkpoint with its atlas (``atlas`` given, else found beside it or
    in the cache when ``find``).  Raises CheckpointError / AtlasError naming the file."""
    from .engine import Engine

    ckpt = load_checkpoint(path, expect=GENERATOR_KINDS)
    engine = Engine(ckpt, classifier)
    notes: list[str] = []
    found: Atlas | None = None
    if atlas is not None:
        found = load_atlas(atlas, ckpt.digest, classifier.digest)
    elif find:
        found, notes = find_atlas(ckpt, classifier)
    if found is not None and (found.latent_dim != engine.latent_dim or found.conditional != engine.conditional):
        def kind(dim: int, conditional: bool) -> str:
            return f"{'conditional' if conditional else 'plain'} {dim}-D"

        raise AtlasError(f"{found.path}: a {kind(found.latent_dim, found.conditional)} atlas does not fit a "
                         f"{kind(engine.latent_dim, engine.conditional)} model")
    return LoadedModel(checkpoint=ckpt, engine=engine, atlas=found, notes=tuple(notes),
                       outdated_atlas=outdated_atlas(ckpt) if find and atlas is None else None)


def outdated_atlas(checkpoint: Checkpoint) -> Path | None:
    """The atlas file beside the checkpoint when an older format version wrote it (it
    can only be rebuilt: ``latent-explorer atlas rebuild FILE``), else None."""
    if checkpoint.path is None:
        return None
    beside = checkpoint.path.with_name(checkpoint.path.stem + ".atlas.h5")
    if not beside.is_file():
        return None
    try:
        version = read_header(beside)["version"]
    except AtlasError:
        return None
    return beside if 1 <= version < OLDEST_READABLE else None
