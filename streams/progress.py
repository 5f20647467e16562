"""A dependency-free progress line for long work (generation, preloading, benchmarks)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one line on a terminal; prints a line every `log_every_s` when piped (CI logs)."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None, log_every_s: float = 5.0):
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.25 if self.tty else log_every_s
        self.started = time.monotonic()
        self.last = 0.0
        self.done = 0

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._draw(note)

    def _draw(self, note: str, end: str = "") -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 24)
            head = f"{self.label} [{bar:<24}] {self.done:,}/{self.total:,} {share:6.1%}"
        else:
            head = f"{self.label} {self.done:,}"
        line = f"{head} {rate:,.0f}/s {elapsed:.0f}s {note}".rstrip()
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + end)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, note: str = "") -> None:
        self._draw(note, end="\n" if self.tty else "")
