"""Derived-topic records built from engine state: guarantee status and shipping alerts."""

from __future__ import annotations

from typing import Any

from streams.kpis.backlog import OverdueAlert
from streams.kpis.bursts import BurstAlert
from topics.contract import SCHEMA_VERSION


def order_status(state: dict[str, Any], refunds: Any) -> str:
    """Where the order stands, from its milestones alone (so arrival order cannot change it)."""
    if state.get("cancelled") is not None:
        return "cancelled"
    if any("completed" in r for r in refunds):
        return "refunded"
    if any("rejected" not in r for r in refunds):
        return "refunding"
    if state.get("delivered") is not None:
        return "delivered"
    if state.get("shipped") is not None:
        return "in_transit_exception" if state.get("exc") is not None else "shipped"
    return "paid"


def guarantee_status(order_id: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """The `order.guarantee-status` record; None while the order's payment is unknown."""
    if "paid" not in state:
        return None
    shipped = state.get("shipped")
    refunds = state.get("refunds", {}).values()
    overdue = bool(state.get("overdue")) or (shipped is not None and shipped > state["promised"])
    return {
        "order_id": order_id,
        "status": order_status(state, refunds),
        "guarantees": state["g"],
        "express_refund_eligible": state["elig"],
        "return_shipping_insured": state["ins"],
        "promised_ship_by": state["promised"],
        "ship_overdue": overdue,
        "updated_at": state["upd"],
        "schema_version": SCHEMA_VERSION,
    }


def shipping_alert(alert: OverdueAlert) -> dict[str, Any]:
    """A `shipping.alerts` record: a merchant's overdue backlog reached a reporting step."""
    return {
        "alert": "overdue_backlog",
        "merchant_id": alert.merchant_id,
        "livestream_id": None,
        "event_time": alert.event_time,
        "overdue_orders": alert.overdue_orders,
        "order_rate_per_min": None,
        "baseline_rate_per_min": None,
        "burst_orders": None,
        "schema_version": SCHEMA_VERSION,
    }


def burst_alert(alert: BurstAlert) -> dict[str, Any]:
    """A `shipping.alerts` record: a merchant's order burst started or ended."""
    return {
        "alert": "order_burst" if alert.phase == "started" else "order_burst_ended",
        "merchant_id": alert.merchant_id,
        "livestream_id": alert.livestream_id,
        "event_time": alert.event_time,
        "overdue_orders": None,
        "order_rate_per_min": round(alert.rate_per_min, 3),
        "baseline_rate_per_min": round(alert.baseline_per_min, 3),
        "burst_orders": alert.burst_orders,
        "schema_version": SCHEMA_VERSION,
    }
