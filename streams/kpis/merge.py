"""Stage two: merge every partition's partial aggregates of a window into `kpi.windows` records.

A window is complete when all input partitions have reported it (each reports every
window once, empty or not). Re-delivered partials overwrite, never add, so a replay after
a crash cannot double-count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.kpis.catalog import KPI_BY_NAME, values_of
from streams.kpis.context import parse_dims
from streams.windows import GroupKey, Vector
from topics.contract import SCHEMA_VERSION


def group_id(group: GroupKey) -> str:
    size, start, settle = group
    return f"{size}|{start}|{settle}"


def parse_group(text: str) -> GroupKey:
    size, start, settle = (int(x) for x in text.split("|"))
    return size, start, settle


def window_records(group: GroupKey, merged: dict[str, Vector]) -> list[dict[str, Any]]:
    size, start, _ = group
    records = []
    for key in sorted(merged):
        kpi_name, dims = parse_dims(key)
        for name, count, value in values_of(KPI_BY_NAME[kpi_name], merged[key]):
            records.append(
                {
                    "kpi": name,
                    "dimensions": dims,
                    "window_start": start,
                    "window_end": start + size,
                    "count": count,
                    "value": value,
                    "final": True,
                    "schema_version": SCHEMA_VERSION,
                }
            )
    return records


def record_key(record: dict[str, Any]) -> str:
    dims = ",".join(f"{k}={v}" for k, v in record["dimensions"].items())
    return f"{record['kpi']}|{dims}|{record['window_start']}|{record['window_end']}"


def merge_partials(parts: dict[str, dict[str, Vector]]) -> dict[str, Vector]:
    merged: dict[str, Vector] = {}
    for partials in parts.values():
        for key, vector in partials.items():
            total = merged.get(key)
            if total is None:
                merged[key] = list(vector)
            else:
                for i, x in enumerate(vector):
                    total[i] += x
    return merged


@dataclass
class WindowMerger:
    partitions: int
    pending: dict[str, dict[str, dict[str, Vector]]] = field(default_factory=dict)
    """group id -> partition (as text, for JSON tables) -> partials"""

    def add(self, partition: int, group: GroupKey, partials: dict[str, Vector]) -> list[dict[str, Any]] | None:
        gid = group_id(group)
        parts = self.pending.setdefault(gid, {})
        parts[str(partition)] = partials
        if len(parts) < self.partitions:
            return None
        del self.pending[gid]
        return window_records(group, merge_partials(parts))
