"""Plain, independent KPI computations over lists of events, for checking the real code.

Written the obvious way on purpose: loops over dicts, no shared code with `streams/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HOUR_MS = 3_600_000
PROMISE_MS = 48 * HOUR_MS


def orders_by_id(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per order: the paid event, its first shipment event and the first time it was closed."""
    orders: dict[str, dict[str, Any]] = {}
    later: list[dict[str, Any]] = []
    for e in events:
        if e["event_type"] == "order.paid":
            orders[e["order_id"]] = {"paid": e, "shipment": None, "shipped_ms": None, "closed_ms": None}
        else:
            later.append(e)
    for e in later:
        order = orders.get(e.get("order_id") or "")
        if order is None:
            continue
        t = e["event_time"]
        if e["event_type"] == "shipment.shipped" and (order["shipped_ms"] is None or t < order["shipped_ms"]):
            order["shipped_ms"] = t
            order["shipment"] = e
        elif e["event_type"] in ("order.cancelled", "refund.completed"):
            order["closed_ms"] = t if order["closed_ms"] is None else min(order["closed_ms"], t)
    return orders


def in_48h_cohort(order: dict[str, Any]) -> tuple[bool, bool]:
    """(counted, shipped within 48 h): in-stock orders, less those closed unshipped within 48 h."""
    paid = order["paid"]
    t0, shipped, closed = paid["event_time"], order["shipped_ms"], order["closed_ms"]
    closed_unshipped = closed is not None and (shipped is None or closed < shipped)
    if paid["presale"] or (closed_unshipped and closed - t0 <= PROMISE_MS):
        return False, False
    return True, shipped is not None and shipped - t0 <= PROMISE_MS


def ship_rate_48h(orders: Iterable[dict[str, Any]]) -> float:
    flags = [in_48h_cohort(o) for o in orders]
    return sum(1 for counted, within in flags if counted and within) / sum(1 for counted, _ in flags if counted)


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
