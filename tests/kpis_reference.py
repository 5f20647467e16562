"""A plain batch computation of windowed KPIs, written independently of streams/kpis.

Per-order facts (first shipment, closing, the 48 h cohort rule) come from tests/reference.py."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.reference import in_48h_cohort, orders_by_id


def _bucket(t: int, size: int) -> int:
    return t - t % size


def batch_kpis(events: list[dict[str, Any]], size: int) -> dict[tuple[str, str, int], tuple[int, float | None]]:
    """(kpi, 'dim=value' or '', window start) -> (count, value) for a subset of KPIs."""
    orders = orders_by_id(events)
    paid = {order_id: o["paid"] for order_id, o in orders.items()}
    first_ship = {order_id: o["shipment"] for order_id, o in orders.items() if o["shipment"] is not None}
    opened = {e["ticket_id"]: e for e in events if e["event_type"] == "ticket.opened"}
    sums: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])

    def add(kpi: str, dims: list[str], t: int, num: float, den: float) -> None:
        for d in ["", *dims]:
            cell = sums[(kpi, d, _bucket(t, size))]
            cell[0] += num
            cell[1] += den

    for order in orders.values():
        p = order["paid"]
        t0 = p["event_time"]
        cat = f"category={p['category']}"
        add("orders_paid", [cat], t0, 1, 0)
        add("presale_ratio", [cat], t0, 1 if p["presale"] else 0, 1)
        counted, within = in_48h_cohort(order)
        if counted:
            add("ship_within_48h_ratio", [cat], t0, 1 if within else 0, 1)
    for order_id, s in first_ship.items():
        p = paid[order_id]
        cat = f"category={p['category']}"
        add("shipped_late_ratio", [cat], s["event_time"], 1 if s["event_time"] > p["promised_ship_by"] else 0, 1)
        if not p["presale"]:
            add(
                "time_to_ship_seconds_mean",
                [cat, f"carrier={s['carrier']}"],
                s["event_time"],
                (s["event_time"] - p["event_time"]) / 1000,
                1,
            )
    for e in events:
        k = e["event_type"]
        if k == "ticket.opened":
            add("complaint_ratio", [f"handled_by={e['handled_by']}"], e["event_time"], 1 if e["complaint"] else 0, 1)
        elif k == "ticket.first_response":
            o = opened[e["ticket_id"]]
            add(
                "first_response_seconds_mean",
                [f"handled_by={e['handled_by']}"],
                e["event_time"],
                (e["event_time"] - o["event_time"]) / 1000,
                1,
            )
        elif k == "shipment.exception":
            add("shipment_exceptions", [f"kind={e['kind']}"], e["event_time"], 1, 0)
    # help requests per 1k orders: tickets opened in the window over orders paid in it
    tickets: dict[tuple[str, int], int] = defaultdict(int)
    for e in events:
        if e["event_type"] == "ticket.opened":
            tickets[("", _bucket(e["event_time"], size))] += 1
            tickets[(f"reason={e['reason']}", _bucket(e["event_time"], size))] += 1
    orders_in: dict[int, int] = defaultdict(int)
    for p in paid.values():
        orders_in[_bucket(p["event_time"], size)] += 1
    out: dict[tuple[str, str, int], tuple[int, float | None]] = {}
    for (kpi, d, w), (num, den) in sums.items():
        if kpi in ("orders_paid", "shipment_exceptions"):
            out[(kpi, d, w)] = (int(num), num)
        else:
            out[(kpi, d, w)] = (int(den), num / den if den else None)
    for (d, w), n in tickets.items():
        den = orders_in.get(w, 0)
        out[("help_requests_per_1k_orders", d, w)] = (den, 1000 * n / den if den else None)
    return out
