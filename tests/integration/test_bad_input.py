"""Every kind of bad input, sent to the real worker: each lands in `cxkpi.rejects` with its
original bytes, where it came from and why; counters by reason; nothing stops the worker,
and the accounting holds (consumed = applied + late + parked + duplicates + rejected)."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.clients.reader import read_to_end
from streams.local.worker import start_worker, stop_worker
from streams.outputs.dead_letters import MAX_DEAD_LETTER_BYTES, PAYLOAD_PREFIX_BYTES
from tests.integration.support import metric_sum, own_broker, own_broker_settings, wait_for_count
from topics.contract import SCHEMA_VERSION
from topics.partitioner import partition_of
from topics.validation import MAX_RECORD_BYTES

pytestmark = pytest.mark.kafka
DAY_MS = 24 * 3_600_000
T0 = 1_793_491_200_000  # 2026-11-01

PAID: dict[str, Any] = {
    "event_id": "bad-o-1-paid",
    "event_type": "order.paid",
    "event_time": T0,
    "schema_version": 1,
    "order_id": "bad-o-1",
    "merchant_id": "m-1",
    "creator_id": None,
    "channel": "livestream",
    "livestream_id": "ls-1",
    "category": "beauty",
    "amount": 12.5,
    "presale": False,
    "presale_ship_by": None,
    "promised_ship_by": T0 + 2 * DAY_MS,
    "express_refund_eligible": True,
    "return_shipping_insured": False,
    "guarantees": ["allergy"],
    "buyer_id": "buyer-secret-1",
}
SHIPPED: dict[str, Any] = {
    "event_id": "bad-o-1-shipped",
    "event_type": "shipment.shipped",
    "event_time": T0 + 3_600_000,
    "schema_version": 1,
    "order_id": "bad-o-1",
    "shipment_id": "s-1",
    "carrier": "sf",
    "promised_eta": T0 + 3 * DAY_MS,
}


def _with(event: dict[str, Any], **changes: Any) -> bytes:
    return orjson.dumps(event | changes)


def _without(event: dict[str, Any], field: str) -> bytes:
    return orjson.dumps({k: v for k, v in event.items() if k != field})


def _padded(size: int) -> bytes:
    """A JSON object of exactly `size` bytes that would be a valid payment but for its padding."""
    head = orjson.dumps(PAID | {"order_id": "bad-o-6", "event_id": f"pad-{size}", "pad": ""})
    return head[:-2] + b"x" * (size - len(head)) + b'"}'


STRANGER = next(
    f"bad-o-{n}" for n in range(9, 999) if partition_of(f"bad-o-{n}".encode(), 4) == partition_of(b"bad-o-1", 4)
)
"""An order never paid, on bad-o-1's partition (whose newest event time is known)."""

BROKER_RECORD_LIMIT = 1_048_576
"""The broker's `message.max.bytes` (a batch of one record adds about 70 bytes)."""

# (topic, key, value, the reason it must be rejected for)
BAD: list[tuple[str, bytes | None, bytes, str]] = [
    ("orders", b"bad-o-2", b'{"event_id": "x", ', "invalid_json"),
    ("orders", b"bad-o-2", b'{"event_id": "\xff\xfe"}', "invalid_utf8"),
    ("orders", b"bad-o-2", b"[1, 2, 3]", "not_an_object"),
    ("orders", b"bad-o-2", _with(PAID, order_id="bad-o-2", event_id="e2", amount="12.5"), "wrong_type"),
    ("orders", b"bad-o-2", _without(PAID | {"order_id": "bad-o-2", "event_id": "e3"}, "category"), "missing_field"),
    (
        "orders",
        b"bad-o-2",
        _with(PAID, order_id="bad-o-2", event_id="e4", event_type="order.teleported"),
        "unknown_event_type",
    ),
    ("orders", b"bad-o-2", _with(PAID, order_id="bad-o-2", event_id="e5", channel="tv"), "unknown_enum_value"),
    (
        "orders",
        b"bad-o-2",
        _with(PAID, order_id="bad-o-2", event_id="e6", schema_version=SCHEMA_VERSION + 1),
        "schema_too_new",
    ),
    ("orders", b"bad-o-2", _with(PAID, order_id="bad-o-2", event_id="e7", pad="x" * MAX_RECORD_BYTES), "oversized"),
    ("shipments", b"bad-o-1", _with(SHIPPED, event_id="e8", event_time=T0 - 60_000), "implausible_time"),
    (  # an order its partition does not hold, 30 days ahead of everything there
        "shipments",
        STRANGER.encode(),
        _with(SHIPPED, order_id=STRANGER, event_id="e9", event_time=T0 + 30 * DAY_MS),
        "implausible_time",
    ),
    ("orders", b"bad-o-2", _with(PAID, order_id="bad-o-2", event_id="e11", amount=1e308), "out_of_range"),
    ("orders", b"bad-o-2", _with(PAID, order_id="bad-o-2", event_id="e12", amount=1e40), "out_of_range"),
    ("orders", None, _with(PAID, order_id="bad-o-4", event_id="e13"), "missing_key"),
    ("orders", b"bad-o-1", _with(PAID, order_id="bad-o-5", event_id="e14"), "key_mismatch"),
    *[
        (topic, key, _padded(size), "oversized")
        for topic in ("orders", "shipments", "refunds", "support-tickets")
        for size in (MAX_RECORD_BYTES + 1, 700_000, 900_000, BROKER_RECORD_LIMIT - 512)
        for key in (b"bad-o-6", None)
    ],
]
"""Every input topic takes records up to the broker's limit; the dead letter of one stays small."""


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("kafka-bad")
    settings = own_broker_settings(data, "cxkpi-bad")
    with own_broker(settings):
        worker = None
        try:
            log = Path(data) / "worker.log"
            worker = start_worker(settings, log)
            producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", max_request_size=2 << 20)
            sent = [producer.send("orders", key=b"bad-o-1", value=orjson.dumps(PAID)).get(30)]
            wait_for_count(settings.web_port, "cxkpi_events_consumed", 1, 120, log)  # paid before its shipments
            sent += [producer.send(topic, key=key, value=value).get(30) for topic, key, value, _ in BAD]
            # an order never paid (parked), a redelivery (duplicate), then a good event after all the bad ones
            unknown = _with(SHIPPED, order_id="bad-o-3", event_id="e10")
            sent.append(producer.send("shipments", key=b"bad-o-3", value=unknown).get(30))
            sent.append(producer.send("orders", key=b"bad-o-1", value=orjson.dumps(PAID)).get(30))
            sent.append(producer.send("shipments", key=b"bad-o-1", value=orjson.dumps(SHIPPED)).get(30))
            producer.close()
            wait_for_count(settings.web_port, "cxkpi_events_consumed", len(sent), 120, log)
            yield {"settings": settings, "sent": sent, "worker": worker, "log": log}
        finally:
            if worker is not None:
                stop_worker(worker)


