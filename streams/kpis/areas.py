"""The KPI rules of each area: shipping, after-sales and support.

Each function gets a valid event, the order's state (already holding its payment) and the
context to write to. They never see a clock: times come from events only.
"""

from __future__ import annotations

from typing import Any

from streams.kpis.catalog import TICKET_REASONS_FOR_DENOMINATOR
from streams.kpis.context import Context

PROMISE_WINDOW_MS = 48 * 3600 * 1000
Order = dict[str, Any]
Event = dict[str, Any]


def order_dims(order: Order) -> dict[str, str]:
    return {"category": order["cat"], "channel": order["ch"], "seller": order["seller"]}


def on_paid(ctx: Context, order: Order, event: Event) -> None:
    """A new payment, its state holding no shipment or closing yet: its window additions depend
    only on its dimensions and flags (and its time), so they are recorded once per signature
    and replayed (`Context.replay`)."""
    t = event["event_time"]
    signature = (order["cat"], order["ch"], order["seller"], order["presale"], order["elig"], order["ins"])
    if not ctx.replay(signature, t):
        ctx.record()
        try:
            _paid_windows(ctx, order, t)
        except BaseException:
            ctx.abandon()  # half a program must not be replayed
            raise
        ctx.recorded(signature, t)
    ctx.metrics.inc("orders_paid", (order["cat"], order["ch"], order["seller"]))


def _paid_windows(ctx: Context, order: Order, t: int) -> None:
    """Every window addition of a payment at `t` (its signature's program)."""
    dims = order_dims(order)
    ctx.count("orders_paid", dims, t)
    ctx.ratio("presale_ratio", dims, t, 1.0 if order["presale"] else 0.0)
    ctx.ratio("express_refund_eligible_ratio", dims, t, 1.0 if order["elig"] else 0.0)
    ctx.ratio("return_shipping_insured_ratio", dims, t, 1.0 if order["ins"] else 0.0)
    _count_for_every_reason(ctx, "help_requests_per_1k_orders", t)
    ctx.ratio("negative_feedback_per_1k_orders", dims, t, 0.0, 1.0)
    _count_for_every_reason(ctx, "help_requests_cohort_per_1k_orders", t)
    apply_cohort_delta(ctx, order, (0.0, 0.0))  # its entry in its payment cohort (t is its payment)


def _count_for_every_reason(ctx: Context, name: str, t: int) -> None:
    """A paid order in the denominator of the total's and of each reason's rate."""
    ctx.ratio_total_and_each(name, "reason", TICKET_REASONS_FOR_DENOMINATOR, t, 1.0)


def on_shipped(ctx: Context, order: Order, event: Event) -> None:
    t = event["event_time"]
    dims = order_dims(order) | {"carrier": event["carrier"]}
    late = t > order["promised"]
    ctx.ratio("shipped_late_ratio", dims, t, 1.0 if late else 0.0)
    seconds = (t - order["paid"]) / 1000.0
    if not order["presale"]:
        ctx.observe("time_to_ship_seconds", dims, t, seconds)
        ctx.observe("time_to_ship_cohort_seconds", dims, order["paid"], seconds)
        ctx.metrics.observe("time_to_ship_seconds", (order["cat"], order["ch"], order["seller"]), seconds)
    ctx.metrics.inc("orders_shipped", (order["cat"], order["ch"], order["seller"], "late" if late else "on_time"))


def cohort_48h(order: Order) -> tuple[float, float]:
    """(shipped within 48 h, counted) of one order in its payment cohort, from its state.

    Recomputed after every change and applied as a delta, so the result does not depend on
    the order in which shipment, cancellation and refund events arrive.
    """
    if order["presale"]:
        return 0.0, 0.0
    paid, shipped, closed = order["paid"], order.get("shipped"), order.get("closed")
    closed_unshipped = closed is not None and (shipped is None or closed < shipped)
    if closed_unshipped and closed - paid <= PROMISE_WINDOW_MS:
        return 0.0, 0.0
    return (1.0 if shipped is not None and shipped - paid <= PROMISE_WINDOW_MS else 0.0), 1.0


def apply_cohort_delta(ctx: Context, order: Order, before: tuple[float, float]) -> None:
    after = cohort_48h(order)
    if after != before:
        ctx.ratio("ship_within_48h_ratio", order_dims(order), order["paid"], after[0] - before[0], after[1] - before[1])


