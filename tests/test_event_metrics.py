"""The plain-dict metrics render exactly what prometheus_client's Counter and Histogram would."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from streams.outputs.event_metrics import CounterSpec, EventMetrics, HistogramSpec

BUCKETS = (0.5, 1.0, 60.0, 3600.0, 1_000_000.0)


def test_same_exposition_as_prometheus_client() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    counter = Counter("x_orders_total", "Orders.", ["kind"], registry=theirs)
    histogram = Histogram("x_wait_seconds", "Waits.", ["kind"], buckets=BUCKETS, registry=theirs)
    fast = EventMetrics(
        counters={"orders": CounterSpec("x_orders", "Orders.", ("kind",))},
        histograms={"wait": HistogramSpec("x_wait_seconds", "Waits.", ("kind",), BUCKETS)},
    )
    ours.register(fast)
    rng = random.Random(3)
    values = [*BUCKETS, 0.0, 2_000_000.0] + [rng.uniform(0, 2_000_000) for _ in range(200)]
    for n, value in enumerate(values):  # bounds themselves, zero, and past the last bound
        kind = ("a", "b", "c")[n % 3]
        counter.labels(kind).inc(n % 4)
        fast.inc("orders", (kind,), n % 4)
        histogram.labels(kind).observe(value)
        fast.observe("wait", (kind,), value)
    assert _samples(ours) == _samples(theirs)


def test_a_batch_of_observations_is_one_observe_after_another() -> None:
    def metrics() -> EventMetrics:
        return EventMetrics(counters={}, histograms={"wait": HistogramSpec("x_wait_seconds", "Waits.", (), BUCKETS)})

    one_by_one, batched = metrics(), metrics()
    rng = random.Random(5)
    batches = [[rng.uniform(0, 2_000_000) for _ in range(rng.randrange(0, 50))] for _ in range(20)]
    for values in batches:
        for value in values:
            one_by_one.observe("wait", (), value)
        batched.observe_all("wait", (), iter(values))  # any iterable: the worker passes a generator
    assert _samples(_registry(batched)) == _samples(_registry(one_by_one))


def test_a_family_is_declared_before_any_update() -> None:
    registry = CollectorRegistry()
    registry.register(EventMetrics(counters={"orders": CounterSpec("x_orders", "Orders.", ("kind",))}, histograms={}))
    assert b"# TYPE x_orders_total counter" in generate_latest(registry)


def test_an_unknown_family_or_wrong_label_count_is_refused() -> None:
    fast = EventMetrics(
        counters={"orders": CounterSpec("x_orders", "Orders.", ("kind",))},
        histograms={"wait": HistogramSpec("x_wait_seconds", "Waits.", ("kind",), BUCKETS)},
    )
    with pytest.raises(KeyError):
        fast.inc("order", ("a",))
    with pytest.raises(ValueError, match="label values"):
        fast.inc("orders", ("a", "b"))
    with pytest.raises(ValueError, match="label values"):
        fast.observe("wait", (), 1.0)
    assert [line for line in _samples(_registry(fast)) if not line.startswith("#")] == []  # nothing was counted


def _registry(metrics: EventMetrics) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(metrics)
    return registry


def _samples(registry: CollectorRegistry) -> list[str]:
    """The exposition's lines, `_created` series left out (the worker disables them)."""
    lines = generate_latest(registry).decode().splitlines()
    return sorted(line for line in lines if "_created" not in line)
