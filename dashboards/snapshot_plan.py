"""What `cxkpi snapshot` draws when given only a Prometheus: defaults from the data it holds.

The range is where the worker's event time was advancing (a replay's whole run, a live
business's last 6 h); `$__rate_interval` is Grafana's (4 scrapes, or a step and a scrape), at least an
hour of event time in a replay;
`$compare` is the dashboard's default when the data reaches back that far, else the
longest option that does. In a replay both are event time converted at its pace.
"""

from __future__ import annotations

import math

from dashboards import grafana
from dashboards.prometheus_api import head_span, range_query, scrape_interval_s
from dashboards.snapshot import ALL, View, step_s
from dashboards.timeline import (
    NEWEST_EVENT,
    REPLAY_PACE,
    Timeline,
    active_range,
    capped,
    compare_choice,
)
from streams.durations import duration_s

HOUR_S = 3600.0
POINTS = 1000
"""Samples of the newest event time read to find the range and the pace."""
TAIL_SCRAPES = 10
"""Scrapes drawn after event time stopped: the windows the last events close."""


def compare_options() -> tuple[list[str], str]:
    """The dashboards' `compare` variable: its options and its default."""
    variable = next(v for v in grafana.FIXED_VARIABLES if v["name"] == "compare")
    return variable["query"].split(","), variable["current"]["value"]


def newest_event(url: str, start: float, end: float) -> list[tuple[float, float]]:
    step = max((end - start) / POINTS, 1.0)
    found = range_query(url, NEWEST_EVENT, start, end, step)
    return [(float(t), float(v)) for t, v in found[0]["values"]] if found else []


def timeline(url: str, range_s: float | None, scrape_s: float) -> Timeline:
    head = head_span(url)
    if head is None:
        raise RuntimeError("Prometheus holds no samples yet: run the demo or a worker first")
    start, end = capped(*head)
    points = newest_event(url, start, end)
    active = active_range(points, TAIL_SCRAPES * scrape_s)
    if active:
        start, end = active
    if range_s is not None:
        start = end - range_s
    wall, event = zip(*points, strict=True) if points else ((), ())
    return Timeline(start, end, tuple(wall), tuple(event))


def rate_interval_s(step_s: float, scrape_s: float, pace: float) -> float:
    """Grafana's $__rate_interval (a rate() window holding at least four scrapes), and in a
    replay at least an hour of event time: a few scrapes of a 600x replay are minutes of
    business, too few events for a rate that reads as one."""
    grafana = max(4 * scrape_s, step_s + scrape_s)
    event_hour = HOUR_S / pace if pace > REPLAY_PACE else 0.0
    return float(math.ceil(max(grafana, event_hour)))


def plan(url: str, range_s: float | None = None, rate_interval: str | None = None, compare: str | None = None) -> View:
    scrape_s = scrape_interval_s(url)
    line = timeline(url, range_s, scrape_s)
    step = step_s(line.start, line.end)
    rate_s = duration_s(rate_interval) if rate_interval else rate_interval_s(step, scrape_s, line.pace)
    options, default = compare_options()
    span_s = line.event_time(line.end) - line.event_time(line.start)
    chosen = compare or compare_choice(options, default, span_s)
    offset_s = max(round(duration_s(chosen) / line.pace), 1)
    variables = ALL | {"$__rate_interval": f"{rate_s:g}s", "$compare": f"{offset_s}s"}
    return View(line, variables, {"$compare": chosen}, window_floor_s=rate_s)
