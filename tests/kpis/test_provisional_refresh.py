"""Early firings of cohort windows: a provisional snapshot is refreshed while its cohort moves.

Stage one re-reports a cohort window already reported provisionally when its horizon advances,
if it changed since its last snapshot, whichever order the shell drains and reports in."""

from __future__ import annotations

import orjson
import pytest

from streams.kpis.windows import PartitionWindows

SIZE, SETTLE = 1_000, 10_000
KEY = "ship_within_48h_ratio|"


def _windows() -> PartitionWindows:
    return PartitionWindows((SIZE,), (0, SETTLE), 0, expected_topics=("orders",))


def _add(windows: PartitionWindows, attributed_ms: int, shipped: float = 0.0) -> None:
    windows.add((KEY,), 2, attributed_ms, SETTLE, ((0, shipped), (1, 1.0 - shipped)), (SIZE,))


def _reported(windows: PartitionWindows, now: int) -> dict[int, dict[str, list[float]]]:
    """Window start -> snapshot, of what `provisional_due` reports once the watermark is at `now`."""
    windows.observe("orders", now)
    return {w.start_ms: w.partials for w in windows.provisional_due()}


@pytest.mark.parametrize("drains", ["never", "before_reporting", "after_reporting"])
def test_only_a_changed_window_is_reported_again(drains: str) -> None:
    """In process nothing drains; a worker drains after reporting; either way, a change is seen."""
    windows = _windows()
    windows.observe("orders", 0)
    _add(windows, 100)
    _add(windows, 1_100)
    assert _reported(windows, 2_000) == {0: {KEY: [0.0, 1.0]}, 1_000: {KEY: [0.0, 1.0]}}
    if drains == "after_reporting":
        windows.drain_changed()
    _add(windows, 100, shipped=1.0)  # a shipment of the first window's order, after its end
    persisted = windows.drain_changed() if drains == "before_reporting" else {}
    assert _reported(windows, 3_000) == {0: {KEY: [1.0, 1.0]}}  # the second did not change
    if drains == "after_reporting":
        persisted = windows.drain_changed()
    if drains != "never":  # the change is persisted all the same
        assert persisted[(SIZE, 0, SETTLE)][0] == {KEY: [1.0, 1.0]}
    assert _reported(windows, 4_000) == {}  # nothing moved since
    _add(windows, 1_100, shipped=1.0)
    _add(windows, 1_100, shipped=1.0)
    assert _reported(windows, 5_000) == {1_000: {KEY: [2.0, 1.0]}}


def test_no_report_until_the_horizon_advances() -> None:
    windows = _windows()
    windows.observe("orders", 0)
    _add(windows, 100)
    assert list(_reported(windows, 1_000)) == [0]
    _add(windows, 100, shipped=1.0)
    assert _reported(windows, 1_500) == {}  # the same horizon: the refresh waits for the next one
    assert _reported(windows, 2_000) == {0: {KEY: [1.0, 1.0]}}


def test_a_restored_partition_reports_every_reported_open_cohort_again() -> None:
    """Whether a window changed since its last snapshot is not persisted: a restored partition
    re-sends them all at its next advance (an overwrite of the same key downstream)."""
    windows = _windows()
    windows.observe("orders", 0)
    _add(windows, 100)
    _add(windows, 1_100)
    _add(windows, 2_100)
    assert list(_reported(windows, 2_000)) == [0, 1_000]
    stored = orjson.loads(orjson.dumps([windows.progress(), list(windows.open.items())]))
    restored = _windows()
    restored.restore(stored[0], [(tuple(group), vectors) for group, vectors in stored[1]])
    assert restored.stale_provisional == {(SIZE, 0, SETTLE), (SIZE, 1_000, SETTLE)}
    assert list(_reported(restored, 3_000)) == [0, 1_000, 2_000]
    assert _reported(restored, 4_000) == {}
