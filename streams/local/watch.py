"""Watch the processes a local run started (broker, worker, Prometheus, Alertmanager) and say
which one ended, how, and what its log said last.

The demo streams for minutes while its children run on their own: a worker that crashed or
a broker killed by the OOM killer left it streaming into nothing and ending with exit code
0. `Watch.check()` is cheap enough to call between records; it raises `ChildExited` for the
first child found gone.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOG_TAIL_LINES = 10
CHECK_EVERY_S = 0.25
"""How often `Watch.due_check()` looks (each look is a waitpid per child)."""


@dataclass(frozen=True)
class Child:
    name: str
    """What the user knows it as: 'worker', 'kafka', 'prometheus', 'alertmanager'."""
    log: Path
    ended: Callable[[], str | None]
    """None while it runs; how it ended once it has ('exit code 1', 'killed by SIGKILL')."""
    pid: int | None = None


def popen_child(name: str, proc: subprocess.Popen[bytes], log: Path) -> Child:
    """A child this process started with Popen: its exit status is ours to read."""

    def ended() -> str | None:
        code = proc.poll()
        return None if code is None else describe_exit(code)

    return Child(name, log, ended, proc.pid)


def describe_exit(code: int) -> str:
    """Popen's return code in words: negative codes are the signal that ended the process."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, width: int = 300) -> list[str]:
    """The last lines of a log (each cut to `width`), or why there are none."""
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            log.seek(max(log.tell() - 64 * 1024, 0))  # a long log: its end is enough
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return [f"(cannot read it: {exc.strerror})"]
    tail = [line[:width] for line in text.splitlines() if line.strip()][-lines:]
    return tail or ["(empty)"]


class ChildExited(RuntimeError):
    """A watched child is gone: which, how, where its log is and how that log ends."""

    def __init__(self, child: Child, how: str):
        self.child, self.how = child, how
        tail = "\n".join(f"  | {line}" for line in log_tail(child.log))
        super().__init__(f"the {child.name} exited ({how}); its log is {child.log}, which ends:\n{tail}")


@dataclass
class Watch:
    children: list[Child] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _next_check: float = 0.0

    def add(self, *children: Child) -> None:
        self.children.extend(children)

    def death(self) -> ChildExited | None:
        """The first child that is gone, as the error to raise; None while all run."""
        for child in self.children:
            how = child.ended()
            if how is not None:
                return ChildExited(child, how)
        return None

    def check(self) -> None:
        """Raise ChildExited for the first child that is gone."""
        if (death := self.death()) is not None:
            raise death

    def due_check(self) -> None:
        """`check()`, at most every CHECK_EVERY_S: cheap enough for every record sent."""
        now = self.clock()
        if now >= self._next_check:
            self._next_check = now + CHECK_EVERY_S
            self.check()

    def sleep(self, seconds: float) -> None:
        """Sleep, looking at the children every CHECK_EVERY_S, so a long wait notices a death at once."""
        deadline = self.clock() + seconds
        while (left := deadline - self.clock()) > 0:
            self.check()
            time.sleep(min(left, CHECK_EVERY_S))
        self.check()
