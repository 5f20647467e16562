"""How long the worker's consumer lets the broker hold a fetch that finds nothing new.

aiokafka sends one fetch at a time to a broker, for the partitions whose fetched records are
used up. Faust asks it to let the broker hold such a fetch up to 1.5 s (`fetch_max_wait_ms`)
until records come. In a backlog that is a stall: the partitions already read to their end
(a topic the data set has few records of, the partials topic, a changelog) go out alone, the
broker holds them, and the busy partitions, used up meanwhile, wait for that fetch to return
before theirs can go. Measured on 2026-11-27 (200,000 records, one subset worker): a fetch of
13 idle partitions held 1.50 s about every 13,000 records, and the worker waited for records
a third of its time. The wait is `CXKPI_FETCH_MAX_WAIT_MS` here (Kafka's Java consumer waits
500 ms by default); a record that arrives ends the wait at once, so a shorter one costs only
more requests while the topics are quiet: an idle worker used 0.65 to 0.68 CPU seconds per
30 s at 100 ms against 0.31 to 0.32 at 1,500 ms, its broker 1.5 to 2.6 against 1.0 to 1.7
(two runs each, 2026-11-27).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver

FAUST_FETCH_MAX_WAIT_MS = 1500
"""What Faust's aiokafka driver asks for (faust-streaming 0.15.3; not a setting of Faust's)."""


class FetchWaitThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, its consumer built with the app's `fetch_max_wait_ms`."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read when the consumer starts and builds its fetcher, which is after this
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", FAUST_FETCH_MAX_WAIT_MS)
        return consumer
