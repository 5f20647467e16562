"""Stage two over several partitions emits what one stage two emits, record for record."""

from __future__ import annotations

import random
from dataclasses import asdict, is_dataclass
from typing import Any

import orjson
import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults
from streams.kpis.bursts import BURST_WINDOW_MS, merchant_key
from streams.kpis.pipeline import LocalPipeline
from streams.kpis.routing import StageTwoRouting
from streams.kpis.stage_two import StageTwo


def _records(name: str, hours: int = 6, rate: float = 0.4) -> list[tuple[str, bytes, bytes]]:
    stream = EventStream(scenario(name), seed=21, rate_per_s=rate, duration_ms=hours * HOUR_MS, faults=Faults())
    return [(r.topic, r.key, r.value) for r in stream]


def _run(records: list[tuple[str, bytes, bytes]], stage_two_partitions: int) -> LocalPipeline:
    pipeline = LocalPipeline(partitions=4, stage_two_partitions=stage_two_partitions)
    pipeline.feed(records)
    pipeline.finish()
    return pipeline


def _sorted(items: list[Any]) -> list[bytes]:
    # dataclasses as dicts first: orjson reads a dataclass's fields itself, and crashes on a
    # compiled one (`streams.native`), whose instances have neither __dict__ nor __slots__
    plain = [asdict(item) if is_dataclass(item) and not isinstance(item, type) else item for item in items]
    return sorted(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) for item in plain)


def test_records_and_alerts_do_not_depend_on_stage_two_partitions() -> None:
    records = _records("livestream-burst")
    one = _run(records, 1)
    assert one.windows and one.provisional and one.burst_alerts
    for partitions in (3, 8):
        split = _run(records, partitions)
        assert _sorted(split.windows) == _sorted(one.windows)
        assert _sorted(split.provisional) == _sorted(one.provisional)
        assert _sorted(split.burst_alerts) == _sorted(one.burst_alerts)


def test_overdue_backlogs_do_not_depend_on_stage_two_partitions() -> None:
    """Reports as input partitions send them (absolute counts of the merchants that changed),
    into one stage two and into four by merchant: the same alerts."""
    rng = random.Random(3)
    merchants = [f"m-{i:03d}" for i in range(40)]
    reports = [
        (rng.randrange(4), {m: rng.randrange(0, 30) for m in rng.sample(merchants, 5)}, t * 60_000) for t in range(2000)
    ]
    one, split, routing = StageTwo(4), [StageTwo(4) for _ in range(4)], StageTwoRouting(4)
    alone = [alert for p, counts, t in reports for alert in one.on_overdue(p, counts, t)]
    shared = [
        alert
        for p, counts, t in reports
        for q, share in routing.split_by_merchant(counts).items()
        for alert in split[q].on_overdue(p, share, t)
    ]
    assert len(alone) > 100 and _sorted(shared) == _sorted(alone)


def test_each_stage_two_partition_emits_a_fair_share_of_the_windows() -> None:
    emitted = _run(_records("steady"), 4).records_by_stage
    fair = sum(emitted) / 4
    assert sum(emitted) > 1000 and all(n > fair / 2 for n in emitted), emitted


def test_a_merchant_and_its_livestreams_meet_on_one_partition() -> None:
    routing = StageTwoRouting(8)
    for merchant in (f"m-{i:04d}" for i in range(200)):
        partitions = {routing.of_key(merchant_key(merchant, live)) for live in (None, "ls-1", "ls-2")}
        assert partitions == {routing.of_merchant(merchant)}


def test_shares_cover_every_key_once_and_only_the_burst_minutes_go_everywhere() -> None:
    routing = StageTwoRouting(4)
    partials = {f"kpi_{i}|category=c{i % 7}": [float(i)] for i in range(200)}
    shares = routing.shares((3_600_000, 0, 0), partials, provisional=False)
    assert sorted(q for q, _ in shares) == [0, 1, 2, 3]
    assert sorted(k for _, share in shares for k in share) == sorted(partials)
    one_key = {"orders_paid|": [1.0]}
    assert len(routing.shares((3_600_000, 0, 0), one_key, provisional=False)) == 1
    assert len(routing.shares((BURST_WINDOW_MS, 0, 0), one_key, provisional=True)) == 1
    minute = routing.shares((BURST_WINDOW_MS, 0, 0), one_key, provisional=False)
    assert sorted(q for q, _ in minute) == [0, 1, 2, 3] and sum(bool(share) for _, share in minute) == 1
    with pytest.raises(ValueError, match="at least one partition"):
        StageTwoRouting(0)
