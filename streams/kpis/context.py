"""What a KPI area writes to: window aggregates and per-event metrics, for one partition."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Protocol

from streams.kpis.catalog import KPI_BY_NAME, Agg
from streams.kpis.windows import PartitionWindows, Program

_Route = tuple[tuple[str, ...], str]
"""A dimension set and its key prefix ('kpi|' or 'kpi|dim=')."""
_Routes = tuple[tuple[tuple[int, ...], tuple[_Route, ...]], ...]
"""Window sizes, and the routes kept in each of them."""
_Plan = tuple[int, int, _Routes]
"""A KPI's vector width, settle ms and routes."""
_Step = tuple[tuple[str, ...], int, int, int, tuple[tuple[int, float], ...], tuple[int, ...]]
"""One `PartitionWindows.add` call: keys, width, attributed ms, settle ms, updates, sizes."""


class MetricsSink(Protocol):
    """Per-event Prometheus updates; `outputs/metrics.py` implements it, tests may ignore it."""

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None: ...

    def observe(self, name: str, labels: tuple[str, ...], value: float) -> None: ...


class NullMetrics:
    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        pass

    def observe(self, name: str, labels: tuple[str, ...], value: float) -> None:
        pass


def dims_part(dims: tuple[str, ...], values: dict[str, str]) -> str:
    """'dim=value,dim=value' (dimension names in catalog order): a KPI key is 'kpi|' and this."""
    return ",".join(f"{d}={values[d]}" for d in dims)


def parse_dims(key: str) -> tuple[str, dict[str, str]]:
    kpi, _, dims = key.partition("|")
    return kpi, dict(pair.split("=", 1) for pair in dims.split(",") if pair)


class Context:
    """Routes one KPI update to every dimension set it applies to, in every window size."""

    def __init__(
        self,
        windows: PartitionWindows,
        metrics: MetricsSink,
        all_sizes: tuple[int, ...],
        detailed_sizes: tuple[int, ...],
        kpis: tuple[str, ...] | None = None,
    ):
        self.windows = windows
        self.metrics = metrics
        self.all_sizes = all_sizes
        self.detailed_sizes = detailed_sizes
        # worked out once per KPI, not per update (formatting the keys anew was a third of the
        # core's time): vector width, settle ms, and its dimension sets' key prefixes by window sizes.
        # A KPI left out of `kpis` has no plan: its updates stop at the lookup.
        self._plans: dict[str, _Plan] = {}
        for kpi in KPI_BY_NAME.values():
            if kpis is None or kpi.name in kpis:
                routes = _by_sizes(
                    (dims, all_sizes if not dims else detailed_sizes, _prefix(kpi.name, dims)) for dims in kpi.dims
                )
                self._plans[kpi.name] = (kpi.width, int(kpi.settle_s * 1000), routes)
        self._fanouts: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]] = {}
        self._programs: dict[tuple[object, ...], Program] = {}
        self._recording: list[_Step] | None = None

    # -- recorded programs ------------------------------------------------------------
    def replay(self, signature: tuple[object, ...], t_ms: int) -> bool:
        """Apply the window additions recorded for `signature`, at `t_ms`; False when none are
        recorded yet: the caller then makes its updates between `record` and `recorded`.

        For updates that depend only on their signature and time (a payment's: about 30
        additions from its dimensions and flags, bounded by the contract's enums). Resolving
        each KPI's keys and groups anew per payment was 37% of the compiled core's
        instructions (callgrind, 2026-12-07); replayed, the payment is counted against each of
        its window groups, and the additions are made when a group is read (`Program`)."""
        program = self._programs.get(signature)
        if program is None:
            return False
        self.windows.count(program, t_ms)
        return True

    def record(self) -> None:
        self._recording = []

    def abandon(self) -> None:
        self._recording = None

    def recorded(self, signature: tuple[object, ...], t_ms: int) -> None:
        """Keep what was added since `record` as the program of `signature`."""
        steps, self._recording = self._recording or [], None
        if any(step[2] != t_ms for step in steps):  # a replay would move them to t_ms
            raise ValueError(f"a recorded update of {signature} is attributed to another time than {t_ms}")
        kpis = {parse_dims(key)[0] for step in steps for key in step[0]}
        fractional = {kpi for kpi in kpis if KPI_BY_NAME[kpi].agg in FRACTIONAL}
        if fractional:  # a deferred count is exact only where every addition is a whole number
            raise ValueError(f"{signature} records {', '.join(sorted(fractional))}, whose sums need not be whole")
        self._programs[signature] = self.windows.program(
            (keys, width, settle_ms, updates, sizes) for keys, width, _, settle_ms, updates, sizes in steps
        )

    def _add(
        self,
        plan: _Plan,
        values: dict[str, str],
        t_ms: int,
        updates: tuple[tuple[int, float], ...],
        only: tuple[str, ...] | None = None,
    ) -> None:
        width, settle_ms, by_sizes = plan
        add = self.windows.add
        for sizes, routes in by_sizes:  # one call per window sizes: a paid order's 4 keys of a KPI at once
            keys = []
            for dims, prefix in routes:
                if only is not None and dims != only:
                    continue
                if not dims:
                    keys.append(prefix)
                elif len(dims) == 1:
                    if dims[0] in values:
                        keys.append(prefix + str(values[dims[0]]))  # = prefix + dims_part(dims, values)
                elif all(d in values for d in dims):
                    keys.append(prefix + dims_part(dims, values))
            if keys:
                if self._recording is not None:
                    self._recording.append((tuple(keys), width, t_ms, settle_ms, updates, sizes))
                add(tuple(keys), width, t_ms, settle_ms, updates, sizes)

    def count(self, name: str, values: dict[str, str], t_ms: int, amount: float = 1.0) -> None:
        plan = self._plans.get(name)
        if plan is not None:
            self._add(plan, values, t_ms, ((0, amount),))

    def ratio(
        self,
        name: str,
        values: dict[str, str],
        t_ms: int,
        num: float,
        den: float = 1.0,
        only: tuple[str, ...] | None = None,
    ) -> None:
        """Add to numerator and denominator (a mean's sum and count); `only` restricts it to one
        dimension set."""
        plan = self._plans.get(name)
        if plan is not None and (num or den):
            self._add(plan, values, t_ms, _fraction(num, den), only)

    def ratio_total_and_each(self, name: str, dim: str, dim_values: tuple[str, ...], t_ms: int, den: float) -> None:
        """Add `den` to the denominator of the total's vector and of each of `dim`'s values'
        (a paid order is in every ticket reason's): each window group found once for all."""
        plan = self._plans.get(name)
        if plan is None:
            return
        fanout = self._fanouts.get((name, dim, dim_values))
        if fanout is None:
            fanout = self._fanouts[(name, dim, dim_values)] = _fanout(plan, dim, dim_values)
        width, settle_ms, _ = plan
        updates = ((1, den),)
        for sizes, keys in fanout:
            if self._recording is not None:
                self._recording.append((keys, width, t_ms, settle_ms, updates, sizes))
            self.windows.add(keys, width, t_ms, settle_ms, updates, sizes)

    def observe(self, name: str, values: dict[str, str], t_ms: int, seconds: float) -> None:
        kpi = KPI_BY_NAME[name]
        assert kpi.agg is Agg.HISTOGRAM
        plan = self._plans.get(name)
        if plan is not None:
            bucket = 2 + bisect_left(kpi.buckets, seconds)
            self._add(plan, values, t_ms, ((0, 1.0), (1, seconds), (bucket, 1.0)))


