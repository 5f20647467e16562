"""Order and ticket state over one partition's RocksDB store, for the engine's dict interface.

With the memory store the engine works on the table's own dict. With RocksDB (rocksdict,
`CXKPI_STORE=rocksdb`) a read gives a fresh copy, so this view keeps every state it handed
out in a write-back cache for the batch; `flush` writes the touched ones (and deletions)
to the partition's database once, after the shell sent them to the changelog. Keys and
values are the changelog's bytes (orjson), so the recovery Faust does from the changelog
writes exactly what this view reads. Memory holds one batch's states, not the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import orjson

State = dict[str, Any]
ROCKSDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 8 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 << 20,
}
"""Per partition database (Faust's `RocksDBOptions`). Faust's defaults (64 MB x 3 memtables,
a 2 GB block cache) are per database, and a worker opens one per table and partition:
13 with the contract's 4 partitions. Reads of recent states are served by the OS page cache."""
OFFSET_KEY_PREFIX = b"__faust"
"""Faust keeps its own bookkeeping (persisted offsets) in the same database."""


class PartitionStates(MutableMapping[str, State]):
    def __init__(self, db: Callable[[], Any]):
        self._db = db  # looked up on each use: Faust reopens a partition's database after a rebalance
        self._cache: dict[str, State] = {}
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> State:
        state = self._cache.get(key)
        if state is not None:
            return state
        if key in self._deleted:
            raise KeyError(key)
        raw = self._db().get(orjson.dumps(key))
        if raw is None:
            raise KeyError(key)
        loaded: State = orjson.loads(raw)
        self._cache[key] = loaded
        return loaded

    def __setitem__(self, key: str, state: State) -> None:
        self._cache[key] = state
        self._deleted.discard(key)

    def __delitem__(self, key: str) -> None:
        self[key]  # KeyError when absent, like a dict
        del self._cache[key]
        self._deleted.add(key)

    def __iter__(self) -> Iterator[str]:
        seen = set(self._cache)
        yield from self._cache
        for raw in self._db().keys():  # noqa: SIM118  (an Rdict, not a dict)
            if raw.startswith(OFFSET_KEY_PREFIX):
                continue
            key = orjson.loads(raw)
            if key not in seen and key not in self._deleted:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def flush(self) -> None:
        """Write the batch's states and deletions to the database; the cache starts empty again."""
        db = self._db()
        for key, state in self._cache.items():
            db.put(orjson.dumps(key), orjson.dumps(state))
        for key in self._deleted:
            db.delete(orjson.dumps(key))
        self._cache.clear()
        self._deleted.clear()
