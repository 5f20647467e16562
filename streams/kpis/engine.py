"""The functional core for one partition: valid events in, order state and window aggregates out.

Faust agents feed it; the benchmark and the tests drive it directly. State lives in two
mappings it is handed (orders by order_id, tickets by ticket_id) so the shell can back
them with changelogged tables; everything else is derived from events.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.kpis import areas
from streams.kpis.bursts import BURST_WINDOW_MS, merchant_key
from streams.kpis.catalog import SETTLE_HORIZONS_S
from streams.kpis.context import Context, MetricsSink, NullMetrics
from streams.kpis.schedule import Schedule
from streams.kpis.versioned import resolve_in
from streams.kpis.windows import ClosedWindow, PartitionWindows
from topics.contract import INPUT_TOPICS
from topics.validation import Reject

Event = dict[str, Any]
State = dict[str, Any]

OUTCOMES = ("applied", "late", "parked", "duplicate", "rejected")


@dataclass(frozen=True)
class EngineConfig:
    window_sizes_ms: tuple[int, ...] = (60_000, 3_600_000)
    grace_ms: int = 10 * 60_000
    detailed_window_ms: tuple[int, ...] = (3_600_000,)
    """Window sizes broken down by dimensions; the others carry totals only (bounded output)."""
    max_ahead_ms: int = 7 * 24 * 3_600_000
    """An event this far ahead of the newest one its partition has seen (on any topic) is
    rejected as `implausible_time`, unless its order (or ticket) is known here: one skewed
    producer clock must not push the watermark past every open window by starting orders
    in the future, while an order's own later events count however late they come. A
    partition quiet for longer than this would need it raised."""
    kpis: tuple[str, ...] | None = None
    """The windowed KPIs to compute (catalog names); None computes all. Order and ticket state,
    bursts, backlog alerts and the guarantee view do not depend on it."""
    state_ttl_ms: int = 30 * 24 * 3_600_000
    """Order and ticket state is dropped once the watermark is this far past its newest event
    (and an order's payment cohorts have settled). This is the dedup horizon: an event of an
    expired order counts as parked, like one whose payment never came."""


@dataclass
class PartitionEngine:
    """State mappings are plain dicts it mutates in place; it reports what it touched
    (`drain_touched`) so the shell persists each changed key once, where it chooses."""

    partition: int
    orders: MutableMapping[str, State]
    tickets: MutableMapping[str, State]
    config: EngineConfig = field(default_factory=EngineConfig)
    metrics: MetricsSink = field(default_factory=NullMetrics)

    def __post_init__(self) -> None:
        settles = tuple(int(s * 1000) for s in SETTLE_HORIZONS_S)
        sizes = tuple(sorted({*self.config.window_sizes_ms, BURST_WINDOW_MS}))  # burst counts need 1 min
        self.windows = PartitionWindows(sizes, settles, self.config.grace_ms, tuple(t.name for t in INPUT_TOPICS))
        detailed = tuple(s for s in self.config.window_sizes_ms if s in self.config.detailed_window_ms)
        self.ctx = Context(self.windows, self.metrics, self.config.window_sizes_ms, detailed, self.config.kpis)
        self.last_reject = Reject("implausible_time", "")
        self.rejected_parked: list[tuple[str, Event, int]] = []
        self.touched_orders: set[str] = set()
        self.touched_tickets: set[str] = set()
        self.before_orders: dict[str, bytes | None] = {}
        self.before_tickets: dict[str, bytes | None] = {}
        """Each touched state as it was before its first change since the last drain (JSON;
        None: it did not exist). Written with the new value, so that a crash in the middle
        of a batch's writes can be taken back to the batch's start (`streams.worker.state.writes`)."""
        self.expired_orders: set[str] = set()
        self.expired_tickets: set[str] = set()
        self.order_expiry = Schedule()
        self.ticket_expiry = Schedule()
        """When each state may expire, checked lazily: a state touched since is scheduled again."""
        self.cohort_ms = int(max(SETTLE_HORIZONS_S) * 1000) + max(self.config.window_sizes_ms)
        self.due = Schedule()
        """Unshipped orders by promised ship time (checked lazily: shipped or closed ones are skipped)."""
        self.overdue_by_category: dict[str, int] = {}
        self.overdue_by_merchant: dict[str, int] = {}
        self.overdue_changed: dict[str, int] = {}
        """merchant -> this partition's overdue count, for merchants whose count changed since the last drain."""
        self.overdue_time = 0

    # -- entry point ----------------------------------------------------------------
    def process(self, topic: str, event: Event, offset: int = 0) -> str:
        """Apply one valid event read at `offset`; returns its outcome (see OUTCOMES).

        "rejected": the reason is in `last_reject` (the shell dead-letters the record)."""
        t = event["event_time"]
        newest = self.windows.newest
        kind = event["event_type"]
        if newest is not None and t > newest + self.config.max_ahead_ms and not self._known(kind, event):
            self.last_reject = Reject("implausible_time", "event time days ahead of everything else read here")
            return "rejected"
        if kind.startswith("ticket."):
            late = self.windows.observe(topic, t)
            outcome = self._ticket(event)
        else:
            outcome = self._order_event(topic, event, offset)
            if outcome == "rejected":
                return outcome
            late = self.windows.observe(topic, t)
        if outcome == "applied" and late:
            return "late"
        return outcome

    def _known(self, kind: str, event: Event) -> bool:
        """The event belongs to an order (or ticket) this partition holds: its own later event,
        plausible however far ahead, within its state's life (a shipment 55 days after its
        payment, a refund read while the partition's other topics lag days behind). Only what
        would start an order or ticket is held to `max_ahead_ms`. Asked only of events that
        far ahead: rare, so the extra look-ups cost nothing per event."""
        order_id = event.get("order_id")
        if kind.startswith("ticket.") and self.current(self.tickets, event["ticket_id"]) is not None:
            return True
        if order_id is None:
            return False
        order = self.current(self.orders, order_id)
        return order is not None and "paid" in order

    def drain_rejected(self) -> list[tuple[str, Event, int]]:
        """Parked events found implausible when their payment came: (topic, event, offset)."""
        rejected = self.rejected_parked
        if rejected:  # asked after every event: no new list while there is nothing
            self.rejected_parked = []
        return rejected

    def close_due(self) -> list[ClosedWindow]:
        """Windows now final here (with data); `windows.closed_through` says how far each horizon got."""
        self._mark_overdue()
        self._expire()
        return list(self.windows.close_due())

    def provisional_due(self) -> list[ClosedWindow]:
        """Cohort windows whose own end passed, not yet settled, marked provisional: reported when
        the watermark passes their end, and again as their horizon advances while they change."""
        return list(self.windows.provisional_due())

    # -- orders -----------------------------------------------------------------------
    def _order_event(self, topic: str, event: Event, offset: int) -> str:
        order_id = event["order_id"]
        state = self.current(self.orders, order_id)
        if state is not None and event["event_id"] in state["seen"]:
            return "duplicate"
        if state is not None and "paid" in state and event["event_time"] < state["paid"]:
            self.last_reject = Reject("implausible_time", "event before its order's payment")
            return "rejected"
        self._touch_order(order_id)
        if state is None:
            state = self.orders[order_id] = self._new_state(order_id, True, event["event_time"])
        state["seen"].append(event["event_id"])
        state["t"] = max(state["t"], event["event_time"])
        if event["event_type"] == "order.paid":
            if "paid" in state:
                return "duplicate"  # a second payment record under another event id
            self._paid(state, event)
            for parked_topic, parked, *at in state.pop("parked", []):
                if parked["event_time"] < state["paid"]:  # e.g. shipped before paid
                    self.rejected_parked.append((parked_topic, parked, at[0] if at else 0))
                    state["seen"].remove(parked["event_id"])  # a corrected copy may still come
                else:
                    self._apply(state, parked_topic, parked)
            for reason in state.pop("tickets_waiting", []):
                areas.on_order_ticket(self.ctx, state, reason)
            return "applied"
        if "paid" not in state:
            state.setdefault("parked", []).append([topic, event, offset])
            return "parked"
        self._apply(state, topic, event)
        return "applied"

    def _paid(self, state: State, e: Event) -> None:
        state.update(
            paid=e["event_time"],
            promised=e["promised_ship_by"],
            presale=e["presale"],
            cat=e["category"],
            ch=e["channel"],
            seller="creator" if e["creator_id"] is not None else "merchant",
            m=e["merchant_id"],
            ls=e["livestream_id"],
            elig=e["express_refund_eligible"],
            ins=e["return_shipping_insured"],
            g=e["guarantees"],
            upd=e["event_time"],
        )
        state.setdefault("shipped", None)
        state.setdefault("closed", None)
        areas.on_paid(self.ctx, state, e)
        # merged across partitions at stage two, where bursts are detected
        merchant = merchant_key(e["merchant_id"], e["livestream_id"])
        self.windows.add((merchant,), 1, e["event_time"], 0, ((0, 1.0),), (BURST_WINDOW_MS,))
        self.due.push(state["promised"], e["order_id"])

    def _apply(self, state: State, topic: str, e: Event) -> None:
        kind, t = e["event_type"], e["event_time"]
        state["upd"] = max(state["upd"], t)
        before = areas.cohort_48h(state)
        if kind == "shipment.shipped":
            if state["shipped"] is None or t < state["shipped"]:
                first = state["shipped"] is None
                state["shipped"] = t
                state["carrier"] = e["carrier"]
                if first:
                    areas.on_shipped(self.ctx, state, e)
                areas.retract_refunds_before(self.ctx, state, t)
                self._clear_overdue(state)
        elif kind == "shipment.delivered":
            state["delivered"] = t
        elif kind.startswith("shipment."):
            if kind == "shipment.exception":
                state["exc"] = t
            if kind == "shipment.buyer_notified" and state.get("exc") is None:
                state.setdefault("notices", []).append(e)  # its exception is still on the way
            else:
                areas.on_shipment_update(self.ctx, state, e)
            if kind == "shipment.exception":
                for notice in state.pop("notices", []):
                    areas.on_shipment_update(self.ctx, state, notice)
        elif kind == "order.cancelled":
            state["cancelled"] = t
            self._close(state, t)
        elif kind == "refund.requested":
            refund = state.setdefault("refunds", {}).setdefault(e["refund_id"], {})
            refund.update(asked=t, express=e["express"])
            refund["pre"] = areas.on_refund_requested(self.ctx, state, e)
            if "done" in refund:  # the completion arrived first
                areas.on_refund_completed(self.ctx, state, refund.pop("done"), (t, e["express"]))
        elif kind == "refund.completed":
            refund = state.setdefault("refunds", {}).setdefault(e["refund_id"], {})
            refund["completed"] = t
            if "asked" in refund:
                areas.on_refund_completed(self.ctx, state, e, (refund["asked"], refund["express"]))
            else:
                refund["done"] = e
            self._close(state, t)
        elif kind == "refund.rejected":
            state.setdefault("refunds", {}).setdefault(e["refund_id"], {})["rejected"] = t
        elif kind == "feedback.negative":
            areas.on_negative_feedback(self.ctx, state, e)
        # refund.approved changes no KPI
        areas.apply_cohort_delta(self.ctx, state, before)

    def _close(self, state: State, t: int) -> None:
        if state["closed"] is None or t < state["closed"]:
            state["closed"] = t
        if state["shipped"] is None:
            self._clear_overdue(state)

    # -- after recovery ---------------------------------------------------------------
    @staticmethod
    def ticket_routing_key(ticket_id: str, state: State) -> str:
        """Tickets travel under their order's id when they have one (co-partitioned with it)."""
        return str(state.get("o") or ticket_id)

    def rebuild(self, order_ids: Iterable[str], ticket_ids: Iterable[str]) -> None:
        """Re-derive what the tables do not hold, from this partition's recovered states.

        A worker that restarts (or takes over a partition) gets order and ticket state back
        from the changelogs; the due heap, the expiry schedule and the overdue counts live
        only in memory and are rebuilt here before the first event."""
        for order_id in order_ids:
            state = self.orders[order_id]
            self.order_expiry.push(self._expires_at(state), order_id)
            if "paid" not in state:
                continue
            if state.get("overdue"):
                self._count_overdue(state, +1, state["upd"])
            elif state.get("shipped") is None and state.get("closed") is None:
                self.due.push(state["promised"], order_id)
        for ticket_id in ticket_ids:
            self.ticket_expiry.push(self._expires_at(self.tickets[ticket_id]), ticket_id)

    # -- overdue backlog --------------------------------------------------------------
    def _mark_overdue(self) -> None:
        wm = self.windows.watermark()
        if wm is None:
            return
        for _, order_id in self.due.pop_before(wm):
            state = self.current(self.orders, order_id)
            if state is None or state.get("shipped") is not None or state.get("closed") is not None:
                continue
            self._touch_order(order_id)
            state["overdue"] = True
            self._count_overdue(state, +1, wm)

    def _clear_overdue(self, state: State) -> None:
        if state.pop("overdue", False):
            self._count_overdue(state, -1, state["upd"])

    def _count_overdue(self, state: State, step: int, t: int) -> None:
        cat, merchant = state["cat"], state["m"]
        self.overdue_by_category[cat] = self.overdue_by_category.get(cat, 0) + step
        n = self.overdue_by_merchant.get(merchant, 0) + step
        if n:
            self.overdue_by_merchant[merchant] = n
        else:
            self.overdue_by_merchant.pop(merchant, None)
        self.overdue_changed[merchant] = n
        self.overdue_time = max(self.overdue_time, t)

    # -- tickets ----------------------------------------------------------------------
    def _ticket(self, e: Event) -> str:
        ticket_id = e["ticket_id"]
        state = self.current(self.tickets, ticket_id)
        if state is not None and e["event_id"] in state["seen"]:
            return "duplicate"
        self._touch(self.tickets, self.before_tickets, self.touched_tickets, ticket_id)
        if state is None:
            state = self.tickets[ticket_id] = self._new_state(ticket_id, False, e["event_time"])
            if e.get("order_id") is not None:
                state["o"] = e["order_id"]  # its Kafka key, hence its partition (see `ticket_routing_key`)
        state["seen"].append(e["event_id"])
        state["t"] = max(state["t"], e["event_time"])
        if e["event_type"] == "ticket.opened":
            state["opened"] = e["event_time"]
            state["handler"] = e["handled_by"]
            areas.on_ticket_opened(self.ctx, e)
            if e["order_id"] is not None:
                self._order_ticket(e["order_id"], e["reason"], e["event_time"])
            for parked in state.pop("parked", []):
                self._ticket_followup(state, parked)
            return "applied"
        if "opened" not in state:
            state.setdefault("parked", []).append(e)
            return "parked"
        self._ticket_followup(state, e)
        return "applied"

    def _order_ticket(self, order_id: str, reason: str, t: int) -> None:
        """Attribute a help request to its order's payment cohort, or wait for the payment."""
        order = self.current(self.orders, order_id)
        self._touch_order(order_id)
        if order is None:
            order = self.orders[order_id] = self._new_state(order_id, True, t)
        order["t"] = max(order["t"], t)
        if "paid" in order:
            areas.on_order_ticket(self.ctx, order, reason)
        else:
            order.setdefault("tickets_waiting", []).append(reason)

    def _ticket_followup(self, state: State, e: Event) -> None:
        if e["event_type"] == "ticket.first_response":
            if not state.get("responded"):
                state["responded"] = True
                areas.on_first_response(self.ctx, e, state["opened"])
        else:
            areas.on_ticket_resolved(self.ctx, e, state.get("handler"))

    def current(self, states: MutableMapping[str, State], key: str) -> State | None:
        """A state, resolved if it is still a versioned record as recovery read it.

        The memory store shares one dict per table between the worker's partitions, and a
        rebalance's recovery can write records into it under a live engine (`state_writes`)."""
        state = states.get(key)
        if state is not None and "seen" not in state:
            state, _ = resolve_in(states, key, self.windows.batch)
        return state

    def _touch_order(self, order_id: str) -> None:
        self._touch(self.orders, self.before_orders, self.touched_orders, order_id)

    @staticmethod
    def _touch(
        states: MutableMapping[str, State], before: dict[str, bytes | None], touched: set[str], key: str
    ) -> None:
        """Call before changing a state: remembers it as it was, marks it for writing."""
        if key not in before:
            state = states.get(key)
            before[key] = None if state is None else orjson.dumps(state)
        touched.add(key)

    def drain_before(self) -> tuple[dict[str, bytes | None], dict[str, bytes | None]]:
        """The `before` snapshots of the states drained with `drain_touched`."""
        orders, tickets = self.before_orders, self.before_tickets
        self.before_orders, self.before_tickets = {}, {}
        return orders, tickets

    def drain_touched(self) -> tuple[set[str], set[str]]:
        orders, tickets = self.touched_orders, self.touched_tickets
        self.touched_orders, self.touched_tickets = set(), set()
        return orders, tickets

    def drain_overdue(self) -> tuple[dict[str, int], int]:
        """Changed per-merchant overdue counts of this partition (absolute), and the newest event time."""
        changed, self.overdue_changed = self.overdue_changed, {}
        return changed, self.overdue_time

    def drain_expired(self) -> tuple[set[str], set[str]]:
        """Keys dropped since the last call: the shell writes their changelog tombstones."""
        orders, tickets = self.expired_orders, self.expired_tickets
        self.expired_orders, self.expired_tickets = set(), set()
        return orders, tickets

    # -- state expiry -----------------------------------------------------------------
    def _new_state(self, key: str, is_order: bool, t: int) -> State:
        (self.order_expiry if is_order else self.ticket_expiry).push(t + self.config.state_ttl_ms, key)
        return {"seen": [], "t": t}

    def _expires_at(self, state: State) -> int:
        due = state["t"] + self.config.state_ttl_ms
        if "paid" in state:  # its payment cohorts must have settled first
            due = max(due, state["paid"] + self.cohort_ms)
        return int(due)

    def _expire(self) -> None:
        wm = self.windows.watermark()
        if wm is None:
            return
        due_now = [(t, True, key) for t, key in self.order_expiry.pop_before(wm)]
        due_now += [(t, False, key) for t, key in self.ticket_expiry.pop_before(wm)]
        for _, is_order, key in sorted(due_now):  # in the order one schedule of both would give
            table = self.orders if is_order else self.tickets
            state = self.current(table, key)
            if state is None:
                continue
            due = self._expires_at(state)
            if due >= wm:
                (self.order_expiry if is_order else self.ticket_expiry).push(due, key)
                continue
            if is_order:
                self._clear_overdue(state)
                self.touched_orders.discard(key)
                self.expired_orders.add(key)
            else:
                self.touched_tickets.discard(key)
                self.expired_tickets.add(key)
            del table[key]
            self.metrics.inc("state_expired", ("order-state" if is_order else "ticket-state",))
