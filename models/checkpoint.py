"""The checkpoint format: save atomically, load as data only, validate everything.

A checkpoint is one ``torch.save`` file holding a plain dict::

    {"format": "latent-explorer", "format_version": 1, "kind": "gan" | "cgan" | "classifier",
     "config": {...}, "state_dict": {name: tensor}, "meta": {...}}

It is read with ``torch.load(..., weights_only=True)``, so a file that carries code is
refused without running anything.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .fileio import atomic_write_bytes

FORMAT = "latent-explorer"
FORMAT_VERSION = 1
KINDS = ("gan", "cgan", "classifier")


class CheckpointError(Exception):
    """A checkpoint is missing, damaged, foreign or inconsistent; the message names the file."""


@dataclass
class Checkpoint:
    """A loaded, validated checkpoint with its network rebuilt and in eval mode."""

    path: Path | None
    kind: str
    config: dict
    model: nn.Module
    meta: dict = field(default_factory=dict)
    digest: str = ""

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "unsaved"


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A sha256 over names, dtypes, shapes and bytes of a state dict (order independent)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def model_digest(model: nn.Module) -> str:
    return state_digest(model.state_dict())


def save_payload(path: str | os.PathLike, payload: dict) -> None:
    """``torch.save`` a dict atomically."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def save_checkpoint(path: str | os.PathLike, kind: str, config: dict, model: nn.Module,
                    meta: dict | None = None) -> str:
    """Save a model as float32 weights with its config and metadata; returns its digest."""
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    state = {k: (v.detach().float().cpu().clone() if v.is_floating_point() else v.detach().cpu().clone())
             for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": dict(config),
        "state_dict": state,
        "meta": dict(meta or {}),
    }
    save_payload(path, payload)
    return state_digest(state)


def read_payload(path: str | os.PathLike) -> dict:
    """Read a ``torch.save`` file as plain data; refuse code, damage and foreign files."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: file not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)|Unsupported operand \d+|[\w ]*not an allowed global[^.]*", text)
        if found or "weights_only" in text.lower():
            what = f"it references {found.group(1)}" if found and found.group(1) else "it is not plain data"
            raise CheckpointError(f"{path}: refused: the file carries Python objects or code, and checkpoints "
                                  f"are loaded as data only ({what}); nothing from it was run") from None
        msg = text.splitlines()[0] if text else "unpickling failed"
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({msg[:200]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, IndexError,
            TypeError, AttributeError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({msg[:200]})") from None
    except Exception as exc:  # any other failure inside the unpickler is still bad input
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    return payload


def _validated_header(path: Path, payload: Any) -> tuple[str, dict, dict, dict]:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a latent-explorer checkpoint (no '{FORMAT}' format marker)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version!r} is not supported (this program reads "
                              f"version {FORMAT_VERSION})")
    kind = payload.get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"{path}: unknown model kind {kind!r}")
    config, state, meta = payload.get("config"), payload.get("state_dict"), payload.get("meta", {})
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the config is missing or not a dict")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError(f"{path}: the weights are missing or not a dict of tensors")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the metadata is not a dict")
    return kind, config, state, meta


def build_model(kind: str, config: dict) -> nn.Module:
    """Rebuild the network a checkpoint's config describes."""
    if kind == "classifier":
        from .classifier import ClassifierConfig, DigitClassifier

        return DigitClassifier(ClassifierConfig.from_dict(config))
    from .networks import GanConfig, Generator

    cfg = GanConfig.from_dict(config)
    if cfg.conditional != (kind == "cgan"):
        raise ValueError(f"config says conditional={cfg.conditional} but kind is {kind!r}")
    return Generator(cfg)


def load_checkpoint(path: str | os.PathLike, expect: str | tuple[str, ...] | None = None) -> Checkpoint:
    """Load and validate a checkpoint; ``expect`` restricts the accepted kinds."""
    path = Path(path)
    payload = read_payload(path)
    kind, config, state, meta = _validated_header(path, payload)
    if expect is not None:
        allowed = (expect,) if isinstance(expect, str) else tuple(expect)
        if kind not in allowed:
            raise CheckpointError(f"{path}: holds a {kind} model, expected {' or '.join(allowed)}")
    try:
        model = build_model(kind, config)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{path}: its config cannot build a network ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise CheckpointError(f"{path}: weights do not match the config ({' '.join(first[:3])[:300]})") from None
    for name, t in state.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: weight {name} holds NaN or infinite values")
    model.eval()
    return Checkpoint(path=path, kind=kind, config=config, model=model, meta=meta, digest=state_digest(state))


def describe(path: str | os.PathLike) -> str:
    """A human-readable summary of a checkpoint (for ``latent-explorer info``)."""
    from .networks import count_parameters

    ck = load_checkpoint(path)
    counts = count_parameters(ck.model)
    lines = [f"file:        {ck.path}", f"kind:        {ck.kind}", f"format:      {FORMAT} v{FORMAT_VERSION}",
             f"config:      {ck.config}",
             f"parameters:  {counts['total']:,} ({counts['trainable']:,} trainable, {counts['non_trainable']:,} non-trainable)",
             f"digest:      {ck.digest[:16]}"]
    for key, value in ck.meta.items():
        if isinstance(value, float) and math.isfinite(value):
            value = f"{value:.6g}"
        lines.append(f"{key + ':':<13}{value}")
    return "\n".join(lines)
