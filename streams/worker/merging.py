"""Stage two: the window partials of every input partition merged into final windows and alerts.

Once per partition of the partials topic, each on its share of the windows and merchants
(`streams.kpis.routing`); a worker merges the partitions assigned to it. A batch of
partials at a time. Exactly-once: one transaction per batch (a commit costs several round
trips to the broker: 50 records/s one by one). At least once: the batch's state is
acknowledged before `take_events` acks its records, so a commit never covers a merge whose
state could still be lost.

Each partial is checked against the offset its partition's merged state stands at, as stage
one checks its inputs (`streams.worker.state.offsets`): a replay is skipped, and a record
past the expected one means the consumer skipped records: it is dropped and the consumer
sought back after the batch, until the expected record comes.

The batch's outputs go out first (acknowledged, under at least once), then its state
changes, once: a window merged and emitted within the batch is one deletion, and the burst
detector is written once per batch, not once per partial that completed a minute.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.config import Settings
from streams.kpis.merge import OVERDUE, encoded_key, parse_key
from streams.kpis.stage_two import StageTwo
from streams.outputs.guarantee import burst_alert, shipping_alert
from streams.outputs.metrics import Metrics
from streams.worker.lifecycle import fatal
from streams.worker.publishing import Publisher
from streams.worker.seeking import Rewind, SeekBack
from streams.worker.stage_one import BATCH_MAX, BATCH_WITHIN_S
from streams.worker.state.offsets import Arrival, Expected, commit_where_state_stands
from streams.worker.state.stage_slot import StageSlot, migration, own_entries, state_key
from streams.worker.state.writes import MERGE_STATE
from streams.worker.tables import StateTables
from streams.worker.transport.transactions import next_offsets
from topics.contract import KPI_WINDOWS, SHIPPING_ALERTS
from topics.partitioner import partition_of, partition_of_shared

Output = tuple[str, int, bytes, bytes]
"""(topic, partition, key, value) of a record stage two completed."""


@dataclass
class Merged:
    """What one partials partition's records of a batch produced."""

    outputs: list[Output] = field(default_factory=list)
    finals: int = 0
    """Final windows among the outputs."""
    records: int = 0
    """Partials, progress marks and overdue counts merged (replays and records ahead excluded)."""
    rewind: Rewind = field(default_factory=dict)
    """Where to seek back to: a record past the expected one came (`streams.worker.state.offsets`)."""


