"""One order's life as events: payment, shipment, transit, refunds, tickets, feedback.

Pure simulation: given a seeded `random.Random`, the population and the scenario, it
returns the events of one order (and its latent truth for `truth.py`). Event times are
epoch milliseconds; the caller orders them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from streams.generator.scenarios import HOUR_MS, MINUTE_MS, Burst, Phase, Scenario
from topics.contract import CARRIERS, CATEGORIES, SCHEMA_VERSION

DAY_MS = 24 * HOUR_MS
PROMISE_MS = 48 * HOUR_MS
"""In-stock orders promise shipment within 48 h of payment."""

CATEGORY_SHIP_MEDIAN_H = {
    "fresh_food": 5.0,
    "beauty": 14.0,
    "apparel": 20.0,
    "electronics": 12.0,
    "home": 24.0,
    "grocery": 10.0,
}
CHANNEL_WEIGHTS = {"livestream": 0.35, "short_video": 0.25, "mall": 0.3, "search": 0.1}
CARRIER_WEIGHTS = {"sf": 0.2, "jd": 0.15, "zto": 0.25, "yto": 0.15, "yunda": 0.15, "ems": 0.1}
EXCEPTION_WEIGHTS = {"delayed": 0.6, "lost": 0.1, "damaged": 0.15, "address": 0.15}

Event = dict[str, Any]


@dataclass(frozen=True)
class Merchant:
    index: int
    merchant_id: str
    category: str
    latency_factor: float
    promise_quality: float
    """Below the phase's false-promise share, the merchant promises 48 h and cannot keep it."""
    response_median_ms: float


@dataclass
class OrderTruth:
    """Latent facts of one order, for the generator's own KPI report."""

    phase: str
    paid_ms: int
    presale: bool
    shipped_ms: int | None = None
    closed_unshipped_ms: int | None = None
    shipping_tickets: int = 0
    merchant_responses: list[tuple[str, int]] = field(default_factory=list)
    """(phase when opened, ms to first response) of each merchant-handled ticket."""