def on_shipment_update(ctx: Context, order: Order, event: Event) -> None:
    t, kind, carrier = event["event_time"], event["event_type"], event["carrier"]
    if kind == "shipment.eta_updated":
        if event["new_eta"] > event["previous_eta"]:
            ctx.count("eta_slips", {"carrier": carrier}, t)
            ctx.metrics.inc("eta_slips", (carrier,))
    elif kind == "shipment.exception":
        ctx.count("shipment_exceptions", {"carrier": carrier, "kind": event["kind"]}, t)
        ctx.metrics.inc("shipment_exceptions", (carrier, event["kind"]))
    elif kind == "shipment.buyer_notified":
        since = order.get("exc")
        if since is not None and t >= since:
            seconds = (t - since) / 1000.0
            ctx.observe("exception_notice_seconds", {"carrier": carrier}, t, seconds)
            ctx.metrics.observe("exception_notice_seconds", (carrier,), seconds)


def on_refund_requested(ctx: Context, order: Order, event: Event) -> bool:
    """Returns whether it counted as a refund before shipment (by event time)."""
    t = event["event_time"]
    shipped = order.get("shipped")
    before = shipped is None or t < shipped
    if before:
        ctx.count("refunds_before_shipment", order_dims(order), t)
    if event["guarantee"] is not None:
        ctx.count("guarantee_claims", {"guarantee": event["guarantee"]}, t)
        ctx.metrics.inc("guarantee_claims", (event["guarantee"],))
    ctx.metrics.inc("refunds_requested", (event["reason"], str(event["express"]).lower()))
    return before


def retract_refunds_before(ctx: Context, order: Order, shipped_ms: int) -> None:
    """A shipment that arrived late but happened before a counted refund request un-counts it."""
    for refund in order.get("refunds", {}).values():
        if refund.get("pre") and refund["asked"] > shipped_ms:
            ctx.count("refunds_before_shipment", order_dims(order), refund["asked"], -1.0)
            refund["pre"] = False


def on_refund_completed(ctx: Context, order: Order, event: Event, requested: tuple[int, bool]) -> None:
    asked, express = requested
    t = event["event_time"]
    seconds = max(t - asked, 0) / 1000.0
    flag = str(express).lower()
    ctx.observe("refund_completion_seconds", {"express": flag}, t, seconds)
    ctx.metrics.observe("refund_completion_seconds", (flag,), seconds)


def on_ticket_opened(ctx: Context, event: Event) -> None:
    t, handler = event["event_time"], event["handled_by"]
    ctx.ratio("help_requests_per_1k_orders", {"reason": event["reason"]}, t, 1.0, 0.0)
    ctx.ratio("complaint_ratio", {"handled_by": handler}, t, 1.0 if event["complaint"] else 0.0)
    ctx.metrics.inc("help_requests", (event["reason"], handler, str(event["complaint"]).lower()))


def on_order_ticket(ctx: Context, order: Order, reason: str) -> None:
    """A help request about a paid order counts in the order's payment cohort."""
    ctx.ratio("help_requests_cohort_per_1k_orders", {"reason": reason}, order["paid"], 1.0, 0.0)


def on_first_response(ctx: Context, event: Event, opened_ms: int | None) -> None:
    if opened_ms is None:
        return
    t, handler = event["event_time"], event["handled_by"]
    seconds = max(t - opened_ms, 0) / 1000.0
    ctx.observe("first_response_seconds", {"handled_by": handler}, t, seconds)
    ctx.metrics.observe("first_response_seconds", (handler,), seconds)


def on_ticket_resolved(ctx: Context, event: Event, handler: str | None) -> None:
    rating = event["satisfaction"]
    if rating is None or handler is None:
        return
    t = event["event_time"]
    ctx.ratio("satisfaction_mean", {"handled_by": handler}, t, float(rating))
    ctx.ratio("satisfaction_good_ratio", {"handled_by": handler}, t, 1.0 if rating >= 4 else 0.0)
    ctx.metrics.inc("ticket_ratings", (handler, str(rating)))


def on_negative_feedback(ctx: Context, order: Order, event: Event) -> None:
    ctx.ratio("negative_feedback_per_1k_orders", order_dims(order), event["event_time"], 1.0, 0.0)
    ctx.metrics.inc("negative_feedback", (order["seller"],))
