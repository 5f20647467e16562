"""Every threshold, window, selector and SLO the rules and dashboards use: one place to tune.

Windows and `for:` durations are seconds. `scaled()` shrinks every window and duration of
the KPI alerts by one factor, so the demo and the end-to-end test run the very same
expressions against a scenario replayed faster than real time. Minimum volumes are counts
of events over an alert's short window and are not scaled: a handful of events is a
handful at any pace.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prometheus_client.utils import floatToGoString

HOUR = 3600
MINUTE = 60
REPLAY_EVALUATION_INTERVAL_S = 1
"""The local stacks (`cxkpi demo`, the end-to-end tests: `streams.local.monitoring`) scrape and
evaluate rules every second."""
WALL_CLOCK = frozenset(
    {"down_for_s", "startup_grace_s", "absent_for_s", "stall_window_s", "stall_for_s", "lag_compare_s", "lag_for_s"}
)
"""The processor alerts' windows and durations: they judge the worker on the wall clock,
which a replay does not speed up (a start-up, a recovery or a rebalance takes as long at
any pace), so `scaled()` leaves them as they are."""


@dataclass(frozen=True)
class BurnWindow:
    long_s: int
    short_s: int
    factor: float


@dataclass(frozen=True)
class Slo:
    name: str
    objective: float
    """Share of events that must be good (e.g. 0.95)."""
    threshold_s: float
    """An event is good when it took at most this long (a histogram bucket edge)."""


@dataclass(frozen=True)
class Config:
    job: str = "cxkpi"
    """Prometheus job of the workers."""
    runbook_base: str = "https://git.example.com/cxkpi/blob/main/dashboards/runbook.md"
    """Where dashboards/runbook.md is served; each alert links to its own section."""
    scale: float = 1.0
    """1.0 in production; the end-to-end test divides every window by its replay speed."""
    evaluation_interval_s: int = 15
    """Prometheus's rule evaluation interval (dashboards/prometheus/prometheus.yml): every `for:`
    and `keep_firing_for:` is at least two of them, so one evaluation never pages."""
    baseline_coverage: float = 0.5
    """A relative alert fires only once cxkpi's input has been counted over this share of its
    baseline window (back from the window's end): a young Prometheus or pipeline has no
    baseline, and a stream that starts from nothing ramps up (the first exceptions, tickets and
    slow shipments of a new platform or a replay) against averages of almost nothing."""

    ship_slo: Slo = Slo("ship_within_48h", 0.95, 172800.0)
    """In-stock shipments that left within 48 h of payment (by shipment time)."""
    response_slo: Slo = Slo("first_response_within_1h", 0.95, 3600.0)
    """Help requests answered within an hour, per handler (merchant, platform)."""
    page_burn: tuple[BurnWindow, ...] = (BurnWindow(HOUR, 5 * MINUTE, 14.4), BurnWindow(6 * HOUR, 30 * MINUTE, 6.0))
    ticket_burn: tuple[BurnWindow, ...] = (BurnWindow(24 * HOUR, 2 * HOUR, 3.0), BurnWindow(72 * HOUR, 6 * HOUR, 1.0))
    burn_min_events: int = 50
    """Minimum volume of a burn-rate window pair: events over its short window (per handler for
    first responses). 3 shipments with 1 late is a 33% error ratio and no incident."""
    page_burn_for_s: int = 2 * MINUTE
    ticket_burn_for_s: int = HOUR

    delay_short_s: int = 5 * MINUTE
    delay_baseline_s: int = HOUR
    delay_factor: float = 5.0
    """A carrier's in-transit exceptions over the short window against its own previous hour."""
    delay_min_exceptions: int = 20
    """Minimum volume: the carrier's exceptions over the short window."""
    delay_for_s: int = 2 * MINUTE
    delay_keep_firing_s: int = 30 * MINUTE
    """Hysteresis: an outage's exceptions come in waves (the parcels in its network stall within
    the hour, then nothing moves); the page stays until the carrier has been quiet this long."""

    tail_short_s: int = 30 * MINUTE
    tail_baseline_s: int = 6 * HOUR
    tail_factor: float = 1.5
    tail_floor_seconds: float = 24 * HOUR
    tail_min_shipments: int = 200
    """Minimum volume: shipments over the short window (a p90 of a few is noise)."""
    tail_for_s: int = 15 * MINUTE

    overdue_min: int = 100
    """Minimum volume: overdue orders, before growth counts."""
    overdue_growth: float = 2.0
    overdue_compare_s: int = HOUR
    overdue_for_s: int = 15 * MINUTE

    burst_compare_s: int = 30 * MINUTE
    burst_for_s: int = 10 * MINUTE
    burst_info_for_s: int = MINUTE

    help_short_s: int = 15 * MINUTE
    help_baseline_s: int = HOUR
    """Against the hour before: a surge follows its carrier outage or burst within the hour, and
    a longer mean would take the daily rise of questions each morning for a surge."""
    help_factor: float = 3.0
    help_min_requests: int = 45
    """Minimum volume: shipping help requests over the short window (0.05/s)."""
    help_for_s: int = 15 * MINUTE
    help_keep_firing_s: int = 30 * MINUTE

    down_for_s: int = 2 * MINUTE
    startup_grace_s: int = 5 * MINUTE
    """A target Prometheus has known for less than this (a worker starting, a fresh Prometheus)
    is not down yet: the first scrapes of a starting worker fail."""
    absent_for_s: int = 10 * MINUTE
    """No worker target at all (service discovery lost them); a fresh Prometheus has none for
    one interval, before its first scrape."""
    stall_window_s: int = 5 * MINUTE
    stall_for_s: int = 5 * MINUTE
    lag_min_records: int = 10000
    """Minimum volume: records waiting, before growth counts."""
    lag_compare_s: int = 10 * MINUTE
    lag_for_s: int = 10 * MINUTE
    reject_ratio: float = 0.01
    reject_min_records: int = 100
    """Minimum volume: rejected records over the window."""
    reject_window_s: int = 10 * MINUTE
    reject_for_s: int = 10 * MINUTE

    def scaled(self, factor: float, evaluation_interval_s: int = REPLAY_EVALUATION_INTERVAL_S) -> Config:
        """The KPI alerts' windows and durations shrunk `factor` times, for a stack that evaluates
        rules every `evaluation_interval_s` (replays). `for:` and `keep_firing_for:` stay at two
        evaluations at least; the processor alerts' wall-clock timings (`WALL_CLOCK`) and every
        minimum volume stay as they are."""
        changes: dict[str, object] = {"scale": self.scale * factor, "evaluation_interval_s": evaluation_interval_s}
        for name, value in vars(self).items():
            if name.endswith("_s") and isinstance(value, int) and name not in WALL_CLOCK | {"evaluation_interval_s"}:
                changes[name] = max(int(value / factor), 1)
        changes["page_burn"] = tuple(_scale_burn(b, factor) for b in self.page_burn)
        changes["ticket_burn"] = tuple(_scale_burn(b, factor) for b in self.ticket_burn)
        return replace(self, **changes)._clamped()  # type: ignore[arg-type]

    def _clamped(self) -> Config:
        """Every `for:` and `keep_firing_for:` (when set) at least two evaluation intervals."""
        least = 2 * self.evaluation_interval_s
        changes = {
            name: max(value, least)
            for name, value in vars(self).items()
            if name.endswith(("_for_s", "_keep_firing_s")) and isinstance(value, int) and value > 0
        }
        return replace(self, **changes)  # type: ignore[arg-type]


def _scale_burn(b: BurnWindow, factor: float) -> BurnWindow:
    return BurnWindow(max(int(b.long_s / factor), 1), max(int(b.short_s / factor), 1), b.factor)


def duration(seconds: int) -> str:
    """Prometheus duration: the largest unit that divides it (3600 -> 1h, 90 -> 90s)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def le_label(seconds: float) -> str:
    """A histogram bucket's `le` label exactly as prometheus_client writes it (172800.0 -> '172800.0')."""
    return str(floatToGoString(seconds))  # type: ignore[no-untyped-call]


PRODUCTION = Config()
