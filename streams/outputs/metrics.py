"""Prometheus metrics: per-event counters and histograms, and processor health.

Labels are bounded enums from the contract (category, channel, seller kind, carrier,
reason, ...); merchant, order and buyer ids never become labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics

from streams.kpis.catalog import NOTICE_BUCKETS, REFUND_BUCKETS, RESPONSE_BUCKETS, TIME_TO_SHIP_BUCKETS
from streams.outputs.event_metrics import CounterSpec, EventMetrics, HistogramSpec

NS = "cxkpi"
DELAY = "event_to_metric_delay_seconds"
disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the series count and no dashboard or rule reads them

METRIC_FAMILIES: dict[str, tuple[str, ...]] = {
    "cxkpi_orders_paid": ("category", "channel", "seller"),
    "cxkpi_orders_shipped": ("category", "channel", "seller", "promise"),
    "cxkpi_eta_slips": ("carrier",),
    "cxkpi_shipment_exceptions": ("carrier", "kind"),
    "cxkpi_guarantee_claims": ("guarantee",),
    "cxkpi_refunds_requested": ("reason", "express"),
    "cxkpi_help_requests": ("reason", "handled_by", "complaint"),
    "cxkpi_ticket_ratings": ("handled_by", "rating"),
    "cxkpi_negative_feedback": ("seller",),
    "cxkpi_state_expired": ("table",),
    "cxkpi_time_to_ship_seconds": ("category", "channel", "seller"),
    "cxkpi_exception_notice_seconds": ("carrier",),
    "cxkpi_refund_completion_seconds": ("express",),
    "cxkpi_first_response_seconds": ("handled_by",),
    "cxkpi_events_consumed": ("topic", "outcome"),
    "cxkpi_rejects": ("reason",),
    "cxkpi_dead_letters_dropped": (),
    "cxkpi_last_event_timestamp_seconds": ("topic",),
    "cxkpi_watermark_timestamp_seconds": ("partition",),
    "cxkpi_windows_emitted": (),
    "cxkpi_late_window_updates": (),
    "cxkpi_orders_overdue": ("category",),
    "cxkpi_order_bursts": (),
    "cxkpi_merchants_bursting": (),
    "cxkpi_consumer_lag_records": ("topic", "partition"),
    "cxkpi_stage_two_lag_records": ("partition",),
    "cxkpi_partials_merged": (),
    "cxkpi_table_keys": ("table",),
    "cxkpi_rebalances": (),
    "cxkpi_transactions": ("outcome",),
    "cxkpi_input_partitions_owned": (),
    "cxkpi_window_value": ("kpi", "window"),
    "cxkpi_window_end_timestamp_seconds": ("kpi", "window"),
    "cxkpi_event_to_metric_delay_seconds": (),
}
"""Every metric family a worker exports and its labels: a test fails when /metrics differs,
so cardinality cannot grow unnoticed. Every label is a bounded enum of the contract."""


class Metrics:
    """Implements `MetricsSink` for the engine plus the worker's health metrics."""

    def __init__(self, registry: CollectorRegistry | None = None):
        r = self.registry = registry or CollectorRegistry()
        order = ("category", "channel", "seller")
        self.per_event = EventMetrics(
            counters={
                "orders_paid": CounterSpec(f"{NS}_orders_paid", "Orders paid.", order),
                "orders_shipped": CounterSpec(
                    f"{NS}_orders_shipped", "Orders shipped, on time or late.", (*order, "promise")
                ),
                "eta_slips": CounterSpec(f"{NS}_eta_slips", "ETA updates that moved delivery later.", ("carrier",)),
                "shipment_exceptions": CounterSpec(
                    f"{NS}_shipment_exceptions", "In-transit exceptions.", ("carrier", "kind")
                ),
                "guarantee_claims": CounterSpec(
                    f"{NS}_guarantee_claims", "Refunds claiming a guarantee.", ("guarantee",)
                ),
                "refunds_requested": CounterSpec(
                    f"{NS}_refunds_requested", "Refunds requested.", ("reason", "express")
                ),
                "help_requests": CounterSpec(
                    f"{NS}_help_requests", "Help requests opened.", ("reason", "handled_by", "complaint")
                ),
                "ticket_ratings": CounterSpec(
                    f"{NS}_ticket_ratings", "Satisfaction ratings given.", ("handled_by", "rating")
                ),
                "negative_feedback": CounterSpec(
                    f"{NS}_negative_feedback", "Negative feedback on orders.", ("seller",)
                ),
                "state_expired": CounterSpec(
                    f"{NS}_state_expired",
                    "Order and ticket states dropped after their TTL (the dedup horizon).",
                    ("table",),
                ),
            },
            histograms={
                "time_to_ship_seconds": HistogramSpec(
                    f"{NS}_time_to_ship_seconds", "Payment to shipment (in-stock).", order, TIME_TO_SHIP_BUCKETS
                ),
                "exception_notice_seconds": HistogramSpec(
                    f"{NS}_exception_notice_seconds", "Exception to buyer notice.", ("carrier",), NOTICE_BUCKETS
                ),
                "refund_completion_seconds": HistogramSpec(
                    f"{NS}_refund_completion_seconds", "Refund request to completion.", ("express",), REFUND_BUCKETS
                ),
                "first_response_seconds": HistogramSpec(
                    f"{NS}_first_response_seconds",
                    "Ticket opened to first response.",
                    ("handled_by",),
                    RESPONSE_BUCKETS,
                ),
                DELAY: HistogramSpec(
                    f"{NS}_event_to_metric_delay_seconds",
                    "Wall time from the record's Kafka timestamp to its metrics being updated.",
                    (),
                    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
                ),
            },
        )
        r.register(self.per_event)
        self.events = Counter(
            f"{NS}_events_consumed_total", "Input records by topic and outcome.", ["topic", "outcome"], registry=r
        )
        self.rejects = Counter(
            f"{NS}_rejects_total", "Records sent to cxkpi.rejects, by reason.", ["reason"], registry=r
        )
        self.dead_letters_dropped = Counter(
            f"{NS}_dead_letters_dropped_total",
            "Dead letters the broker refused; at least once they are dropped (logged with their input "
            "offsets) and processing goes on.",
            registry=r,
        )
        self.last_event = Gauge(
            f"{NS}_last_event_timestamp_seconds", "Newest event time seen, by topic.", ["topic"], registry=r
        )
        self.watermark = Gauge(
            f"{NS}_watermark_timestamp_seconds",
            "Event-time watermark of each input partition this worker owns.",
            ["partition"],
            registry=r,
        )
        self.late_updates = Counter(
            f"{NS}_late_window_updates_total",
            "Window updates skipped because their window had already closed.",
            registry=r,
        )
        self.windows_emitted = Counter(
            f"{NS}_windows_emitted_total",
            "Final kpi.windows records published, counted once acknowledged (committed under exactly_once).",
            registry=r,
        )
        self.overdue = Gauge(
            f"{NS}_orders_overdue",
            "Unshipped orders past their promised ship-by (this worker's partitions).",
            ["category"],
            registry=r,
        )
        self.bursts = Counter(
            f"{NS}_order_bursts_total",
            "Order bursts detected (a merchant at several times its own recent order rate).",
            registry=r,
        )
        self.bursting = Gauge(
            f"{NS}_merchants_bursting",
            "Merchants in an order burst now, of those whose partials partitions this worker merges "
            "(sum over the workers).",
            registry=r,
        )
        self.lag = Gauge(
            f"{NS}_consumer_lag_records",
            "Records not yet consumed, per input partition this worker owns (broker end offset - position).",
            ["topic", "partition"],
            registry=r,
        )
        # its own family: in `cxkpi_consumer_lag_records` it would change what the stalled-worker
        # alert (consumed nothing with input waiting) says about a worker
        self.stage_two_lag = Gauge(
            f"{NS}_stage_two_lag_records",
            "Window partials not yet merged into final windows, per partials partition this worker "
            "merges (partials topic end offset - stage two's next offset). Under exactly_once a "
            "transaction's commit marker after the last partial counts as one.",
            ["partition"],
            registry=r,
        )
        self.partials_merged = Counter(
            f"{NS}_partials_merged",
            "Window partials, progress marks and overdue counts this worker's stage two merged "
            "(its share of stage two's work).",
            registry=r,
        )
        self.window_value = Gauge(
            f"{NS}_window_value",
            "Platform-wide value of the newest final event-time window of each KPI output (payment cohorts "
            "included, which PromQL cannot compute). Exported by the worker whose stage two merges that KPI.",
            ["kpi", "window"],
            registry=r,
        )
        self._newest_window: dict[tuple[str, str], int] = {}
        self._window_merged_on: dict[tuple[str, str], int] = {}
        """(kpi, window) -> the stage-two partition whose records set its gauges."""
        self.window_end = Gauge(
            f"{NS}_window_end_timestamp_seconds",
            "End (event time) of the window behind cxkpi_window_value.",
            ["kpi", "window"],
            registry=r,
        )
        self.rebalances = Counter(
            f"{NS}_rebalances_total",
            "Partition assignments this worker received (consumer group rebalances).",
            registry=r,
        )
        self.transactions = Counter(
            f"{NS}_transactions",
            "Kafka transactions ended, by outcome (committed, aborted); 0 unless exactly_once.",
            ["outcome"],
            registry=r,
        )
        for outcome in ("committed", "aborted"):
            self.transactions.labels(outcome)
        self.partitions_owned = Gauge(
            f"{NS}_input_partitions_owned", "Input topic partitions assigned to this worker.", registry=r
        )
        self.table_keys = Gauge(f"{NS}_table_keys", "Keys held in a state table on this worker.", ["table"], registry=r)

    def final_window(self, record: dict[str, Any], stage_two_partition: int = 0) -> None:
        """Gauges of the newest final window of a KPI output, totals only (bounded labels),
        merged on `stage_two_partition` (a KPI's totals always are: `streams.kpis.routing`)."""
        if record["dimensions"] or not record["final"] or record["value"] is None:
            return
        seconds = (record["window_end"] - record["window_start"]) // 1000
        window = f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"
        labels = (record["kpi"], window)
        if record["window_end"] >= self._newest_window.get(labels, 0):  # a re-emitted older window: ignored
            self._newest_window[labels] = record["window_end"]
            self._window_merged_on[labels] = stage_two_partition
            self.window_end.labels(*labels).set(record["window_end"] / 1000.0)
            self.window_value.labels(*labels).set(record["value"])

    def keep_windows_of(self, stage_two_partitions: set[int]) -> None:
        """Drop the window gauges of stage-two partitions no longer merged here: after a
        rebalance their newest windows come from another worker, and a gauge left here would
        go stale beside that worker's (two series of one KPI, the older never moving again)."""
        for labels, partition in list(self._window_merged_on.items()):
            if partition not in stage_two_partitions:
                del self._window_merged_on[labels], self._newest_window[labels]
                self.window_value.remove(*labels)
                self.window_end.remove(*labels)

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        self.per_event.inc(name, labels, amount)

    def observe(self, name: str, labels: tuple[str, ...], value: float) -> None:
        self.per_event.observe(name, labels, value)

    def observe_delays(self, seconds: Iterable[float]) -> None:
        self.per_event.observe_all(DELAY, (), seconds)
