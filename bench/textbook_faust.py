"""The obvious Faust program, kept as the benchmark's baseline: the common subset
(`bench/subset.py`) written as Faust's documentation shows it.

- One agent per input topic, JSON values, a table per piece of state (an order's payment, a
  ticket's opening), keyed like the topics (order id, or ticket id), so copartitioned.
- A record arriving before the one it pairs with (the agents drain their topics at their own
  pace) is kept in the same table and paired when the other comes: without that the
  numbers are wrong in any backlog.
- What a window is broken down by (category, reason, nothing) is not the input's key, so
  each result is sent on, keyed by it, to a topic of its own (what `Stream.group_by` does),
  whose agent updates a tumbling windowed table relative to the event's time, one update
  per event, 1-minute windows. The windowed tables' changelogs are the output the
  benchmark reads back and checks.

Run as `python -m bench.textbook_faust BOOTSTRAP WEB_PORT DATADIR`.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import faust
from prometheus_client import Counter, generate_latest

from topics.contract import INPUT_PARTITIONS, ORDERS, REFUNDS, SHIPMENTS, SUPPORT_TICKETS, Topic

APP_ID = "bench-textbook"
WINDOW_S = 60
EXPIRES = timedelta(days=365)
"""Faust's table cleanup expires windows against the wall clock (`time.time()` in
`faust/tables/base.py`), not event time: the data set's event times are weeks old, and with
2 days it deleted windows mid-run, which then began again at count 1 (128 of 3,132 windows
short on 2026-11-27)."""
WINDOWED = {"time_to_ship": "bench-tts", "help_requests": "bench-help", "first_response": "bench-first"}
"""Subset name -> windowed table; its changelog topic is `changelog_topic(table)`."""


REGROUPED = {
    "time_to_ship": "bench-tts-by-category",
    "help_requests": "bench-help-by-reason",
    "first_response": "bench-first-responses",
}
"""Subset name -> the topic its results are sent on to, keyed by what its windows are broken down by."""


def regrouped_topics() -> tuple[Topic, ...]:
    """The topics between the two stages, created before the program starts, as a production
    deployment creates its topics. Left to Faust, a worker whose consumer subscribed before
    they existed ignored one for good ("Ignoring missing topic"; its assignor only logs it,
    faust-streaming/faust#558): on 2026-12-02 no time-to-ship window came in 120 s."""
    return tuple(
        Topic(
            name,
            doc="bench: textbook Faust's regrouped results",
            key=subset,
            records=(),
            producers=(),
            consumers=(),
            partitions=INPUT_PARTITIONS,
            is_input=False,
        )
        for subset, name in REGROUPED.items()
    )


def changelog_topic(table: str) -> str:
    return f"{APP_ID}-{table}-changelog"


def _empty_window() -> list[float]:
    return [0, 0.0]  # count, total


def _event_seconds(event: Any) -> float:
    return float(event.value["t"]) / 1000.0


def build(bootstrap: str, web_port: int, datadir: str) -> faust.App:
    app = faust.App(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        topic_partitions=INPUT_PARTITIONS,  # the tables' changelogs must match the input topics
        web_host="127.0.0.1",
        web_port=web_port,
        consumer_auto_offset_reset="earliest",
        topic_replication_factor=1,
    )
    consumed = Counter("bench_events_consumed_total", "Input records taken.")
    orders = app.Table("bench-orders", default=None)  # order id -> {"paid": [t, category], "shipped": t}
    tickets = app.Table("bench-tickets", default=None)  # ticket id -> {"opened": t, "answered": t}

    def windowed(name: str) -> Any:
        table: Any = app.Table(WINDOWED[name], default=_empty_window).tumbling(WINDOW_S, expires=EXPIRES)
        return table.relative_to(_event_seconds)  # the class has it; its type stub (WindowWrapperT) does not

    tts, helps, firsts = windowed("time_to_ship"), windowed("help_requests"), windowed("first_response")

    def regrouped(name: str) -> Any:  # created by Faust, partitioned like the inputs
        return app.topic(
            name, key_serializer="raw", value_serializer="json", partitions=INPUT_PARTITIONS, internal=True
        )

    by_category = regrouped(REGROUPED["time_to_ship"])
    by_reason = regrouped(REGROUPED["help_requests"])
    responses = regrouped(REGROUPED["first_response"])

    def source(topic: str) -> Any:
        return app.topic(topic, key_type=bytes, key_serializer="raw", value_serializer="json")

    def complete(table: Any, key: str, half: str, value: Any, other: str) -> dict[str, Any] | None:
        """Notes one half of a pair (the first of each kind counts; a half that comes before its
        other waits in `table`); returns the pair when this half completes it, else None."""
        pair = table.get(key) or {}
        if half in pair:
            return None
        pair[half] = value
        table[key] = pair
        return pair if other in pair else None

    async def shipped(order: dict[str, Any]) -> None:
        """Both halves are in: payment to first shipment, to the category's windows."""
        t_paid, category = order["paid"]
        seconds = (order["shipped"] - t_paid) / 1000.0
        await by_category.send(key=category, value={"t": order["shipped"], "s": seconds})

    @app.agent(source(ORDERS.name))
    async def on_orders(stream: Any) -> None:
        async for event in stream:
            consumed.inc()
            if event["event_type"] != "order.paid" or event["presale"]:
                continue
            paid = [event["event_time"], event["category"]]
            if order := complete(orders, event["order_id"], "paid", paid, "shipped"):
                await shipped(order)

    @app.agent(source(SHIPMENTS.name))
    async def on_shipments(stream: Any) -> None:
        async for event in stream:
            consumed.inc()
            if event["event_type"] != "shipment.shipped":
                continue
            if order := complete(orders, event["order_id"], "shipped", event["event_time"], "paid"):
                await shipped(order)

    @app.agent(source(SUPPORT_TICKETS.name))
    async def on_tickets(stream: Any) -> None:
        async for event in stream:
            consumed.inc()
            kind, t = event["event_type"], event["event_time"]
            ticket_id = event.get("ticket_id")  # negative feedback, on the same topic, has none
            if kind == "ticket.opened":
                await by_reason.send(key=event["reason"], value={"t": t})
                ticket = complete(tickets, ticket_id, "opened", t, "answered")
            elif kind == "ticket.first_response":
                ticket = complete(tickets, ticket_id, "answered", t, "opened")
            else:
                continue
            if ticket:
                seconds = max(ticket["answered"] - ticket["opened"], 0) / 1000.0
                await responses.send(key="all", value={"t": ticket["answered"], "s": seconds})

    @app.agent(source(REFUNDS.name))
    async def on_refunds(stream: Any) -> None:  # not in the subset; taken, like every contender does
        async for _ in stream:
            consumed.inc()

    def add(table: Any, key: str, seconds: float) -> None:
        count, total = table[key].value()  # the window of relative_to (current() is the message timestamp's)
        table[key] = (count + 1, total + seconds)

    @app.agent(by_category)
    async def on_time_to_ship(stream: Any) -> None:
        async for category, value in stream.items():
            add(tts, f"category={category.decode()}", value["s"])

    @app.agent(by_reason)
    async def on_help_requests(stream: Any) -> None:
        async for reason, _ in stream.items():
            add(helps, f"reason={reason.decode()}", 0.0)

    @app.agent(responses)
    async def on_first_responses(stream: Any) -> None:
        async for _, value in stream.items():
            add(firsts, "", value["s"])

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type="text/plain; version=0.0.4")

    return app


if __name__ == "__main__":
    bootstrap, port, datadir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # not "warn": at WARN and above Faust's start-up spinner sets the root logger to DEBUG, and
    # aiokafka then builds a log record per record sent (13% of cxkpi's worker, which runs
    # without the spinner); the baseline should not pay for that either
    sys.argv = [sys.argv[0], "worker", "--loglevel", "info"]
    build(bootstrap, port, datadir).main()
