"""The contract's views (schemas, models, checks, README) never drift from `topics/contract.py`."""

from __future__ import annotations

import typing

import jsonschema
import pytest

from topics import codegen, json_schema, models
from topics.contract import ALL_TOPICS, INPUT_TOPICS, Kind


def test_generated_files_are_current() -> None:
    stale = codegen.stale_files()
    assert stale == [], f"run `python -m topics.codegen`: stale {stale}"


def test_drift_is_detected(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # the check must be able to fail: point it at an edited copy of the models
    copy = tmp_path / "models.py"  # type: ignore[operator]
    copy.write_text(codegen.MODELS_FILE.read_text().replace("order_id: str", "order_id: int", 1))
    monkeypatch.setattr(codegen, "MODELS_FILE", copy)
    assert copy in codegen.stale_files()


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_models_match_contract(topic: typing.Any) -> None:
    for record in topic.records:
        model = getattr(models, codegen.model_name(record))
        assert list(typing.get_type_hints(model)) == list(record.field_names())


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda t: t.name)
def test_schemas_are_valid_json_schema(topic: typing.Any) -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema.topic_schema(topic))


def test_input_topics_are_co_partitioned_and_keyed_by_order() -> None:
    assert len({t.partitions for t in INPUT_TOPICS}) == 1
    for topic in INPUT_TOPICS:
        assert topic.key.split("|")[0] == "order_id"
        for record in topic.records:
            names = record.field_names()
            assert names[:4] == ("event_id", "event_type", "event_time", "schema_version")
            assert "order_id" in names


def test_personal_fields_only_on_inputs() -> None:
    for topic in ALL_TOPICS:
        personal = [f.name for r in topic.records for f in r.fields if f.personal]
        if not topic.is_input:
            assert personal == [], f"{topic.name} exports personal fields {personal}"
        assert all(p == "buyer_id" for p in personal)


def test_enum_fields_declare_values() -> None:
    for topic in ALL_TOPICS:
        for record in topic.records:
            for f in record.fields:
                assert (f.kind in (Kind.ENUM, Kind.ENUM_LIST)) == bool(f.values), (record.name, f.name)
