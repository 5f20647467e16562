"""`topics/asyncapi.yaml`: a published AsyncAPI 3 parser accepts it, its references resolve,
and it says what the contract says (channels, partitions, configs, messages, keys)."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from topics.codegen import ASYNCAPI_FILE
from topics.contract import ALL_TOPICS
from topics.json_schema import record_schema

with warnings.catch_warnings():  # its models shadow pydantic's `schema` attribute, by design
    warnings.simplefilter("ignore", UserWarning)
    from asyncapi3 import AsyncAPI3


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    return loaded


def test_a_published_parser_accepts_it(document: dict[str, Any]) -> None:
    spec = AsyncAPI3.model_validate(document)
    assert spec.asyncapi == "3.0.0"


def test_the_parser_would_reject_a_wrong_kafka_binding(document: dict[str, Any]) -> None:
    """The parser checks the Kafka bindings' fields, so the test above means something."""
    broken = copy.deepcopy(document)
    broken["channels"]["orders"]["bindings"]["kafka"]["partitons"] = 4
    with pytest.raises(ValidationError, match="partitons"):
        AsyncAPI3.model_validate(broken)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError: a dangling reference
        assert isinstance(node, dict), ref


def test_it_says_what_the_contract_says(document: dict[str, Any]) -> None:
    channels = {c["address"]: c for c in document["channels"].values()}
    assert set(channels) == {t.name for t in ALL_TOPICS}
    messages = document["components"]["messages"]
    for topic in ALL_TOPICS:
        channel = channels[topic.name]
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == topic.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [topic.config["cleanup.policy"]]
        assert kafka["topicConfiguration"]["retention.ms"] == int(topic.config["retention.ms"])
        its = [messages[ref["$ref"].rsplit("/", 1)[1]] for ref in channel["messages"].values()]
        assert [m["name"] for m in its] == [r.name for r in topic.records]
        for record, message in zip(topic.records, its, strict=True):
            assert message["payload"] == {k: v for k, v in record_schema(record).items() if k != "title"}
            assert f"`{topic.key.split('|')[0]}`" in message["bindings"]["kafka"]["key"]["description"]
