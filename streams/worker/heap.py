"""Keeps Python's cyclic garbage collector off the worker's long-lived state.

A worker holds its state as millions of small dicts and lists that live for days and form
no reference cycles. CPython's full (generation 2) collection walks all of them whenever the
heap grew by a quarter: draining a backlog it ran every 2-3 s, took up to 0.6 s and found at
most a few dozen objects; fed live it stalled the worker for 0.5-1.5 s at a time, the
event-to-metric delay's p99 (measured 2026-11-27). After each batch, everything alive is
moved to the permanent generation (`gc.freeze`), so collections look at new objects only.
Freed state still goes at once (reference counting); cycles that became garbage while frozen
wait for `collect_all`, run every `FULL_COLLECTION_EVERY_S`.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_EVERY_S = 600.0


def after_batch() -> None:
    """The batch's objects survived it: the collector need not walk them again."""
    gc.freeze()


def collect_all() -> int:
    """One full collection of everything, frozen or not; returns the objects it found unreachable."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    return found
