"""The archive of trained models that ``train all`` writes and ``install-models`` installs:
a plain tar of flat, regular files (checkpoints, histories, atlases, cards) and a
``manifest.json`` with each file's sha256 and size and each model's evaluation.

Installing checks everything before the first file moves: members are regular files with
plain names (no folders, absolute paths, ``..``, links, sparse or other special members) whose
declared sizes fit in the archive file and under a total cap, the manifest is shallow JSON of
the expected types listing exactly the members with matching sizes and digests, every model
has its checkpoint (loaded as data only, every weight finite, with its evaluation) and its
atlas belongs to it.  Only then do files leave the temporary staging folder (inside the
target folder, so each move is an atomic rename); either every file is installed or, if a
move fails, the target folder is put back as it was.  An existing file is replaced only with
``force``.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = "latent-explorer-models"
MAX_MEMBER_BYTES = 128 * 2 ** 20
MAX_TOTAL_BYTES = 1024 * 2 ** 20
MAX_MEMBERS = 200
MAX_MANIFEST_BYTES = 4 * 2 ** 20
MAX_MANIFEST_DEPTH = 8  # nested containers in the manifest (train all writes 4)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
MODEL = re.compile(r"c?gan[1-8]d(-[a-z0-9]+)?")
SUFFIXES = {"checkpoint": ".pt", "history": ".history.h5", "atlas": ".atlas.h5", "card": ".md"}


class ArchiveError(Exception):
    """The archive is damaged, unsafe or inconsistent; the message names it and the fault."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pack(archive: Path, files: list[Path], manifest: dict) -> int:
    """Write ``archive`` (atomically) holding ``files`` flat and the manifest, to which each
    file's sha256 and size are added; returns the archive's size in bytes."""
    from .fileio import atomic_path

    manifest = dict(manifest, files={p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files})
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with atomic_path(archive) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(body))
            for p in files:
                info = tarfile.TarInfo(p.name)
                info.size, info.mtime, info.mode = p.stat().st_size, int(p.stat().st_mtime), 0o644
                with open(p, "rb") as fh:
                    tar.addfile(info, fh)
    return archive.stat().st_size


def _members(path: Path, tar: tarfile.TarFile, size: int) -> dict[str, tarfile.TarInfo]:
    """Every member checked from its header, before any data is read: a plain regular file
    whose declared size fits in the ``size``-byte archive (a tar stores data as it is, so
    members can never declare more than the file holds) and under the caps."""
    members: dict[str, tarfile.TarInfo] = {}
    total = 0
    for m in tar:
        if len(members) >= MAX_MEMBERS:
            raise ArchiveError(f"{path}: more than {MAX_MEMBERS} members")
        name = m.name
        if name.startswith("/") or os.path.isabs(name):
            raise ArchiveError(f"{path}: member {name!r} has an absolute path")
        if ".." in name.split("/"):
            raise ArchiveError(f"{path}: member {name!r} leads out of the folder (..)")
        if m.issym() or m.islnk():
            raise ArchiveError(f"{path}: member {name!r} is a link")
        sparse = m.issparse() or m.type == tarfile.GNUTYPE_SPARSE or any(k.startswith("GNU.sparse")
                                                                          for k in m.pax_headers)
        if sparse or m.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            what = "a sparse file" if sparse else "not a regular file"
            raise ArchiveError(f"{path}: member {name!r} is {what}; a models archive holds regular files only")
        if "/" in name or not NAME.fullmatch(name):
            raise ArchiveError(f"{path}: member name {name!r} is not a plain file name")
        if name in members:
            raise ArchiveError(f"{path}: member {name!r} appears twice")
        if m.size > MAX_MEMBER_BYTES:
            raise ArchiveError(f"{path}: member {name!r} is {m.size:,} bytes, above the "
                               f"{MAX_MEMBER_BYTES:,}-byte limit")
        total += m.size
        if total > MAX_TOTAL_BYTES:
            raise ArchiveError(f"{path}: members add up to more than {MAX_TOTAL_BYTES:,} bytes")
        if m.offset_data + m.size > size:
            raise ArchiveError(f"{path}: member {name!r} declares {m.size:,} bytes, more than the {size:,}-byte "
                               f"archive holds (truncated or damaged)")
        members[name] = m
    return members


