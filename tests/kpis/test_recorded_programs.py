"""A payment's window additions are recorded once per signature and replayed (`Context.replay`):
the windows must hold what resolving every KPI's keys anew would have added, in the same order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from streams.kpis import areas
from streams.kpis.catalog import SETTLE_HORIZONS_S
from streams.kpis.context import Context, NullMetrics
from streams.kpis.windows import PartitionWindows

SIZES = (60_000, 3_600_000)


def _context() -> Context:
    settles = tuple(int(s * 1000) for s in SETTLE_HORIZONS_S)
    windows = PartitionWindows(SIZES, settles, 600_000, ("orders",))
    return Context(windows, NullMetrics(), SIZES, (3_600_000,))


def _order(t: int, cat: str, ch: str, seller: str, presale: bool, elig: bool, ins: bool) -> dict[str, Any]:
    return {"paid": t, "cat": cat, "ch": ch, "seller": seller, "presale": presale, "elig": elig, "ins": ins}


def _payments() -> list[dict[str, Any]]:
    """Every flag combination, twice each, in several categories, channels and minutes."""
    shapes = itertools.product(
        ("beauty", "food"), ("livestream", "mall"), ("creator", "merchant"), *[(True, False)] * 3
    )
    return [_order(60_000 * (n % 7) + n, *shape) for n, shape in enumerate(list(shapes) * 2)]


def _open(ctx: Context) -> list[tuple[Any, list[tuple[str, list[float]]]]]:
    """The open groups and their vectors, in insertion order (what a replay must not change)."""
    return [(group, list(vectors.items())) for group, vectors in ctx.windows.open.items()]


def test_replayed_payments_add_what_resolving_each_kpi_adds() -> None:
    replayed, resolved = _context(), _context()
    for order in _payments():
        areas.on_paid(replayed, order, {"event_time": order["paid"]})
        areas._paid_windows(resolved, order, order["paid"])
    assert _open(replayed) == _open(resolved)
    assert replayed.windows.before == resolved.windows.before
    assert len(replayed._programs) == 2 * 2 * 2 * 8  # one per signature, each recorded once


def test_a_replayed_payment_in_a_closed_window_counts_its_late_updates() -> None:
    replayed, resolved = _context(), _context()
    first, late = _payments()[0], dict(_payments()[0], paid=1)
    for ctx in (replayed, resolved):
        ctx.windows.closed_through.update({(size, 0): 120_000 for size in (60_000,)})
    areas.on_paid(replayed, first, {"event_time": first["paid"]})  # records the program
    areas.on_paid(replayed, late, {"event_time": 1})
    areas._paid_windows(resolved, first, first["paid"])
    areas._paid_windows(resolved, late, 1)
    assert replayed.windows.late_updates == resolved.windows.late_updates > 0
    assert _open(replayed) == _open(resolved)


def test_a_recording_attributed_to_another_time_is_refused() -> None:
    ctx = _context()
    ctx.record()
    ctx.count("orders_paid", {"category": "food", "channel": "mall", "seller": "merchant"}, 5_000)
    with pytest.raises(ValueError, match="another time"):
        ctx.recorded(("x",), 6_000)


def test_an_update_that_fails_while_recording_leaves_no_program() -> None:
    ctx = _context()
    broken = _order(1_000, "food", "mall", "merchant", False, True, True)
    del broken["paid"]  # read by its cohort's update, the last of the recording
    with pytest.raises(KeyError):
        areas.on_paid(ctx, broken, {"event_time": 1_000})
    assert ctx._recording is None and not ctx._programs
    assert ctx.windows.open  # what came before the failure was added


def test_a_recording_of_a_kpi_with_fractional_sums_is_refused() -> None:
    ctx = _context()
    ctx.record()
    ctx.ratio("satisfaction_mean", {"handled_by": "merchant"}, 5_000, 1.0)  # ones, but ratings add 4 and 5
    with pytest.raises(ValueError, match="satisfaction_mean"):
        ctx.recorded(("x",), 5_000)
