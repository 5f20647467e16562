"""The generated checks (`topics/checks.py`) and the field walk of `topics.validation` agree."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.generator.lifecycle import OrderFactory, Population
from streams.generator.scenarios import scenario
from topics.checks import CHECKS
from topics.contract import INPUT_TOPICS, SCHEMA_VERSION, Field
from topics.validation import find_problem, validate_event


def _valid_events() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Up to five valid events of every input record type, from the generator's orders."""
    rng = random.Random(3)
    orders = OrderFactory(rng, 3, scenario("steady"), START_MS, Population.build(rng, 3))
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for n in range(2_000):
        for topic, event in orders.order(n, START_MS + n * 1000, None)[0]:
            same = found.setdefault(event["event_type"], [])
            if len(same) < 5:
                same.append((topic, orjson.loads(orjson.dumps(event))))  # as the wire gives it
    return found


START_MS = 1_793_491_200_000
VALID = _valid_events()
RECORDS = {record.name: record for topic in INPUT_TOPICS for record in topic.records}


def _passes(topic: str, event: dict[str, Any]) -> bool:
    try:
        return CHECKS[topic][event["event_type"]](event)
    except (KeyError, TypeError):
        return False


def test_every_record_type_has_a_check_that_passes_a_valid_one() -> None:
    assert set(VALID) == set(RECORDS)
    for topic, event in (case for cases in VALID.values() for case in cases):
        assert _passes(topic, event), event["event_type"]
        assert validate_event(event, topic) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=130),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def _edges(spec: Field) -> list[Any]:
    """Values on either side of a field's rules: its bounds, its length, its enum, duplicates."""
    edges: list[Any] = [None, True, 1, 1.5, float("inf"), "x", [], [[1]], {}, -1, 0, SCHEMA_VERSION + 1]
    for bound in (spec.minimum, spec.maximum):
        if bound is not None:
            edges += [int(bound) - 1, int(bound), int(bound) + 1, bound - 0.5, bound + 0.5]
    if spec.max_length is not None:
        edges += ["x" * spec.max_length, "x" * (spec.max_length + 1)]
    words = [*spec.values, "nope"]
    edges += [*words, words, words[:1] * 2, [words[0], 1]]
    return edges


@pytest.mark.parametrize("event_type", sorted(RECORDS))
def test_every_edge_of_every_field_gets_the_same_verdict(event_type: str) -> None:
    checked = 0
    for topic, base in VALID[event_type]:
        for spec in RECORDS[event_type].fields:
            dropped = {k: v for k, v in base.items() if k != spec.name}
            for event in (dropped, *(base | {spec.name: value} for value in _edges(spec))):
                problem = find_problem(event, topic)
                assert _passes(topic, event) == (problem is None), (spec.name, event.get(spec.name), problem)
                checked += 1
    assert checked > 100


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event_type = draw(st.sampled_from(sorted(VALID)))
    topic, base = draw(st.sampled_from(VALID[event_type]))
    event = dict(base)
    for spec in draw(st.lists(st.sampled_from(RECORDS[event_type].fields), max_size=2)):
        choice = draw(st.sampled_from(["drop", "near", "near", "any"]))
        if choice == "drop":
            event.pop(spec.name, None)
        else:
            event[spec.name] = draw(st.sampled_from(_edges(spec)) if choice == "near" else json_values)
    return topic, event


@settings(max_examples=1000, deadline=None)
@given(_mutated())
def test_the_check_passes_exactly_what_the_walk_finds_no_problem_in(case: tuple[str, dict[str, Any]]) -> None:
    topic, event = case
    problem = find_problem(event, topic)
    assert _passes(topic, event) == (problem is None), problem
    assert validate_event(event, topic) == problem


@pytest.mark.parametrize("event_type", sorted(RECORDS))
def test_a_turned_down_record_gets_the_walks_reason(event_type: str) -> None:
    topic, base = VALID[event_type][0]
    required = next(spec.name for spec in RECORDS[event_type].fields if spec.required and spec.name != "event_type")
    event = {k: v for k, v in base.items() if k != required}
    reject = validate_event(event, topic)
    assert reject is not None and reject.reason == "missing_field"
