"""SIGTERM unwinds a long-running command like Ctrl-C, so its `finally` blocks stop what it started."""

from __future__ import annotations

import signal
import threading


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def unwind_on_sigterm() -> None:
    """From now on SIGTERM (a supervisor, `timeout`, `kill`) raises KeyboardInterrupt in the main
    thread: brokers, workers and Prometheus a command started are stopped on the way out."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
