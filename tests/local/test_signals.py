"""SIGTERM unwinds like Ctrl-C once `unwind_on_sigterm` is called: `finally` blocks run."""

from __future__ import annotations

import os
import signal
import time

import pytest

from streams.local.signals import unwind_on_sigterm


def test_sigterm_raises_keyboard_interrupt_so_cleanup_runs() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    cleaned = []
    try:
        unwind_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises at once; 5 s would mean it did not
            finally:
                cleaned.append(True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert cleaned == [True]
