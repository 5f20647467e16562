"""Everything the worker writes to Kafka: outputs, dead letters and state records, acknowledged.

Both stages hand their records to one outbox (whole batches straight to the transport
producer: Faust's send_soon buffer drains one message at a time, and even its direct send
costs a call and a future per record). Under `exactly_once` the producer is a
transactional one and `in_transaction` commits what a block sent together with the group's
offsets (`streams.worker.transport.transactions`); under `at_least_once` `delivered` is the
point after which a batch's records are known to be on the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from streams.config import Settings
from streams.outputs import dead_letters
from streams.outputs.metrics import Metrics
from streams.worker.state.own_writes import add_last_offsets, move_read_offsets
from streams.worker.transport.membership import GroupMembership, Member
from streams.worker.transport.outbox import Delivery, Outbox
from streams.worker.transport.transactions import Transactions
from topics.contract import REJECTS
from topics.validation import Reject

StateWrite = tuple[int, str, str, Any]
"""(partition, table name, key, value) for that table's changelog; value None deletes the key."""


class Publisher:
    def __init__(self, app: Any, settings: Settings, metrics: Metrics, changelogs: dict[str, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.changelogs = changelogs  # table name -> its changelog topic
        self._changelog_topics = frozenset(changelogs.values())
        self.persistent = settings.store == "rocksdb"
        self._written: dict[tuple[str, int], int] = {}
        """(changelog, partition) -> the last offset this worker wrote there, acknowledged,
        not yet handed to Faust's recovery (`move_read_offsets`)."""
        self._in_flight: list[Delivery] = []  # batches handed to the producer since the last `delivered()`
        self._dead_letter_origins: list[tuple[str, int, int]] = []  # (topic, partition, offset) since then
        self._submitting = asyncio.Lock()
        # asked through the producer the outbox uses (the transactional one under exactly_once)
        self.membership = GroupMembership(lambda: self.producer().client, settings.app_id)
        self.transactions: Transactions | None = None
        if settings.guarantee == "exactly_once":
            self.transactions = self._transactions(settings)
        self.outbox = Outbox(self.producer)

    def _transactions(self, settings: Settings) -> Transactions:
        app, metrics = self.app, self.metrics
        app.transactional = True
        transactional_id = settings.transactional_id or f"{settings.app_id}-{socket.gethostname()}-{settings.web_port}"
        return Transactions(
            lambda: app.producer._new_producer(transactional_id=transactional_id),
            group_id=settings.app_id,  # Faust's consumer group is the app id
            generation=lambda: app.consumer_generation_id,
            ended=lambda outcome: metrics.transactions.labels(outcome).inc(),
            member=self.group_member,
            membership=self.membership,
        )

    def producer(self) -> Any:
        """The aiokafka producer the outbox hands batches to: Faust's, or the transactional one."""
        if self.transactions is not None:
            return self.transactions.producer
        return self.app.producer._ensure_producer()

    def group_member(self) -> Member:
        """(generation, member id) as the consumer's group coordinator client holds them now
        (Faust's `consumer_generation_id` changes only at the next assignment)."""
        coordinator = self.app.consumer._thread._ensure_consumer()._coordinator
        return coordinator.generation, coordinator.member_id

    def in_transaction(self, offsets: dict[Any, int]) -> contextlib.AbstractAsyncContextManager[None]:
        """Exactly-once: what the block sends and the group's `offsets` commit together."""
        if self.transactions is None:
            return contextlib.nullcontext()
        return self._committed(self.transactions, offsets)

    @contextlib.asynccontextmanager
    async def _committed(self, transactions: Transactions, offsets: dict[Any, int]) -> AsyncIterator[None]:
        try:
            async with transactions.transaction(offsets, self.delivered):
                yield
        except BaseException:
            self._written.clear()  # aborted: none of it is in the changelogs
            raise
        self.move_read_offsets()  # committed

    async def still_member(self, member: Member | None) -> None:
        """At least once: a batch begun by a member the group has dropped since (a worker
        frozen past the session timeout) writes nothing, and the worker stops; its restart
        replays (`streams.worker.transport.membership`). Exactly-once asks before its commit instead."""
        if member is not None and self.transactions is None:
            await self.membership.require(member)

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.outbox.append(topic, partition, key, value)

    def write_state(self, entries: Iterable[StateWrite]) -> None:
        """Queue state records; one call for a batch's thousands of records."""
        append, dumps, changelogs = self.outbox.append, orjson.dumps, self.changelogs
        for partition, table, key, value in entries:
            append(changelogs[table], partition, dumps(key), None if value is None else dumps(value))

    async def dead_letter(
        self, reject: Reject, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        """Counted by reason and sent to `cxkpi.rejects`, bounded whatever the input's size."""
        self.metrics.rejects.labels(reject.reason).inc()
        self._dead_letter_origins.append((topic, partition, offset))
        await self.outbox.add(REJECTS.name, *dead_letters.dead_letter(reject, topic, partition, offset, key, value))

    async def submit(self) -> None:
        """Hand what was sent so far to the producer, without waiting for it.

        One at a time: stage one and stage two share the outbox, and a submit awaits the
        producer between batches. Without the lock, a second caller would find the outbox
        empty while the first still held its records, flush, and take them as delivered."""
        async with self._submitting:
            self._in_flight.extend(await self.outbox.submit())

    async def delivered(self) -> None:
        """Wait until every record sent so far is acknowledged; a lost one stops the worker.

        The producer retries through broker restarts; a record it gives up on must not be
        followed by a commit of the offsets that produced it, so the worker crashes (exit
        code != 0) and its restart replays from the last commit."""
        await self.submit()
        await (self.transactions.producer if self.transactions else self.app.producer).flush()
        deliveries, origins = self._in_flight[:], self._dead_letter_origins[:]
        self._in_flight.clear()
        self._dead_letter_origins.clear()
        for delivery in deliveries:
            error = delivery.future.exception() if delivery.future.done() else None
            if error is None:
                continue
            if delivery.topic == REJECTS.name and self.transactions is None:
                self._drop_dead_letters(delivery, error, origins)
                continue
            self.app.log.error("a record could not be delivered (%r): stopping, the restart replays", error)
            await self.app.crash(error)
            raise error
        if not self.persistent:  # see `streams.worker.state.own_writes`
            add_last_offsets(self._written, deliveries, self._changelog_topics)
            if self.transactions is None:  # under exactly_once, once the transaction committed
                self.move_read_offsets()

    def move_read_offsets(self) -> None:
        """Faust's recovery skips, at the next rebalance, what this worker wrote and had
        acknowledged (and committed) so far (`streams.worker.state.own_writes`)."""
        written, self._written = self._written, {}
        move_read_offsets(self.app, written)

    def _drop_dead_letters(self, delivery: Delivery, error: BaseException, origins: list[tuple[str, int, int]]) -> None:
        """At least once, a batch of dead letters the broker refused is dropped, not retried:
        stopping would replay the same input records into the same refusal at every restart
        (a poison pill), while the KPIs lose nothing (the records were rejected either way).
        Their input offsets are logged, so the records can be found and replayed by hand.
        Exactly-once cannot drop one: the batch's transaction aborts and the worker stops."""
        self.metrics.dead_letters_dropped.inc(delivery.records)
        shown = ", ".join(f"{topic}-{partition}@{offset}" for topic, partition, offset in origins[:20])
        more = f" and {len(origins) - 20} more" if len(origins) > 20 else ""
        self.app.log.error(
            "%d dead letters refused by the broker (%r), dropped; their input records: %s%s",
            delivery.records,
            error,
            shown,
            more,
        )
