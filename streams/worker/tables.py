"""The worker's four state tables, and how the engines and stage two read what Faust recovered.

Orders and tickets are read and written by the engine itself (the memory store's dict, or a
write-back view of the partition's RocksDB database). Window and merge state are written to
their changelogs only: the engines and stage two keep the live copy, so the table holds what
recovery read, and nothing after.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.kpis.engine import PartitionEngine
from streams.kpis.versioned import latest
from streams.worker.state.store import ROCKSDB_OPTIONS, PartitionStates
from streams.worker.state.writes import MERGE_STATE, ORDER_STATE, TICKET_STATE, WINDOW_STATE
from topics.partitioner import partition_of

RecoveredEntries = list[tuple[Any, Any]]


class StateTables:
    """Faust's tables are typed as plain mappings; their stores' internals (the memory store's
    dict, RocksDB's per-partition databases) are reached as `Any`."""

    def __init__(self, app: Any, partitions: int, stage_two_partitions: int, persistent: bool) -> None:
        self.partitions = partitions
        """Of the input topics (and orders, tickets and window state)."""
        self.stage_two_partitions = stage_two_partitions
        """Of the window partials topic (and merge state)."""
        self.persistent = persistent
        options = ROCKSDB_OPTIONS if persistent else None
        self.orders: Any = app.Table(ORDER_STATE, default=None, partitions=partitions, options=options)
        self.tickets: Any = app.Table(TICKET_STATE, default=None, partitions=partitions, options=options)
        # open windows per input partition, and stage two's state per partials partition
        self.windows: Any = app.Table(WINDOW_STATE, default=None, partitions=partitions, options=options)
        self.merge: Any = app.Table(MERGE_STATE, default=None, partitions=stage_two_partitions, options=options)
        # memory store: the engines work on the table's own dict, shared by the worker's partitions
        self._order_dict: dict[str, Any] = {} if persistent else self.orders.data.data
        self._ticket_dict: dict[str, Any] = {} if persistent else self.tickets.data.data

    def changelogs(self) -> dict[str, str]:
        """Table name -> its changelog topic (the state records' destination)."""
        tables = (self.orders, self.tickets, self.windows, self.merge)
        return {table.name: str(table.changelog_topic.get_topic_name()) for table in tables}

    def partition_states(self, partition: int) -> tuple[Any, Any, list[str], list[str]]:
        """(order states, ticket states, order ids, ticket ids) of one input partition."""
        if self.persistent:  # RocksDB: a write-back view of the partition's own database per table
            # Faust's RocksDB store keeps one database per partition (`_db_for_partition`)
            order_states = PartitionStates(lambda: self.orders.data._db_for_partition(partition))
            ticket_states = PartitionStates(lambda: self.tickets.data._db_for_partition(partition))
            return order_states, ticket_states, list(order_states), list(ticket_states)
        order_ids = [k for k in self._order_dict if partition_of(k.encode(), self.partitions) == partition]
        ticket_ids = [
            k
            for k, state in self._ticket_dict.items()
            if partition_of(PartitionEngine.ticket_routing_key(k, latest(state)).encode(), self.partitions) == partition
        ]
        return self._order_dict, self._ticket_dict, order_ids, ticket_ids

    def recovered(self, table: Any, partition: int) -> RecoveredEntries:
        """(key, value) entries Faust recovered from a table's changelog for one partition."""
        if self.persistent:
            states = PartitionStates(lambda: table.data._db_for_partition(partition))
            return [(key, states[key]) for key in states]
        return list(table.data.data.items())

    def forget_recovered(self, table: Any, keys: Iterable[str] | None = None) -> None:
        """Memory store: drop what recovery read once the live copy holds it (all if no keys)."""
        if self.persistent:
            return
        if keys is None:
            table.data.data.clear()
            return
        for key in keys:
            table.data.data.pop(key, None)

    def key_counts(self) -> dict[str, int]:
        """Orders and tickets held; RocksDB's own estimate (counting would read the whole database)."""
        if not self.persistent:
            return {ORDER_STATE: len(self._order_dict), TICKET_STATE: len(self._ticket_dict)}
        counts = {}
        for name, table in ((ORDER_STATE, self.orders), (TICKET_STATE, self.tickets)):
            dbs = table.data._dbs.values()
            counts[name] = sum(db.property_int_value("rocksdb.estimate-num-keys") for db in dbs)
        return counts
