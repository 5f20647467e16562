"""Quix Streams computing the benchmark's common subset, written the way its documentation
shows: stateful joins on the message key, `group_by` to the window's dimension, tumbling
event-time windows with `.agg()`, each window's current value to a topic.

The subset (`bench/subset.py` reads the same from cxkpi's `kpi.windows`), per 1-minute window:
- time to ship (payment to first shipment, in-stock orders) per category, by shipment time: count, sum;
- help requests opened per reason: count;
- first response (ticket opened to first response), all tickets: count, sum.

Run as `python -m bench.quix_subset BOOTSTRAP WEB_PORT STATE_DIR OUT_TOPIC`; `bench_events_consumed_total`
on http://127.0.0.1:WEB_PORT/metrics counts the input records it took.
"""

from __future__ import annotations

import sys
from typing import Any

from prometheus_client import Counter, start_http_server
from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum

from topics.contract import ORDERS, REFUNDS, SHIPMENTS, SUPPORT_TICKETS

WINDOW_MS = 60_000
GRACE_MS = 24 * 3_600_000
"""After `group_by` a window's records come from every input partition, whose event times
drift apart while one consumer drains a backlog: with 1 h of grace Quix dropped records late
by 75 min (2026-11-26). So windows stay open a day, and their current value is published on
every update (`.current()`): the last record per window is its complete aggregate."""


def _event_time(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
    return int(value["event_time"])


def _time_to_ship(value: dict[str, Any], state: Any) -> dict[str, Any] | None:
    """Orders and shipments of one order (its Kafka key): remember the payment, emit the first shipment."""
    kind = value["event_type"]
    if kind == "order.paid":
        if not value["presale"]:
            state.set("paid", [value["event_time"], value["category"]])
        return None
    if kind != "shipment.shipped" or state.get("shipped"):
        return None
    paid = state.get("paid")
    if paid is None:
        return None
    state.set("shipped", True)
    return {"dims": f"category={paid[1]}", "seconds": (value["event_time"] - paid[0]) / 1000.0}


def _tickets(value: dict[str, Any], state: Any) -> dict[str, Any] | None:
    """A ticket's events (keyed by its order, or its own id): opened, then the first response.
    The topic also carries negative feedback, which has no ticket id (the first in the
    default data set comes after 200,000 records)."""
    kind = value["event_type"]
    if not kind.startswith("ticket."):
        return None
    ticket = value["ticket_id"]
    if kind == "ticket.opened":
        state.set(ticket, value["event_time"])
        return {"name": "help_requests", "dims": f"reason={value['reason']}", "seconds": 0.0}
    if kind != "ticket.first_response" or state.get(f"{ticket}|answered"):
        return None
    opened = state.get(ticket)
    if opened is None:
        return None
    state.set(f"{ticket}|answered", True)
    return {"name": "first_response", "dims": "", "seconds": max(value["event_time"] - opened, 0) / 1000.0}


def build(bootstrap: str, state_dir: str, out_topic: str) -> Application:
    app = Application(
        broker_address=bootstrap,
        consumer_group="bench-quix",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    consumed = Counter("bench_events_consumed_total", "Input records taken.")

    def source(name: str) -> Any:
        topic = app.topic(name, key_deserializer="str", value_deserializer="json", timestamp_extractor=_event_time)
        return app.dataframe(topic).update(lambda _: consumed.inc())

    out = app.topic(out_topic, key_serializer="str", value_serializer="json")
    shipped = source(ORDERS.name).concat(source(SHIPMENTS.name)).apply(_time_to_ship, stateful=True)
    shipped = shipped.filter(lambda v: v is not None).apply(lambda v: {**v, "name": "time_to_ship"})
    tickets = source(SUPPORT_TICKETS.name).apply(_tickets, stateful=True).filter(lambda v: v is not None)
    source(REFUNDS.name)  # not in the subset; taken, as every contender does (and counted)
    for name, stream in (("time_to_ship", shipped), ("tickets", tickets)):
        grouped = stream.group_by(lambda v: f"{v['name']}|{v['dims']}", name=f"{name}-by-dims")
        windows = grouped.tumbling_window(WINDOW_MS, grace_ms=GRACE_MS).agg(count=Count(), total=Sum("seconds"))
        windows.current().apply(_record, metadata=True).to_topic(out, key=lambda v: f"{v['key']}|{v['start']}")
    return app


def _record(value: dict[str, Any], key: Any, timestamp: int, headers: Any) -> dict[str, Any]:
    return {"key": key, "start": value["start"], "count": value["count"], "total": value["total"]}


if __name__ == "__main__":
    bootstrap, port, state_dir, out_topic = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    start_http_server(port, addr="127.0.0.1")
    build(bootstrap, state_dir, out_topic).run()