def _manifest(path: Path, tar: tarfile.TarFile, members: dict) -> dict:
    if MANIFEST not in members:
        raise ArchiveError(f"{path}: no {MANIFEST} (not a latent-explorer models archive)")
    if members[MANIFEST].size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{path}: {MANIFEST} is {members[MANIFEST].size:,} bytes, too large")
    body = tar.extractfile(members[MANIFEST]).read()
    if _nesting(body) > MAX_MANIFEST_DEPTH:  # before json.loads, which would recurse into it
        raise ArchiveError(f"{path}: {MANIFEST} is nested more than {MAX_MANIFEST_DEPTH} levels deep; not a "
                           f"latent-explorer models manifest")
    try:
        manifest = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ArchiveError(f"{path}: {MANIFEST} is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path}: {MANIFEST} is not a latent-explorer models manifest")
    files, models = manifest.get("files"), manifest.get("models")
    if not isinstance(files, dict) or not isinstance(models, dict) or not models:
        raise ArchiveError(f"{path}: {MANIFEST} lacks its file list or its models")
    for name, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
            raise ArchiveError(f"{path}: the manifest gives no sha256 for {name!r}")
        if name in members and (type(entry.get("bytes")) is not int or entry["bytes"] != members[name].size):
            raise ArchiveError(f"{path}: the manifest gives {name!r} a size of {_short(entry.get('bytes'))} bytes, "
                               f"the archive {members[name].size:,}")
    listed, present = set(files), set(members) - {MANIFEST}
    if present - listed:
        raise ArchiveError(f"{path}: member {sorted(present - listed)[0]!r} is not in the manifest")
    if listed - present:
        raise ArchiveError(f"{path}: {sorted(listed - present)[0]!r} is in the manifest but not in the archive")
    for name, entry in models.items():
        if not isinstance(name, str) or not MODEL.fullmatch(name):
            raise ArchiveError(f"{path}: model name {name!r} is not one this tool makes")
        if not isinstance(entry, dict) or not isinstance(entry.get("evaluation"), dict) or not entry["evaluation"]:
            raise ArchiveError(f"{path}: model {name} has no evaluation in the manifest")
        for key in ("strong_judge_error", "frechet_distance"):
            value = entry["evaluation"].get(key, 0.0)
            if type(value) not in (int, float) or not math.isfinite(value):
                raise ArchiveError(f"{path}: model {name}'s {key} in the manifest is {_short(value)}, not a number")
        epochs = entry.get("epochs_done", 0)
        if type(epochs) is not int or epochs < 0:
            raise ArchiveError(f"{path}: model {name}'s epochs_done in the manifest is {_short(epochs)}, not a count")
        for kind, suffix in SUFFIXES.items():
            if name + suffix not in files:
                raise ArchiveError(f"{path}: model {name} has no {kind} ({name + suffix})")
    allowed = {m + s for m in models for s in SUFFIXES.values()}
    stray = sorted(listed - allowed)
    if stray:
        raise ArchiveError(f"{path}: {stray[0]!r} belongs to no model of the manifest")
    return manifest


