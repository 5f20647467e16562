"""The compact schedule gives what a heap of (time, key) tuples gives, in the same order."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpis.schedule import BUCKET_MS, Schedule

times = st.integers(min_value=0, max_value=10 * BUCKET_MS)
keys = st.sampled_from(["a", "b", "c", "o-1", "o-2"])
steps = st.lists(st.one_of(st.tuples(st.just("push"), times, keys), st.tuples(st.just("pop"), times)), max_size=200)


@given(steps)
@settings(max_examples=300, deadline=None)
def test_pops_like_a_heap(ops: list[tuple]) -> None:
    schedule, heap = Schedule(), []
    for op in ops:
        if op[0] == "push":
            schedule.push(op[1], op[2])
            heapq.heappush(heap, (op[1], op[2]))
        else:
            want = []
            while heap and heap[0][0] < op[1]:
                want.append(heapq.heappop(heap))
            assert schedule.pop_before(op[1]) == want
        assert len(schedule) == len(heap)
        assert sorted(schedule) == sorted(heap)


def test_an_entry_pushed_into_a_bucket_being_drained_comes_out_in_order() -> None:
    schedule = Schedule()
    schedule.push(BUCKET_MS + 50, "late")
    schedule.push(BUCKET_MS + 10, "early")
    assert schedule.pop_before(BUCKET_MS + 20) == [(BUCKET_MS + 10, "early")]
    schedule.push(BUCKET_MS + 30, "new")  # the bucket was sorted; this one lands in it
    assert schedule.pop_before(2 * BUCKET_MS) == [(BUCKET_MS + 30, "new"), (BUCKET_MS + 50, "late")]
    assert len(schedule) == 0 and list(schedule) == []
