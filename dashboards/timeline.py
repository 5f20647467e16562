"""When the data a Prometheus holds happened: the wall-time range to draw and its event time.

A replay (the demo streams 48 h of business in 5 min) is scraped in wall time while its
events carry event time. The worker's newest event time, scraped beside everything else,
maps one onto the other: the snapshots draw event time on the x axis, divide wall-time
rates by the pace, and shrink the dashboards' fixed windows (`[1h]`, `$compare`) so an
hour in a query is an hour of the business, not an hour of the replay.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from streams.durations import UNIT_S, duration_s

NEWEST_EVENT = 'max(cxkpi_last_event_timestamp_seconds{job="cxkpi"})'
MAX_RANGE_S = 6 * 3600.0
"""The dashboards' default time range (now-6h) caps what is drawn from a long-lived Prometheus."""
REPLAY_PACE = 1.5
"""Event time running this much faster than wall time is a replay, not a live business."""
_WINDOW = re.compile(r"\[(\d+)([smhdw])\]")


@dataclass(frozen=True)
class Timeline:
    """Wall-time range [start, end] and the newest event time seen at wall times `wall`."""

    start: float
    end: float
    wall: tuple[float, ...] = ()
    event: tuple[float, ...] = ()

    @property
    def pace(self) -> float:
        return pace_of(list(zip(self.wall, self.event, strict=True)))

    @property
    def replay(self) -> bool:
        return self.pace > REPLAY_PACE

    def event_time(self, wall_s: float) -> float:
        """Linear between the samples, flat beyond them; wall time itself without a replay."""
        if not self.replay:
            return wall_s
        i = bisect.bisect_left(self.wall, wall_s)
        if i == 0:
            return self.event[0]
        if i == len(self.wall):
            return self.event[-1]
        w0, w1, e0, e1 = self.wall[i - 1], self.wall[i], self.event[i - 1], self.event[i]
        return e0 + (e1 - e0) * (wall_s - w0) / (w1 - w0)


def pace_of(points: Sequence[tuple[float, float]]) -> float:
    """Event seconds per wall second while event time advanced (at least 1: a live business)."""
    advancing = [points[0]] if points else []
    advancing += [b for a, b in itertools.pairwise(points) if b[1] > a[1]]
    if len(advancing) < 2 or advancing[-1][0] <= advancing[0][0]:
        return 1.0
    (w0, e0), (w1, e1) = advancing[0], advancing[-1]
    return max((e1 - e0) / (w1 - w0), 1.0)


def active_range(points: Sequence[tuple[float, float]], margin_s: float) -> tuple[float, float] | None:
    """From the first sample to `margin_s` after event time last advanced: a finished replay's
    idle tail (rates 0, ratios 0/0) is not what a snapshot is for."""
    if not points:
        return None
    last_advance = points[0][0]
    for a, b in itertools.pairwise(points):
        if b[1] > a[1]:
            last_advance = b[0]
    return points[0][0], min(points[-1][0], last_advance + margin_s)


def capped(start: float, end: float, max_range_s: float = MAX_RANGE_S) -> tuple[float, float]:
    return max(start, end - max_range_s), end


def scale_windows(expr: str, pace: float, floor_s: float) -> str:
    """Fixed range windows (`[1h]`) as event time at this pace, never shorter than `floor_s`
    (a window must hold two scrapes for rate())."""
    if pace <= REPLAY_PACE:
        return expr
    return _WINDOW.sub(lambda m: f"[{wall_seconds(m, pace, floor_s)}s]", expr)


def wall_seconds(match: re.Match[str], pace: float, floor_s: float) -> int:
    event_s = int(match.group(1)) * UNIT_S[match.group(2)]
    return round(max(event_s / pace, floor_s))


def compare_choice(options: Sequence[str], default: str, span_s: float) -> str:
    """The comparison period: the dashboard's default when the data reaches that far back
    (plus the hour compared), else the longest option that does, else half the span."""
    fitting = [o for o in options if duration_s(o) + 3600 <= span_s]
    if default in fitting:
        return default
    if fitting:
        return max(fitting, key=duration_s)
    half_min = max(round(span_s / 2 / 60), 1)
    return f"{half_min // 60}h" if half_min >= 120 else f"{half_min}m"
