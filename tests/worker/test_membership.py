"""The group-membership check before an exactly-once commit, against a fake coordinator:
what each Heartbeat answer means, the retries, and the transaction it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import errors
from faust.types import TP

from streams.worker.transport.membership import GroupMembership
from streams.worker.transport.transactions import FencedOut, Transactions


class Coordinator:
    """A client whose group coordinator answers each Heartbeat with the next of `answers`
    (an error class, sent as its code, or an exception raised by the send)."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers: Iterator[Any] = iter(answers)
        self.lookups = 0
        self.heartbeats: list[tuple[int, str, int]] = []  # (generation, member id, node)

    async def coordinator_lookup(self, kind: Any, key: str) -> int:
        self.lookups += 1
        return 100 + self.lookups

    async def send(self, node: int, request: Any) -> Any:
        self.heartbeats.append((request._generation_id, request._member_id, node))
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return SimpleNamespace(error_code=answer.errno)


def _holds(coordinator: Coordinator) -> bool:
    return asyncio.run(GroupMembership(lambda: coordinator, "g", backoff_s=0.0).holds((7, "m-1")))


def test_a_member_the_coordinator_knows_holds() -> None:
    coordinator = Coordinator([errors.NoError])
    assert _holds(coordinator)
    assert coordinator.heartbeats == [(7, "m-1", 101)]
    assert _holds(Coordinator([errors.RebalanceInProgressError]))  # commits still taken


@pytest.mark.parametrize("lost", [errors.UnknownMemberIdError, errors.IllegalGenerationError])
def test_a_member_dropped_from_the_group_or_its_generation_does_not(lost: type[Exception]) -> None:
    assert not _holds(Coordinator([lost]))


def test_a_restarting_broker_or_moved_coordinator_is_retried_and_looked_up_again() -> None:
    coordinator = Coordinator(
        [errors.KafkaConnectionError("down"), errors.NotCoordinatorForGroupError, errors.UnknownMemberIdError]
    )
    assert not _holds(coordinator)
    assert [node for _, _, node in coordinator.heartbeats] == [101, 102, 103]


def test_any_other_error_is_raised() -> None:
    with pytest.raises(errors.GroupAuthorizationFailedError):
        _holds(Coordinator([errors.GroupAuthorizationFailedError]))


class Producer:
    def __init__(self, client: Coordinator) -> None:
        self.client, self.calls = client, []

    async def start(self) -> None: ...

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def send_offsets_to_transaction(self, offsets: Any, group_id: str) -> None:
        self.calls.append("offsets")

    async def commit_transaction(self) -> None:
        self.calls.append("commit")

    async def abort_transaction(self) -> None:
        self.calls.append("abort")


async def _batch(transactions: Transactions) -> None:
    async def handed_over() -> None: ...

    async with transactions.transaction({TP("orders", 0): 5}, handed_over):
        pass


@pytest.mark.parametrize("answer", [errors.NoError, errors.UnknownMemberIdError])
def test_a_batch_commits_only_while_its_member_holds(answer: type[Exception]) -> None:
    """The member is read when the batch begins: a freeze past the session timeout after that
    leaves the batch asking for the member it began as."""
    producer = Producer(Coordinator([answer]))
    members = iter([(3, "m-3"), (-1, "")])  # at the batch's start; reset by the time it commits
    transactions = Transactions(lambda: producer, "g", generation=lambda: 3, member=lambda: next(members))
    if answer is errors.NoError:
        asyncio.run(_batch(transactions))
        assert producer.calls == ["begin", "offsets", "commit"]
    else:
        with pytest.raises(FencedOut):
            asyncio.run(_batch(transactions))
        assert producer.calls == ["begin", "offsets", "abort"]
    assert [(g, m) for g, m, _ in producer.client.heartbeats] == [(3, "m-3")]


def test_a_transaction_asks_through_the_membership_it_was_given() -> None:
    """The worker builds one `GroupMembership` for both guarantees and hands it over."""
    producer = Producer(Coordinator([errors.NoError]))
    worker_wide = Coordinator([errors.UnknownMemberIdError])
    transactions = Transactions(
        lambda: producer,
        "g",
        generation=lambda: 3,
        member=lambda: (3, "m-3"),
        membership=GroupMembership(lambda: worker_wide, "g"),
    )
    with pytest.raises(FencedOut):
        asyncio.run(_batch(transactions))
    assert producer.calls == ["begin", "offsets", "abort"]
    assert [(g, m) for g, m, _ in worker_wide.heartbeats] == [(3, "m-3")]
    assert producer.client.heartbeats == []
