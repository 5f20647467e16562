"""The benchmark's targets, one place: the results table (`bench.report`) says for each
whether the run met it, and the history chart (`bench.history`) dashes the ratios' targets.

A target reads one figure of a results file: a ratio the run wrote, a contender's events per
CPU second, or the event-to-metric delay's p99. A run without the figure leaves the target
unmeasured; a withheld speed (its output check failed) measures nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Reader = Callable[[dict[str, Any]], float | None]


def ratio(name: str) -> Reader:
    def read(report: dict[str, Any]) -> float | None:
        value = (report.get("ratios") or {}).get(name)
        return float(value) if value else None

    return read


def per_cpu(contender: str) -> Reader:
    def read(report: dict[str, Any]) -> float | None:
        value = (report.get("results") or {}).get(contender, {}).get("events_per_cpu_s")
        return float(value) if value else None

    return read


def best_per_cpu(*contenders: str) -> Reader:
    """The best events per CPU second among `contenders` (builds of one thing), withheld ones left out."""

    def read(report: dict[str, Any]) -> float | None:
        withheld = set(report.get("speeds_withheld") or ())
        values = [per_cpu(c)(report) for c in contenders if c not in withheld]
        return max((v for v in values if v), default=None)

    return read


def delay_p99(report: dict[str, Any]) -> float | None:
    value = ((report.get("delay_at_half_max_rate") or {}).get("delay_seconds") or {}).get("p99")
    return float(value) if value is not None else None


@dataclass(frozen=True)
class Target:
    label: str
    figure: str
    """What is read: a ratio's name as the run writes it, or a contender's figure."""
    read: Reader
    wanted: float
    at_most: bool = False
    """True where smaller is better (a delay): met when the figure is below `wanted`."""
    contenders: tuple[str, ...] = ()
    """The contenders the figure depends on: a withheld speed among them leaves it unmeasured."""
    profile: str = ""
    """The bench README's section that says what stands in the way while the target is missed."""

    def met(self, value: float) -> bool:
        return value < self.wanted if self.at_most else value >= self.wanted

    def wanted_text(self) -> str:
        return f"< {self.wanted:g}" if self.at_most else f">= {self.wanted:,g}"


SUBSET_FAUST = "per CPU second: cxkpi_subset/textbook_faust"
SUBSET_QUIX = "per CPU second: cxkpi_subset/quix_streams"
WORKER_LIMIT = "cxkpi_worker/limit"
SUBSET_LIMIT = "cxkpi_subset/limit"
TWO_WORKERS = "two_workers_both_busy/one_worker"
EXACTLY_ONCE = "exactly_once/at_least_once"

CORE = "where-the-cores-time-goes"
WORKER = "where-the-workers-time-goes"
"""Sections of bench/README.md (their anchors) with the profile behind a missed target."""

TARGETS = (
    Target(
        "the KPI core alone, events per CPU second (its faster build)",
        "core",
        best_per_cpu("core", "core_compiled"),
        100_000,
        False,
        ("core",),
        CORE,
    ),
    Target("full worker / consume limit", WORKER_LIMIT, ratio(WORKER_LIMIT), 0.3, False, ("cxkpi_worker",), WORKER),
    Target("subset worker / consume limit", SUBSET_LIMIT, ratio(SUBSET_LIMIT), 0.3, False, ("cxkpi_subset",), WORKER),
    Target(
        "subset worker / textbook Faust, per CPU second",
        SUBSET_FAUST,
        ratio(SUBSET_FAUST),
        10.0,
        False,
        ("cxkpi_subset", "textbook_faust"),
        WORKER,
    ),
    Target(
        "subset worker / Quix Streams, per CPU second",
        SUBSET_QUIX,
        ratio(SUBSET_QUIX),
        2.0,
        False,
        ("cxkpi_subset", "quix_streams"),
        WORKER,
    ),
    Target(
        "exactly-once / at-least-once",
        EXACTLY_ONCE,
        ratio(EXACTLY_ONCE),
        0.9,
        False,
        ("cxkpi_exactly_once", "cxkpi_worker"),
        WORKER,
    ),
    Target(
        "two workers / one, once both are busy",
        TWO_WORKERS,
        ratio(TWO_WORKERS),
        1.8,
        False,
        ("cxkpi_two_workers", "cxkpi_worker"),
        "the-scale-model",
    ),
    Target("event-to-metric delay p99 at half the rate, s", "delay p99", delay_p99, 0.5, True, (), WORKER),
)

HEADLINE = {t.figure: t.wanted for t in TARGETS if t.figure in (SUBSET_FAUST, SUBSET_QUIX, SUBSET_LIMIT, TWO_WORKERS)}
"""The ratios the history chart draws, each with its target dashed."""


def measured(target: Target, report: dict[str, Any], withheld: set[str]) -> float | None:
    """The target's figure in this run, or None when the run lacks it or withheld a speed it needs."""
    if withheld & set(target.contenders):
        return None
    return target.read(report)
