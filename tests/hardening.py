"""Helpers for the robustness tests (fuzzing, refusal, interruption, disk errors):
a memory ceiling, a hang watchdog, and a check that an error was not caused by a failed
allocation.  Imported by test_fuzz.py, test_untrusted.py, test_interrupt.py and
test_disk_errors.py.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import resource
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

HEADROOM = 3 << 30  # bytes of address space a loader may use on top of what the process has


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_ceiling(headroom: int = HEADROOM) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``headroom``.

    A loader that tries a huge allocation then fails inside the test (and
    :func:`assert_not_an_allocation_failure` reports it) instead of pushing the machine
    into swap or the OOM killer.  The previous limit is restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


WATCHDOG_LOG = Path(tempfile.gettempdir()) / "latent-explorer-watchdog.log"


@contextlib.contextmanager
def watchdog(seconds: float = 60) -> Iterator[None]:
    """End the process (exit status 1) if the block hangs, also inside C code that holds
    the GIL, after writing every thread's traceback to :data:`WATCHDOG_LOG` (pytest's
    output capture would swallow it on stderr)."""
    with open(WATCHDOG_LOG, "w") as log:
        log.write(f"watchdog of pid {os.getpid()} ({seconds} s): a traceback below means the code under test "
                  f"hung and the process was ended\n")
        log.flush()
        faulthandler.dump_traceback_later(seconds, exit=True, file=log)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()


ALLOCATION_WORDS = ("allocate", "out of memory", "cannot allocate", "bad_alloc", "memoryerror")


def assert_not_an_allocation_failure(exc: BaseException) -> None:
    """Our clear error must come from a check, not from a huge allocation that failed: walk
    the exceptions it was raised from (``raise ... from None`` keeps ``__context__``)."""
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        assert not isinstance(e, MemoryError), f"a huge allocation was attempted: {exc!r}"
        text = f"{type(e).__name__} {e}".lower()
        assert not any(w in text for w in ALLOCATION_WORDS), f"a huge allocation was attempted: {exc!r}"
        e = e.__cause__ or e.__context__


def small_history():
    """A real two-epoch History of a 2-D model (8x8 maps), built directly (no training)."""
    from latent_explorer.training.history import History

    rng = np.random.default_rng(0)
    h = History(name="gan2d", config={"latent_dim": 2, "conditional": False, "activation": "leaky_relu"},
                planes=[(0, 1, -1)], map_resolution=8, generator_digest="ab" * 32, classifier_digest="cd" * 32)
    for epoch in range(2):
        h.g_loss.append(rng.random(4).astype(np.float32))
        h.d_loss.append(rng.random(4).astype(np.float32))
        h.grids.append(rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
        h.maps.append(rng.integers(0, 10, (1, 8, 8), dtype=np.uint8))
        h.map_conf.append(rng.random((1, 8, 8)).astype(np.float16))
        h.change_rate.append(float("nan") if epoch == 0 else 0.25)
        h.weak_judge_acc.append(0.5 + epoch / 10)
        h.seconds.append(1.5)
    return h
