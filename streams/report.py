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


def period_value(
    windows: Iterable[dict[str, Any]], kpi: str, dims: dict[str, str], start: int, end: int
) -> float | None:
    weight = total = 0.0
    for w in windows:
        if (
            w["kpi"] == kpi
            and w["dimensions"] == dims
            and w["window_end"] - w["window_start"] == HOUR_MS
            and start <= w["window_start"] < end
            and w["value"] is not None
        ):
            weight += w["count"]
            total += w["value"] * w["count"]
    return total / weight if weight else None


def report_rows(
    windows: list[dict[str, Any]], baseline: tuple[int, int], current: tuple[int, int]
) -> list[dict[str, Any]]:
    rows = []
    for h in HEADLINES:
        base = period_value(windows, h.kpi, h.dims, *baseline)
        cur = period_value(windows, h.kpi, h.dims, *current)
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
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    def fmt(x: float | None, signed: bool = False) -> str:
        if x is None:
            return "n/a"
        return f"{x:+.2f}" if signed else f"{x:.2f}"

    lines = [f"{'metric':38} {'unit':>4} {'baseline':>10} {'current':>10} {'change':>10} {'relative':>9}"]
    for r in rows:
        rel = "n/a" if r["relative_change"] is None else f"{r['relative_change'] * 100:+.1f}%"
        lines.append(
            f"{r['metric']:38} {r['unit']:>4} {fmt(r['baseline']):>10} {fmt(r['current']):>10} "
            f"{fmt(r['change'], signed=True):>10} {rel:>9}"
        )
    return "\n".join(lines)
