"""The generator's own account of the KPIs it built in, from each order's latent facts.

Independent of the events: tests recompute the same figures from the emitted events and
compare, so a generator bug shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.generator.lifecycle import PROMISE_MS, OrderTruth

HOUR_S = 3600.0
HIDDEN_PHASES = ("warmup", "after")
"""Phases that only bring the simulation to a steady state; never reported."""


@dataclass(frozen=True)
class PhaseKpis:
    phase: str
    orders: int
    ship_rate_48h: float
    """In-stock orders shipped within 48 h of payment / in-stock orders not closed unshipped within 48 h."""
    mean_time_to_ship_h: float
    """Mean hours from payment to shipment of in-stock orders paid in the phase that shipped."""
    shipping_tickets_per_1k_orders: float
    """Shipping help requests about orders paid in the phase, per 1,000 of them."""
    merchant_first_response_mean_s: float
    """Mean first response of merchant support to tickets opened in the phase."""


def phase_kpis(truths: Iterable[OrderTruth]) -> list[PhaseKpis]:
    """Order KPIs by payment phase (cohorts); first response by the phase a ticket was opened in."""
    by_phase: dict[str, list[OrderTruth]] = {}
    responses: dict[str, list[int]] = {}
    for t in truths:
        by_phase.setdefault(t.phase, []).append(t)
        for phase, wait in t.merchant_responses:
            responses.setdefault(phase, []).append(wait)
    out = []
    for phase, orders in by_phase.items():
        if phase in HIDDEN_PHASES:
            continue
        in_stock = [o for o in orders if not o.presale]
        cohort = [
            o
            for o in in_stock
            if not (o.closed_unshipped_ms is not None and o.closed_unshipped_ms - o.paid_ms <= PROMISE_MS)
        ]
        within = sum(1 for o in cohort if o.shipped_ms is not None and o.shipped_ms - o.paid_ms <= PROMISE_MS)
        ship_hours = [(o.shipped_ms - o.paid_ms) / 3.6e6 for o in in_stock if o.shipped_ms is not None]
        waits = responses.get(phase, [])
        out.append(
            PhaseKpis(
                phase=phase,
                orders=len(orders),
                ship_rate_48h=within / len(cohort) if cohort else 0.0,
                mean_time_to_ship_h=sum(ship_hours) / len(ship_hours) if ship_hours else 0.0,
                shipping_tickets_per_1k_orders=1000.0 * sum(o.shipping_tickets for o in orders) / len(orders),
                merchant_first_response_mean_s=sum(waits) / len(waits) / 1000.0 if waits else 0.0,
            )
        )
    return out


def render_deltas(kpis: list[PhaseKpis]) -> list[str]:
    """Platform-style lines: metric, each phase's value, and the change from the first phase."""
    if not kpis:
        return []
    lines = [f"{'metric':36} " + " ".join(f"{k.phase:>12}" for k in kpis) + f" {'change':>16}"]
    rows = (
        ("48 h ship rate", "ship_rate_48h", "{:.3f}"),
        ("mean time to ship (h)", "mean_time_to_ship_h", "{:.1f}"),
        ("shipping help requests / 1k orders", "shipping_tickets_per_1k_orders", "{:.1f}"),
        ("merchant first response mean (s)", "merchant_first_response_mean_s", "{:.0f}"),
    )
    for label, attr, fmt in rows:
        values = [getattr(k, attr) for k in kpis]
        base, last = values[0], values[-1]
        rel = (last - base) / base * 100 if base else 0.0
        change = f"{last - base:+.3g} ({rel:+.1f}%)"
        lines.append(f"{label:36} " + " ".join(f"{fmt.format(v):>12}" for v in values) + f" {change:>16}")
    return lines