@dataclass
class Population:
    merchants: list[Merchant]
    weights: list[float]
    creators: list[str]

    @classmethod
    def build(cls, rng: random.Random, seed: int, n_merchants: int = 300, n_creators: int = 60) -> Population:
        merchants = [
            Merchant(
                index=i,
                merchant_id=f"m-{seed}-{i:04d}",
                category=rng.choice(CATEGORIES),
                latency_factor=rng.lognormvariate(0.0, 0.3),
                promise_quality=rng.random(),
                response_median_ms=rng.uniform(4, 20) * MINUTE_MS,
            )
            for i in range(n_merchants)
        ]
        weights = [1.0 / (i + 1) ** 0.8 for i in range(n_merchants)]  # a few big shops, a long tail
        creators = [f"c-{seed}-{i:03d}" for i in range(n_creators)]
        return cls(merchants, weights, creators)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class OrderFactory:
    """Builds one order's events; `seq` numbers keep ids unique and deterministic."""

    def __init__(self, rng: random.Random, seed: int, scenario: Scenario, start_ms: int, population: Population):
        self.rng = rng
        self.seed = seed
        self.scenario = scenario
        self.start_ms = start_ms
        self.pop = population
        self.ticket_seq = 0
        self.end_ms: int | None = None
        """End of the run's payments, when known: support tickets after it belong to no period."""

    def _envelope(self, order_id: str, n: int, event_type: str, t: int) -> Event:
        return {
            "event_id": f"{order_id}-{n:02d}",
            "event_type": event_type,
            "event_time": int(t),
            "schema_version": SCHEMA_VERSION,
        }

    def _outage_delay(self, carrier: str, t: int) -> int:
        """When the carrier cannot pick up at t, the parcel waits for the outage's end."""
        for outage in self.scenario.outages:
            begin = self.start_ms + outage.start_offset_ms
            end = begin + outage.length_ms
            if outage.carrier == carrier and begin <= t < end:
                return end + int(self.rng.uniform(0, 3 * HOUR_MS))
        return t

    def order(self, n: int, paid_ms: int, burst: Burst | None) -> tuple[list[tuple[str, Event]], OrderTruth]:
        rng = self.rng
        phase = self.scenario.phase_at(paid_ms - self.start_ms)
        if burst is not None:
            merchant = self.pop.merchants[burst.merchant_index]
            channel = "livestream"
        else:
            merchant = rng.choices(self.pop.merchants, weights=self.pop.weights)[0]
            channel = _pick(rng, CHANNEL_WEIGHTS)
        order_id = f"o-{self.seed}-{n:08d}"
        category = merchant.category if rng.random() < 0.8 else rng.choice(CATEGORIES)
        creator = (
            rng.choice(self.pop.creators) if channel in ("livestream", "short_video") and rng.random() < 0.6 else None
        )
        presale = rng.random() < 0.1
        presale_ship_by = paid_ms + rng.randint(3, 10) * DAY_MS if presale else None
        promised = presale_ship_by if presale_ship_by is not None else paid_ms + PROMISE_MS
        eligible = rng.random() < 0.8
        guarantees = {
            "fresh_food": ["fresh_damage"],
            "beauty": ["allergy"],
            "electronics": ["trade_in_repair", "authenticity"] if rng.random() < 0.5 else ["authenticity"],
        }.get(category, ["authenticity"] if rng.random() < 0.2 else [])
        paid = self._envelope(order_id, 0, "order.paid", paid_ms) | {
            "order_id": order_id,
            "merchant_id": merchant.merchant_id,
            "creator_id": creator,
            "channel": channel,
            "livestream_id": f"ls-{merchant.merchant_id}" if channel == "livestream" else None,
            "category": category,
            "amount": round(rng.lognormvariate(4.0, 0.9), 2),
            "presale": presale,
            "presale_ship_by": presale_ship_by,
            "promised_ship_by": promised,
            "express_refund_eligible": eligible,
            "return_shipping_insured": rng.random() < 0.55,
            "guarantees": guarantees,
            "buyer_id": f"buyer-{rng.getrandbits(40):010x}",
        }
        truth = OrderTruth(phase.name, paid_ms, presale)
        events: list[tuple[str, Event]] = [("orders", paid)]
        counter = iter(range(1, 100))

        def emit(topic: str, event_type: str, t: float, **fields: Any) -> Event:
            event = self._envelope(order_id, next(counter), event_type, int(t)) | {"order_id": order_id} | fields
            events.append((topic, event))
            return event

        ship_ms = self._ship_time(rng, paid_ms, promised, presale, category, merchant, phase, burst)
        carrier = _pick(rng, CARRIER_WEIGHTS)
        ship_ms = self._outage_delay(carrier, ship_ms)

        # closed before shipment: cancelled, or refunded because it did not ship
        close_roll = rng.random()
        closed_ms: int | None = None
        if close_roll < 0.03:
            closed_ms = paid_ms + int(rng.expovariate(1 / (3 * HOUR_MS)))
            if closed_ms < ship_ms:
                emit("orders", "order.cancelled", closed_ms, reason=rng.choice(("buyer", "out_of_stock", "merchant")))
            else:
                closed_ms = None
        elif close_roll < 0.03 + 0.02 + (0.1 if ship_ms > promised else 0.0):
            asked = paid_ms + int(rng.uniform(6 * HOUR_MS, 60 * HOUR_MS))
            if asked < ship_ms:
                closed_ms = self._refund(emit, rng, asked, "not_shipped", eligible, None, express_speedup=True)
                if closed_ms is None or closed_ms >= ship_ms:
                    closed_ms = None
        truth.closed_unshipped_ms = closed_ms
        late = ship_ms > promised

        exception_ms: int | None = None
        if closed_ms is None:
            truth.shipped_ms = ship_ms
            exception_ms = self._transit(emit, rng, ship_ms, carrier, category, eligible)

        self._tickets(
            emit, rng, truth, paid_ms, promised, ship_ms if closed_ms is None else None, exception_ms, merchant, phase
        )
        if closed_ms is None and rng.random() < (0.05 if creator else 0.025) + (0.08 if late else 0.0):
            emit(
                "support-tickets",
                "feedback.negative",
                ship_ms + rng.uniform(30 * HOUR_MS, 120 * HOUR_MS),
                feedback_id=f"f-{order_id}",
                source=rng.choice(("review", "rating", "chat")),
            )
        return events, truth

    def _ship_time(
        self,
        rng: random.Random,
        paid_ms: int,
        promised: int,
        presale: bool,
        category: str,
        merchant: Merchant,
        phase: Phase,
        burst: Burst | None,
    ) -> int:
        if presale:
            slip = rng.uniform(2 * HOUR_MS, 72 * HOUR_MS) if rng.random() < 0.12 else 0.0
            return int(promised - rng.uniform(0, DAY_MS) + slip)
        median_h = CATEGORY_SHIP_MEDIAN_H[category] * merchant.latency_factor * phase.ship_latency_factor
        if merchant.promise_quality < phase.false_promise_share:
            median_h *= 2.8
        if burst is not None:
            median_h *= burst.ship_latency_factor
        hours = rng.lognormvariate(math.log(median_h), 0.6)
        return paid_ms + max(int(hours * HOUR_MS), 10 * MINUTE_MS)

    def _transit(
        self, emit: Any, rng: random.Random, ship_ms: int, carrier: str, category: str, eligible: bool
    ) -> int | None:
        shipment_id = f"s-{ship_ms % 1_000_000_007:x}-{rng.getrandbits(24):06x}"
        promised_eta = ship_ms + int(rng.uniform(30 * HOUR_MS, 72 * HOUR_MS))
        emit(
            "shipments",
            "shipment.shipped",
            ship_ms,
            shipment_id=shipment_id,
            carrier=carrier,
            promised_eta=promised_eta,
        )
        eta = promised_eta
        exception_ms: int | None = None
        kind: str | None = None
        stalled = [
            o
            for o in self.scenario.outages
            if o.carrier == carrier
            and ship_ms < self.start_ms + o.start_offset_ms + o.length_ms
            and eta > self.start_ms + o.start_offset_ms
        ]
        if stalled:
            outage = stalled[0]
            exception_ms = max(ship_ms, self.start_ms + outage.start_offset_ms) + int(rng.uniform(0, HOUR_MS))
            kind = "delayed"
        elif rng.random() < 0.04:
            exception_ms = ship_ms + int(rng.uniform(2 * HOUR_MS, max(eta - ship_ms, 3 * HOUR_MS)))
            kind = _pick(rng, EXCEPTION_WEIGHTS)
        if exception_ms is not None and kind is not None:
            emit("shipments", "shipment.exception", exception_ms, shipment_id=shipment_id, carrier=carrier, kind=kind)
            if rng.random() < 0.75:
                notice = exception_ms + int(rng.lognormvariate(math.log(90 * MINUTE_MS), 0.7))
                emit(
                    "shipments",
                    "shipment.buyer_notified",
                    notice,
                    shipment_id=shipment_id,
                    carrier=carrier,
                    exception_kind=kind,
                )
            if kind in ("delayed", "address"):
                new_eta = eta + int(rng.uniform(12 * HOUR_MS, 48 * HOUR_MS))
                emit(
                    "shipments",
                    "shipment.eta_updated",
                    exception_ms + MINUTE_MS,
                    shipment_id=shipment_id,
                    carrier=carrier,
                    previous_eta=eta,
                    new_eta=new_eta,
                )
                eta = new_eta
        elif rng.random() < 0.1:
            new_eta = eta + int(rng.uniform(6 * HOUR_MS, 36 * HOUR_MS))
            emit(
                "shipments",
                "shipment.eta_updated",
                ship_ms + (eta - ship_ms) // 2,
                shipment_id=shipment_id,
                carrier=carrier,
                previous_eta=eta,
                new_eta=new_eta,
            )
            eta = new_eta
        if kind == "lost":
            self._refund(emit, rng, exception_ms + HOUR_MS, "not_shipped", eligible, None)  # type: ignore[operator]
            return exception_ms
        emit("shipments", "shipment.delivered", eta, shipment_id=shipment_id, carrier=carrier)
        roll = rng.random()
        if kind == "damaged" or roll < 0.06:
            reason, guarantee = "quality", None
            if category == "fresh_food" and (kind == "damaged" or roll < 0.03):
                reason, guarantee = "damaged", "fresh_damage"
            elif category == "beauty" and roll < 0.02:
                reason, guarantee = "allergy", "allergy"
            elif kind == "damaged":
                reason = "damaged"
            elif roll < 0.03:
                reason = "changed_mind"
            self._refund(emit, rng, eta + int(rng.expovariate(1 / (24 * HOUR_MS))), reason, eligible, guarantee)
        return exception_ms

    def _refund(
        self,
        emit: Any,
        rng: random.Random,
        asked: int,
        reason: str,
        eligible: bool,
        guarantee: str | None,
        express_speedup: bool = False,
    ) -> int | None:
        """Request -> approve -> complete (or reject). Returns when the money arrived."""
        refund_id = f"r-{asked:x}-{rng.getrandbits(20):05x}"
        express = eligible and rng.random() < 0.9
        emit(
            "refunds",
            "refund.requested",
            asked,
            refund_id=refund_id,
            reason=reason,
            express=express,
            guarantee=guarantee,
            amount=round(rng.uniform(5, 500), 2),
        )
        if not express and rng.random() < 0.08:
            emit(
                "refunds",
                "refund.rejected",
                asked + rng.uniform(HOUR_MS, DAY_MS),
                refund_id=refund_id,
                reason="not_eligible",
            )
            return None
        if express or express_speedup:
            approved = asked + int(rng.uniform(MINUTE_MS, 15 * MINUTE_MS))
            completed = approved + int(rng.uniform(MINUTE_MS, 30 * MINUTE_MS))
        else:
            approved = asked + int(rng.expovariate(1 / (12 * HOUR_MS)))
            completed = approved + int(rng.uniform(DAY_MS, 3 * DAY_MS))
        emit("refunds", "refund.approved", approved, refund_id=refund_id)
        emit("refunds", "refund.completed", completed, refund_id=refund_id, amount=round(rng.uniform(5, 500), 2))
        return completed

    def _tickets(
        self,
        emit: Any,
        rng: random.Random,
        truth: OrderTruth,
        paid_ms: int,
        promised: int,
        ship_ms: int | None,
        exception_ms: int | None,
        merchant: Merchant,
        phase: Phase,
    ) -> None:
        late = ship_ms is None or ship_ms > promised
        chance = (0.25 if late else 0.03) + (0.4 if exception_ms is not None else 0.0)
        roll = rng.random()
        if exception_ms is not None:
            opened = exception_ms + int(rng.uniform(0, 6 * HOUR_MS))
        elif late:
            opened = promised + int(rng.uniform(0, 12 * HOUR_MS))
        else:
            opened = paid_ms + int(rng.uniform(12 * HOUR_MS, 40 * HOUR_MS))
        # fewer shipping questions is a property of the order's handling (its payment phase)
        if roll < chance * phase.shipping_ticket_factor:
            truth.shipping_tickets += 1
            self._ticket(emit, rng, truth, opened, "shipping", merchant, complaint_p=0.15 if late else 0.05)
        if rng.random() < 0.03:
            opened = paid_ms + int(rng.uniform(HOUR_MS, 96 * HOUR_MS))
            self._ticket(
                emit, rng, truth, opened, rng.choice(("refund", "product", "other")), merchant, complaint_p=0.05
            )

    def _phase(self, t: int) -> Phase:
        """Support-side quality in force at t; after the run's end it is reported as 'after'."""
        phase = self.scenario.phase_at(t - self.start_ms)
        if self.end_ms is not None and t >= self.end_ms:
            return replace(phase, name="after")
        return phase

    def _ticket(
        self,
        emit: Any,
        rng: random.Random,
        truth: OrderTruth,
        opened: int,
        reason: str,
        merchant: Merchant,
        complaint_p: float,
    ) -> None:
        self.ticket_seq += 1
        ticket_id = f"t-{self.seed}-{self.ticket_seq:08d}"
        handled_by = "merchant" if rng.random() < 0.7 else "platform"
        median = merchant.response_median_ms if handled_by == "merchant" else 3 * MINUTE_MS
        phase = self._phase(opened)
        wait = int(rng.lognormvariate(math.log(median * phase.response_factor), 0.5))
        if handled_by == "merchant":
            truth.merchant_responses.append((phase.name, wait))
        emit(
            "support-tickets",
            "ticket.opened",
            opened,
            ticket_id=ticket_id,
            reason=reason,
            handled_by=handled_by,
            complaint=rng.random() < complaint_p,
            buyer_id=f"buyer-{rng.getrandbits(40):010x}",
        )
        emit("support-tickets", "ticket.first_response", opened + wait, ticket_id=ticket_id, handled_by=handled_by)
        fast = wait < 10 * MINUTE_MS
        satisfaction = None
        if rng.random() < 0.65:
            satisfaction = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 6) if fast else (3, 3, 3, 3, 2))[0]
        resolved = opened + wait + int(rng.expovariate(1 / (4 * HOUR_MS)))
        emit("support-tickets", "ticket.resolved", resolved, ticket_id=ticket_id, satisfaction=satisfaction)

    def orderless_ticket(self, t: int) -> list[tuple[str, Event]]:
        """A general question with no order: keyed by ticket_id."""
        rng = self.rng
        self.ticket_seq += 1
        ticket_id = f"t-{self.seed}-{self.ticket_seq:08d}"
        handled_by = "platform"
        wait = int(rng.lognormvariate(math.log(3 * MINUTE_MS), 0.5))
        base = {"ticket_id": ticket_id, "order_id": None}
        events = [
            (
                "support-tickets",
                self._envelope(ticket_id, 0, "ticket.opened", t)
                | base
                | {
                    "reason": "other",
                    "handled_by": handled_by,
                    "complaint": False,
                    "buyer_id": f"buyer-{rng.getrandbits(40):010x}",
                },
            ),
            (
                "support-tickets",
                self._envelope(ticket_id, 1, "ticket.first_response", t + wait) | base | {"handled_by": handled_by},
            ),
            (
                "support-tickets",
                self._envelope(ticket_id, 2, "ticket.resolved", t + wait + HOUR_MS) | base | {"satisfaction": None},
            ),
        ]
        return events


__all__ = ["CARRIERS", "PROMISE_MS", "OrderFactory", "OrderTruth", "Population"]
