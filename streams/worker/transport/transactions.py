"""Exactly-once processing: a batch's outputs, its state records and its input offsets are
committed together in one Kafka transaction, or not at all.

One transactional producer per worker, with one transaction open at a time: stage one's
batches, the idle timer's publishes and stage two's merges each take a turn. Faust's own
exactly-once mode is not used: it opens a producer and transaction per input partition of a
copartitioned group, which does not fit a batch that spans partitions (docs/reliability.md).

Fencing is by transactional id: a worker restarted under the same id aborts the transaction
its predecessor left open and fences it. aiokafka sends the transactional offset commit
without the group's generation (KIP-447), so a worker that lost its partitions without
noticing is caught here instead: a transaction whose group generation changed since it
began, or whose member the group coordinator no longer knows in that generation
(`streams.worker.transport.membership`), is aborted and the worker stops, since its in-memory state holds
the aborted batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiokafka.structs import TopicPartition

from streams.worker.transport.membership import FencedOut, GroupMembership, Member

__all__ = ["FencedOut", "Transactions", "next_offsets"]

log = logging.getLogger(__name__)


class Transactions:
    def __init__(
        self,
        new_producer: Callable[[], Any],
        group_id: str,
        generation: Callable[[], int],
        ended: Callable[[str], None] = lambda outcome: None,
        member: Callable[[], Member] | None = None,
        membership: GroupMembership | None = None,
    ):
        self._new_producer = new_producer
        """Returns an unstarted `AIOKafkaProducer` with a transactional id."""
        self._group_id = group_id
        self._generation = generation
        self._producer: Any = None
        self._ended = ended
        """Called with 'committed' or 'aborted' as each transaction ends (a metric)."""
        self._member = member
        """The consumer's (generation, member id) now, as its group coordinator client holds them."""
        self._membership = (
            membership if membership is not None else GroupMembership(lambda: self.producer.client, group_id)
        )
        """Asks the coordinator whether `member` still holds: the worker's one instance when
        given (it reaches the coordinator through this producer's client), else its own."""
        self._turn = asyncio.Lock()
        self._starting = asyncio.Lock()  # two producers under one id would fence each other

    @property
    def producer(self) -> Any:
        if self._producer is None:
            raise RuntimeError("the transactional producer has not started")
        return self._producer

    async def start(self) -> None:
        """Start the producer: the broker aborts what a predecessor with this id left open."""
        async with self._starting:
            if self._producer is None:
                producer = self._new_producer()
                await producer.start()
                self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    @contextlib.asynccontextmanager
    async def transaction(
        self, offsets: Mapping[Any, int], before_commit: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[None]:
        """Everything sent inside, and the group's `offsets` (topic partition -> next offset to
        read), commit together when the block ends; an error aborts them. `before_commit`
        hands the queued records to the producer and checks what was delivered."""
        async with self._turn:
            await self.start()
            producer = self.producer
            generation = self._generation()
            member = None if self._member is None else self._member()
            await producer.begin_transaction()
            try:
                yield
                await before_commit()
                if offsets:
                    at = {TopicPartition(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
                    await producer.send_offsets_to_transaction(at, self._group_id)
                if offsets and self._generation() != generation:
                    raise FencedOut(f"the group's generation went from {generation} to {self._generation()}")
                if offsets and member is not None:
                    await self._membership.require(member)
                await producer.commit_transaction()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.abort_transaction()
                self._ended("aborted")
                raise
            self._ended("committed")


def next_offsets(messages: Any) -> dict[Any, int]:
    """The offsets to commit after `messages` (topic partition -> the last offset + 1)."""
    offsets: dict[Any, int] = {}
    for message in messages:
        if message.offset + 1 > offsets.get(message.tp, -1):
            offsets[message.tp] = message.offset + 1
    return offsets
