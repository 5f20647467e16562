"""Stage one's open windows as table entries, so a restart or a rebalance loses no partial.

One entry per open window group and one for the partition's progress (watermark inputs,
closed and provisional horizons, late count), all prefixed with the input partition: the
worker's table holds every partition it owns in one mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.windows import PartitionWindows

PROGRESS = "progress"


def _prefix(partition: int) -> str:
    return f"{partition}|"


def changed_entries(partition: int, windows: PartitionWindows) -> dict[str, Any]:
    """Entries to write after a batch: changed groups (None: closed) and the progress."""
    prefix = _prefix(partition)
    entries: dict[str, Any] = {
        f"{prefix}{size}|{start}|{settle}": vectors
        for (size, start, settle), vectors in windows.drain_changed().items()
    }
    entries[prefix + PROGRESS] = windows.progress()
    return entries


def restore(partition: int, windows: PartitionWindows, entries: Iterable[tuple[str, Any]]) -> list[str]:
    """Load this partition's entries into `windows`; returns the keys that were its."""
    prefix, progress, groups, keys = _prefix(partition), None, [], []
    for key, value in entries:
        if not key.startswith(prefix) or value is None:
            continue
        keys.append(key)
        rest = key.removeprefix(prefix)
        if rest == PROGRESS:
            progress = value
        else:
            size, start, settle = map(int, rest.split("|"))
            groups.append(((size, start, settle), value))
    windows.restore(progress, groups)
    return keys
