"""The real worker on the real broker: its kpi.windows equal the validated core's, its views agree."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.cli import main
from streams.clients.reader import end_offsets, read_to_end
from streams.config import Settings
from streams.generator.scenarios import HOUR_MS, scenario
from streams.generator.stream import DEFAULT_START_MS, EventStream, Faults
from streams.kpis.merge import record_key
from streams.kpis.pipeline import LocalPipeline
from streams.local.worker import start_worker, stop_worker
from streams.outputs.guarantee import burst_alert, guarantee_status
from streams.outputs.metrics import METRIC_FAMILIES
from streams.report import report_rows
from tests.integration.support import metric_sum, own_broker, own_broker_settings, reference_run
from topics.contract import GUARANTEE_STATUS, KPI_WINDOWS
from topics.partitioner import partition_of

pytestmark = pytest.mark.kafka
FAULTS = Faults(dup_ratio=0.02, bad_ratio=0.01)


def _stream() -> EventStream:
    return EventStream(scenario("livestream-burst"), seed=13, rate_per_s=0.3, duration_ms=5 * HOUR_MS, faults=FAULTS)


def _metrics(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return {f.name: f for f in text_string_to_metric_families(resp.read().decode())}


def _consumed(port: int) -> float:
    try:
        return metric_sum(port, "cxkpi_events_consumed")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return -1


def _windows_emitted(port: int) -> float:
    return metric_sum(port, "cxkpi_windows_emitted")


def _read_topic(settings: Settings, topic: str) -> list[Any]:
    return read_to_end(settings.bootstrap, topic)


@pytest.fixture(scope="module", params=["batch", "agent"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, reference: LocalPipeline
) -> Iterator[dict[str, Any]]:
    """Own broker (clean topics), a produced scenario, one worker until it has emitted everything;
    once per delivery path (CXKPI_DELIVERY: each fetch to the engine, or Faust's agent stream)."""
    data = tmp_path_factory.mktemp("kafka-worker")
    settings = own_broker_settings(data, "cxkpi-it", CXKPI_DELIVERY=request.param)
    stream = _stream()
    with own_broker(settings, stream):
        worker = None
        try:
            web_port = settings.web_port
            worker = start_worker(settings, data / "worker.log")
            deadline = time.monotonic() + 240
            while _consumed(web_port) < stream.stats.records:
                assert worker.poll() is None, (data / "worker.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"consumed {_consumed(web_port)} of {stream.stats.records}"
                time.sleep(1)
            consumed_at = time.monotonic()
            # idle detection closes the last windows a few seconds after the input ends
            while _windows_emitted(web_port) < len(reference.windows):
                assert time.monotonic() < deadline, (
                    f"emitted {_windows_emitted(web_port)} of {len(reference.windows)} windows"
                )
                time.sleep(1)
            yield {
                "settings": settings,
                "stream": stream,
                "web_port": web_port,
                "catch_up_s": consumed_at,
                "data": data,
            }
        finally:
            if worker is not None:
                stop_worker(worker)


@pytest.fixture(scope="module")
def reference() -> LocalPipeline:
    return reference_run(_stream())


def test_kpi_windows_equal_the_core(run: dict[str, Any], reference: LocalPipeline) -> None:
    records = _read_topic(run["settings"], "kpi.windows")
    got = {m.key.decode(): orjson.loads(m.value) for m in records}
    assert all(m.partition == partition_of(m.key, KPI_WINDOWS.partitions) for m in records)  # as a producer's
    want = {record_key(r): r for r in reference.windows}
    # at-least-once: a window may be re-emitted (same key, same value), never lost
    assert len(got) <= _windows_emitted(run["web_port"])
    assert got.keys() == want.keys(), (len(got.keys() - want.keys()), len(want.keys() - got.keys()))
    for key, record in want.items():
        assert got[key]["count"] == record["count"], key
        if record["value"] is None:
            assert got[key]["value"] is None, key
        else:
            assert got[key]["value"] == pytest.approx(record["value"], rel=1e-9), key
        assert got[key]["final"] is True


def test_newest_final_windows_are_gauges(run: dict[str, Any], reference: LocalPipeline) -> None:
    fam = _metrics(run["web_port"])["cxkpi_window_value"]
    got = {(s.labels["kpi"], s.labels["window"]): s.value for s in fam.samples}
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in reference.windows:
        if not r["dimensions"] and r["value"] is not None:
            window = "1h" if r["window_end"] - r["window_start"] == HOUR_MS else "1m"
            if r["window_end"] >= newest.get((r["kpi"], window), {"window_end": 0})["window_end"]:
                newest[(r["kpi"], window)] = r
    assert ("ship_within_48h_ratio", "1h") in got
    assert got.keys() == newest.keys()
    for key, record in newest.items():
        assert got[key] == pytest.approx(record["value"], rel=1e-9), key


def test_provisional_cohort_windows_come_first(run: dict[str, Any], reference: LocalPipeline) -> None:
    records = [orjson.loads(m.value) for m in _read_topic(run["settings"], "kpi.windows")]
    finals = {record_key(r) for r in records if r["final"]}
    provisional = {record_key(r): r for r in records if not r["final"]}
    assert provisional and provisional.keys() <= finals  # each later overwritten by its final record
    # which windows have data when the watermark passes their end depends on batch timing, except
    # for the 48 h cohort, whose every window gets data at payment time: those match exactly
    ship = {k for k, r in provisional.items() if r["kpi"] == "ship_within_48h_ratio"}
    want = {record_key(r) for r in reference.provisional if r["kpi"] == "ship_within_48h_ratio"}
    assert ship == want and want


def test_accounting_and_rejects(run: dict[str, Any], reference: LocalPipeline) -> None:
    stats = run["stream"].stats
    fam = _metrics(run["web_port"])["cxkpi_events_consumed"]
    by_outcome: dict[str, float] = {}
    for s in fam.samples:
        if s.name.endswith("_total"):
            by_outcome[s.labels["outcome"]] = by_outcome.get(s.labels["outcome"], 0) + s.value
    assert sum(by_outcome.values()) == stats.records
    assert by_outcome["rejected"] == stats.malformed
    assert by_outcome["duplicate"] == stats.duplicates
    rejects = _read_topic(run["settings"], "cxkpi.rejects")
    assert len(rejects) == stats.malformed
    assert all(
        orjson.loads(m.value)["source_topic"] in ("orders", "shipments", "refunds", "support-tickets") for m in rejects
    )


def test_guarantee_view_and_topic(run: dict[str, Any], reference: LocalPipeline) -> None:
    records = _read_topic(run["settings"], "order.guarantee-status")
    latest = {m.key.decode(): orjson.loads(m.value) for m in records}
    assert all(m.partition == partition_of(m.key, GUARANTEE_STATUS.partitions) for m in records)  # a producer's
    states = {k: v for e in reference.engines for k, v in e.orders.items() if "paid" in v}
    assert latest.keys() == states.keys()
    for order_id in sorted(states)[:: max(len(states) // 40, 1)]:
        want = guarantee_status(order_id, states[order_id])
        with urllib.request.urlopen(
            f"http://127.0.0.1:{run['web_port']}/orders/{order_id}/guarantees", timeout=5
        ) as resp:
            assert orjson.loads(resp.read()) == want
        assert latest[order_id] == want
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{run['web_port']}/orders/no-such-order/guarantees", timeout=5)
    assert missing.value.code == 404


def test_bursts_reach_shipping_alerts(run: dict[str, Any], reference: LocalPipeline) -> None:
    alerts = [orjson.loads(m.value) for m in _read_topic(run["settings"], "shipping.alerts")]
    got = [a for a in alerts if a["alert"].startswith("order_burst")]
    want = [burst_alert(a) for a in reference.burst_alerts]
    assert [a["alert"] for a in want] == ["order_burst", "order_burst_ended"]
    assert got == want
    families = _metrics(run["web_port"])
    assert families["cxkpi_order_bursts"].samples[0].value == 1
    assert families["cxkpi_merchants_bursting"].samples[0].value == 0
    lag = [s for s in families["cxkpi_consumer_lag_records"].samples]
    assert {s.labels["topic"] for s in lag} == {"orders", "shipments", "refunds", "support-tickets"}
    assert all(s.value == 0 for s in lag)  # everything was consumed


def test_stage_two_lag_drains_to_zero(run: dict[str, Any]) -> None:
    """Once every window is out, stage two has merged every partial: its lag gauge (refreshed
    every 5 s) reads 0 on each partials partition (one worker merges them all), on a partials
    topic that holds records."""
    partials = f"{run['settings'].app_id}-window-partials"
    assert sum(end_offsets(run["settings"].bootstrap, partials).values()) > 0
    deadline = time.monotonic() + 15
    while True:
        samples = _metrics(run["web_port"])["cxkpi_stage_two_lag_records"].samples
        assert {s.labels["partition"] for s in samples} == {
            str(p) for p in end_offsets(run["settings"].bootstrap, partials)
        }
        if sum(s.value for s in samples) == 0:
            break
        assert time.monotonic() < deadline, f"stage two lag still {samples}"
        time.sleep(1)


def test_metric_families_are_declared(run: dict[str, Any]) -> None:
    families = _metrics(run["web_port"])
    ours = {name: fam for name, fam in families.items() if name.startswith("cxkpi_")}
    assert set(ours) == set(METRIC_FAMILIES)
    for name, fam in ours.items():
        for sample in fam.samples:
            labels = set(sample.labels) - {"le"}
            assert labels == set(METRIC_FAMILIES[name]), (name, labels)


def test_metrics_filtered_by_name_hold_only_those_samples(run: dict[str, Any]) -> None:
    port = run["web_port"]
    url = f"http://127.0.0.1:{port}/metrics?name[]=cxkpi_events_consumed_total&name[]=cxkpi_table_keys"
    with urllib.request.urlopen(url, timeout=5) as resp:
        filtered = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    assert set(filtered) == {"cxkpi_events_consumed", "cxkpi_table_keys"}
    full = _metrics(port)  # the worker is idle now: the same values
    for name, fam in filtered.items():
        assert {(s.name, tuple(sorted(s.labels.items())), s.value) for s in fam.samples} == {
            (s.name, tuple(sorted(s.labels.items())), s.value) for s in full[name].samples
        }
    assert sum(s.value for s in filtered["cxkpi_events_consumed"].samples) == metric_sum(port, "cxkpi_events_consumed")


def test_buyer_identity_never_leaves(run: dict[str, Any]) -> None:
    buyers = {orjson.loads(r.value).get("buyer_id") for r in _stream() if r.kind == "valid"} - {None}
    assert buyers
    with urllib.request.urlopen(f"http://127.0.0.1:{run['web_port']}/metrics", timeout=5) as resp:
        outputs = [resp.read()]
    for topic in ("kpi.windows", "order.guarantee-status", "shipping.alerts"):
        outputs += [m.value for m in _read_topic(run["settings"], topic)]
    outputs.append((Path(run["data"]) / "worker.log").read_bytes())
    blob = b"\n".join(outputs)
    leaked = [b for b in buyers if b.encode() in blob]
    assert leaked == []


def test_report_command_reads_kpi_windows(
    run: dict[str, Any], reference: LocalPipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CXKPI_BOOTSTRAP", run["settings"].bootstrap)
    baseline = (DEFAULT_START_MS, DEFAULT_START_MS + 2 * HOUR_MS)
    current = (DEFAULT_START_MS + 2 * HOUR_MS, DEFAULT_START_MS + 5 * HOUR_MS)
    args = [
        "report",
        "--baseline",
        f"{baseline[0]}..{baseline[1]}",
        "--current",
        f"{current[0]}..{current[1]}",
        "--json",
        "--metrics",
        f"http://127.0.0.1:{run['settings'].web_port}/metrics",
    ]
    assert main(args) == 0
    report = orjson.loads(capsys.readouterr().out)
    rows = report["rows"]
    assert report["late_window_updates"] == metric_sum(run["settings"].web_port, "cxkpi_late_window_updates")
    want = report_rows(reference.windows, baseline, current)
    assert [r["metric"] for r in rows] == [r["metric"] for r in want]
    for got_row, want_row in zip(rows, want, strict=True):
        for column in ("baseline", "current"):
            if want_row[column] is None:
                assert got_row[column] is None
            else:
                assert got_row[column] == pytest.approx(want_row[column], rel=1e-9), (want_row["metric"], column)
    assert rows[0]["baseline"] is not None
