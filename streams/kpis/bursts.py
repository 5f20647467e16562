"""Order bursts (爆单): a merchant's order rate against its own recent baseline, in event time.

Stage one counts each merchant's paid orders per one-minute window (per livestream) beside
the KPI partials; stage two merges every partition's counts, so the detector sees the
merchant's whole order flow, once, in window order, whatever the partitioning. Pure logic:
no clock, no Kafka.

A burst starts when the last `SHORT_MS` hold at least `MIN_ORDERS` orders at a rate of
`START_FACTOR` times the merchant's rate over the `BASELINE_MS` before them (never below
`BASELINE_FLOOR_PER_MIN`, so a quiet shop's first few orders are no burst). The baseline
is frozen while the burst lasts (it would otherwise absorb it); the burst ends when the
rate falls under `END_FACTOR` times it, or the short span holds under half of `MIN_ORDERS`
(a quiet shop's ordinary trickle must not keep a burst alive). Nothing is flagged until the detector has seen a
whole baseline span of the stream: at start-up every merchant's history is empty.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

BURST_WINDOW_MS = 60_000
SHORT_MS = 5 * 60_000
BASELINE_MS = 60 * 60_000
START_FACTOR = 5.0
END_FACTOR = 2.0
MIN_ORDERS = 20
BASELINE_FLOOR_PER_MIN = 0.2

_MINUTE_MS = 60_000


def merchant_key(merchant_id: str, livestream_id: str | None) -> str:
    """Key of a merchant's order count among a window's partials.

    A JSON array, so it starts with '[' and can never be taken for a KPI key ('kpi|dims'),
    whatever characters the ids hold."""
    return orjson.dumps([merchant_id, livestream_id]).decode()


def is_merchant_key(key: str) -> bool:
    return key.startswith("[")


def parse_merchant_key(key: str) -> tuple[str, str | None]:
    merchant_id, livestream_id = orjson.loads(key)
    return merchant_id, livestream_id


MerchantCounts = dict[tuple[str, str | None], int]
"""(merchant, livestream or None) -> orders paid in one window."""


@dataclass(frozen=True)
class BurstAlert:
    phase: str
    """'started' or 'ended'."""
    merchant_id: str
    livestream_id: str | None
    event_time: int
    """End of the window in which it was detected."""
    rate_per_min: float
    baseline_per_min: float
    burst_orders: int
    """Orders the merchant took since the burst started (the short span that triggered it included)."""


@dataclass
class _Burst:
    started: int
    baseline: float
    orders: int
    livestream_id: str | None


@dataclass
class _Merchant:
    minutes: deque[tuple[int, int]] = field(default_factory=deque)
    """(window start, orders) of the last SHORT_MS + BASELINE_MS."""
    minute_livestreams: deque[tuple[int, str | None, int]] = field(default_factory=deque)
    """(window start, livestream or None, orders) over the same span."""


@dataclass
class BurstDetector:
    merchants: dict[str, _Merchant] = field(default_factory=dict)
    active: dict[str, _Burst] = field(default_factory=dict)
    first_start: int | None = None
    last_start: int | None = None

    def on_window(self, start_ms: int, counts: MerchantCounts) -> list[BurstAlert]:
        """Feed one final one-minute window (in window order); returns bursts started or ended."""
        if self.last_start is not None and start_ms <= self.last_start:
            return []  # a re-delivered window: its counts are in already
        self.last_start = start_ms
        if self.first_start is None:
            self.first_start = start_ms
        end = start_ms + BURST_WINDOW_MS
        window_orders: dict[str, int] = {}
        for (merchant_id, livestream_id), n in counts.items():
            m = self.merchants.setdefault(merchant_id, _Merchant())
            if not m.minutes or m.minutes[-1][0] != start_ms:
                m.minutes.append((start_ms, 0))
            m.minutes[-1] = (start_ms, m.minutes[-1][1] + n)
            m.minute_livestreams.append((start_ms, livestream_id, n))
            window_orders[merchant_id] = window_orders.get(merchant_id, 0) + n
        warmed_up = end - self.first_start >= SHORT_MS + BASELINE_MS
        short_from = end - SHORT_MS
        alerts: list[BurstAlert] = []
        # every merchant with orders in the last SHORT_MS + BASELINE_MS, each minute: a shop with
        # no new orders can still start a burst as old orders leave its baseline
        for merchant_id in list(self.merchants):
            m = self.merchants[merchant_id]
            _forget_before(m, short_from - BASELINE_MS)
            recent = _orders_since(m, short_from)
            rate = recent * _MINUTE_MS / SHORT_MS
            burst = self.active.get(merchant_id)
            if burst is not None:
                burst.orders += window_orders.get(merchant_id, 0)
                if rate < END_FACTOR * max(burst.baseline, BASELINE_FLOOR_PER_MIN) or recent < MIN_ORDERS / 2:
                    del self.active[merchant_id]
                    alerts.append(
                        BurstAlert("ended", merchant_id, burst.livestream_id, end, rate, burst.baseline, burst.orders)
                    )
            elif warmed_up and recent >= MIN_ORDERS:
                before = sum(n for t, n in m.minutes if t < short_from)
                baseline = before * _MINUTE_MS / BASELINE_MS
                if rate >= START_FACTOR * max(baseline, BASELINE_FLOOR_PER_MIN):
                    livestream_id = _top_livestream(m, end - SHORT_MS)
                    self.active[merchant_id] = _Burst(end, baseline, recent, livestream_id)
                    alerts.append(BurstAlert("started", merchant_id, livestream_id, end, rate, baseline, recent))
            if not m.minutes and merchant_id not in self.active:
                del self.merchants[merchant_id]
        return alerts

    # -- durability: stage two persists the detector once per window -----------------------
    def snapshot(self) -> dict[str, Any]:
        """The detector's whole state, JSON-ready (restored by `restore`)."""
        return {
            "merchants": {
                k: [list(m.minutes), list(m.minute_livestreams)]
                for k, m in self.merchants.items()  # tuples: JSON arrays
            },
            "active": {k: [b.started, b.baseline, b.orders, b.livestream_id] for k, b in self.active.items()},
            "first_start": self.first_start,
            "last_start": self.last_start,
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> BurstDetector:
        merchants = {
            k: _Merchant(deque((t, n) for t, n in minutes), deque((t, ls, n) for t, ls, n in streams))
            for k, (minutes, streams) in snapshot["merchants"].items()
        }
        active = {k: _Burst(*burst) for k, burst in snapshot["active"].items()}
        return cls(merchants, active, snapshot["first_start"], snapshot["last_start"])


def _forget_before(m: _Merchant, horizon_ms: int) -> None:
    while m.minutes and m.minutes[0][0] < horizon_ms:
        m.minutes.popleft()
    while m.minute_livestreams and m.minute_livestreams[0][0] < horizon_ms:
        m.minute_livestreams.popleft()


def _orders_since(m: _Merchant, since_ms: int) -> int:
    """Orders in the minutes from `since_ms` on: the newest few, read from the end."""
    total = 0
    for t, n in reversed(m.minutes):
        if t < since_ms:
            break
        total += n
    return total


def _top_livestream(m: _Merchant, since_ms: int) -> str | None:
    """The livestream that brought most of the recent orders (None: no livestream did)."""
    recent: dict[str | None, int] = {}
    for t, livestream_id, n in m.minute_livestreams:
        if t >= since_ms:
            recent[livestream_id] = recent.get(livestream_id, 0) + n
    best = max(recent.items(), key=lambda item: (item[1], item[0] is not None), default=(None, 0))
    return best[0]
