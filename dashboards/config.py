"""Every threshold, window, selector and SLO the rules and dashboards use: one place to tune.

Windows and `for:` durations are seconds. `scaled()` shrinks every window, duration and
rate floor by one factor, so the end-to-end test can run the very same expressions against
a scenario replayed faster than real time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prometheus_client.utils import floatToGoString

HOUR = 3600
MINUTE = 60


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

    ship_slo: Slo = Slo("ship_within_48h", 0.95, 172800.0)
    """In-stock shipments that left within 48 h of payment (by shipment time)."""
    response_slo: Slo = Slo("first_response_within_1h", 0.95, 3600.0)
    """Help requests answered within an hour, per handler (merchant, platform)."""
    page_burn: tuple[BurnWindow, ...] = (BurnWindow(HOUR, 5 * MINUTE, 14.4), BurnWindow(6 * HOUR, 30 * MINUTE, 6.0))
    ticket_burn: tuple[BurnWindow, ...] = (BurnWindow(24 * HOUR, 2 * HOUR, 3.0), BurnWindow(72 * HOUR, 6 * HOUR, 1.0))
    page_burn_for_s: int = 2 * MINUTE
    ticket_burn_for_s: int = HOUR

    delay_short_s: int = 5 * MINUTE
    delay_baseline_s: int = HOUR
    delay_factor: float = 5.0
    delay_min_per_s: float = 0.02
    """A carrier's in-transit exceptions over the short window against its own previous hour."""
    delay_for_s: int = 2 * MINUTE

    tail_short_s: int = 30 * MINUTE
    tail_baseline_s: int = 6 * HOUR
    tail_factor: float = 1.5
    tail_floor_seconds: float = 24 * HOUR
    tail_for_s: int = 15 * MINUTE

    overdue_min: int = 100
    overdue_growth: float = 2.0
    overdue_compare_s: int = HOUR
    overdue_for_s: int = 15 * MINUTE

    burst_compare_s: int = 30 * MINUTE
    burst_for_s: int = 10 * MINUTE

    help_short_s: int = 15 * MINUTE
    help_baseline_s: int = 6 * HOUR
    help_factor: float = 3.0
    help_min_per_s: float = 0.05
    help_for_s: int = 15 * MINUTE

    down_for_s: int = 2 * MINUTE
    stall_window_s: int = 5 * MINUTE
    stall_for_s: int = 5 * MINUTE
    lag_min_records: int = 10000
    lag_compare_s: int = 10 * MINUTE
    lag_for_s: int = 10 * MINUTE
    reject_ratio: float = 0.01
    reject_window_s: int = 10 * MINUTE
    reject_for_s: int = 10 * MINUTE

    def scaled(self, factor: float) -> Config:
        """Every window, duration and per-second floor shrunk `factor` times (for replays)."""
        changes: dict[str, object] = {"scale": self.scale * factor}
        for name, value in vars(self).items():
            if name.endswith("_s") and isinstance(value, int):
                changes[name] = max(int(value / factor), 1)
            elif name.endswith("_per_s"):
                changes[name] = value * factor
        changes["page_burn"] = tuple(_scale_burn(b, factor) for b in self.page_burn)
        changes["ticket_burn"] = tuple(_scale_burn(b, factor) for b in self.ticket_burn)
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