def test_each_bad_record_is_dead_lettered_with_its_bytes_origin_and_reason(fed: dict[str, Any]) -> None:
    settings = fed["settings"]
    deadline = time.monotonic() + 60
    while len(rejects := read_to_end(settings.bootstrap, "cxkpi.rejects")) < len(BAD):
        assert time.monotonic() < deadline, f"{len(rejects)} rejects of {len(BAD)}"
        time.sleep(1)
    got = {}
    for message in rejects:
        record = orjson.loads(message.value)
        got[(record["source_topic"], record["source_partition"], record["source_offset"])] = record
    for (topic, key, value, reason), meta in zip(BAD, fed["sent"][1 : 1 + len(BAD)], strict=True):
        record = got[(topic, meta.partition, meta.offset)]
        assert record["reason"] == reason, (reason, record["detail"])
        assert base64.b64decode(record["value_b64"]) == value[:PAYLOAD_PREFIX_BYTES]
        assert record["value_bytes"] == len(value) and record["truncated"] == (len(value) > PAYLOAD_PREFIX_BYTES)
        assert record["value_sha256"] == hashlib.sha256(value).hexdigest()
        assert (None if record["key_b64"] is None else base64.b64decode(record["key_b64"])) == key
    assert len(rejects) == len(BAD)
    assert max(len(message.value) for message in rejects) <= MAX_DEAD_LETTER_BYTES
    for reason in {r for *_, r in BAD}:
        want = sum(1 for *_, r in BAD if r == reason)
        assert metric_sum(settings.web_port, "cxkpi_rejects", reason=reason) == want, reason


def test_the_worker_goes_on_and_the_accounting_holds(fed: dict[str, Any]) -> None:
    port = fed["settings"].web_port
    assert fed["worker"].poll() is None
    outcomes = {
        o: metric_sum(port, "cxkpi_events_consumed", outcome=o)
        for o in ("applied", "late", "parked", "duplicate", "rejected")
    }
    assert outcomes == {"applied": 2, "late": 0, "parked": 1, "duplicate": 1, "rejected": len(BAD)}
    assert sum(outcomes.values()) == metric_sum(port, "cxkpi_events_consumed") == len(fed["sent"])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/orders/bad-o-1/guarantees", timeout=10) as resp:
        status = orjson.loads(resp.read())
    assert status["status"] == "shipped"  # the good event after the bad ones was applied
    with pytest.raises(urllib.error.HTTPError) as unknown:  # parked: known to nobody until paid
        urllib.request.urlopen(f"http://127.0.0.1:{port}/orders/bad-o-3/guarantees", timeout=10)
    assert unknown.value.code == 404


def test_no_buyer_id_in_rejects_metadata_metrics_or_log(fed: dict[str, Any]) -> None:
    settings = fed["settings"]
    for message in read_to_end(settings.bootstrap, "cxkpi.rejects"):
        record = orjson.loads(message.value)
        meta = {
            k: v for k, v in record.items() if k not in ("value_b64", "key_b64")
        }  # the original bytes, kept as sent
        assert "buyer-secret" not in orjson.dumps(meta).decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5) as resp:
        assert b"buyer-secret" not in resp.read()
    assert "buyer-secret" not in fed["log"].read_text()


def test_web_endpoint_listens_on_loopback_only(fed: dict[str, Any]) -> None:
    """The kernel's socket table: the worker's web port is bound to 127.0.0.1, not 0.0.0.0."""
    port = fed["settings"].web_port
    bound = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                bound.append(address)
    assert bound == ["0100007F"], bound  # 127.0.0.1, little-endian hex
