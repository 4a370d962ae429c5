"""The archive of trained models that ``train all`` writes and ``install-models`` installs:
a plain tar of flat, regular files (checkpoints, histories, atlases, cards) and a
``manifest.json`` with each file's sha256 and size and each model's evaluation.

Installing checks everything before the first file moves: members are regular files with
plain names (no folders, absolute paths, ``..`` or links) within size limits, the manifest
lists exactly the members with matching digests, every model has its checkpoint (loaded as
data only, with its evaluation) and its atlas belongs to it.  Files are staged in the target
folder and each is moved into place with an atomic rename; an existing file is replaced only
with ``force``.
"""
from __future__ import annotations

import hashlib
import io
import json
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


def _members(path: Path, tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
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
        if not m.isfile():
            raise ArchiveError(f"{path}: member {name!r} is not a regular file")
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
        members[name] = m
    return members


def _manifest(path: Path, tar: tarfile.TarFile, members: dict) -> dict:
    if MANIFEST not in members:
        raise ArchiveError(f"{path}: no {MANIFEST} (not a latent-explorer models archive)")
    if members[MANIFEST].size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{path}: {MANIFEST} is {members[MANIFEST].size:,} bytes, too large")
    try:
        manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path}: {MANIFEST} is not a latent-explorer models manifest")
    files, models = manifest.get("files"), manifest.get("models")
    if not isinstance(files, dict) or not isinstance(models, dict) or not models:
        raise ArchiveError(f"{path}: {MANIFEST} lacks its file list or its models")
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
        for kind, suffix in SUFFIXES.items():
            if name + suffix not in files:
                raise ArchiveError(f"{path}: model {name} has no {kind} ({name + suffix})")
    allowed = {m + s for m in models for s in SUFFIXES.values()}
    stray = sorted(listed - allowed)
    if stray:
        raise ArchiveError(f"{path}: {stray[0]!r} belongs to no model of the manifest")
    return manifest


def check_archive(path: str | os.PathLike, staging: Path | None = None) -> dict:
    """Check ``path`` and return its manifest; with ``staging`` (an empty folder) the files are
    extracted there, each digest checked as it is written, and every checkpoint and atlas is
    then loaded and matched to its model."""
    path = Path(path)
    from .regular import open_regular

    with open_regular(path, ArchiveError, "models archive") as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r:") as tar:
                members = _members(path, tar)
                manifest = _manifest(path, tar, members)
                for name, entry in manifest["files"].items():
                    _copy_checked(path, tar, members[name], entry, staging)
        except tarfile.TarError as exc:
            raise ArchiveError(f"{path}: not a readable tar archive ({exc})") from None
    if staging is not None:
        _check_models(path, staging, manifest)
    return manifest


def _copy_checked(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, entry, staging: Path | None) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ArchiveError(f"{path}: the manifest gives no sha256 for {member.name}")
    h = hashlib.sha256()
    src = tar.extractfile(member)
    out = open(staging / member.name, "xb") if staging is not None else None
    try:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            if out:
                out.write(chunk)
    finally:
        if out:
            out.close()
    if h.hexdigest() != entry["sha256"]:
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
    replace an existing file unless ``force``.  Returns the installed paths."""
    archive, into = Path(archive), Path(into)
    if not into.is_dir():
        raise ArchiveError(f"{into}: not a folder to install into")
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=into))
    try:
        manifest = check_archive(archive, staging)
        names = sorted(manifest["files"])
        existing = [into / n for n in names if (into / n).exists() or (into / n).is_symlink()]
        if existing and not force:
            raise FileExistsError(f"{existing[0]}: already exists ({len(existing)} of the {len(names)} files do); "
                                  "pass --force to replace them")
        for p in existing:
            if (p.is_dir() and not p.is_symlink()):
                raise ArchiveError(f"{p}: is a folder; it cannot be replaced by a file")
        done = []
        for n in names:
            os.replace(staging / n, into / n)
            done.append(into / n)
        for name, entry in manifest["models"].items():
            ev = entry["evaluation"]
            log(f"installed {name}: strong judge error {ev.get('strong_judge_error', float('nan')):.4f}, "
                f"Frechet distance {ev.get('frechet_distance', float('nan')):.1f}, "
                f"{entry.get('epochs_done', '?')} epochs")
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)
