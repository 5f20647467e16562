"""The benchmark's common subset (see `bench/quix_subset.py`), as each contender reports it,
and the check that they agree before any speed is reported.

A subset is {"name|dims|window start": (count, sum of seconds)}: 1-minute windows of time to
ship per category, help requests per reason, and first response over all tickets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

Subset = dict[str, tuple[float, float]]

KPIS = ("time_to_ship_seconds", "help_requests_per_1k_orders", "first_response_seconds")
"""The catalog KPIs the subset is read from: what a cxkpi worker computes with CXKPI_KPIS set to them."""

WINDOW_MS = 60_000
SHOWN = 20
TAIL_MS = 15 * 60_000
MIN_COVERAGE = 0.5
"""Share of the reference's windows a contender must have emitted (its last ones stay open
until later events or its grace pass) for the check to mean something."""


def from_kpi_windows(records: Iterable[dict[str, Any]]) -> Subset:
    """The subset in cxkpi's `kpi.windows` records (the worker's topic, or the core's list)."""
    subset: Subset = {}
    for r in records:
        if r["window_end"] - r["window_start"] != WINDOW_MS or r["value"] is None or not r["final"]:
            continue
        dims, start, count, value = r["dimensions"], r["window_start"], r["count"], r["value"]
        if r["kpi"] == "time_to_ship_seconds_mean" and set(dims) == {"category"}:
            subset[f"time_to_ship|category={dims['category']}|{start}"] = (count, value * count)
        elif r["kpi"] == "first_response_seconds_mean" and not dims:
            subset[f"first_response||{start}"] = (count, value * count)
        elif r["kpi"] == "help_requests_per_1k_orders" and set(dims) == {"reason"} and value > 0:
            # per 1,000 orders paid in the window (its count): the requests themselves
            subset[f"help_requests|reason={dims['reason']}|{start}"] = (round(value * count / 1000), 0.0)
    return subset


def from_quix(records: Iterable[dict[str, Any]]) -> Subset:
    """The last record per window (in topic order, as a compacted topic keeps it)."""
    return {f"{r['key']}|{r['start']}": (r["count"], r["total"]) for r in records}


def from_faust_windows(name: str, changelog: Iterable[tuple[bytes, bytes | None]]) -> Subset:
    """A Faust windowed table's changelog (JSON keys `[key, [start_s, end_s]]`, values
    `[count, total]`), the last record per key: the table's final values."""
    subset: Subset = {}
    for raw_key, raw_value in changelog:
        if raw_value is None:
            continue
        dims, (start_s, _) = orjson.loads(raw_key)
        count, total = orjson.loads(raw_value)
        subset[f"{name}|{dims}|{round(start_s * 1000)}"] = (count, total)
    return subset


def check(got: Subset, reference: Subset) -> dict[str, Any]:
    """Every window `got` holds must equal the reference's; returns what was compared and what differs.

    The last `TAIL_MS` of the data are left out: a backlog's last records are still held back
    there (Quix's time alignment waits for newer records that never come; cxkpi keeps its
    grace period open)."""
    end = max((_start(key) for key in reference), default=0) - TAIL_MS
    got = {key: value for key, value in got.items() if _start(key) < end}
    reference = {key: value for key, value in reference.items() if _start(key) < end}
    differing = [
        f"{key}: {got[key]} != {reference.get(key)}"
        for key in sorted(got)
        if (key in reference and not _same(got[key], reference[key]))
        # help requests are read back from a rate per 1,000 paid orders: none without payments
        or (key not in reference and not key.startswith("help_requests|"))
    ]
    coverage = len(set(got) & set(reference)) / max(len(reference), 1)
    shown = differing[:SHOWN] + ([f"... and {len(differing) - SHOWN} more"] if len(differing) > SHOWN else [])
    return {"windows_compared": len(got), "coverage": round(coverage, 3), "differing": shown}


def agrees(result: dict[str, Any]) -> bool:
    return not result["differing"] and result["coverage"] >= MIN_COVERAGE


def _start(key: str) -> int:
    return int(key.rsplit("|", 1)[1])


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] == b[0] and math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-6)
