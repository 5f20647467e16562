"""Decode and validate input records against the contract.

Every byte string is either a valid event (a plain dict, as orjson made it) or a
`Reject` with a machine-readable reason; nothing here raises on bad input. A valid record
passes one straight-line check generated from `topics.contract` (`topics/checks.py`); only
a record it turns down walks its fields through the checks compiled here, which name the
reason. A test holds the two to the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from topics.checks import CHECKS
from topics.contract import INPUT_TOPICS, SCHEMA_VERSION, Field, Kind, Record

MAX_RECORD_BYTES = 64 * 1024
"""Larger input records are rejected: no legitimate event comes near this size."""

REJECT_REASONS = (
    "oversized",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "unknown_event_type",
    "schema_too_new",
    "missing_field",
    "null_field",
    "wrong_type",
    "unknown_enum_value",
    "out_of_range",
    "missing_key",
    "key_mismatch",
    "implausible_time",
    "duplicate_field_values",
)
"""Every reason a record can be rejected for, by this module or by the processor."""


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str
    detail: str

    def __post_init__(self) -> None:
        if self.reason not in REJECT_REASONS:
            raise ValueError(f"undeclared reject reason {self.reason!r}")


Check = Callable[[Any], str | None]
"""Returns None when the value is fine, else the reject reason."""


def _check_for(spec: Field) -> Check:
    kind = spec.kind
    values = frozenset(spec.values)
    lo, hi, max_len = spec.minimum, spec.maximum, spec.max_length

    def in_range(v: float) -> str | None:
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return "out_of_range"
        return None

    if kind is Kind.STRING:

        def check_string(v: Any) -> str | None:
            if type(v) is not str:
                return "wrong_type"
            if max_len is not None and len(v) > max_len:
                return "out_of_range"
            return None

        return check_string
    if kind in (Kind.INT, Kind.TIMESTAMP):
        floor = 0 if kind is Kind.TIMESTAMP else None

        def check_int(v: Any) -> str | None:
            if type(v) is not int:
                return "wrong_type"
            if floor is not None and v < floor:
                return "out_of_range"
            return in_range(v)

        return check_int
    if kind is Kind.NUMBER:

        def check_number(v: Any) -> str | None:
            if type(v) is not int and type(v) is not float:
                return "wrong_type"
            if not math.isfinite(v):
                return "out_of_range"
            return in_range(v)

        return check_number
    if kind is Kind.BOOL:
        return lambda v: None if type(v) is bool else "wrong_type"
    if kind is Kind.ENUM:
        return lambda v: (
            None if type(v) is str and v in values else ("wrong_type" if type(v) is not str else "unknown_enum_value")
        )
    if kind is Kind.ENUM_LIST:

        def check_list(v: Any) -> str | None:
            if type(v) is not list:
                return "wrong_type"
            for item in v:
                if type(item) is not str:
                    return "wrong_type"
                if item not in values:
                    return "unknown_enum_value"
            if len(set(v)) != len(v):
                return "duplicate_field_values"
            return None

        return check_list
    if kind is Kind.OBJECT:
        return lambda v: None if type(v) is dict else "wrong_type"
    raise AssertionError(f"unhandled kind {kind}")


@dataclass(frozen=True)
class _CompiledRecord:
    required: tuple[tuple[str, bool, Check], ...]
    optional: tuple[tuple[str, bool, Check], ...]


def _compile(record: Record) -> _CompiledRecord:
    # event_type is checked by the dispatch itself
    fields = [f for f in record.fields if f.name != "event_type"]
    return _CompiledRecord(
        required=tuple((f.name, f.nullable, _check_for(f)) for f in fields if f.required),
        optional=tuple((f.name, f.nullable, _check_for(f)) for f in fields if not f.required),
    )


_COMPILED: dict[str, dict[str, _CompiledRecord]] = {
    topic.name: {r.name: _compile(r) for r in topic.records} for topic in INPUT_TOPICS
}


def validate_event(event: Any, topic: str) -> Reject | None:
    """Check a decoded value against the contract of `topic`; None when valid."""
    if type(event) is not dict:
        return Reject("not_an_object", "record is not a JSON object")
    event_type = event.get("event_type")
    check = CHECKS[topic].get(event_type) if type(event_type) is str else None
    if check is not None:
        try:
            if check(event):
                return None
        except (KeyError, TypeError):  # a missing field, an unhashable list item: named below
            pass
    return find_problem(event, topic)


def find_problem(event: dict[str, Any], topic: str) -> Reject | None:
    """Why a decoded object breaks the contract of `topic`, field by field; None: it does not."""
    by_type = _COMPILED[topic]
    event_type = event.get("event_type")
    compiled = by_type.get(event_type) if type(event_type) is str else None
    if compiled is None:
        return Reject("unknown_event_type", f"event_type is not one of {topic}'s types")
    version = event.get("schema_version")
    if type(version) is int and version > SCHEMA_VERSION:
        return Reject("schema_too_new", f"schema_version {version} > supported {SCHEMA_VERSION}")
    for name, nullable, check in compiled.required:
        if name not in event:
            return Reject("missing_field", f"{event_type}: missing {name}")
        value = event[name]
        if value is None:
            if nullable:
                continue
            return Reject("null_field", f"{event_type}: {name} is null")
        problem = check(value)
        if problem is not None:
            return Reject(problem, f"{event_type}: bad {name}")
    for name, _nullable, check in compiled.optional:
        value = event.get(name)
        if value is None:
            continue
        problem = check(value)
        if problem is not None:
            return Reject(problem, f"{event_type}: bad {name}")
    return None


def decode_event(value: bytes | None, topic: str) -> dict[str, Any] | Reject:
    """Bytes off the wire -> a valid event dict, or a classified Reject. Never raises."""
    if value is None:
        return Reject("not_an_object", "record has no value (tombstone)")
    if len(value) > MAX_RECORD_BYTES:
        return Reject("oversized", f"{len(value)} bytes > {MAX_RECORD_BYTES}")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return Reject("invalid_utf8", "value is not UTF-8")
        return Reject("invalid_json", "value is not JSON")
    problem = validate_event(event, topic)
    if problem is not None:
        return problem
    return event  # type: ignore[no-any-return]


def decode_record(key: bytes | None, value: bytes | None, topic: str) -> dict[str, Any] | Reject:
    """`decode_event`, and the record's Kafka key checked against the contract's: an input
    record keyed otherwise (or not at all) lands on another partition than its order's other
    events, where its order never completes (a keyless payment showed up as an overdue order).
    Never raises."""
    event = decode_event(value, topic)
    if isinstance(event, Reject):
        return event
    if key is None:
        return Reject("missing_key", f"{event['event_type']}: no key (the contract keys {topic} by {_KEYS[topic]})")
    if key != record_key(event).encode():
        return Reject("key_mismatch", f"{event['event_type']}: the key is not its {_KEYS[topic]}")
    return event


_KEYS = {topic.name: topic.key for topic in INPUT_TOPICS}


def record_key(event: Mapping[str, Any]) -> str:
    """The Kafka key an input event must travel under (order_id, else ticket_id)."""
    order_id = event.get("order_id")
    if order_id is not None:
        return str(order_id)
    return str(event["ticket_id"])
