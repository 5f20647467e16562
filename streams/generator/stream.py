"""Merge order lifecycles into one event-time ordered stream, then apply delivery faults.

Faults model what real pipelines see: out-of-order delivery (`late_ratio`, each delayed by
up to `late_max_ms` of event time), redelivery of the same event (`dup_ratio`) and
malformed records (`bad_ratio`, added on top of the valid events, never replacing them).
"""

from __future__ import annotations

import base64
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.generator.lifecycle import Event, OrderFactory, OrderTruth, Population
from streams.generator.scenarios import MINUTE_MS, Scenario
from topics.validation import record_key

DEFAULT_START_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z: fixed, so a seed reproduces a run exactly


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes
    value: bytes
    event_time: int
    kind: str = "valid"
    """'valid', 'duplicate' (a redelivery of a valid event) or 'malformed'."""

    def to_jsonl(self) -> bytes:
        line: dict[str, Any] = {"topic": self.topic, "key": self.key.decode(), "kind": self.kind}
        if self.kind == "malformed":
            line["value_b64"] = base64.b64encode(self.value).decode()
        else:
            line["event"] = orjson.Fragment(self.value)
        return orjson.dumps(line)

    @classmethod
    def from_jsonl(cls, line: bytes) -> OutRecord:
        row = orjson.loads(line)
        if "value_b64" in row:
            value = base64.b64decode(row["value_b64"])
            event_time = 0
        else:
            value = orjson.dumps(row["event"])
            event_time = row["event"]["event_time"]
        return cls(row["topic"], row["key"].encode(), value, event_time, row.get("kind", "valid"))


@dataclass(frozen=True)
class Faults:
    late_ratio: float = 0.0
    late_max_ms: int = 5 * MINUTE_MS
    dup_ratio: float = 0.0
    bad_ratio: float = 0.0


@dataclass
class GenStats:
    valid: int = 0
    duplicates: int = 0
    malformed: int = 0
    delayed: int = 0
    orders: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    truths: list[OrderTruth] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.valid + self.duplicates + self.malformed


_BAD_KINDS = ("invalid_json", "invalid_utf8", "missing_field", "wrong_type", "unknown_enum_value", "unknown_event_type")


def _malformed(rng: random.Random, topic: str, event: Event) -> bytes:
    kind = rng.choice(_BAD_KINDS)
    broken = dict(event)
    if kind == "invalid_json":
        return orjson.dumps(event)[:-3]
    if kind == "invalid_utf8":
        return b'{"event_id": "\xff\xfe"}'
    if kind == "missing_field":
        broken.pop("event_time")
    elif kind == "wrong_type":
        broken["event_time"] = str(broken["event_time"])
    elif kind == "unknown_enum_value":
        enum_field = next((f for f in ("channel", "carrier", "reason", "handled_by", "source") if f in broken), None)
        if enum_field is None:
            broken["event_type"] = "martian.event"
        else:
            broken[enum_field] = "martian"
    else:
        broken["event_type"] = "martian.event"
    broken["event_id"] = f"bad-{broken['event_id']}"
    return orjson.dumps(broken)


class EventStream:
    """Iterates `OutRecord`s in delivery order for a scenario, seed and size."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        rate_per_s: float,
        start_ms: int = DEFAULT_START_MS,
        max_events: int | None = None,
        duration_ms: int | None = None,
        faults: Faults = Faults(),
        keep_truth: bool = False,
    ):
        if max_events is None and duration_ms is None:
            raise ValueError("give max_events or duration_ms")
        self.scenario = scenario
        self.seed = seed
        self.rate_per_ms = rate_per_s / 1000.0
        self.start_ms = start_ms
        self.max_events = max_events
        self.end_ms = start_ms + duration_ms if duration_ms is not None else None
        self.faults = faults
        self.keep_truth = keep_truth
        self.stats = GenStats()
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(seed * 7919 + 1)  # faults never shift the simulation's draws
        self.factory = OrderFactory(self.rng, seed, scenario, start_ms, Population.build(self.rng, seed))
        self.factory.end_ms = self.end_ms
        self._iterated = False

    def _arrivals(self) -> Iterator[tuple[int, Any]]:
        """(paid time, burst or None) for every order, merged across base rate and bursts."""
        rng = self.rng
        t = float(self.start_ms)
        while True:
            offset = t - self.start_ms
            bursts = [b for b in self.scenario.bursts if b.start_offset_ms <= offset < b.start_offset_ms + b.length_ms]
            extra = sum(b.extra_rate_share for b in bursts)
            total = self.rate_per_ms * (1.0 + extra)
            t += rng.expovariate(total)
            burst = None
            if bursts and rng.random() < extra / (1.0 + extra):
                burst = bursts[0]
            yield int(t), burst

    def _ordered(self) -> Iterator[tuple[str, Event]]:
        """Valid events in event-time order (ties broken by creation order)."""
        pending: list[tuple[int, int, str, Event]] = []
        seq = 0
        for n, (paid_ms, burst) in enumerate(self._arrivals()):
            while pending and pending[0][0] <= paid_ms:
                _, _, topic, event = heapq.heappop(pending)
                yield topic, event
            if self.end_ms is not None and paid_ms >= self.end_ms:
                break
            events, truth = self.factory.order(n, paid_ms, burst)
            self.stats.orders += 1
            if self.keep_truth:
                self.stats.truths.append(truth)
            if self.rng.random() < 0.01:
                events += self.factory.orderless_ticket(paid_ms + 1)
            for topic, event in events:
                seq += 1
                heapq.heappush(pending, (event["event_time"], seq, topic, event))
        while pending:
            _, _, topic, event = heapq.heappop(pending)
            yield topic, event

    def __iter__(self) -> Iterator[OutRecord]:
        # the simulation's random state advances as it runs: a second pass would silently
        # continue it rather than replay it, so make a new EventStream instead
        if self._iterated:
            raise RuntimeError("an EventStream can be iterated once; create another with the same seed")
        self._iterated = True
        f, rng = self.faults, self.fault_rng
        held: list[tuple[int, int, OutRecord]] = []  # delayed deliveries, by release event time
        seq = 0
        for topic, event in self._ordered():
            t = event["event_time"]
            while held and held[0][0] <= t:
                yield from self._count(heapq.heappop(held)[2])
                if self._done():
                    return
            record = OutRecord(topic, record_key(event).encode(), orjson.dumps(event), t)
            if f.late_ratio and rng.random() < f.late_ratio:
                seq += 1
                self.stats.delayed += 1
                heapq.heappush(held, (t + rng.randint(1, f.late_max_ms), seq, record))
            else:
                yield from self._count(record)
            if f.dup_ratio and rng.random() < f.dup_ratio:
                seq += 1
                dup = OutRecord(topic, record.key, record.value, t, "duplicate")
                heapq.heappush(held, (t + rng.randint(0, f.late_max_ms), seq, dup))
            if f.bad_ratio and rng.random() < f.bad_ratio:
                yield from self._count(OutRecord(topic, record.key, _malformed(rng, topic, event), t, "malformed"))
            if self._done():
                return
        while held:
            yield from self._count(heapq.heappop(held)[2])
            if self._done():
                return

    def _count(self, record: OutRecord) -> Iterator[OutRecord]:
        s = self.stats
        if record.kind == "valid":
            s.valid += 1
        elif record.kind == "duplicate":
            s.duplicates += 1
        else:
            s.malformed += 1
        s.by_topic[record.topic] = s.by_topic.get(record.topic, 0) + 1
        yield record

    def _done(self) -> bool:
        return self.max_events is not None and self.stats.records >= self.max_events
