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
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fileio import atomic_write_bytes
from .regular import open_regular

if TYPE_CHECKING:  # torch is imported where it is used: the window opens before it is loaded
    import torch
    from torch import nn

FORMAT = "latent-explorer"
FORMAT_VERSION = 1
KINDS = ("gan", "cgan", "classifier")
NAME_LIMIT = 80  # characters of a model name shown


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
    notes: list[str] = field(default_factory=list)  # what the loader changed, and why (e.g. a dtype converted)

    @property
    def name(self) -> str:
        """The file's stem, made printable (models/printable.py): it reaches titles and labels."""
        from .printable import printable

        return printable(self.path.stem, NAME_LIMIT) if self.path else "unsaved"


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A sha256 over names, dtypes, shapes and bytes of a state dict (order independent)."""
    import torch

    h = hashlib.sha256()
    for key in sorted(state_dict):
        # a fresh dense copy: .contiguous() keeps odd strides of size-1 dimensions, which view() refuses
        t = state_dict[key].detach().cpu().clone(memory_format=torch.contiguous_format)
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def model_digest(model: nn.Module) -> str:
    return state_digest(model.state_dict())


def save_payload(path: str | os.PathLike, payload: dict) -> None:
    """``torch.save`` a dict atomically."""
    import torch

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


MAX_NODES = 100_000  # containers and values in one payload, counted with repeats
MAX_DEPTH = 64


def _check_archive(path: Path, fh, size: int) -> None:
    """Refuse anything but a zip archive whose entries are stored uncompressed, as
    ``torch.save`` writes them, and together fit in the file.

    torch.load allocates each entry at the size the archive declares, and a compressed
    entry can declare a thousand times its own size; the legacy (non-zip) format even
    allocates the sizes named inside the pickle before reading the data.  After this
    check no storage can be larger than the file."""
    try:
        with zipfile.ZipFile(fh) as zf:
            entries = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise _not_zip(path, fh, size, str(exc)[:120] or type(exc).__name__) from None
    except Exception as exc:  # zipfile raises many kinds of errors on damaged directories
        raise CheckpointError(f"{path}: damaged or not a checkpoint (not a PyTorch zip archive: "
                              f"{str(exc)[:120] or type(exc).__name__})") from None
    total = 0
    for e in entries:
        if e.compress_type != zipfile.ZIP_STORED or e.file_size != e.compress_size:
            raise CheckpointError(f"{path}: damaged or not a checkpoint (entry {e.filename[:80]!r} is "
                                  f"compressed; torch.save stores entries uncompressed)")
        total += e.file_size
        if e.header_offset + e.file_size > size or total > size:
            raise CheckpointError(f"{path}: damaged or not a checkpoint (entry {e.filename[:80]!r} declares "
                                  f"{e.file_size:,} bytes, more than the {size:,}-byte file holds)")


def _check_loaded(path: Path, payload: Any, size: int) -> None:
    """Bound what the unpickler built: no tensor larger than the file (a stride-0 view of
    a tiny storage can declare any size), only dense CPU tensors, and a limited number of
    values (memo references can otherwise build exponentially large nestings)."""
    import torch

    stack, nodes = [(payload, 0)], 0
    while stack:
        obj, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            raise CheckpointError(f"{path}: damaged or not a checkpoint (the data is nested too deeply or "
                                  f"holds more than {MAX_NODES:,} values)")
        if isinstance(obj, torch.Tensor):
            if obj.layout != torch.strided or obj.device.type != "cpu" or obj.is_quantized:
                raise CheckpointError(f"{path}: damaged or not a checkpoint (holds a {obj.layout} "
                                      f"{obj.device.type} tensor; checkpoints hold dense CPU tensors)")
            if obj.numel() * obj.element_size() > size:
                raise CheckpointError(f"{path}: damaged or not a checkpoint (a tensor of shape "
                                      f"{tuple(obj.shape)} declares more data than the {size:,}-byte file holds)")
        elif isinstance(obj, dict):
            stack.extend((v, depth + 1) for kv in obj.items() for v in kv)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in obj)


def read_payload(path: str | os.PathLike) -> dict:
    """Read a ``torch.save`` file as plain data; refuse code, damage and foreign files.

    Declared sizes are checked against the file before torch allocates anything
    (:func:`_check_archive`) and after unpickling (:func:`_check_loaded`)."""
    path = Path(path)
    fh = open_regular(path, CheckpointError, "checkpoint file")
    with fh:  # one open file for the checks and the load, even if the path is replaced meanwhile
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise CheckpointError(f"{path}: the file is empty (0 bytes), not a checkpoint")
        _check_archive(path, fh, size)
        fh.seek(0)
        payload = _torch_load(path, fh)
    _check_loaded(path, payload, size)
    return payload


_HUGE_INT_OPCODES = (ord(pickle.LONG4), ord(pickle.LONG))  # integers wider than LONG1's 255 bytes
# pickle opcodes that import or call something: a plain pickle holding any is refused as code
_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "EXT1", "EXT2", "EXT4", "NEWOBJ", "NEWOBJ_EX"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER, the first pickle of the old format
_SCAN_BYTES = 1 << 20


def _not_zip(path: Path, fh, size: int, reason: str) -> CheckpointError:
    """The error for a file that is not a zip archive.  A plain pickle (or the legacy torch
    format, a row of pickles) is only scanned -- ``pickletools`` reads opcodes and never
    runs them -- so that one that imports or calls something gets the promised refusal."""
    import pickletools

    fh.seek(0)
    head = fh.read(min(size, _SCAN_BYTES))
    stream, names, calls, legacy, pickles, texts = io.BytesIO(head), [], False, False, 0, []
    try:
        while stream.tell() < len(head) and pickles < 16:
            for op, arg, _ in pickletools.genops(stream):
                if op.name in ("GLOBAL", "INST"):
                    names.append(str(arg).replace(" ", ".")[:80])
                elif op.name == "STACK_GLOBAL" and len(texts) >= 2:
                    names.append(f"{texts[-2]}.{texts[-1]}"[:80])
                elif op.name in _CODE_OPCODES:
                    calls = True
                elif op.name == "LONG1" and arg == _LEGACY_MAGIC:
                    legacy = True
                elif isinstance(arg, str):
                    texts = (texts + [arg[:80]])[-2:]
            pickles += 1  # one more pickle read to its STOP
    except Exception:  # noqa: BLE001 -- not (or no longer) a pickle: what the complete pickles showed stands
        pass
    if not pickles:  # not even one whole pickle: bytes that merely decode as opcodes prove nothing
        names, calls, legacy = [], False, False
    foreign = [n for n in names if not (legacy and n.startswith(("torch.", "collections.")))]
    if foreign or (calls and not legacy):
        what = f"it references {foreign[0]}" if foreign else "it is not plain data"
        return CheckpointError(f"{path}: refused: the file carries Python objects or code, and checkpoints are "
                               f"loaded as data only ({what}); nothing from it was run")
    if legacy:
        return CheckpointError(f"{path}: damaged or not a checkpoint (the legacy PyTorch format of before 1.6, not a "
                               f"PyTorch zip archive; it is not read, since its sizes cannot be checked before "
                               f"loading: re-save it with torch.save)")
    if pickles:
        return CheckpointError(f"{path}: damaged or not a checkpoint (a plain pickle, not a PyTorch zip archive)")
    return CheckpointError(f"{path}: damaged or not a checkpoint (not a PyTorch zip archive: {reason})")


def _torch_load(path: Path, fh) -> Any:
    import torch

    try:
        return torch.load(fh, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        operand = re.search(r"Unsupported operand (\d+)", text)
        if operand and int(operand.group(1)) in _HUGE_INT_OPCODES:
            raise CheckpointError(f"{path}: damaged or not a checkpoint (it holds an integer of more than 255 bytes, "
                                  f"which no checkpoint needs; nothing from it was run)") from None
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


def _short(value) -> str:
    """A value for an error message: shortened, and safe for ints too long to print."""
    try:
        return str(value)[:40]
    except ValueError:
        return f"<{type(value).__name__}>"


def _validated_header(path: Path, payload: Any) -> tuple[str, dict, dict, dict]:
    import torch

    def text(value) -> str | None:  # compare only plain values (a tensor here would compare element-wise)
        return value if isinstance(value, str) else None

    if not isinstance(payload, dict) or text(payload.get("format")) != FORMAT:
        raise CheckpointError(f"{path}: not a latent-explorer checkpoint (no '{FORMAT}' format marker)")
    version = payload.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {_short(version)} is not supported (this program reads "
                              f"version {FORMAT_VERSION})")
    kind = text(payload.get("kind"))
    if kind not in KINDS:
        raise CheckpointError(f"{path}: unknown model kind {_short(payload.get('kind'))}")
    config, state, meta = payload.get("config"), payload.get("state_dict"), payload.get("meta", {})
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise CheckpointError(f"{path}: the config is missing or not a dict of names")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError(f"{path}: the weights are missing or not a dict of tensors")
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise CheckpointError(f"{path}: the metadata is not a dict of names")
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


def _check_shapes(path: Path, expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> None:
    """The weights must be exactly those the config's network has (so the network built
    next is no larger than the weights the file holds)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(expected[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
                ([f"unexpected {', '.join(k[:40] for k in unexpected[:3])}"] if unexpected else []) + \
                [f"{k} is {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}" for k in wrong[:3]]
        raise CheckpointError(f"{path}: weights do not match the config ({'; '.join(parts)[:300]})")


# dtypes converted to the float32 the networks compute in, and why that is safe; any other
# dtype (complex, integer, boolean) where float32 is expected is refused: a complex weight
# would lose its imaginary part, an integer or boolean one is no trained weight
CONVERTED = {"torch.float16": "exact", "torch.bfloat16": "exact", "torch.float64": "rounded to the nearest float32"}


def _settle_dtypes(path: Path, expected: dict[str, torch.Tensor],
                   state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Each weight in the dtype its network expects: float16, bfloat16 and float64 where
    float32 is expected are converted (with a note saying so), every other difference is
    refused; then every tensor, whatever its dtype, must be finite."""
    import torch

    out, converted = {}, {}
    for name, t in state.items():
        want = expected[name].dtype
        if t.dtype != want:
            if want != torch.float32 or str(t.dtype) not in CONVERTED:
                raise CheckpointError(f"{path}: weight {name} is {str(t.dtype).removeprefix('torch.')}, expected "
                                      f"{str(want).removeprefix('torch.')} (float16, bfloat16 and float64 weights are "
                                      f"converted; complex, integer and boolean ones are refused)")
            converted.setdefault(str(t.dtype), []).append(name)
            t = t.to(torch.float32)
        if not bool(torch.isfinite(t).all()):  # complex and integer tensors included
            more = " (after conversion to float32)" if str(t.dtype) != str(state[name].dtype) else ""
            raise CheckpointError(f"{path}: weight {name} holds NaN or infinite values{more}")
        out[name] = t
    notes = [f"{len(names)} weight(s) stored as {dtype.removeprefix('torch.')} converted to float32 "
             f"({CONVERTED[dtype]})" for dtype, names in sorted(converted.items())]
    return out, notes


def load_checkpoint(path: str | os.PathLike, expect: str | tuple[str, ...] | None = None,
                    digit_check: bool = True) -> Checkpoint:
    """Load and validate a checkpoint; ``expect`` restricts the accepted kinds.  A classifier
    gets its "not a digit" calibration from beside it unless ``digit_check`` is False."""
    import torch

    path = Path(path)
    payload = read_payload(path)
    kind, config, state, meta = _validated_header(path, payload)
    if expect is not None:
        allowed = (expect,) if isinstance(expect, str) else tuple(expect)
        if kind not in allowed:
            raise CheckpointError(f"{path}: holds a {kind} model, expected {' or '.join(allowed)}")
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated before they match the weights
            skeleton = build_model(kind, config)
    except (ValueError, TypeError, KeyError, OverflowError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its config cannot build a network ({str(exc)[:200]})") from None
    _check_shapes(path, skeleton.state_dict(), state)
    state, notes = _settle_dtypes(path, skeleton.state_dict(), state)
    model = build_model(kind, config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise CheckpointError(f"{path}: weights do not match the config ({' '.join(first[:3])[:300]})") from None
    model.eval()
    config = {**config, **model.config.to_dict()}  # defaults filled in: every key the network was built from
    digest = state_digest(state)
    if kind == "classifier" and digit_check:  # its "not a digit" calibration, from <stem>.ood.npz beside it (models/digitness.py)
        from .digitness import CalibrationError, attach

        try:
            attach(model, path, digest)
        except CalibrationError as exc:
            raise CheckpointError(str(exc)) from None
    return Checkpoint(path=path, kind=kind, config=config, model=model, meta=meta, digest=digest, notes=notes)


def describe(path: str | os.PathLike) -> str:
    """A human-readable summary of a checkpoint (for ``latent-explorer info``)."""
    from .infotable import format_table
    from .networks import count_parameters

    ck = load_checkpoint(path)
    counts = count_parameters(ck.model)
    rows = [("file", ck.path), ("kind", ck.kind), ("format", f"{FORMAT} v{FORMAT_VERSION}"), ("config", ck.config),
            ("parameters", f"{counts['total']:,} ({counts['trainable']:,} trainable, "
                           f"{counts['non_trainable']:,} non-trainable)"),
            ("digest", ck.digest[:16])]
    rows += [("loader notes", "; ".join(ck.notes))] if ck.notes else []
    rows += list(ck.meta.items())
    return format_table(rows)
