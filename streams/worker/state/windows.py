"""Stage one's open windows as table entries, so a restart or a rebalance loses no partial.

One entry per open window group and one for the partition's progress (watermark inputs,
closed and provisional horizons, late count), all prefixed with the input partition: the
worker's table holds every partition it owns in one mapping.

Group entries are versioned records (`streams.kpis.versioned`), the progress is the partition's
commit marker; `streams.worker.state.writes` decides the order they are written in. A group
behind the restored progress was closed and its partial sent: it is dropped at restore.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.kpis.versioned import resolve
from streams.kpis.windows import PartitionWindows

PROGRESS = "progress"


def _prefix(partition: int) -> str:
    return f"{partition}|"


def group_entries(partition: int, windows: PartitionWindows) -> dict[str, tuple[Any, Any]]:
    """Groups changed since the last call: key -> (vectors or None: closed, vectors before)."""
    prefix = _prefix(partition)
    return {
        f"{prefix}{size}|{start}|{settle}": change for (size, start, settle), change in windows.drain_changed().items()
    }


def progress_entry(partition: int, windows: PartitionWindows) -> tuple[str, dict[str, Any]]:
    """The partition's progress: its windows' state but the groups, and the batch marker."""
    return _prefix(partition) + PROGRESS, windows.progress()


def restore(partition: int, windows: PartitionWindows, entries: Iterable[tuple[str, Any]]) -> list[str]:
    """Load this partition's entries into `windows`, as of its last committed batch (see
    `streams.kpis.versioned`); returns the keys that were its."""
    prefix, progress, stored, keys = _prefix(partition), None, [], []
    for key, value in entries:
        if not key.startswith(prefix) or value is None:
            continue
        keys.append(key)
        rest = key.removeprefix(prefix)
        if rest == PROGRESS:
            progress = value
        else:
            size, start, settle = map(int, rest.split("|"))
            stored.append(((size, start, settle), value))
    committed = progress.get("batch", 0) if progress else 0
    groups, rolled_back = [], []
    for group, value in stored:
        vectors, taken_back = resolve(value, committed)
        groups.append((group, vectors))
        if taken_back:
            rolled_back.append(group)
    windows.restore(progress, groups, rolled_back)
    return keys
