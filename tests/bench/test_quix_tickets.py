"""The Quix Streams contender's ticket step over everything the support-tickets topic carries."""

from __future__ import annotations

from typing import Any

from bench.quix_subset import _tickets


class _State:
    """Quix's per-key state, as the step uses it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def test_negative_feedback_on_the_tickets_topic_is_passed_over() -> None:
    """It has no ticket id; the 1,000,000-record data set has two, and the step used to crash on them."""
    state = _State()
    feedback = {"event_type": "feedback.negative", "feedback_id": "f1", "event_time": 5, "source": "review"}
    assert _tickets(feedback, state) is None
    assert state.values == {}


def test_first_response_follows_its_opening_once() -> None:
    state = _State()
    opened = {"event_type": "ticket.opened", "ticket_id": "t1", "event_time": 1_000, "reason": "shipping"}
    answered = {"event_type": "ticket.first_response", "ticket_id": "t1", "event_time": 4_000}
    assert _tickets(opened, state) == {"name": "help_requests", "dims": "reason=shipping", "seconds": 0.0}
    assert _tickets(answered, state) == {"name": "first_response", "dims": "", "seconds": 3.0}
    assert _tickets(answered, state) is None  # a second response is not a first one
