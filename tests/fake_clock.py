"""A clock for tests of pacing and waiting: sleeping moves it, nothing waits."""

from __future__ import annotations


class FakeClock:
    """Stands for the `time` module (`monotonic`, `sleep`) or for a clock function (call it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
