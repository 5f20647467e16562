"""The topic contract: every topic cxkpi reads or writes, its key, config and records.

This module is the single source of truth. JSON Schemas (`topics/schemas/`), the typed
models (`topics/models.py`), the validity checks (`topics/checks.py`), the field tables
in `topics/README.md` and the decoder's validation all follow from it;
`tests/topics/test_contract_drift.py` fails when they drift. It imports nothing of the rest
of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

SCHEMA_VERSION = 1
"""Highest record schema version this code understands; newer records are rejected."""

INPUT_PARTITIONS = 4
"""Input topics are co-partitioned: an order's whole life lands on one partition."""

DAY_MS = 24 * 3600 * 1000

MAX_TIMESTAMP_MS = 4_102_444_800_000
"""2100-01-01T00:00Z: a later timestamp is a broken producer, not an event (out_of_range)."""
MAX_AMOUNT_CNY = 10_000_000
"""Upper bound of any amount: a larger one (1e40, 1e308) is a broken producer, and summed into a
window it would swamp every real order (out_of_range)."""


class Kind(Enum):
    """Wire type of a field. Timestamps are UTC epoch milliseconds (integers)."""

    STRING = "string"
    INT = "integer"
    NUMBER = "number"
    BOOL = "boolean"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    ENUM_LIST = "enum_list"
    OBJECT = "object"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    doc: str
    required: bool = True
    nullable: bool = False
    values: tuple[str, ...] = ()
    """Allowed values for ENUM and ENUM_LIST fields."""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    personal: bool = False
    """Identifies a person: kept inside the processor, never exported anywhere."""


@dataclass(frozen=True)
class Record:
    """One event type (input topics) or record shape (derived topics)."""

    name: str
    doc: str
    fields: tuple[Field, ...]

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class Topic:
    name: str
    doc: str
    key: str
    """Which field is the Kafka key (with a fallback after '|' when it can be null)."""
    records: tuple[Record, ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = INPUT_PARTITIONS
    config: dict[str, str] = field(default_factory=dict)
    is_input: bool = True

    def record(self, name: str) -> Record:
        for record in self.records:
            if record.name == name:
                return record
        raise KeyError(f"{self.name} has no record type {name!r}")


# -- bounded value sets: these become metric labels, so they stay small -----------------

CHANNELS = ("livestream", "short_video", "mall", "search")
CATEGORIES = ("fresh_food", "beauty", "apparel", "electronics", "home", "grocery")
GUARANTEES = ("fresh_damage", "allergy", "trade_in_repair", "authenticity")
CARRIERS = ("sf", "jd", "zto", "yto", "yunda", "ems")
EXCEPTION_KINDS = ("delayed", "lost", "damaged", "address")
CANCEL_REASONS = ("buyer", "out_of_stock", "merchant", "payment_timeout")
REFUND_REASONS = ("not_shipped", "damaged", "allergy", "quality", "changed_mind", "wrong_item", "other")
REJECT_REASONS = ("merchant_declined", "outside_window", "not_eligible")
TICKET_REASONS = ("shipping", "refund", "product", "other")
HANDLERS = ("merchant", "platform")
FEEDBACK_SOURCES = ("review", "rating", "chat")

# -- shared fields ----------------------------------------------------------------------


def _envelope(event_type: str) -> tuple[Field, ...]:
    return (
        Field("event_id", Kind.STRING, "Unique id of this event; redeliveries repeat it (dedup key).", max_length=128),
        Field("event_type", Kind.ENUM, "What happened.", values=(event_type,)),
        _ts("event_time", "When it happened (UTC epoch ms); defines windows."),
        Field("schema_version", Kind.INT, "Record schema version.", minimum=1),
    )


def _ts(name: str, doc: str, nullable: bool = False) -> Field:
    return Field(name, Kind.TIMESTAMP, doc, nullable=nullable, maximum=MAX_TIMESTAMP_MS)


def _id(name: str, doc: str, nullable: bool = False, personal: bool = False) -> Field:
    return Field(name, Kind.STRING, doc, nullable=nullable, max_length=128, personal=personal)


ORDER_ID = _id("order_id", "Order this event belongs to.")
SHIPMENT_ID = _id("shipment_id", "Shipment (parcel) id.")
CARRIER = Field("carrier", Kind.ENUM, "Logistics carrier.", values=CARRIERS)
REFUND_ID = _id("refund_id", "Refund request id.")
TICKET_ID = _id("ticket_id", "Support ticket id.")
TICKET_ORDER_ID = _id("order_id", "Order the ticket is about; null for general questions.", nullable=True)
HANDLED_BY = Field("handled_by", Kind.ENUM, "Who answers: the merchant's or the platform's support.", values=HANDLERS)


def _event(name: str, doc: str, *fields: Field) -> Record:
    return Record(name, doc, _envelope(name) + fields)


# -- input topics -----------------------------------------------------------------------

_INPUT_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}

