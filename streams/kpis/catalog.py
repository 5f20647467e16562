"""Every windowed KPI: how it aggregates, its dimensions and when a window becomes final.

One place for names: the engine, the `kpi.windows` records, the report and the README
follow from it. Aggregates are additive vectors, so partial windows from several
partitions (and workers) merge by element-wise sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

HOUR_S = 3600.0


class Agg(Enum):
    COUNT = "count"
    """vector [n]; value n"""
    RATIO = "ratio"
    """vector [num, den]; value num/den"""
    PER_1K = "per_1k"
    """vector [num, den]; value 1000*num/den"""
    MEAN = "mean"
    """vector [sum, n]; value sum/n (the scale is the KPI's `unit`)"""
    HISTOGRAM = "histogram"
    """vector [count, sum, bucket_0..bucket_k]; values mean and quantiles"""


@dataclass(frozen=True)
class Kpi:
    name: str
    agg: Agg
    dims: tuple[tuple[str, ...], ...]
    """Dimension sets it is broken down by; () is the total."""
    doc: str
    settle_s: float = 0.0
    """A window is final this long after its end (payment cohorts wait for 48 h)."""
    buckets: tuple[float, ...] = ()
    """Upper bounds for HISTOGRAM (seconds); the last bucket is +Inf implicitly."""
    quantiles: tuple[float, ...] = ()
    unit: str = ""
    """What a value is measured in, where the aggregation does not say it (a MEAN's scale)."""

    @property
    def width(self) -> int:
        if self.agg is Agg.COUNT:
            return 1
        if self.agg is Agg.HISTOGRAM:
            return 2 + len(self.buckets) + 1
        return 2

    def outputs(self) -> tuple[str, ...]:
        """Names of the values one window of this KPI yields in `kpi.windows`."""
        if self.agg is Agg.HISTOGRAM:
            return (f"{self.name}_mean", *(f"{self.name}_p{round(q * 100)}" for q in self.quantiles))
        return (self.name,)


TIME_TO_SHIP_BUCKETS = tuple(
    h * HOUR_S for h in (1, 2, 4, 8, 12, 18, 24, 30, 36, 42, 48, 60, 72, 96, 120, 168, 240)
)  # an edge exactly at the 48 h promise
RESPONSE_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)
REFUND_BUCKETS = tuple(s * 60.0 for s in (5, 15, 30, 60, 360, 1440, 2880, 4320, 5760, 8640))
NOTICE_BUCKETS = tuple(s * 60.0 for s in (5, 15, 30, 60, 120, 240, 480, 1440))

ORDER_DIMS: tuple[tuple[str, ...], ...] = ((), ("category",), ("channel",), ("seller",))

