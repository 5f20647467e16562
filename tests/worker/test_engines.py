"""`Engines` without a broker: after a rebalance only the partitions this worker still owns
keep their engines and bookkeeping; a topic partition is quiet once nothing of it was applied
for `IDLE_AFTER_S`."""

from __future__ import annotations

from typing import Any

import pytest

from streams.kpis.engine import EngineConfig, PartitionEngine
from streams.worker import engines as engines_module
from streams.worker.engines import IDLE_AFTER_S, Engines
from streams.worker.state.offsets import Expected
from tests.worker.fakes import TP


def _engines() -> Engines:
    tables: Any = None  # not needed: no engine is built from the tables here
    return Engines(tables, EngineConfig(), metrics=None)  # type: ignore[arg-type]


def test_a_rebalance_keeps_only_the_owned_partitions() -> None:
    engines = _engines()
    for p in (0, 1, 2):
        engines.by_partition[p] = PartitionEngine(p, {}, {})
        engines.expected[p] = Expected()
        engines.late_reported[p] = p
        engines.sent_through[(p, 60_000, 0, False)] = 1
        engines.seen("orders", p)
    kept = engines.by_partition[1]
    engines.keep_only({1, 3})
    assert engines.by_partition == {1: kept}  # the kept engine holds the live windows: not rebuilt
    assert set(engines.expected) == {1}
    assert engines.late_reported == {1: 1}
    assert list(engines.sent_through) == [(1, 60_000, 0, False)]
    assert set(engines._last_seen) == {("orders", 1)}


def test_a_topic_partition_is_quiet_after_idle_after_s(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(engines_module.time, "monotonic", lambda: now[0])
    engines = _engines()
    assert not engines.quiet(TP("orders", 0))  # just started
    now[0] += IDLE_AFTER_S
    assert engines.quiet(TP("orders", 0))  # nothing since start-up
    engines.seen("orders", 0)
    assert not engines.quiet(TP("orders", 0))
    assert engines.quiet(TP("shipments", 0))
    now[0] += IDLE_AFTER_S
    assert engines.quiet(TP("orders", 0))