ORDERS = Topic(
    name="orders",
    doc="Order lifecycle at the checkout: payment and cancellation.",
    key="order_id",
    producers=("order service", "cxkpi generate"),
    consumers=("cxkpi worker",),
    config=_INPUT_CONFIG,
    records=(
        _event(
            "order.paid",
            "A buyer paid for an order.",
            ORDER_ID,
            _id("merchant_id", "Merchant (shop) that ships the order."),
            _id(
                "creator_id", "Creator (influencer) who sold it; null when the merchant sells directly.", nullable=True
            ),
            Field("channel", Kind.ENUM, "Sales channel.", values=CHANNELS),
            _id("livestream_id", "Livestream the order came from; null outside livestreams.", nullable=True),
            Field("category", Kind.ENUM, "Product category.", values=CATEGORIES),
            Field("amount", Kind.NUMBER, "Amount paid (CNY).", minimum=0, maximum=MAX_AMOUNT_CNY),
            Field("presale", Kind.BOOL, "Pre-sale order: ships by presale_ship_by instead of from stock."),
            _ts("presale_ship_by", "Pre-sale ship-by date; null for in-stock orders.", nullable=True),
            _ts("promised_ship_by", "Ship-by time promised to the buyer."),
            Field("express_refund_eligible", Kind.BOOL, "Refund can be paid before the return arrives."),
            Field("return_shipping_insured", Kind.BOOL, "Return shipping is insured."),
            Field("guarantees", Kind.ENUM_LIST, "Category guarantees that apply.", values=GUARANTEES),
            _id("buyer_id", "Buyer. Never leaves the processor.", personal=True),
        ),
        _event(
            "order.cancelled",
            "The order was cancelled before shipment.",
            ORDER_ID,
            Field("reason", Kind.ENUM, "Why it was cancelled.", values=CANCEL_REASONS),
        ),
    ),
)

SHIPMENTS = Topic(
    name="shipments",
    doc="Logistics: hand-over to the carrier, ETA changes, exceptions, notices, delivery.",
    key="order_id",
    producers=("logistics service", "cxkpi generate"),
    consumers=("cxkpi worker",),
    config=_INPUT_CONFIG,
    records=(
        _event(
            "shipment.shipped",
            "The merchant handed the parcel to the carrier.",
            ORDER_ID,
            SHIPMENT_ID,
            CARRIER,
            _ts("promised_eta", "Delivery ETA promised at shipment."),
        ),
        _event(
            "shipment.eta_updated",
            "The carrier changed the delivery ETA.",
            ORDER_ID,
            SHIPMENT_ID,
            CARRIER,
            _ts("previous_eta", "ETA before this update."),
            _ts("new_eta", "ETA after this update."),
        ),
        _event(
            "shipment.exception",
            "Something went wrong in transit.",
            ORDER_ID,
            SHIPMENT_ID,
            CARRIER,
            Field("kind", Kind.ENUM, "Exception kind.", values=EXCEPTION_KINDS),
        ),
        _event(
            "shipment.buyer_notified",
            "The buyer was told of an exception before asking.",
            ORDER_ID,
            SHIPMENT_ID,
            CARRIER,
            Field("exception_kind", Kind.ENUM, "Exception the notice is about.", values=EXCEPTION_KINDS),
        ),
        _event("shipment.delivered", "The parcel reached the buyer.", ORDER_ID, SHIPMENT_ID, CARRIER),
    ),
)

REFUNDS = Topic(
    name="refunds",
    doc="After-sales refunds, including express refunds (paid before the return arrives).",
    key="order_id",
    producers=("after-sales service", "cxkpi generate"),
    consumers=("cxkpi worker",),
    config=_INPUT_CONFIG,
    records=(
        _event(
            "refund.requested",
            "The buyer asked for a refund.",
            ORDER_ID,
            REFUND_ID,
            Field("reason", Kind.ENUM, "Why.", values=REFUND_REASONS),
            Field("express", Kind.BOOL, "Handled as an express refund (refund before return)."),
            Field(
                "guarantee",
                Kind.ENUM,
                "Category guarantee claimed, if any.",
                nullable=True,
                values=GUARANTEES,
            ),
            Field("amount", Kind.NUMBER, "Amount asked (CNY).", minimum=0, maximum=MAX_AMOUNT_CNY),
        ),
        _event("refund.approved", "The refund was approved.", ORDER_ID, REFUND_ID),
        _event(
            "refund.completed",
            "The money reached the buyer.",
            ORDER_ID,
            REFUND_ID,
            Field("amount", Kind.NUMBER, "Amount refunded (CNY).", minimum=0, maximum=MAX_AMOUNT_CNY),
        ),
        _event(
            "refund.rejected",
            "The refund was refused.",
            ORDER_ID,
            REFUND_ID,
            Field("reason", Kind.ENUM, "Why it was refused.", values=REJECT_REASONS),
        ),
    ),
)

