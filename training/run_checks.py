"""Checks of a GAN training run before any work: its sizes against the data, and a
training state (``NAME.state.pt``) and history given to ``--resume``, which are validated
like any input -- keys, types, a finite epoch no later than the run plans, and a history
that belongs to the state -- so that damage ends in a clear error naming the file."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from latent_explorer.models.checkpoint import CheckpointError, state_digest

STATE_FORMAT = "latent-explorer-train-state"
MAX_EPOCHS = 100_000  # training/history.py reads at most this many epochs
MAX_BATCH = 4096


def check_sizes(run, available: int, where: str = "the training data") -> int:
    """The number of training images the run uses, once ``--epochs``, ``--batch-size`` and
    ``--limit`` are known to fit the ``available`` images (ValueError otherwise)."""
    if isinstance(run.epochs, bool) or not isinstance(run.epochs, int) or not 1 <= run.epochs <= MAX_EPOCHS:
        raise ValueError(f"--epochs must be 1..{MAX_EPOCHS:,}, got {run.epochs}")
    if isinstance(run.batch_size, bool) or not isinstance(run.batch_size, int) or \
            not 2 <= run.batch_size <= MAX_BATCH:
        raise ValueError(f"--batch-size must be 2..{MAX_BATCH:,}, got {run.batch_size}")
    if isinstance(run.limit, bool) or not isinstance(run.limit, int) or not 0 <= run.limit <= available:
        raise ValueError(f"--limit {run.limit}: {where} holds {available:,} images; give 1..{available:,} "
                         f"(or 0 for all of them)")
    n = run.limit or available
    if n < 2 or n % run.batch_size == 1:
        raise ValueError(f"--limit {n} with --batch-size {run.batch_size} leaves a last batch of one image, which "
                         f"batch normalisation cannot train on; change either by one")
    return n


def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a usable training state ({problem}); start the run again without --resume")


def _weights(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def check_state(path: Path, state: Any, run) -> tuple[int, float]:
    """Validate a training state read with ``read_payload``; returns (epoch, seconds).

    The epoch must be a whole number from 1 to the run's ``--epochs`` (a later one would
    make this run end before it began); the run settings, weights and optimiser states
    must be present with the right types.  Whether the weights fit the networks is
    checked by :func:`load_into`."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a latent-explorer training state")
    missing = [k for k in ("run", "epoch", "seconds", "generator", "discriminator", "opt_g", "opt_d")
               if k not in state]
    if missing:
        raise _fail(path, f"missing {', '.join(missing)}")
    settings = state["run"]
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise _fail(path, "the run settings are not a dict of names")
    for key, kind in (("latent_dim", int), ("conditional", bool), ("activation", str)):
        if type(settings.get(key)) is not kind:
            raise _fail(path, f"run setting {key!r} is missing or not a {kind.__name__}")
    epoch, seconds = state["epoch"], state["seconds"]
    if type(epoch) is not int:
        raise _fail(path, f"the epoch is a {type(epoch).__name__}, not a whole number")
    if epoch < 1:
        raise _fail(path, f"epoch {epoch} is out of range")
    if epoch > run.epochs:
        raise CheckpointError(f"{path}: this state is after epoch {epoch}, beyond the {run.epochs} epochs this run "
                              f"plans; pass --epochs {epoch} or more to resume it")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds < 0:
        raise _fail(path, "its training time is not a finite number of seconds")
    for key in ("generator", "discriminator"):
        if not _weights(state[key]):
            raise _fail(path, f"the {key} weights are not a dict of tensors")
    for key in ("opt_g", "opt_d"):
        opt = state[key]
        if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict) or \
                not isinstance(opt.get("param_groups"), list):
            raise _fail(path, f"the optimiser state {key!r} is not one torch wrote")
    return epoch, float(seconds)


def load_into(path: Path, state: dict, targets: dict) -> None:
    """``targets[key].load_state_dict(state[key])`` for each key, turning any failure (a
    wrong shape, a missing entry, a wrong type) into an error naming the file and the key."""
    for key, target in targets.items():
        if key not in state:
            raise _fail(path, f"missing {key}")
        try:
            target.load_state_dict(state[key])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError) as exc:
            first = " ".join(line.strip() for line in str(exc).splitlines()[:3])[:240] or type(exc).__name__
            raise _fail(path, f"{key} does not fit this run's networks: {first}") from None


def check_history(state_path: Path, history, epoch: int, shown: dict, config: dict, classifier_digest: str) -> None:
    """The history given to a resume must belong to the state: the same model config and
    classifier, at least ``epoch`` epochs, and -- when it ends at that epoch -- the digest
    of the generator the state saved (``shown``: the averaged weights where the run keeps
    an average).  One epoch more is allowed: a kill between the history's and the state's
    saves leaves it so, and that epoch is dropped on resume."""
    where = f"{history_name(state_path)}"
    if history.config != config:
        raise CheckpointError(f"{where}: this history was recorded for another model ({history.config}), not the "
                              f"one in {state_path}")
    if history.epochs not in (epoch, epoch + 1):
        raise CheckpointError(f"{where}: holds {history.epochs} epochs, but {state_path} is after epoch {epoch}; "
                              f"they do not belong together")
    if classifier_digest and history.classifier_digest and history.classifier_digest != classifier_digest:
        raise CheckpointError(f"{where}: its maps were labelled by another classifier than this run's")
    if history.epochs == epoch and history.generator_digest != state_digest(
            {k: (v.float() if v.is_floating_point() else v) for k, v in shown.items()}):
        raise CheckpointError(f"{where}: belongs to another generator than the one in {state_path}; they do not "
                              f"belong together")


def history_name(state_path: Path) -> Path:
    return state_path.with_name(state_path.name.replace(".state.pt", ".history.h5"))
