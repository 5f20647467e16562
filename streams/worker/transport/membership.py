"""Whether this worker is still the group member its batch began as, asked of the group
coordinator itself: before an exactly-once batch commits, and before an at-least-once batch
hands anything to the producer.

aiokafka commits a transaction's offsets with TxnOffsetCommit v0, which carries no generation
and no member id, so the broker cannot fence a zombie (KIP-447 added them in v3). A worker
frozen past the session timeout (a VM pause, a long GC, SIGSTOP) wakes up mid-batch while the
group has given its partitions to another worker, and its transaction would still commit that
batch's outputs, state and offsets, on top of the other worker's work on the same records.
Seen 2026-11-28: a worker stopped with SIGSTOP for 22 s under exactly-once and continued;
final windows held other counts than a fault-free run (`test_faults.py`, the frozen worker).

So the batch's generation and member id go to the coordinator in a Heartbeat first, which
answers UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION when the member lost them. The one window left
is a freeze between that answer and the commit, milliseconds against the session timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import errors
from aiokafka.client import CoordinationType
from aiokafka.protocol.group import HeartbeatRequest

Member = tuple[int, str]
"""(generation, member id) of this worker's consumer in its group."""

_KEPT: tuple[type[Exception], ...] = (errors.NoError, errors.RebalanceInProgressError)
"""Still a member of that generation (a rebalance starting: the broker takes its commits until
the generation ends)."""
_LOST: tuple[type[Exception], ...] = (errors.UnknownMemberIdError, errors.IllegalGenerationError)


class FencedOut(RuntimeError):
    """The group moved on (a rebalance this worker missed) while a batch was under way."""


class GroupMembership:
    def __init__(
        self, client: Callable[[], Any], group_id: str, backoff_s: float = 0.1, max_backoff_s: float = 2.0
    ) -> None:
        self._client = client
        """Returns a started `AIOKafkaClient` (the transactional producer's)."""
        self._group_id = group_id
        self._backoff_s, self._max_backoff_s = backoff_s, max_backoff_s
        self._coordinator: int | None = None  # node id, found on first use and after it moved

    async def holds(self, member: Member) -> bool:
        """True while the coordinator knows `member` in its generation, False once it does not.
        Retriable errors (the broker restarting, the coordinator moving) are retried with
        backoff, as the producer retries its commit; any other error is raised."""
        generation, member_id = member
        delay = self._backoff_s
        while True:
            error: type[Exception]
            try:
                client = self._client()
                if self._coordinator is None:
                    self._coordinator = await client.coordinator_lookup(CoordinationType.GROUP, self._group_id)
                response = await client.send(self._coordinator, HeartbeatRequest(self._group_id, generation, member_id))
                error = errors.for_code(response.error_code)
            except errors.KafkaError as exc:
                if not exc.retriable:
                    raise
                error = type(exc)
            if issubclass(error, _KEPT):
                return True
            if issubclass(error, _LOST):
                return False
            if not getattr(error, "retriable", False):
                raise error()
            self._coordinator = None  # look it up again: it may have moved
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff_s)

    async def require(self, member: Member) -> None:
        """`holds`, or FencedOut: the batch must not go on."""
        if not await self.holds(member):
            raise FencedOut(f"the group no longer knows member {member[1]} in generation {member[0]}")