SUPPORT_TICKETS = Topic(
    name="support-tickets",
    doc="Help requests to merchant or platform support, and negative feedback on orders.",
    key="order_id|ticket_id",
    producers=("support desk", "reviews service", "cxkpi generate"),
    consumers=("cxkpi worker",),
    config=_INPUT_CONFIG,
    records=(
        _event(
            "ticket.opened",
            "A buyer asked for help.",
            TICKET_ID,
            TICKET_ORDER_ID,
            Field("reason", Kind.ENUM, "What the buyer asks about.", values=TICKET_REASONS),
            HANDLED_BY,
            Field("complaint", Kind.BOOL, "The buyer filed it as a complaint."),
            _id("buyer_id", "Buyer. Never leaves the processor.", personal=True),
        ),
        _event("ticket.first_response", "Support answered for the first time.", TICKET_ID, TICKET_ORDER_ID, HANDLED_BY),
        _event(
            "ticket.resolved",
            "The ticket was closed.",
            TICKET_ID,
            TICKET_ORDER_ID,
            Field(
                "satisfaction",
                Kind.INT,
                "Buyer's rating 1-5; null when not given.",
                nullable=True,
                minimum=1,
                maximum=5,
            ),
        ),
        _event(
            "feedback.negative",
            "Negative feedback on an order (bad review, low rating, angry chat).",
            _id("feedback_id", "Feedback id."),
            ORDER_ID,
            Field("source", Kind.ENUM, "Where the feedback came from.", values=FEEDBACK_SOURCES),
        ),
    ),
)

INPUT_TOPICS = (ORDERS, SHIPMENTS, REFUNDS, SUPPORT_TICKETS)

# -- derived topics ---------------------------------------------------------------------

_DIMENSION_DOC = "Dimension values, e.g. {'category': 'beauty', 'channel': 'livestream'}; {} for the total."

KPI_WINDOWS = Topic(
    name="kpi.windows",
    doc="One record per KPI, dimension set and closed event-time window. Re-emitting a window "
    "overwrites it (same key), so consumers may treat the topic as a table. The key lists the "
    "dimensions in the record's order, e.g. `ship_within_48h_ratio|category=fresh|1793491200000|1793491260000`.",
    key="<kpi>|<dimension>=<value>,...|<window_start>|<window_end>",
    producers=("cxkpi worker",),
    consumers=("cxkpi report", "dashboards", "downstream analytics"),
    config={"cleanup.policy": "compact", "retention.ms": str(30 * DAY_MS)},
    is_input=False,
    records=(
        Record(
            "kpi.window",
            "A KPI's value over one event-time window.",
            (
                Field("kpi", Kind.STRING, "KPI output name (the catalog, streams/kpis/catalog.py)."),
                Field("dimensions", Kind.OBJECT, _DIMENSION_DOC),
                _ts("window_start", "Window start (inclusive)."),
                _ts("window_end", "Window end (exclusive)."),
                Field("count", Kind.INT, "Events or orders the value is computed over.", minimum=0),
                Field(
                    "value",
                    Kind.NUMBER,
                    "The KPI value: a ratio 0-1, per 1,000, seconds, a count or a mean (docs/reference/kpis.md).",
                    nullable=True,
                ),
                Field(
                    "final",
                    Kind.BOOL,
                    "True once no later event can change it. False: a payment cohort's value so far, "
                    "sent again as its cohort moves, until its final record (same key) overwrites it.",
                ),
                Field("schema_version", Kind.INT, "Record schema version.", minimum=1),
            ),
        ),
    ),
)

