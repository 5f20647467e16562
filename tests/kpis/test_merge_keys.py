"""Keys on the internal partials topic round-trip, and progress markers are told apart;
`kpi.windows` keys are as the topic contract gives them."""

from __future__ import annotations

from streams.kpis.merge import encoded_key, group_id, parse_key, progress_id, record_key


def test_partial_key_round_trips() -> None:
    assert parse_key(group_id((60_000, 1_793_491_200_000, 0))) == (60_000, 1_793_491_200_000, 0, False)
    assert parse_key(group_id((60_000, 1_793_491_200_000, 9), True)) == (60_000, 1_793_491_200_000, 9, True)


def test_progress_key_has_no_window_start() -> None:
    assert parse_key(progress_id(3_600_000, 172_800_000)) == (3_600_000, None, 172_800_000, False)
    assert parse_key(progress_id(3_600_000, 172_800_000, True)) == (3_600_000, None, 172_800_000, True)


def test_window_record_key_and_its_shared_head() -> None:
    record = {"kpi": "ship_within_48h_ratio", "window_start": 1_793_491_200_000, "window_end": 1_793_491_260_000}
    total, key_of_total = record | {"dimensions": {}}, b"ship_within_48h_ratio||1793491200000|1793491260000"
    assert encoded_key(total) == (key_of_total, len(b"ship_within_48h_ratio||"))
    fresh = record | {"dimensions": {"category": "生鲜", "channel": "livestream"}}
    head = "ship_within_48h_ratio|category=生鲜,channel=livestream|".encode()
    assert encoded_key(fresh) == (head + b"1793491200000|1793491260000", len(head))  # bytes, not characters
    assert record_key(fresh) == "ship_within_48h_ratio|category=生鲜,channel=livestream|1793491200000|1793491260000"
