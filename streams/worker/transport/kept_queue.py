"""An agent's stream whose queued records survive the end of a rebalance.

Faust clears every stream's queue whenever its flow control resumes
(`FlowControlEvent.resume`, mode 4.x), and it resumes it at the end of each recovery, after
the stream partitions were resumed and sought to their committed offsets. A record handed to
the stream between those two steps is then dropped, with its read offset already passed and
nothing to fetch it again. It belongs to the current generation, so stage two, which under
exactly-once takes a gap in the partials read on within one generation as transaction
markers, took the records after it as next: seen on 2026-12-02, partials 557 to 657 of
one run and a single partial of another never merged, 100 one-minute windows short.

What the clear is for is done by the stream itself: a record of an earlier generation, or
one taken while the flow is suspended, is skipped there (`Stream`'s generation rule), and
stage two seeks back to what it needs (`streams.worker.state.offsets`). So the partials stream's queue
is taken out of the queues the flow control clears.
"""

from __future__ import annotations

from typing import Any


def keep_queued_on_resume(app: Any, stream: Any) -> None:
    """Take `stream`'s queue out of those `app.flow_control` clears when it resumes."""
    queue = stream.channel.queue
    queue._clear_on_resume = False
    app.flow_control._queues.discard(queue)


def cleared_on_resume(app: Any, stream: Any) -> bool:
    """Whether `stream`'s queue is cleared when `app.flow_control` resumes."""
    return stream.channel.queue in app.flow_control._queues
