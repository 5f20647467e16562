"""An idle topic stops holding the watermark back, and holds it again once its records come."""

from __future__ import annotations

from streams.kpis.windows import PartitionWindows

MINUTE_MS = 60_000
TOPICS = ("orders", "support-tickets")


def _windows() -> PartitionWindows:
    windows = PartitionWindows((MINUTE_MS,), (0,), grace_ms=10 * MINUTE_MS, expected_topics=TOPICS)
    for topic in TOPICS:
        windows.observe(topic, 0)
    return windows


def test_an_idle_topic_holds_nothing_back() -> None:
    windows = _windows()
    windows.observe("orders", 600 * MINUTE_MS)
    assert windows.watermark() == -10 * MINUTE_MS  # the tickets hold it
    windows.set_idle("support-tickets")
    assert windows.watermark() == 590 * MINUTE_MS


def test_a_resumed_topic_holds_the_watermark_before_its_first_event() -> None:
    """A batch applies the orders' run before the tickets' run: the tickets, idle until this
    batch, must not arrive after the orders moved the watermark hours ahead."""
    windows = _windows()
    windows.set_idle("support-tickets")
    windows.resume("support-tickets")  # the batch holds tickets too
    windows.observe("orders", 600 * MINUTE_MS)  # the orders' run comes first
    assert windows.observe("support-tickets", 5 * MINUTE_MS) is False  # not late
    assert windows.watermark() == -5 * MINUTE_MS


def test_without_resume_the_same_batch_makes_the_tickets_late() -> None:
    windows = _windows()
    windows.set_idle("support-tickets")
    windows.observe("orders", 600 * MINUTE_MS)
    assert windows.observe("support-tickets", 5 * MINUTE_MS) is True


def test_a_stopped_partition_wakes_as_a_whole() -> None:
    """Every topic idle, then orders come first after a pause: the tickets, fetched a batch
    later, hold the watermark again from the orders' batch on."""
    windows = _windows()
    for topic in TOPICS:
        windows.set_idle(topic)
    windows.wake()  # the orders' batch
    windows.resume("orders")
    windows.observe("orders", 600 * MINUTE_MS)
    assert windows.observe("support-tickets", 5 * MINUTE_MS) is False  # the next batch: not late


def test_a_partition_with_a_topic_still_active_does_not_wake_the_idle_ones() -> None:
    """An idle topic stays idle while another of its partition flows: a topic that never gets
    records must not hold the watermark at every batch."""
    windows = _windows()
    windows.set_idle("support-tickets")
    windows.wake()
    assert windows.idle == {"support-tickets"}
    windows.observe("orders", 600 * MINUTE_MS)
    assert windows.watermark() == 590 * MINUTE_MS
