"""`PartitionWindows.add` keeps the groups it last resolved (`_hot`); whatever the order of
additions, closing and draining, it must change what the plain per-call lookup changes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpis.windows import ClosedWindow, PartitionWindows, _snapshot

TOPICS = ("orders", "shipments")
SIZES = ((1_000,), (1_000, 3_000), (3_000,))
SETTLES = (0, 2_000)


def plain_add(windows: PartitionWindows, key: str, t: int, settle: int, sizes: tuple[int, ...]) -> None:
    """`add` by its rule, each window group looked up afresh: ((0, 1), (1, t)) to `key`'s vector."""
    for size in sizes:
        start = t - t % size
        closed = windows.closed_through.get((size, settle))
        if closed is not None and start + size <= closed:
            windows.late_updates += 2
            continue
        group_key = (size, start, settle)
        if group_key not in windows.changed:
            windows.changed.add(group_key)
            if group_key not in windows.before:
                windows.before[group_key] = _snapshot(windows.open.get(group_key))
        vector = windows.open.setdefault(group_key, {}).setdefault(key, [0.0, 0.0])
        vector[0] += 1.0
        vector[1] += float(t)


def _closed(windows: list[ClosedWindow]) -> list[tuple[Any, ...]]:
    return [(w.group, w.partials) for w in windows]


add = st.tuples(
    st.just("add"),
    st.sampled_from(("a", "b")),
    st.integers(0, 12_000),
    st.sampled_from(SETTLES),
    st.sampled_from(SIZES),
)
observe = st.tuples(st.just("observe"), st.sampled_from(TOPICS), st.integers(0, 12_000))
step = st.one_of(add, add, add, observe, st.just(("close",)), st.just(("drain",)), st.just(("provisional",)))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=80))
def test_kept_groups_change_what_a_fresh_lookup_changes(steps: list[tuple[Any, ...]]) -> None:
    kept = PartitionWindows((1_000, 3_000), SETTLES, 500, expected_topics=TOPICS)
    plain = PartitionWindows((1_000, 3_000), SETTLES, 500, expected_topics=TOPICS)
    for action, *args in steps:
        if action == "add":
            key, t, settle, sizes = args
            kept.add((key,), 2, t, settle, ((0, 1.0), (1, float(t))), sizes)
            plain_add(plain, key, t, settle, sizes)
        elif action == "observe":
            kept.observe(*args)
            plain.observe(*args)
        elif action == "close":
            assert _closed(list(kept.close_due())) == _closed(list(plain.close_due()))
        elif action == "provisional":
            assert _closed(list(kept.provisional_due())) == _closed(list(plain.provisional_due()))
        elif action == "drain":
            assert kept.drain_changed() == plain.drain_changed()
        assert kept.open == plain.open
        assert kept.late_updates == plain.late_updates
        assert kept.changed == plain.changed and kept.before == plain.before
        assert kept.stale_provisional == plain.stale_provisional


def test_an_addition_after_its_window_closed_counts_as_late() -> None:
    windows = PartitionWindows((1_000,), (0,), 0, expected_topics=("orders",))
    windows.observe("orders", 500)
    windows.add(("k",), 1, 500, 0, ((0, 1.0),), (1_000,))
    windows.observe("orders", 1_500)
    assert [w.partials for w in windows.close_due()] == [{"k": [1.0]}]
    windows.add(("k",), 1, 600, 0, ((0, 1.0),), (1_000,))  # the kept group was closed
    assert windows.late_updates == 1
    assert windows.open == {}
