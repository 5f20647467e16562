"""Decoding: every byte string is a valid event or a classified reject, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topics.contract import EVENT_TOPIC, INPUT_TOPICS, MAX_AMOUNT_CNY, MAX_TIMESTAMP_MS, SCHEMA_VERSION
from topics.validation import MAX_RECORD_BYTES, REJECT_REASONS, Reject, decode_event, decode_record, record_key

PAID: dict[str, Any] = {
    "event_id": "o-1-00-00",
    "event_type": "order.paid",
    "event_time": 1_793_491_200_000,
    "schema_version": 1,
    "order_id": "o-1",
    "merchant_id": "m-1",
    "creator_id": None,
    "channel": "livestream",
    "livestream_id": "ls-1",
    "category": "beauty",
    "amount": 12.5,
    "presale": False,
    "presale_ship_by": None,
    "promised_ship_by": 1_793_664_000_000,
    "express_refund_eligible": True,
    "return_shipping_insured": False,
    "guarantees": ["allergy"],
    "buyer_id": "buyer-1",
}


def _decode(event: Any, topic: str = "orders") -> dict[str, Any] | Reject:
    return decode_event(orjson.dumps(event), topic)


def test_valid_event_decodes_to_dict() -> None:
    assert _decode(PAID) == PAID


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        (lambda e: e.pop("merchant_id"), "missing_field"),
        (lambda e: e.update(merchant_id=None), "null_field"),
        (lambda e: e.update(event_time="2026-11-01"), "wrong_type"),
        (lambda e: e.update(amount=True), "wrong_type"),
        (lambda e: e.update(presale=1), "wrong_type"),
        (lambda e: e.update(channel="tv"), "unknown_enum_value"),
        (lambda e: e.update(guarantees=["moon"]), "unknown_enum_value"),
        (lambda e: e.update(guarantees=["allergy", "allergy"]), "duplicate_field_values"),
        (lambda e: e.update(amount=-1), "out_of_range"),
        (lambda e: e.update(event_time=-5), "out_of_range"),
        (lambda e: e.update(event_type="order.teleported"), "unknown_event_type"),
        (lambda e: e.update(schema_version=SCHEMA_VERSION + 1), "schema_too_new"),
        (lambda e: e.update(order_id="x" * 500), "out_of_range"),
        (lambda e: e.update(amount=1e308), "out_of_range"),
        (lambda e: e.update(amount=1e40), "out_of_range"),
        (lambda e: e.update(amount=MAX_AMOUNT_CNY + 0.01), "out_of_range"),
        (lambda e: e.update(promised_ship_by=MAX_TIMESTAMP_MS + 1), "out_of_range"),
        (lambda e: e.update(event_time=MAX_TIMESTAMP_MS + 1), "out_of_range"),
    ],
)
def test_each_defect_has_its_reason(mutation: Any, reason: str) -> None:
    event = dict(PAID)
    mutation(event)
    result = _decode(event)
    assert isinstance(result, Reject)
    assert result.reason == reason


def test_byte_level_defects() -> None:
    assert decode_event(b'{"event_id": "\xff"}', "orders") == Reject("invalid_utf8", "value is not UTF-8")
    assert isinstance(r := decode_event(b'{"event_id": ', "orders"), Reject) and r.reason == "invalid_json"
    assert isinstance(r := decode_event(b"[1, 2]", "orders"), Reject) and r.reason == "not_an_object"
    assert isinstance(r := decode_event(None, "orders"), Reject) and r.reason == "not_an_object"
    big = orjson.dumps(PAID | {"pad": "x" * MAX_RECORD_BYTES})
    assert isinstance(r := decode_event(big, "orders"), Reject) and r.reason == "oversized"


def test_event_on_wrong_topic_is_rejected() -> None:
    result = _decode(PAID, "shipments")
    assert isinstance(result, Reject) and result.reason == "unknown_event_type"


def test_reject_detail_never_echoes_values() -> None:
    event = dict(PAID, buyer_id=12345)
    result = _decode(event)
    assert isinstance(result, Reject)
    assert "12345" not in result.detail


def test_reasons_are_declared() -> None:
    with pytest.raises(ValueError):
        Reject("made_up", "x")


def test_every_event_type_has_a_topic() -> None:
    assert set(EVENT_TOPIC.values()) == {t.name for t in INPUT_TOPICS}


def test_the_largest_plausible_values_are_valid() -> None:
    edge = PAID | {"amount": MAX_AMOUNT_CNY, "promised_ship_by": MAX_TIMESTAMP_MS, "event_time": MAX_TIMESTAMP_MS}
    assert _decode(edge) == edge


def test_a_record_is_keyed_as_the_contract_says() -> None:
    value = orjson.dumps(PAID)
    assert decode_record(b"o-1", value, "orders") == PAID
    assert isinstance(r := decode_record(None, value, "orders"), Reject) and r.reason == "missing_key"
    assert isinstance(r := decode_record(b"o-2", value, "orders"), Reject) and r.reason == "key_mismatch"
    assert isinstance(r := decode_record(b"", value, "orders"), Reject) and r.reason == "key_mismatch"
    assert "o-1" not in r.detail  # details never carry field values
    ticket = {
        "event_id": "t-1-open",
        "event_type": "ticket.opened",
        "event_time": 1_793_491_200_000,
        "schema_version": 1,
        "ticket_id": "t-1",
        "order_id": None,
        "reason": "other",
        "handled_by": "platform",
        "complaint": False,
        "buyer_id": "buyer-1",
    }
    assert decode_record(b"t-1", orjson.dumps(ticket), "support-tickets") == ticket  # no order: the ticket's id
    about_order = ticket | {"order_id": "o-1"}
    assert decode_record(b"o-1", orjson.dumps(about_order), "support-tickets") == about_order
    assert isinstance(r := decode_record(b"t-1", orjson.dumps(about_order), "support-tickets"), Reject)
    assert r.reason == "key_mismatch"  # about an order: keyed by it, with the order's other events
    bad_json = decode_record(None, b"{", "orders")
    assert isinstance(bad_json, Reject) and bad_json.reason == "invalid_json"  # the value's problem first


def test_record_key_prefers_order() -> None:
    assert record_key({"order_id": "o-9", "ticket_id": "t-1"}) == "o-9"
    assert record_key({"order_id": None, "ticket_id": "t-1"}) == "t-1"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512), st.sampled_from([t.name for t in INPUT_TOPICS]))
def test_any_bytes_are_event_or_reject(raw: bytes, topic: str) -> None:
    result = decode_event(raw, topic)
    assert isinstance(result, dict | Reject)
    if isinstance(result, Reject):
        assert result.reason in REJECT_REASONS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(list(PAID)), json_values, max_size=6))
def test_any_field_corruption_is_classified(overrides: dict[str, Any]) -> None:
    result = _decode(PAID | overrides)
    assert isinstance(result, dict | Reject)
    if isinstance(result, dict):
        assert result["event_type"] == "order.paid"
