"""Counters and histograms updated for every event, kept in plain dicts, rendered at scrape time.

prometheus_client's `Counter.inc` and `Histogram.observe` take a lock and walk the
buckets in Python on every call: 9% of a worker's batch handling under py-spy (2026-11-27), for
values a scrape reads every 15 s. Here an update is a dict lookup and an addition (one
bisect for a histogram); the worker's event loop both updates and serves /metrics, so
nothing needs a lock. A registered collector renders the same families a
`Counter`/`Histogram` would (no `_created` series, as `disable_created_metrics` does).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


@dataclass(frozen=True)
class CounterSpec:
    name: str
    """The family name, without `_total`."""
    doc: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    doc: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]
    """Upper bounds, ascending, without +Inf."""


@dataclass(eq=False)  # registered by identity: hashable
class EventMetrics(Collector):
    counters: dict[str, CounterSpec]
    """Short name (what the engine counts) -> family."""
    histograms: dict[str, HistogramSpec]
    _counts: dict[tuple[str, tuple[str, ...]], float] = field(default_factory=dict)
    _observed: dict[tuple[str, tuple[str, ...]], list[float]] = field(default_factory=dict)
    """(name, labels) -> count per bucket (the last one +Inf), then the sum."""

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (name, labels)
        count = self._counts.get(key)
        if count is None:  # a new series: checked once, as prometheus_client's `labels()` would
            _check(name, labels, self.counters)
            count = 0.0
        self._counts[key] = count + amount

    def observe(self, name: str, labels: tuple[str, ...], value: float) -> None:
        self.observe_all(name, labels, (value,))

    def observe_all(self, name: str, labels: tuple[str, ...], values: Iterable[float]) -> None:
        """`observe` each of `values` (a batch's: one lookup for all of them)."""
        key = (name, labels)
        bounds = self.histograms[name].buckets
        counts = self._observed.get(key)
        if counts is None:
            _check(name, labels, self.histograms)
            counts = self._observed[key] = [0.0] * (len(bounds) + 2)
        total = counts[-1]  # added up in order, as one `observe` after another would
        for value in values:
            counts[bisect_left(bounds, value)] += 1.0  # le: a value on a bound counts in that bucket
            total += value
        counts[-1] = total

    def describe(self) -> Iterator[Metric]:
        return self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        return self._families(with_samples=True)

    def _families(self, with_samples: bool) -> Iterator[Metric]:
        for short, spec in self.counters.items():
            counter = CounterMetricFamily(spec.name, spec.doc, labels=spec.labels)
            if with_samples:
                for (name, labels), value in self._counts.items():
                    if name == short:
                        counter.add_metric(labels, value)
            yield counter
        for short, hist in self.histograms.items():
            family = HistogramMetricFamily(hist.name, hist.doc, labels=hist.labels)
            if with_samples:
                for (name, labels), counts in self._observed.items():
                    if name == short:
                        family.add_metric(labels, _cumulative(hist.buckets, counts), counts[-1])
            yield family


def _check(name: str, labels: tuple[str, ...], specs: Mapping[str, CounterSpec | HistogramSpec]) -> None:
    """An unknown family raises KeyError, a wrong number of label values ValueError."""
    if len(labels) != len(specs[name].labels):
        raise ValueError(f"{name}: {len(labels)} label values for labels {specs[name].labels}")


def _cumulative(bounds: tuple[float, ...], counts: list[float]) -> list[tuple[str, float]]:
    """Prometheus buckets: (le, observations at or below it), +Inf last."""
    total, buckets = 0.0, []
    for bound, n in zip((*bounds, float("inf")), counts, strict=False):
        total += n
        buckets.append((floatToGoString(bound), total))  # type: ignore[no-untyped-call]  # `le` as a Histogram writes it
    return buckets
