"""Scenarios: how the simulated platform behaves over event time.

A scenario is data: a base order rate plus time-bounded effects (a livestream burst, a
carrier outage, a before/after improvement). The simulation reads it; nothing here draws
random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3600 * 1000
MINUTE_MS = 60 * 1000


@dataclass(frozen=True)
class Phase:
    """Service quality in force for orders paid from `start_offset_ms` on."""

    name: str
    start_offset_ms: int
    ship_latency_factor: float = 1.0
    """Multiplies every merchant's in-stock time to ship."""
    false_promise_share: float = 0.08
    """Share of merchants whose real handling time far exceeds the 48 h they promise."""
    shipping_ticket_factor: float = 1.0
    """Multiplies the chance that a buyer asks about shipping."""
    response_factor: float = 1.0
    """Multiplies support's time to first response."""


@dataclass(frozen=True)
class Burst:
    """One merchant's livestream multiplies its order rate; its shipping slips."""

    merchant_index: int
    start_offset_ms: int
    length_ms: int
    extra_rate_share: float
    """Extra orders per second during the burst, as a share of the platform's base rate."""
    ship_latency_factor: float


@dataclass(frozen=True)
class Outage:
    """One carrier stops picking up and moving parcels."""

    carrier: str
    start_offset_ms: int
    length_ms: int


@dataclass(frozen=True)
class Scenario:
    name: str
    doc: str
    phases: tuple[Phase, ...] = (Phase("steady", 0),)
    bursts: tuple[Burst, ...] = ()
    outages: tuple[Outage, ...] = ()
    default_duration_ms: int = 6 * HOUR_MS

    def phase_at(self, offset_ms: int) -> Phase:
        current = self.phases[0]
        for phase in self.phases:
            if offset_ms >= phase.start_offset_ms:
                current = phase
        return current


WARMUP_MS = 24 * HOUR_MS
"""Before-after runs start with a day of baseline trading that is never reported, so the
baseline period begins in a steady state (orders in flight, tickets open)."""


def before_after(duration_ms: int) -> Scenario:
    """A warm-up day, then two equal periods; the second has the published improvements built in."""
    if duration_ms <= WARMUP_MS:
        raise ValueError(f"before-after needs more than {WARMUP_MS // HOUR_MS} h (the warm-up)")
    half = (duration_ms - WARMUP_MS) // 2
    return Scenario(
        name="before-after",
        doc="A warm-up day, a baseline period, then an improved one of equal length: faster shipping "
        "(about -10 h on average, 48 h ship rate up), half the shipping help requests, faster first response.",
        phases=(
            Phase("warmup", 0, ship_latency_factor=1.5, false_promise_share=0.25),
            Phase("baseline", WARMUP_MS, ship_latency_factor=1.5, false_promise_share=0.25),
            Phase(
                "current",
                WARMUP_MS + half,
                ship_latency_factor=1.3,
                false_promise_share=0.17,
                shipping_ticket_factor=0.6,
                response_factor=0.83,
            ),
        ),
        default_duration_ms=duration_ms,
    )


def scenario(name: str, duration_ms: int | None = None) -> Scenario:
    """Look a scenario up by name; the duration matters for `before-after` (split in half)."""
    if name == "steady":
        return Scenario("steady", "Ordinary trading at a constant order rate.")
    if name == "livestream-burst":
        return Scenario(
            "livestream-burst",
            "One merchant's livestream brings a burst of orders (爆单) from hour 1 to hour 2; "
            "its shipping slips badly for those orders.",
            bursts=(Burst(20, HOUR_MS, HOUR_MS, extra_rate_share=0.6, ship_latency_factor=3.0),),
        )
    if name == "carrier-outage":
        return Scenario(
            "carrier-outage",
            "Carrier 'zto' stops picking up parcels from hour 24 to hour 30 (after a day of steady "
            "trading, with parcels in transit): orders waiting for it ship late, parcels in its network stall.",
            outages=(Outage("zto", 24 * HOUR_MS, 6 * HOUR_MS),),
            default_duration_ms=36 * HOUR_MS,
        )
    if name == "before-after":
        return before_after(duration_ms or 120 * HOUR_MS)
    raise KeyError(name)


SCENARIOS = ("steady", "livestream-burst", "carrier-outage", "before-after")
