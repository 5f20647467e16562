"""The generator: deterministic, consistent lifecycles, valid against the contract."""

from __future__ import annotations

import itertools
from collections import Counter

import jsonschema
import orjson
import pytest

from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import EventStream, Faults, OutRecord
from tests.generator.conftest import events_of
from topics.contract import TOPICS_BY_NAME
from topics.json_schema import topic_schema
from topics.validation import Reject, decode_event, record_key


def _first(n: int, seed: int, **kw: object) -> list[OutRecord]:
    stream = EventStream(scenario("steady"), seed=seed, rate_per_s=2.0, max_events=n, **kw)  # type: ignore[arg-type]
    return list(stream)


def test_same_seed_same_bytes() -> None:
    assert _first(3000, seed=3) == _first(3000, seed=3)


def test_other_seed_other_events() -> None:
    assert _first(500, seed=3) != _first(500, seed=4)


def test_event_count_is_exact() -> None:
    assert len(_first(1234, seed=1)) == 1234


def test_a_longer_stream_goes_on_from_a_shorter_one() -> None:
    """The benchmark preloads the first records and feeds the following ones live: the
    simulation must not depend on where it is cut."""
    shorter, longer = _first(3000, seed=5), _first(5000, seed=5)
    assert longer[:3000] == shorter
    assert min(r.event_time for r in longer[3000:]) >= max(r.event_time for r in shorter)  # on time, none late


def test_events_are_valid_and_keyed_by_order() -> None:
    stream = EventStream(scenario("carrier-outage"), seed=5, rate_per_s=0.3, duration_ms=10 * HOUR_MS)
    validators = {name: jsonschema.Draft202012Validator(topic_schema(TOPICS_BY_NAME[name])) for name in TOPICS_BY_NAME}
    seen: Counter[str] = Counter()
    for record in stream:
        event = decode_event(record.value, record.topic)
        assert not isinstance(event, Reject), event
        validators[record.topic].validate(event)
        assert record.key.decode() == record_key(event)
        seen[event["event_type"]] += 1
    every_type = {r.name for t in TOPICS_BY_NAME.values() if t.is_input for r in t.records}
    assert set(seen) == every_type, f"never generated: {every_type - set(seen)}"


def test_lifecycles_are_consistent() -> None:
    _, events = events_of("steady", rate=0.3, hours=24)
    assert len({e["event_id"] for e in events}) == len(events)
    assert [e["event_time"] for e in events] == sorted(e["event_time"] for e in events)
    paid: dict[str, int] = {}
    shipped: dict[str, int] = {}
    opened: dict[str, int] = {}
    for e in events:
        kind, t = e["event_type"], e["event_time"]
        if kind == "order.paid":
            paid[e["order_id"]] = t
        elif e.get("order_id"):
            assert e["order_id"] in paid, f"{kind} before its order was paid"
        if kind == "shipment.shipped":
            shipped[e["order_id"]] = t
        if kind in ("shipment.delivered", "shipment.exception"):
            assert e["order_id"] in shipped
        if kind == "order.cancelled":
            assert e["order_id"] not in shipped
        if kind == "ticket.opened":
            opened[e["ticket_id"]] = t
        if kind in ("ticket.first_response", "ticket.resolved"):
            assert opened[e["ticket_id"]] <= t
    share_shipped = len(shipped) / len(paid)
    assert 0.85 < share_shipped < 0.99


def test_creator_sold_orders_draw_more_negative_feedback() -> None:
    _, events = events_of("steady", rate=1.0, hours=24)
    creator = {e["order_id"]: e["creator_id"] is not None for e in events if e["event_type"] == "order.paid"}
    negative = {e["order_id"] for e in events if e["event_type"] == "feedback.negative"}
    rate = {
        flag: sum(1 for o, c in creator.items() if c == flag and o in negative)
        / sum(1 for c in creator.values() if c == flag)
        for flag in (True, False)
    }
    assert rate[True] > 1.4 * rate[False]


def test_faults_late_dup_bad() -> None:
    faults = Faults(late_ratio=0.1, late_max_ms=120_000, dup_ratio=0.02, bad_ratio=0.02)
    stream = EventStream(scenario("steady"), seed=9, rate_per_s=1.0, duration_ms=6 * HOUR_MS, faults=faults)
    records = list(stream)
    kinds = Counter(r.kind for r in records)
    assert kinds["valid"] == stream.stats.valid and kinds["duplicate"] == stream.stats.duplicates
    assert 0.01 < kinds["duplicate"] / kinds["valid"] < 0.03
    assert 0.01 < kinds["malformed"] / kinds["valid"] < 0.03
    for r in records:
        decoded = decode_event(r.value, r.topic)
        assert isinstance(decoded, Reject) == (r.kind == "malformed")
    # out of order, but never by more than late_max
    times = [r.event_time for r in records if r.kind != "malformed"]
    running_max = list(itertools.accumulate(times, max))
    lateness = [m - t for m, t in zip(running_max, times, strict=True)]
    assert max(lateness) <= 120_000
    assert sum(1 for x in lateness if x > 0) > 0.05 * len(times)
    # duplicates repeat an event_id already delivered or about to be
    valid_ids = Counter(orjson.loads(r.value)["event_id"] for r in records if r.kind == "valid")
    dup_ids = [orjson.loads(r.value)["event_id"] for r in records if r.kind == "duplicate"]
    assert all(valid_ids[i] == 1 for i in dup_ids)


def test_faults_do_not_change_the_valid_events() -> None:
    clean = [r.value for r in EventStream(scenario("steady"), seed=2, rate_per_s=1.0, duration_ms=2 * HOUR_MS)]
    noisy = EventStream(
        scenario("steady"), seed=2, rate_per_s=1.0, duration_ms=2 * HOUR_MS, faults=Faults(0.2, 60_000, 0.05, 0.05)
    )
    assert sorted(clean) == sorted(r.value for r in noisy if r.kind == "valid")


def test_jsonl_round_trip() -> None:
    records = _first(200, seed=1, faults=Faults(bad_ratio=0.2))
    assert [OutRecord.from_jsonl(r.to_jsonl()) for r in records if r.kind != "malformed"] == [
        r for r in records if r.kind != "malformed"
    ]
    bad = [r for r in records if r.kind == "malformed"]
    assert bad and [OutRecord.from_jsonl(r.to_jsonl()).value for r in bad] == [r.value for r in bad]


def test_unknown_scenario() -> None:
    with pytest.raises(KeyError):
        scenario("sunny-day")


def test_a_stream_is_iterated_once() -> None:
    stream = EventStream(scenario("steady"), seed=1, rate_per_s=1.0, max_events=10)
    assert len(list(stream)) == 10
    with pytest.raises(RuntimeError, match="iterated once"):
        list(stream)