def _short(value) -> str:
    """A manifest value for a message: its repr (control characters escaped), capped."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _nesting(body: bytes) -> int:
    """How deeply ``[`` and ``{`` nest in a JSON text (outside its strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in body.decode("utf-8", "replace"):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def check_archive(path: str | os.PathLike, staging: Path | None = None) -> dict:
    """Check ``path`` and return its manifest; with ``staging`` (an empty folder) the files are
    extracted there, each digest checked as it is written, and every checkpoint and atlas is
    then loaded and matched to its model."""
    path = Path(path)
    from .regular import open_regular

    with open_regular(path, ArchiveError, "models archive") as raw:
        size = os.fstat(raw.fileno()).st_size
        try:
            with tarfile.open(fileobj=raw, mode="r:") as tar:
                members = _members(path, tar, size)
                manifest = _manifest(path, tar, members)
                for name, entry in manifest["files"].items():
                    _copy_checked(path, tar, members[name], entry, staging)
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{path}: not a readable tar archive ({str(exc)[:200]})") from None
    if staging is not None:
        _check_models(path, staging, manifest)
    return manifest


def _copy_checked(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, entry, staging: Path | None) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ArchiveError(f"{path}: the manifest gives no sha256 for {member.name}")
    h = hashlib.sha256()
    src = tar.extractfile(member)
    out = open(staging / member.name, "xb") if staging is not None else None
    written = 0
    try:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            written += len(chunk)
            if written > member.size:  # never more than was declared and checked
                raise ArchiveError(f"{path}: {member.name} holds more than the {member.size:,} bytes it declares")
            h.update(chunk)
            if out:
                out.write(chunk)
    finally:
        if out:
            out.close()
    if written != member.size or h.hexdigest() != entry["sha256"]:
        raise ArchiveError(f"{path}: {member.name} does not match its sha256 in the manifest (damaged or altered)")


def _check_models(path: Path, staging: Path, manifest: dict) -> None:
    from .atlas import AtlasError, load_atlas
    from .checkpoint import CheckpointError, load_checkpoint

    for name in manifest["models"]:
        try:
            ck = load_checkpoint(staging / f"{name}.pt", expect=("gan", "cgan"))
        except CheckpointError as exc:
            raise ArchiveError(f"{path}: {name}.pt: {exc}") from None
        if not ck.meta.get("evaluation"):
            raise ArchiveError(f"{path}: {name}.pt holds no evaluation (run latent-explorer evaluate --write)")
        try:
            load_atlas(staging / f"{name}.atlas.h5", ck.digest)
        except (AtlasError, OSError) as exc:
            raise ArchiveError(f"{path}: {name}.atlas.h5: {exc}") from None


def install(archive: str | os.PathLike, into: str | os.PathLike, force: bool = False, log=print) -> list[Path]:
    """Check ``archive`` and install its files into ``into``; refuses (naming the file) to
    replace an existing file unless ``force``.  Every check runs before the first file leaves
    the staging folder, and the files are installed all or none.  Returns the installed paths."""
    archive, into = Path(archive), Path(into)
    if not into.is_dir():
        raise ArchiveError(f"{into}: not a folder to install into")
    check_archive(archive)  # members, sizes and manifest, before a byte is written anywhere
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=into))
    try:
        manifest = check_archive(archive, staging)  # extracts with digests checked, then loads every model
        names = sorted(manifest["files"])
        existing = [into / n for n in names if (into / n).exists() or (into / n).is_symlink()]
        if existing and not force:
            raise FileExistsError(f"{existing[0]}: already exists ({len(existing)} of the {len(names)} files do); "
                                  "pass --force to replace them")
        for p in existing:
            if (p.is_dir() and not p.is_symlink()):
                raise ArchiveError(f"{p}: is a folder; it cannot be replaced by a file")
        report = [f"installed {name}: strong judge error {entry['evaluation'].get('strong_judge_error', math.nan):.4f}, "
                  f"Frechet distance {entry['evaluation'].get('frechet_distance', math.nan):.1f}, "
                  f"{entry.get('epochs_done', '?')} epochs" for name, entry in sorted(manifest["models"].items())]
        done = _move_all(staging, into, names, {p.name for p in existing})
        for line in report:
            log(line)
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_all(staging: Path, into: Path, names: list[str], replaced: set[str]) -> list[Path]:
    """Move ``names`` from ``staging`` into ``into``, all or none: the files they replace are
    kept in ``staging/.replaced`` until every move succeeded, and put back if one fails."""
    backup = staging / ".replaced"
    backup.mkdir()
    moved: list[str] = []
    kept: list[str] = []
    try:
        for n in names:
            if n in replaced:
                os.replace(into / n, backup / n)
                kept.append(n)
            os.replace(staging / n, into / n)
            moved.append(n)
    except BaseException:
        for n in moved:
            try:
                os.unlink(into / n)
            except OSError:
                pass
        for n in kept:
            os.replace(backup / n, into / n)
        raise
    return [into / n for n in names]
