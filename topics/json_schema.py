"""The contract's records as JSON Schemas (draft 2020-12, within draft 07's keywords, so
AsyncAPI's default schema format reads them too)."""

from __future__ import annotations

from typing import Any

from topics.contract import Field, Kind, Record, Topic


def field_schema(spec: Field) -> dict[str, Any]:
    out: dict[str, Any]
    if spec.kind is Kind.ENUM:
        out = {"type": "string", "enum": list(spec.values)}
    elif spec.kind is Kind.ENUM_LIST:
        out = {"type": "array", "items": {"type": "string", "enum": list(spec.values)}, "uniqueItems": True}
    elif spec.kind is Kind.TIMESTAMP:
        out = {"type": "integer", "minimum": 0}
    else:
        out = {"type": spec.kind.value}
    if spec.minimum is not None:
        out["minimum"] = spec.minimum
    if spec.maximum is not None:
        out["maximum"] = spec.maximum
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.nullable:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    out["description"] = spec.doc
    return out


def record_schema(record: Record) -> dict[str, Any]:
    return {
        "title": record.name,
        "description": record.doc,
        "type": "object",
        "properties": {f.name: field_schema(f) for f in record.fields},
        "required": [f.name for f in record.fields if f.required],
    }


def topic_schema(topic: Topic) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"cxkpi/topics/{topic.name}.schema.json",
        "title": topic.name,
        "description": topic.doc,
    }
    if len(topic.records) == 1:
        schema.update({k: v for k, v in record_schema(topic.records[0]).items() if k != "title"})
    else:
        schema["oneOf"] = [record_schema(r) for r in topic.records]
    return schema
