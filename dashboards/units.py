"""Grafana unit ids as a person reads them: a scale and a label for an axis, text for a stat.

The snapshots draw panels without Grafana, so they must do what Grafana's unit formatting
does: seconds of time to ship become hours, ratios percent, rates per minute. Rates measured
over a replay's wall time are divided by its pace (event seconds per wall second), so they
read as the business's rates in event time, not the replay's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

RATE_UNITS = {"reqps": 60.0, "opm": 1.0}
"""Rate units and the factor to per minute: Prometheus's rate() is per second of wall time."""
TIME_UNITS = (("d", 86_400.0, 172_800.0), ("h", 3_600.0, 7_200.0), ("min", 60.0, 120.0))
"""(label, seconds in one, the smallest largest value shown in it): 80,000 s reads 22 h."""


@dataclass(frozen=True)
class Scale:
    """Multiply values by `factor`; `label` names the unit of the result ("" for a plain count)."""

    factor: float
    label: str


def time_scale(largest_s: float) -> Scale:
    for label, seconds, from_s in TIME_UNITS:
        if largest_s >= from_s:
            return Scale(1 / seconds, label)
    return Scale(1.0, "s")


def rate_label(pace: float) -> str:
    if pace > 1.5:
        return "per min of event time"
    return "per min"


def scale_for(unit: str, values: Iterable[float], pace: float = 1.0) -> Scale:
    """How to draw a panel's values in `unit`, from the values themselves (as Grafana picks h or s)."""
    if unit == "s":
        finite = [abs(v) for v in values if math.isfinite(v)]
        return time_scale(max(finite, default=0.0))
    if unit == "percentunit":
        return Scale(100.0, "%")
    if unit in RATE_UNITS:
        return Scale(RATE_UNITS[unit] / pace, rate_label(pace))
    return Scale(1.0, "")


def number(value: float) -> str:
    """3 significant digits, thousands separated, never an exponent: 74,880, 7.49, 0.0123, 1."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000 or value == int(value):  # a count (workers up) reads as one
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


MINUS = "\u2212"
"""The minus sign a signed change shows (−10 h), as wide as its plus: a hyphen reads as a dash."""


def stat_text(unit: str, value: float, pace: float = 1.0, signed: bool = False) -> str:
    """A stat panel's value with its unit: "7.84 h", "98.4 %", "2.26"; `signed` (a change
    against another period) gives it a sign either way: "+14.2 %", "−10 h", a plain "0 %"."""
    scale = scale_for(unit, [value], pace)
    if not signed or not math.isfinite(value) or value == 0:
        return f"{number(value * scale.factor)} {scale.label}".strip()
    sign = "+" if value > 0 else MINUS
    return f"{sign}{number(abs(value) * scale.factor)} {scale.label}".strip()
