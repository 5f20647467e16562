"""Settings: window sizes from the environment, with a clear error for bad values."""

from __future__ import annotations

import pytest

from streams.config import PACED_GRACE_WALL_S, SettingsError, load_settings, paced_grace_s, worker_env
from streams.kpis.catalog import KPI_BY_NAME


def test_window_sizes_default_and_override() -> None:
    assert load_settings({}).window_sizes_s == (60, 3600)
    assert load_settings({"CXKPI_WINDOW_SIZES": "3600, 300"}).window_sizes_s == (300, 3600)


@pytest.mark.parametrize("raw", ["abc", "30", "90,3600", ","])
def test_bad_window_sizes_are_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="CXKPI_WINDOW_SIZES"):
        load_settings({"CXKPI_WINDOW_SIZES": raw})


def test_kpis_default_to_all_and_are_checked() -> None:
    assert load_settings({}).kpis == tuple(KPI_BY_NAME)
    chosen = load_settings({"CXKPI_KPIS": " first_response_seconds,orders_paid "}).kpis
    assert chosen == ("orders_paid", "first_response_seconds")  # catalog order
    with pytest.raises(SettingsError, match=r"CXKPI_KPIS.*unknown KPI time_to_ship[;,]"):
        load_settings({"CXKPI_KPIS": "time_to_ship"})
    settings = load_settings({"CXKPI_KPIS": "orders_paid"})
    assert load_settings(worker_env(settings)).kpis == ("orders_paid",)


def test_delivery_defaults_to_batch_and_is_checked() -> None:
    assert load_settings({}).delivery == "batch"
    assert load_settings({"CXKPI_DELIVERY": "agent"}).delivery == "agent"
    with pytest.raises(SettingsError, match="CXKPI_DELIVERY"):
        load_settings({"CXKPI_DELIVERY": "batches"})


def test_stall_timeout_defaults_to_five_minutes_and_must_be_positive() -> None:
    assert load_settings({}).stall_timeout_s == 300
    settings = load_settings({"CXKPI_STALL_TIMEOUT_SECONDS": "20"})
    assert load_settings(worker_env(settings)).stall_timeout_s == 20
    with pytest.raises(SettingsError, match="CXKPI_STALL_TIMEOUT_SECONDS"):
        load_settings({"CXKPI_STALL_TIMEOUT_SECONDS": "0"})


def test_processing_guarantee_defaults_to_at_least_once_and_is_checked() -> None:
    assert load_settings({}).guarantee == "at_least_once"
    settings = load_settings({"CXKPI_PROCESSING_GUARANTEE": "EXACTLY_ONCE", "CXKPI_TRANSACTIONAL_ID": "w1"})
    assert (settings.guarantee, settings.transactional_id) == ("exactly_once", "w1")
    again = load_settings(worker_env(settings))
    assert (again.guarantee, again.transactional_id) == ("exactly_once", "w1")
    with pytest.raises(SettingsError, match="CXKPI_PROCESSING_GUARANTEE"):
        load_settings({"CXKPI_PROCESSING_GUARANTEE": "exactly-once"})
    with pytest.raises(SettingsError, match="needs CXKPI_DELIVERY=batch"):
        load_settings({"CXKPI_PROCESSING_GUARANTEE": "exactly_once", "CXKPI_DELIVERY": "agent"})


def test_log_level_defaults_to_warning_reaches_the_worker_and_is_checked() -> None:
    assert load_settings({}).log_level == "warning"
    settings = load_settings({"CXKPI_LOG_LEVEL": "INFO"})
    assert load_settings(worker_env(settings)).log_level == "info"
    with pytest.raises(SettingsError, match="CXKPI_LOG_LEVEL"):
        load_settings({"CXKPI_LOG_LEVEL": "verbose"})


def test_fetch_settings_default_override_and_refuse() -> None:
    defaults = load_settings({})
    assert (defaults.fetch_max_wait_ms, defaults.fetch_partition_bytes) == (100, 4 << 20)
    assert load_settings({"CXKPI_DELIVERY": "agent"}).fetch_partition_bytes == 1 << 20  # Faust's
    chosen = load_settings({"CXKPI_FETCH_MAX_WAIT_MS": "500", "CXKPI_FETCH_PARTITION_BYTES": "1048576"})
    assert (chosen.fetch_max_wait_ms, chosen.fetch_partition_bytes) == (500, 1 << 20)
    assert load_settings(worker_env(chosen)).fetch_max_wait_ms == 500
    with pytest.raises(SettingsError, match="CXKPI_FETCH_MAX_WAIT_MS"):
        load_settings({"CXKPI_FETCH_MAX_WAIT_MS": "-1"})
    with pytest.raises(SettingsError, match="CXKPI_FETCH_PARTITION_BYTES"):
        load_settings({"CXKPI_FETCH_PARTITION_BYTES": "1000"})


def test_a_paced_replays_grace_covers_the_same_wall_time_at_any_speed() -> None:
    # at 600x the production grace (600 s) is 1 s of wall time: any delivery hiccup was late
    for speedup in (60.0, 600.0, 1800.0):
        grace_s = paced_grace_s(600, speedup)
        assert grace_s / speedup >= PACED_GRACE_WALL_S
    assert paced_grace_s(600, 600.0) == 6000
    assert paced_grace_s(600, 1.0) == 600  # never below what the settings say
    assert paced_grace_s(86_400, 600.0) == 86_400


def test_the_end_of_input_is_never_by_default_and_never_negative() -> None:
    assert load_settings({}).end_of_input_s == 0
    assert load_settings({"CXKPI_END_OF_INPUT_SECONDS": "30"}).end_of_input_s == 30
    assert worker_env(load_settings({"CXKPI_END_OF_INPUT_SECONDS": "30"}))["CXKPI_END_OF_INPUT_SECONDS"] == "30"
    with pytest.raises(SettingsError, match="CXKPI_END_OF_INPUT_SECONDS"):
        load_settings({"CXKPI_END_OF_INPUT_SECONDS": "-1"})
