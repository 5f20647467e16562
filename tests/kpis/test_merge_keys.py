"""Keys on the internal partials topic round-trip, and progress markers are told apart."""

from __future__ import annotations

from streams.kpis.merge import group_id, parse_key, progress_id


def test_partial_key_round_trips() -> None:
    assert parse_key(group_id((60_000, 1_793_491_200_000, 0))) == (60_000, 1_793_491_200_000, 0, False)
    assert parse_key(group_id((60_000, 1_793_491_200_000, 9), True)) == (60_000, 1_793_491_200_000, 9, True)


def test_progress_key_has_no_window_start() -> None:
    assert parse_key(progress_id(3_600_000, 172_800_000)) == (3_600_000, None, 172_800_000, False)
    assert parse_key(progress_id(3_600_000, 172_800_000, True)) == (3_600_000, None, 172_800_000, True)
