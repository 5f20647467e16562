"""The watermark a partition keeps between events is the one its topics' times give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.kpis.windows import PartitionWindows

TOPICS = ("orders", "shipments", "support-tickets")
GRACE_MS = 600


def _recomputed(windows: PartitionWindows) -> int | None:
    """The rule of the module docstring, from scratch."""
    seen, idle = windows.topic_max, windows.idle
    if not seen or any(t not in seen and t not in idle for t in TOPICS):
        return None
    active = [t for topic, t in seen.items() if topic not in idle]
    return (min(active) if active else max(seen.values())) - GRACE_MS


step = st.tuples(st.sampled_from(["observe", "observe", "observe", "idle", "resume"]), st.sampled_from(TOPICS))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(step, st.integers(0, 2_000)), max_size=60))
def test_the_kept_watermark_is_the_recomputed_one(steps: list[tuple[tuple[str, str], int]]) -> None:
    windows = PartitionWindows((1_000,), (0,), GRACE_MS, expected_topics=TOPICS)
    newest: int | None = None
    for (action, topic), t in steps:
        if action == "observe":
            before = _recomputed(windows)
            late = windows.observe(topic, t)
            assert late == (before is not None and t < before)
            newest = t if newest is None else max(newest, t)
        elif action == "idle":
            windows.set_idle(topic)
        else:
            windows.resume(topic)
        assert windows.watermark() == _recomputed(windows)
        assert windows.newest == newest


def test_a_restored_partition_recomputes_it() -> None:
    windows = PartitionWindows((1_000,), (0,), GRACE_MS, expected_topics=TOPICS)
    for topic in TOPICS:
        windows.observe(topic, 5_000)
    assert windows.watermark() == 5_000 - GRACE_MS
    progress = windows.progress() | {"topic_max": {topic: 9_000 for topic in TOPICS}}
    windows.restore(progress, [])
    assert windows.watermark() == 9_000 - GRACE_MS
    assert windows.newest == 9_000