FRACTIONAL = (Agg.MEAN, Agg.HISTOGRAM)
"""Aggregations whose vectors take fractional amounts (a mean's sum, seconds): a recorded
program, counted and added later (`Program`), must not add to them, as other events' fractions
would then be summed in another order. Counts and ratios take whole numbers only."""


def _fraction(num: float, den: float) -> tuple[tuple[int, float], ...]:
    """A ratio's updates: numerator at 0, denominator at 1, a zero left out."""
    if not den:
        return ((0, num),)
    return ((0, num), (1, den)) if num else ((1, den),)


def _prefix(kpi: str, dims: tuple[str, ...]) -> str:
    return kpi + "|" + (f"{dims[0]}=" if len(dims) == 1 else "")


def _by_sizes(routes: Iterable[tuple[tuple[str, ...], tuple[int, ...], str]]) -> _Routes:
    """Each (dimension set, its window sizes, key prefix) by window size, sizes that share the
    same routes together: with totals in (1 min, 1 h) and dimensions in (1 h), the 1-h
    window's four keys go in one call, not four."""
    by_size: dict[int, list[_Route]] = {}
    for dims, sizes, prefix in routes:
        for size in sizes:
            by_size.setdefault(size, []).append((dims, prefix))
    sizes_of: dict[tuple[_Route, ...], list[int]] = {}
    for size, shared in by_size.items():
        sizes_of.setdefault(tuple(shared), []).append(size)
    return tuple((tuple(sizes), shared) for shared, sizes in sizes_of.items())


def _fanout(plan: _Plan, dim: str, dim_values: tuple[str, ...]) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
    """The keys of the total (no dimension) and of each value of `dim`, by the window sizes
    they are kept in, in the plan's route order."""
    fanout = []
    for sizes, routes in plan[2]:
        keys: list[str] = []
        for dims, prefix in routes:
            if dims == ():
                keys.append(prefix)
            elif dims == (dim,):
                keys.extend(prefix + value for value in dim_values)
        if keys:
            fanout.append((sizes, tuple(keys)))
    return tuple(fanout)
