"""A counted program (`PartitionWindows.count`) adds 1 to flat counts that join a group's vectors
only when the group is read; whatever the order of counts, additions, closing, reports and
drains, the windows must hold what making each of its `add` calls at once would have."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.kpis.windows import ClosedWindow, PartitionWindows, ProgramStep

TOPICS = ("orders", "shipments")
SIZES = (1_000, 3_000)
SETTLES = (0, 2_000)
PROGRAMS: tuple[tuple[ProgramStep, ...], ...] = (
    ((("a",), 2, 0, ((0, 1.0), (1, 1.0)), (1_000, 3_000)), (("b", "c"), 1, 2_000, ((0, 1.0),), (1_000,))),
    ((("a", "d"), 2, 0, ((1, 1.0),), (3_000,)), (("c",), 1, 2_000, ((0, 1.0),), (1_000, 3_000))),
    ((("e",), 3, 2_000, ((2, 1.0),), (3_000,)),),
)
"""Programs sharing keys and groups, laid out one after another as a run meets them."""


def _windows() -> PartitionWindows:
    return PartitionWindows(SIZES, SETTLES, 500, expected_topics=TOPICS)


def _closed(windows: list[ClosedWindow]) -> list[tuple[Any, ...]]:
    return [(w.group, w.partials) for w in windows]


def _json(before: dict[Any, bytes | None]) -> dict[Any, Any]:
    """`before` snapshots as values: a counted group's keys may come in another order."""
    return {group: None if raw is None else orjson.loads(raw) for group, raw in before.items()}


def _drained(windows: PartitionWindows) -> dict[Any, Any]:
    return {group: (vectors, _json({0: raw})[0]) for group, (vectors, raw) in windows.drain_changed().items()}


count = st.tuples(st.just("count"), st.integers(0, len(PROGRAMS) - 1), st.integers(0, 12_000))
add = st.tuples(st.just("add"), st.sampled_from(("a", "d")), st.integers(0, 12_000), st.sampled_from(SETTLES))
observe = st.tuples(st.just("observe"), st.sampled_from(TOPICS), st.integers(0, 12_000))
step = st.one_of(count, count, count, add, observe, st.just(("close",)), st.just(("drain",)), st.just(("provisional",)))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=80))
# counts read by a provisional report, then by closing, with no drain before (random runs seldom do)
@example([("count", 0, 100), ("observe", "orders", 2_000), ("observe", "shipments", 2_000), ("provisional",)])
@example([("count", 1, 100), ("observe", "orders", 9_000), ("observe", "shipments", 9_000), ("close",)])
def test_counted_programs_change_what_their_additions_change(steps: list[tuple[Any, ...]]) -> None:
    counted, added = _windows(), _windows()
    programs = [counted.program(program) for program in PROGRAMS]
    for action, *args in steps:
        if action == "count":
            n, t = args
            counted.count(programs[n], t)
            for keys, width, settle, updates, sizes in PROGRAMS[n]:
                added.add(keys, width, t, settle, updates, sizes)
        elif action == "add":  # a key counted programs add to as well (shipments and tickets do)
            key, t, settle = args
            for windows in (counted, added):
                windows.add((key,), 2, t, settle, ((1, 1.0),), SIZES)
        elif action == "observe":
            counted.observe(*args)
            added.observe(*args)
        elif action == "close":
            assert _closed(list(counted.close_due())) == _closed(list(added.close_due()))
        elif action == "provisional":
            assert _closed(list(counted.provisional_due())) == _closed(list(added.provisional_due()))
        elif action == "drain":
            assert _drained(counted) == _drained(added)
        assert counted.late_updates == added.late_updates
        assert counted.changed == added.changed and _json(counted.before) == _json(added.before)
        assert counted.stale_provisional == added.stale_provisional
    assert counted.open == added.open  # at the end only: looking at `open` adds every count


def test_a_program_laid_out_later_reaches_groups_opened_before() -> None:
    windows = _windows()
    first = windows.program(PROGRAMS[0])
    windows.count(first, 100)  # opens the groups of the first layout
    windows.count(windows.program(PROGRAMS[1]), 200)  # lays out "d" after they opened
    assert windows.open[(3_000, 0, 0)] == {"a": [1.0, 2.0], "d": [0.0, 1.0]}


def test_a_program_adds_only_ones() -> None:
    with pytest.raises(ValueError, match="adds 1"):
        _windows().program(((("a",), 1, 0, ((0, 2.0),), (1_000,)),))