class Merging:
    def __init__(
        self,
        app: Any,
        settings: Settings,
        tables: StateTables,
        publisher: Publisher,
        seek_back: SeekBack,
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.publisher = publisher
        self.seek_back = seek_back
        self.metrics = metrics
        self.tables = tables
        self.gaps_expected = settings.guarantee == "exactly_once"  # transactions' markers leave gaps in the topic
        self.slots = [StageSlot(functools.partial(self._build, q)) for q in range(tables.stage_two_partitions)]
        """One per partials partition: its live stage, where it is assigned here."""
        self._migrations: dict[int, list[tuple[str, Any]]] = {}
        """Partition -> state writes that move its entries of the one-partition layout under its
        prefix (`stage_slot.migration`), written with its next batch's state."""

    def _build(self, partition: int) -> tuple[StageTwo, Expected]:
        tables = self.tables
        own = own_entries(tables.recovered(tables.merge, partition), partition)
        two = StageTwo.restore(tables.partitions, [(key, value) for _, key, value in own])
        tables.forget_recovered(tables.merge, [stored for stored, _, _ in own])  # the StageTwo is the live copy
        self._migrations[partition] = migration(own, partition)
        # the same dict: merge-state carries it
        return two, Expected(two.input_offsets, gaps_expected=self.gaps_expected)

    def on_assigned(self, partials: set[int]) -> None:
        """The partials partitions assigned here now: each stage kept only if it stayed throughout."""
        for partition, slot in enumerate(self.slots):
            slot.on_assigned(partition in partials)
        self.metrics.keep_windows_of(partials)

    def arrivals(self, partition: int) -> Expected | None:
        """Where the live stage of a partials partition stands (None: none built here)."""
        return self.slots[partition].arrivals

    async def from_stream(self, stream: Any) -> None:
        async with fatal(self.app, "merge_windows"):
            async for batch in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
                try:
                    await self._merge_batch([event.message for event in batch])
                except BaseException:
                    for event in batch:
                        event.message.incref()  # never acked: the restart reads it again (see StageOne)
                    raise

    async def _merge_batch(self, batch: list[Any]) -> None:
        publisher = self.publisher
        member = publisher.group_member()
        offsets = next_offsets(batch)
        by_partition: dict[int, list[Any]] = {}
        for msg in batch:  # in the topic's order within each partition
            by_partition.setdefault(msg.partition, []).append(msg)
        async with publisher.in_transaction(offsets):
            counts = {t: await publisher.outbox.partition_count(t) for t in (KPI_WINDOWS.name, SHIPPING_ALERTS.name)}
            # each partition's stage throughout the batch: after an await a slot could hold a new one
            stages = {q: self.slots[q].get() for q in by_partition}  # built, with offsets, before the first check
            merged = {q: self._merge_partition(*stages[q], messages, counts) for q, messages in by_partition.items()}
            commit_where_state_stands(offsets, lambda tp: stages[tp.partition][1])
            await publisher.still_member(member)
            for done in merged.values():
                for topic, partition, key, value in done.outputs:  # appended: a batch completes thousands
                    publisher.append(topic, partition, key, value)
            if any(done.outputs for done in merged.values()) and publisher.transactions is None:
                await publisher.delivered()  # outputs before the state that says they were sent
            for q, (two, _) in stages.items():
                moved = self._migrations.pop(q, [])  # first: the batch's own changes override them
                publisher.write_state((q, MERGE_STATE, key, value) for key, value in moved)
                changes = two.drain_changes().items()
                publisher.write_state((q, MERGE_STATE, state_key(q, key), value) for key, value in changes)
            await publisher.submit()
        if publisher.transactions is None:
            await publisher.delivered()
        self.metrics.windows_emitted.inc(sum(done.finals for done in merged.values()))  # a reader finds them now
        self.metrics.partials_merged.inc(sum(done.records for done in merged.values()))
        self.metrics.bursting.set(sum(len(slot.stage.bursts.active) for slot in self.slots if slot.stage))
        for q, done in merged.items():
            arrivals = stages[q][1]
            if done.rewind and self.slots[q].arrivals is arrivals:  # still this worker's
                await self.seek_back(done.rewind, lambda tp: arrivals)  # noqa: B023  # awaited in this iteration

    def _merge_partition(
        self, two: StageTwo, arrivals: Expected, messages: list[Any], counts: dict[str, int]
    ) -> Merged:
        """One partials partition's records of a batch, each checked against where its stage stands."""
        done = Merged()
        for msg in messages:
            arrival = arrivals.arrive(msg.topic, msg.offset, msg.generation_id)
            if arrival is Arrival.NEXT:
                outputs, finals = self.merge_one(two, msg.key, orjson.loads(msg.value), counts, msg.partition)
                done.outputs += outputs
                done.finals += finals
                done.records += 1
            elif arrival is Arrival.AHEAD:
                done.rewind[msg.tp] = arrivals.next_offset[msg.topic]
        return done

    def merge_one(
        self, two: StageTwo, key: bytes, body: dict[str, Any], counts: dict[str, int], partition: int
    ) -> tuple[list[Output], int]:
        """One partial, progress mark or overdue count merged on stage-two `partition`; returns
        the records it completed, each by the default partitioner over `counts` (topic ->
        partitions), and how many of them are final windows."""
        outputs: list[Output] = []
        finals = 0
        metrics = self.metrics

        def alert(merchant_id: str, record: dict[str, Any]) -> None:
            merchant = merchant_id.encode()
            partition = partition_of(merchant, counts[SHIPPING_ALERTS.name])
            outputs.append((SHIPPING_ALERTS.name, partition, merchant, orjson.dumps(record)))

        if key == OVERDUE.encode():
            for backlog_alert in two.on_overdue(body["partition"], body["counts"], body["event_time"]):
                alert(backlog_alert.merchant_id, shipping_alert(backlog_alert))
            return outputs, finals
        size, start, settle, provisional = parse_key(key.decode())
        if start is not None:
            two.on_partials(body["partition"], (size, start, settle), body["partials"], provisional)
            return outputs, finals
        records, burst_alerts = two.on_progress(body["partition"], size, settle, body["through"], provisional)
        windows = counts[KPI_WINDOWS.name]
        for record in records:
            window_key, head = encoded_key(record)
            partition = partition_of_shared(window_key, windows, head)
            outputs.append((KPI_WINDOWS.name, partition, window_key, orjson.dumps(record)))
            if not provisional:
                finals += 1
                metrics.final_window(record, partition)
        for burst in burst_alerts:
            alert(burst.merchant_id, burst_alert(burst))
            if burst.phase == "started":
                metrics.bursts.inc()
        return outputs, finals
