"""Keys due at event times, taken out in time order once the watermark passes them.

Every open order waits in two of these (its promised ship time, its state's expiry) for
days of event time, so with the RocksDB store they are most of what a worker keeps in
memory per order. A `heapq` of tuples cost about 100 bytes per entry besides the key
(tuple, boxed time, list slot); here an entry is its time in an `array` (8 bytes) and a
slot in a list (8 bytes), in one bucket per minute of due time. A bucket is sorted once,
when the watermark first reaches it; entries come out in (time, key) order, as a heap of
(time, key) tuples would give them.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator

BUCKET_MS = 60_000


class Schedule:
    def __init__(self) -> None:
        self._times: dict[int, array[int]] = {}  # bucket -> due times
        self._keys: dict[int, list[str]] = {}  # bucket -> keys, parallel to the times
        self._buckets: list[int] = []  # heap of the buckets held
        self._sorted: set[int] = set()  # buckets sorted by (time, key), latest first
        self._size = 0

    def push(self, due_ms: int, key: str) -> None:
        bucket = due_ms // BUCKET_MS
        times = self._times.get(bucket)
        if times is None:
            times = self._times[bucket] = array("q")
            self._keys[bucket] = []
            heapq.heappush(self._buckets, bucket)
        times.append(due_ms)
        self._keys[bucket].append(key)
        self._sorted.discard(bucket)
        self._size += 1

    def pop_before(self, limit_ms: int) -> list[tuple[int, str]]:
        """Every entry due before `limit_ms`, removed, earliest first (ties by key)."""
        out: list[tuple[int, str]] = []
        while self._buckets and self._buckets[0] * BUCKET_MS < limit_ms:
            bucket = self._buckets[0]
            times, keys = self._times[bucket], self._keys[bucket]
            if bucket not in self._sorted:
                entries = sorted(zip(times, keys, strict=True), reverse=True)
                times[:] = array("q", (t for t, _ in entries))
                keys[:] = [k for _, k in entries]
                self._sorted.add(bucket)
            while times and times[-1] < limit_ms:
                out.append((times.pop(), keys.pop()))
            if times:  # the watermark is inside this bucket: the rest waits
                break
            heapq.heappop(self._buckets)
            del self._times[bucket], self._keys[bucket]
            self._sorted.discard(bucket)
        self._size -= len(out)
        return out

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """Every entry as (due ms, key), in no particular order."""
        for bucket, times in self._times.items():
            yield from zip(times, self._keys[bucket], strict=True)
