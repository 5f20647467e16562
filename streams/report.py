"""Period-over-period KPIs from `kpi.windows` records, as the platform reports them.

Each headline aggregates the hourly (detailed) windows whose start falls in a period,
weighted by each window's count, so the period value equals the value over all of its
events: ratios as sum(num)/sum(den), means as sum(sum)/sum(count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Headline:
    label: str
    kpi: str
    dims: dict[str, str]
    scale: float = 1.0
    """Multiplies the value for display (seconds -> hours)."""
    unit: str = ""


HEADLINES = (
    Headline("48 h ship rate", "ship_within_48h_ratio", {}, 100.0, "%"),
    Headline("mean time to ship", "time_to_ship_cohort_seconds_mean", {}, 1 / 3600, "h"),
    Headline("shipped later than promised", "shipped_late_ratio", {}, 100.0, "%"),
    Headline("shipping help requests / 1k orders", "help_requests_cohort_per_1k_orders", {"reason": "shipping"}),
    Headline("all help requests / 1k orders", "help_requests_cohort_per_1k_orders", {}),
    Headline("merchant first response", "first_response_seconds_mean", {"handled_by": "merchant"}, 1 / 60, "min"),
    Headline("platform first response", "first_response_seconds_mean", {"handled_by": "platform"}, 1 / 60, "min"),
    Headline("complaint rate", "complaint_ratio", {}, 100.0, "%"),
    Headline("satisfaction (1-5)", "satisfaction_mean", {}),
    Headline("express-refund eligible", "express_refund_eligible_ratio", {}, 100.0, "%"),
    Headline("refund request to money", "refund_completion_seconds_mean", {}, 1 / 3600, "h"),
    Headline("negative feedback / 1k creator-sold", "negative_feedback_per_1k_orders", {"seller": "creator"}),
    Headline("negative feedback / 1k merchant-sold", "negative_feedback_per_1k_orders", {"seller": "merchant"}),
)


@dataclass(frozen=True)
class Period:
    """A headline's value over one period, and how far it can be trusted."""

    value: float | None
    windows: int
    """Hourly windows with data in the period."""
    provisional: int
    """Of those, windows whose payment cohorts have not settled (`final: false`): their value so far,
    refreshed as the cohort moves, which can still change."""
    closed_through: int | None
    """End of the KPI's newest hourly window anywhere (any dimensions): the period is open
    until it reaches the period's end."""

    def status(self, end: int) -> str:
        if not self.windows:
            return "no data"
        if self.provisional:
            return "provisional"
        if self.closed_through is None or self.closed_through < end:
            return "open"
        return "final"


def period(windows: Iterable[dict[str, Any]], kpi: str, dims: dict[str, str], start: int, end: int) -> Period:
    weight = total = 0.0
    count = provisional = 0
    closed_through: int | None = None
    for w in windows:
        if w["kpi"] != kpi or w["window_end"] - w["window_start"] != HOUR_MS:
            continue
        if closed_through is None or w["window_end"] > closed_through:
            closed_through = w["window_end"]
        if w["dimensions"] == dims and start <= w["window_start"] < end and w["value"] is not None:
            weight += w["count"]
            total += w["value"] * w["count"]
            count += 1
            provisional += not w["final"]
    return Period(total / weight if weight else None, count, provisional, closed_through)


def period_value(
    windows: Iterable[dict[str, Any]], kpi: str, dims: dict[str, str], start: int, end: int
) -> float | None:
    return period(windows, kpi, dims, start, end).value


def report_rows(
    windows: list[dict[str, Any]], baseline: tuple[int, int], current: tuple[int, int]
) -> list[dict[str, Any]]:
    rows = []
    for h in HEADLINES:
        base_period = period(windows, h.kpi, h.dims, *baseline)
        cur_period = period(windows, h.kpi, h.dims, *current)
        base, cur = base_period.value, cur_period.value
        rows.append(
            {
                "metric": h.label,
                "kpi": h.kpi,
                "dimensions": h.dims,
                "unit": h.unit,
                "baseline": None if base is None else base * h.scale,
                "current": None if cur is None else cur * h.scale,
                "change": None if base is None or cur is None else (cur - base) * h.scale,
                "relative_change": None if not base or cur is None else (cur - base) / base,
                "baseline_status": base_period.status(baseline[1]),
                "current_status": cur_period.status(current[1]),
            }
        )
    return rows


STATUS_LEGEND = (
    "provisional: the value so far; its payment cohorts settle 48 h or 7 days after their hour and are "
    "refreshed as their orders ship until then (a share within a deadline can only rise)",
    "open: the KPI's windows are closed only up to before the period's end (the watermark has not passed it)",
)


def render(rows: list[dict[str, Any]], late_updates: str | None = None) -> str:
    """The table; a status column names every value that is not final, with a legend below."""

    def fmt(x: float | None, signed: bool = False) -> str:
        if x is None:
            return "n/a"
        return f"{x:+.2f}" if signed else f"{x:.2f}"

    lines = [f"{'metric':38} {'unit':>4} {'baseline':>10} {'current':>10} {'change':>10} {'relative':>9}  status"]
    shown: set[str] = set()
    for r in rows:
        rel = "n/a" if r["relative_change"] is None else f"{r['relative_change'] * 100:+.1f}%"
        lines.append(
            f"{r['metric']:38} {r['unit']:>4} {fmt(r['baseline']):>10} {fmt(r['current']):>10} "
            f"{fmt(r['change'], signed=True):>10} {rel:>9}  {_status(r, shown)}"
        )
    lines += [f"  {legend}" for legend in STATUS_LEGEND if legend.split(":")[0] in shown]
    if late_updates is not None:
        lines.append(late_updates)
    return "\n".join(lines)


def _status(row: dict[str, Any], shown: set[str]) -> str:
    base, cur = str(row["baseline_status"]), str(row["current_status"])
    if base == cur:
        shown.add(base)
        return base
    shown.update((base, cur))
    return f"baseline {base}, current {cur}"
