"""Plain, independent KPI computations over lists of events, for checking the real code.

Written the obvious way on purpose: loops over dicts, no shared code with `streams/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HOUR_MS = 3_600_000
PROMISE_MS = 48 * HOUR_MS


def orders_by_id(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per order: the paid event plus the first time of each later milestone."""
    orders: dict[str, dict[str, Any]] = {}
    later: list[dict[str, Any]] = []
    for e in events:
        if e["event_type"] == "order.paid":
            orders[e["order_id"]] = {"paid": e, "shipped_ms": None, "closed_ms": None, "first_response": []}
        else:
            later.append(e)
    for e in later:
        order = orders.get(e.get("order_id") or "")
        if order is None:
            continue
        t = e["event_time"]
        if e["event_type"] == "shipment.shipped":
            order["shipped_ms"] = t if order["shipped_ms"] is None else min(order["shipped_ms"], t)
        elif e["event_type"] in ("order.cancelled", "refund.completed"):
            order["closed_ms"] = t if order["closed_ms"] is None else min(order["closed_ms"], t)
    return orders


def ship_rate_48h(orders: Iterable[dict[str, Any]]) -> float:
    cohort = within = 0
    for o in orders:
        paid = o["paid"]
        if paid["presale"]:
            continue
        t0 = paid["event_time"]
        shipped = o["shipped_ms"]
        closed_unshipped = o["closed_ms"] is not None and (shipped is None or o["closed_ms"] < shipped)
        if closed_unshipped and o["closed_ms"] - t0 <= PROMISE_MS:
            continue
        cohort += 1
        if shipped is not None and shipped - t0 <= PROMISE_MS:
            within += 1
    return within / cohort


def mean_time_to_ship_h(orders: Iterable[dict[str, Any]]) -> float:
    hours = [
        (o["shipped_ms"] - o["paid"]["event_time"]) / HOUR_MS
        for o in orders
        if not o["paid"]["presale"] and o["shipped_ms"] is not None
    ]
    return sum(hours) / len(hours)


def tickets_by_order(events: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["event_type"].startswith("ticket.") and e.get("order_id"):
            out.setdefault(e["order_id"], []).append(e)
    return out


def shipping_tickets_per_1k(orders: dict[str, dict[str, Any]], tickets: dict[str, list[dict[str, Any]]]) -> float:
    """Shipping help requests about these orders, per 1,000 of them."""
    n = sum(
        1
        for order_id in orders
        for t in tickets.get(order_id, [])
        if t["event_type"] == "ticket.opened" and t["reason"] == "shipping"
    )
    return 1000.0 * n / len(orders)


def merchant_first_response_mean_s(events: list[dict[str, Any]], start: int, end: int) -> float:
    """Mean first response of merchant support to tickets opened in [start, end)."""
    opened = {
        e["ticket_id"]: e["event_time"]
        for e in events
        if e["event_type"] == "ticket.opened" and start <= e["event_time"] < end
    }
    waits = [
        (e["event_time"] - opened[e["ticket_id"]]) / 1000.0
        for e in events
        if e["event_type"] == "ticket.first_response" and e["handled_by"] == "merchant" and e["ticket_id"] in opened
    ]
    return sum(waits) / len(waits)
