"""Dead letters for `cxkpi.rejects`: one bounded record per input record the worker turned down.

A dead letter carries the original key and value so an operator can inspect and replay it,
but never more than `PAYLOAD_PREFIX_BYTES` of the value and `KEY_PREFIX_BYTES` of the key:
a 900 KB input record (under Kafka's 1 MiB) would otherwise become a 1.2 MB base64 dead
letter that no broker takes, and every restart would replay the record and fail again (a
poison pill). What was cut is said by `truncated`, the original sizes and the SHA-256 of
the whole value, so a replay tool can tell a prefix from the record and find the original
by its source offset while the input topic retains it.
"""

from __future__ import annotations

import base64
import hashlib

import orjson

from topics.contract import SCHEMA_VERSION
from topics.validation import Reject

PAYLOAD_PREFIX_BYTES = 64 * 1024
"""At most this much of the original value travels in a dead letter (the input size limit:
anything the processor accepts fits whole)."""
KEY_PREFIX_BYTES = 1024
"""At most this much of the original key (ids are at most 128 characters)."""
MAX_DEAD_LETTER_BYTES = 96 * 1024
"""No dead letter, key and value together, is larger: base64 of both prefixes (89 KB) and
the fields around them. Far under the 1 MiB a broker takes by default."""


def dead_letter(
    reject: Reject, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
) -> tuple[bytes | None, bytes]:
    """(key, value) of the dead letter for the input record at `topic`/`partition`/`offset`."""
    key_prefix = None if key is None else key[:KEY_PREFIX_BYTES]
    value_prefix = None if value is None else value[:PAYLOAD_PREFIX_BYTES]
    body = orjson.dumps(
        {
            "reason": reject.reason,
            "detail": reject.detail,
            "source_topic": topic,
            "source_partition": partition,
            "source_offset": offset,
            "key_b64": _b64(key_prefix),
            "value_b64": _b64(value_prefix),
            "key_bytes": None if key is None else len(key),
            "value_bytes": None if value is None else len(value),
            "value_sha256": None if value is None else hashlib.sha256(value).hexdigest(),
            "truncated": (key is not None and len(key) > KEY_PREFIX_BYTES)
            or (value is not None and len(value) > PAYLOAD_PREFIX_BYTES),
            "schema_version": SCHEMA_VERSION,
        }
    )
    return key_prefix, body


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
