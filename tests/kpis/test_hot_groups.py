"""`PartitionWindows.add` keeps the groups it last resolved (`_hot`); whatever the order of
additions, closing and draining, it must change what the plain per-call lookup changes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.windows import ClosedWindow, PartitionWindows, _snapshot

TOPICS = ("orders", "shipments")
SIZES = ((1_000,), (1_000, 3_000), (3_000,))
SETTLES = (0, 2_000)


class PlainWindows(PartitionWindows):
    """Each call resolves its groups afresh: the rule, without the kept groups."""

    def add(
        self,
        keys: tuple[str, ...],
        width: int,
        attributed_ms: int,
        settle_ms: int,
        updates: tuple[tuple[int, float], ...],
        sizes: tuple[int, ...],
    ) -> None:
        for size in sizes:
            start = attributed_ms - attributed_ms % size
            closed = self.closed_through.get((size, settle_ms))
            if closed is not None and start + size <= closed:
                self.late_updates += len(keys) * len(updates)
                continue
            group_key = (size, start, settle_ms)
            if group_key not in self.before:
                self.before[group_key] = _snapshot(self.open.get(group_key))
                self.changed.add(group_key)
            group = self.open.setdefault(group_key, {})
            for key in keys:
                vector = group.setdefault(key, [0.0] * width)
                for index, amount in updates:
                    vector[index] += amount


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
    plain = PlainWindows((1_000, 3_000), SETTLES, 500, expected_topics=TOPICS)
    for action, *args in steps:
        for windows in (kept, plain):
            if action == "add":
                key, t, settle, sizes = args
                windows.add((key,), 2, t, settle, ((0, 1.0), (1, float(t))), sizes)
            elif action == "observe":
                windows.observe(*args)
        if action == "close":
            assert _closed(list(kept.close_due())) == _closed(list(plain.close_due()))
        elif action == "provisional":
            assert _closed(list(kept.provisional_due())) == _closed(list(plain.provisional_due()))
        elif action == "drain":
            assert kept.drain_changed() == plain.drain_changed()
        assert kept.open == plain.open
        assert kept.late_updates == plain.late_updates
        assert kept.changed == plain.changed and kept.before == plain.before


def test_an_addition_after_its_window_closed_counts_as_late() -> None:
    windows = PartitionWindows((1_000,), (0,), 0, expected_topics=("orders",))
    windows.observe("orders", 500)
    windows.add(("k",), 1, 500, 0, ((0, 1.0),), (1_000,))
    windows.observe("orders", 1_500)
    assert [w.partials for w in windows.close_due()] == [{"k": [1.0]}]
    windows.add(("k",), 1, 600, 0, ((0, 1.0),), (1_000,))  # the kept group was closed
    assert windows.late_updates == 1
    assert windows.open == {}