SHIPPING_ALERTS = Topic(
    name="shipping.alerts",
    doc="Per-merchant shipping trouble for downstream services: overdue backlog and order bursts.",
    key="merchant_id",
    producers=("cxkpi worker",),
    consumers=("merchant ops", "notification service"),
    config={"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
    is_input=False,
    records=(
        Record(
            "shipping.alert",
            "A merchant's shipping state crossed a threshold.",
            (
                Field(
                    "alert",
                    Kind.ENUM,
                    "What is wrong: a merchant's overdue backlog reached a reporting step (10, 25, 50, ...), "
                    "or an order burst started or ended.",
                    values=("overdue_backlog", "order_burst", "order_burst_ended"),
                ),
                _id("merchant_id", "Merchant concerned."),
                _id("livestream_id", "Livestream that brought most of a burst's orders, if any.", nullable=True),
                _ts("event_time", "Event time at which it was detected (end of the deciding window)."),
                Field(
                    "overdue_orders",
                    Kind.INT,
                    "overdue_backlog: unshipped orders past their promised ship-by; null on burst records.",
                    nullable=True,
                    minimum=0,
                ),
                Field(
                    "order_rate_per_min",
                    Kind.NUMBER,
                    "Bursts: orders per minute over the last 5 minutes; null on backlog records.",
                    nullable=True,
                    minimum=0,
                ),
                Field(
                    "baseline_rate_per_min",
                    Kind.NUMBER,
                    "Bursts: the merchant's own rate over the hour before (frozen while the burst lasts); "
                    "null on backlog records.",
                    nullable=True,
                    minimum=0,
                ),
                Field(
                    "burst_orders",
                    Kind.INT,
                    "Bursts: orders taken since the burst started; null on backlog records.",
                    nullable=True,
                    minimum=0,
                ),
                Field("schema_version", Kind.INT, "Record schema version.", minimum=1),
            ),
        ),
    ),
)

ORDER_STATUSES = ("paid", "shipped", "in_transit_exception", "delivered", "cancelled", "refunding", "refunded")

GUARANTEE_STATUS = Topic(
    name="order.guarantee-status",
    doc="Compacted: per order, which guarantees apply and where the order stands (the service "
    "guarantee hall). The latest record per key is the current state.",
    key="order_id",
    producers=("cxkpi worker",),
    consumers=("order page", "customer service tools"),
    config={"cleanup.policy": "compact", "retention.ms": str(30 * DAY_MS)},
    is_input=False,
    records=(
        Record(
            "order.guarantee_status",
            "Current guarantees and stage of one order.",
            (
                ORDER_ID,
                Field("status", Kind.ENUM, "Where the order stands.", values=ORDER_STATUSES),
                Field("guarantees", Kind.ENUM_LIST, "Category guarantees that apply.", values=GUARANTEES),
                Field("express_refund_eligible", Kind.BOOL, "Express refund applies."),
                Field("return_shipping_insured", Kind.BOOL, "Return shipping insurance applies."),
                _ts("promised_ship_by", "Promised ship-by time."),
                Field("ship_overdue", Kind.BOOL, "Not shipped by the promised time (or shipped late)."),
                _ts("updated_at", "Event time of the last change."),
                Field("schema_version", Kind.INT, "Record schema version.", minimum=1),
            ),
        ),
    ),
)

REJECTS = Topic(
    name="cxkpi.rejects",
    doc="Dead letters: every input record cxkpi could not process, with the original key and "
    "bytes (base64, cut to a bounded prefix with the original size and hash), where it came from and why.",
    key="(original key, at most its first 1 KiB)",
    producers=("cxkpi worker",),
    consumers=("operators", "replay tooling"),
    partitions=1,
    config={"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
    is_input=False,
    records=(
        Record(
            "cxkpi.reject",
            "A record that could not be processed.",
            (
                Field("reason", Kind.STRING, "Machine-readable reason, e.g. invalid_json, missing_field."),
                Field("detail", Kind.STRING, "Human-readable detail (never contains field values)."),
                Field("source_topic", Kind.STRING, "Topic it was read from."),
                Field("source_partition", Kind.INT, "Partition it was read from.", minimum=0),
                Field("source_offset", Kind.INT, "Offset it was read from.", minimum=0),
                Field("key_b64", Kind.STRING, "Original key bytes, base64: at most the first 1 KiB.", nullable=True),
                Field(
                    "value_b64",
                    Kind.STRING,
                    "Original value bytes, base64: at most the first 64 KiB (see truncated).",
                    nullable=True,
                ),
                Field("key_bytes", Kind.INT, "Size of the original key; null without one.", nullable=True, minimum=0),
                Field(
                    "value_bytes", Kind.INT, "Size of the original value; null: a tombstone.", nullable=True, minimum=0
                ),
                Field(
                    "value_sha256",
                    Kind.STRING,
                    "SHA-256 of the whole original value (hex), to match a prefix to its record.",
                    nullable=True,
                ),
                Field("truncated", Kind.BOOL, "The key or value was cut to its prefix (a bounded dead letter)."),
                Field("schema_version", Kind.INT, "Record schema version.", minimum=1),
            ),
        ),
    ),
)

DERIVED_TOPICS = (KPI_WINDOWS, SHIPPING_ALERTS, GUARANTEE_STATUS, REJECTS)
ALL_TOPICS = INPUT_TOPICS + DERIVED_TOPICS
TOPICS_BY_NAME = {t.name: t for t in ALL_TOPICS}

EVENT_TOPIC = {r.name: t.name for t in INPUT_TOPICS for r in t.records}
"""Which input topic each event type travels on."""
