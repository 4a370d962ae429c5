"""A small text progress bar with rate and ETA, written to stderr."""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``Progress(total, "epoch 3", unit="img")``; call ``update(n)``, then ``close()``.

    On a terminal the bar redraws in place; elsewhere (logs, CI) it prints a line
    at most every ``log_every`` seconds so logs stay readable.
    """

    def __init__(self, total: int, desc: str = "", unit: str = "it", stream: TextIO | None = None,
                 enabled: bool = True, log_every: float = 30.0) -> None:
        self.total, self.desc, self.unit = max(1, int(total)), desc, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log_every = log_every
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        now = time.perf_counter()
        if not self.enabled:
            return
        if (self.tty and now - self._last > 0.1) or (not self.tty and now - self._last > self.log_every):
            self._last = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        now = now or time.perf_counter()
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        frac = self.done / self.total
        bar = "#" * int(frac * 24)
        if self.unit == "units":  # abstract units of work: the share done and the time left only
            return f"{self.desc} [{bar:<24}] {frac:4.0%} elapsed {_fmt_time(elapsed)}, about {_fmt_time(eta)} left"
        return (f"{self.desc} [{bar:<24}] {self.done}/{self.total} {frac:4.0%} "
                f"{rate:,.0f} {self.unit}/s elapsed {_fmt_time(elapsed)} eta {_fmt_time(eta)}")

    def _draw(self, now: float) -> None:
        end = "" if self.tty else "\n"
        prefix = "\r" if self.tty else ""
        self.stream.write(prefix + self.line(now) + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()


class StageProgress:
    """Progress of work in stages on one bar: ``StageProgress("evaluate gan2d")`` is a
    callback ``(stage, done, total)`` (floats in any unit); each new stage prints a line
    (stderr), and the bar with the estimate of the time left follows as :class:`Progress`
    prints it (in place on a terminal, else every ``log_every`` seconds)."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True, log_every: float = 10.0) -> None:
        self.label = label
        self.bar = Progress(1, label, unit="units", stream=stream, enabled=enabled, log_every=log_every)
        self.stage: str | None = None

    def __call__(self, stage: str, done: float, total: float) -> None:
        bar = self.bar
        bar.total = max(1, int(round(total)))
        if stage != self.stage:
            self.stage = stage
            bar.desc = f"{self.label}: {stage}"
            if bar.enabled and stage != "done":
                bar.stream.write(("\r\x1b[K" if bar.tty else "") + f"{bar.desc} ...\n")
                bar.stream.flush()
                bar._last = 0.0  # the bar with its estimate follows at once
        bar.update(int(done) - bar.done)

    def close(self) -> None:
        self.bar.close()
