"""Which alerts fired during a run, from Prometheus's `ALERTS` series: the demo's summary.

An alert of the demo can fire for seconds (an hour-long burst is 6 s at 600x), and
Prometheus's alerts page shows only what fires now; the `ALERTS` series keeps each evaluation
at which an alert was firing, so the summary can say what fired, when and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dashboards.prometheus_api import range_query

FIRING = 'ALERTS{alertstate="firing"}'
MAX_POINTS = 10_000
"""Below Prometheus's 11,000 points per series of a range query."""


@dataclass(frozen=True)
class Fired:
    alert: str
    severity: str
    first_s: float
    """Unix time of the first evaluation that found it firing."""
    firing_s: float
    """Evaluations found firing times the query's step: about how long it fired, in all."""


def fired_alerts(prometheus_url: str, start_s: float, end_s: float) -> list[Fired]:
    """Each alert that fired between `start_s` and `end_s` (any of its label sets), first first."""
    step_s = max(1.0, (end_s - start_s) / MAX_POINTS)
    seen: dict[tuple[str, str], set[float]] = {}
    for series in range_query(prometheus_url, FIRING, start_s, end_s, step_s):
        labels = series["metric"]
        times = seen.setdefault((labels["alertname"], labels.get("severity", "")), set())
        times.update(float(t) for t, _ in series["values"])
    fired = [Fired(alert, severity, min(times), len(times) * step_s) for (alert, severity), times in seen.items()]
    return sorted(fired, key=lambda f: (f.first_s, f.alert))


def describe(fired: list[Fired]) -> str:
    """One line for the demo's summary."""
    if not fired:
        return "alerts fired: none"
    each = [
        f"{f.alert} ({f.severity or 'no severity'}) for {f.firing_s:.0f} s from "
        f"{datetime.fromtimestamp(f.first_s, UTC):%H:%M:%S} UTC"
        for f in fired
    ]
    return "alerts fired: " + "; ".join(each) + " (Prometheus's ALERTS series; its alerts page shows what fires now)"