KPIS: tuple[Kpi, ...] = (
    # shipping
    Kpi("orders_paid", Agg.COUNT, ORDER_DIMS, "Orders paid in the window."),
    Kpi("presale_ratio", Agg.RATIO, ((), ("category",), ("channel",)), "Share of paid orders that are pre-sale."),
    Kpi(
        "ship_within_48h_ratio",
        Agg.RATIO,
        ORDER_DIMS,
        "Payment cohort: in-stock orders shipped within 48 h of payment / in-stock orders paid in the window "
        "(less those cancelled or refunded unshipped within 48 h). Final 48 h after the window ends.",
        settle_s=48 * HOUR_S,
    ),
    Kpi(
        "time_to_ship_seconds",
        Agg.HISTOGRAM,
        (*ORDER_DIMS, ("carrier",)),
        "Payment to shipment of in-stock orders shipped in the window.",
        buckets=TIME_TO_SHIP_BUCKETS,
        quantiles=(0.5, 0.9, 0.99),
    ),
    Kpi(
        "time_to_ship_cohort_seconds",
        Agg.HISTOGRAM,
        ORDER_DIMS,
        "Payment cohort: payment to shipment of in-stock orders paid in the window. Final 7 days after the "
        "window ends; later shipments count as late updates. The period-over-period report uses it.",
        settle_s=7 * 24 * HOUR_S,
        buckets=TIME_TO_SHIP_BUCKETS,
        quantiles=(0.5, 0.9, 0.99),
    ),
    Kpi(
        "shipped_late_ratio",
        Agg.RATIO,
        ORDER_DIMS,
        "False promises: share of orders shipped in the window after their promised ship-by time.",
    ),
    Kpi("eta_slips", Agg.COUNT, ((), ("carrier",)), "In-transit ETA updates that moved delivery later."),
    Kpi("shipment_exceptions", Agg.COUNT, ((), ("carrier",), ("kind",)), "In-transit exceptions by kind."),
    Kpi(
        "exception_notice_seconds",
        Agg.HISTOGRAM,
        ((), ("carrier",)),
        "Exception to proactive buyer notice.",
        buckets=NOTICE_BUCKETS,
        quantiles=(0.9,),
    ),
    # after-sales
    Kpi(
        "express_refund_eligible_ratio",
        Agg.RATIO,
        ((), ("category",)),
        "Share of paid orders eligible for express refund.",
    ),
    Kpi(
        "return_shipping_insured_ratio",
        Agg.RATIO,
        ((), ("category",)),
        "Share of paid orders with return-shipping insurance.",
    ),
    Kpi(
        "refund_completion_seconds",
        Agg.HISTOGRAM,
        ((), ("express",)),
        "Refund request to money received, for refunds completed in the window.",
        buckets=REFUND_BUCKETS,
        quantiles=(0.5, 0.9),
    ),
    Kpi("refunds_before_shipment", Agg.COUNT, ((), ("category",)), "Refunds requested before the order shipped."),
    Kpi("guarantee_claims", Agg.COUNT, ((), ("guarantee",)), "Refunds claiming a category guarantee."),
    # support
    Kpi(
        "help_requests_per_1k_orders",
        Agg.PER_1K,
        ((), ("reason",)),
        "Help requests opened in the window per 1,000 orders paid in the window.",
    ),
    Kpi(
        "help_requests_cohort_per_1k_orders",
        Agg.PER_1K,
        ((), ("reason",)),
        "Payment cohort: help requests about orders paid in the window per 1,000 of them (requests "
        "come days after payment, so this is the per-order-volume figure for period comparisons). "
        "Final 7 days after the window ends.",
        settle_s=7 * 24 * HOUR_S,
    ),
    Kpi(
        "first_response_seconds",
        Agg.HISTOGRAM,
        ((), ("handled_by",)),
        "Ticket opened to first response, merchant vs platform support.",
        buckets=RESPONSE_BUCKETS,
        quantiles=(0.9,),
    ),
    Kpi(
        "satisfaction_mean",
        Agg.MEAN,
        ((), ("handled_by",)),
        "Mean rating (1-5) of tickets resolved with a rating.",
        unit="rating 1 to 5",
    ),
    Kpi("satisfaction_good_ratio", Agg.RATIO, ((), ("handled_by",)), "Share of ratings that are 4 or 5."),
    Kpi("complaint_ratio", Agg.RATIO, ((), ("handled_by",)), "Share of help requests filed as complaints."),
    Kpi(
        "negative_feedback_per_1k_orders",
        Agg.PER_1K,
        ((), ("seller",)),
        "Negative feedback in the window per 1,000 orders paid in it, creator-sold vs merchant-sold.",
    ),
)

KPI_BY_NAME = {k.name: k for k in KPIS}


def select_kpis(names: str) -> tuple[str, ...]:
    """The KPIs a comma-separated list names, in catalog order; '' (or only blanks) is all.

    Raises ValueError naming what the catalog lacks, so a typo never quietly computes nothing."""
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    if not wanted:
        return tuple(KPI_BY_NAME)
    unknown = sorted(wanted - KPI_BY_NAME.keys())
    if unknown:
        raise ValueError(f"unknown KPI {', '.join(unknown)}; the catalog has {', '.join(KPI_BY_NAME)}")
    return tuple(name for name in KPI_BY_NAME if name in wanted)


SETTLE_HORIZONS_S = tuple(sorted({k.settle_s for k in KPIS}))
TICKET_REASONS_FOR_DENOMINATOR = ("shipping", "refund", "product", "other")


def output_names() -> tuple[str, ...]:
    return tuple(name for k in KPIS for name in k.outputs())


def histogram_quantile(q: float, bounds: tuple[float, ...], counts: list[float]) -> float | None:
    """Prometheus-style: linear interpolation inside the bucket holding rank q*total."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0.0
    for i, count in enumerate(counts):
        if cumulative + count >= rank and count > 0:
            lower = bounds[i - 1] if i > 0 else 0.0
            if i >= len(bounds):
                return bounds[-1]  # +Inf bucket: the highest finite bound, as Prometheus does
            return lower + (bounds[i] - lower) * (rank - cumulative) / count
        cumulative += count
    return bounds[-1]


def values_of(kpi: Kpi, vector: list[float]) -> list[tuple[str, int, float | None]]:
    """(output name, count, value) for one window's merged vector."""
    if kpi.agg is Agg.COUNT:
        return [(kpi.name, int(vector[0]), vector[0])]
    if kpi.agg in (Agg.RATIO, Agg.PER_1K, Agg.MEAN):
        num, den = vector[0], vector[1]
        scale = 1000.0 if kpi.agg is Agg.PER_1K else 1.0
        return [(kpi.name, int(den), scale * num / den if den > 0 else None)]
    count, total, counts = vector[0], vector[1], vector[2:]
    out: list[tuple[str, int, float | None]] = [(f"{kpi.name}_mean", int(count), total / count if count else None)]
    for q in kpi.quantiles:
        out.append((f"{kpi.name}_p{round(q * 100)}", int(count), histogram_quantile(q, kpi.buckets, counts)))
    return out
