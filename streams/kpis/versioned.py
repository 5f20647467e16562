"""State records that carry the batch that wrote them and the value before that batch.

A batch's state spans many records on several changelogs, and a crash (kill -9) can land
any part of them. Its commit marker (the partition's window progress, `batch`) is written
only after all of them were acknowledged. On recovery a record from a later batch than
the marker's is taken back to its `before` value, so the state is exactly that of the
last committed batch and the replay from the committed offsets applies the rest once.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson

VALUE, BEFORE, BATCH = "v", "p", "b"


def record(value: Any, before: bytes | Any | None, batch: int) -> dict[str, Any]:
    """The JSON-ready record; `before` may be JSON already (bytes), or None: did not exist."""
    return {VALUE: value, BEFORE: orjson.Fragment(before) if isinstance(before, bytes) else before, BATCH: batch}


def resolve(stored: Any, committed: int) -> tuple[Any, bool]:
    """(value as of the `committed` batch or None: absent, True when taken back).

    A value without the envelope (written before versioned records existed) stands as is."""
    if not (isinstance(stored, dict) and stored.keys() == {VALUE, BEFORE, BATCH}):
        return stored, False
    if stored[BATCH] > committed:
        return stored[BEFORE], True
    return stored[VALUE], False


def latest(stored: Any) -> Any:
    """The newest value a record holds, committed or not (for fields that never change)."""
    if isinstance(stored, dict) and stored.keys() == {VALUE, BEFORE, BATCH}:
        return stored[VALUE] if stored[VALUE] is not None else stored[BEFORE]
    return stored


def resolve_in(states: MutableMapping[str, Any], key: str, committed: int) -> tuple[Any, bool]:
    """`resolve` the record stored under `key` and store the result back (None deletes it)."""
    stored = states[key]
    value, taken_back = resolve(stored, committed)
    if value is None:
        del states[key]
    elif value is not stored:
        states[key] = value
    return value, taken_back
