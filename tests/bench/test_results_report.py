"""`python -m bench.report`: bench/README.md's results table comes from the newest results
file, `--check` catches a README left behind, and files of older shapes still render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import history, report, targets

EQUAL = {"windows_compared": 18_360, "coverage": 1.0, "differing": []}
README = f"# bench\n\nintro\n\n{report.BEGIN}\nan old table\n{report.END}\n\nafter the table\n"


def _newest() -> dict[str, Any]:
    busy = {"events": 865_000, "seconds": 51.42, "events_per_s": 16_821, "events_per_cpu_s": 10_417}
    until = {"events": 833_838, "seconds": 48.72, "events_per_s": 17_113, "events_per_cpu_s": 10_449}
    return {
        "date": "2026-12-06T21:11:34+00:00",
        "machine": {"cpus": 2, "python": "3.11.7"},
        "events": 1_000_000,
        "results": {
            "limit": {"events": 1_000_000, "seconds": 4.12, "events_per_s": 242_494, "peak_rss_mb": 957.2},
            "core": {"seconds": 47.9, "events_per_s": 20_878, "events_per_cpu_s": 20_888, "peak_rss_mb": 1986.0},
            "quix_streams": {
                "seconds": 83.87,
                "events_per_s": 11_853,
                "events_per_cpu_s": 16_138,
                "peak_rss_mb": 1046.6,
                "subset_check": {"windows_compared": 0, "coverage": 0.0, "differing": []},
            },
            "cxkpi_worker": {
                "seconds": 104.9,
                "events_per_s": 9_434,
                "tail_events_per_s": 7_368,
                "events_per_cpu_s": 10_066,
                "peak_rss_mb": 1203.4,
                "subset_check": EQUAL | {"coverage": 0.61},
            },
            "cxkpi_two_workers": {
                "seconds": 60.9,
                "events_per_s": 16_331,
                "events_per_cpu_s": 9_963,
                "peak_rss_mb": 810.0,
                "both_busy": busy | {"until_one_finished": until},
                "stage_two": {"partials_merged": [52_312, 52_891], "max_over_fair": 1.006},
            },
        },
        "ratios": {
            "cxkpi_subset/quix_streams": 1.1,
            "two_workers_both_busy/one_worker": 1.798,
            "per CPU second: cxkpi_subset/quix_streams": 1.2,
        },
        "delay_at_half_max_rate": {
            "sent_events_per_s": 4_595,
            "late_window_updates": 0,
            "delay_seconds": {"p50": 0.081, "p99": 0.499},
        },
        "speeds_withheld": ["quix_streams"],
    }


def _older() -> dict[str, Any]:
    """A file of 2026-11-26's shape: no per CPU seconds, no delay, no withheld list."""
    return {
        "date": "2026-11-26T16:29:12+00:00",
        "events": 200_000,
        "results": {"cxkpi_worker": {"seconds": 68.6, "events_per_s": 2_885, "peak_rss_mb": 330.0}},
        "ratios": {"cxkpi_worker/limit": 0.022},
    }


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "2026-12-06T211134.json").write_text(json.dumps(_newest()))
    (folder / "2026-11-26T162912.json").write_text(json.dumps(_older()))
    # the soak's and memory run's files share the folder, newer by name, and are not runs of the bench
    (folder / "soak-2026-12-07T000000.json").write_text(json.dumps({"date": "2026-12-07T00:00:00+00:00"}))
    return folder


def _args(tmp_path: Path, results: Path, *more: str) -> list[str]:
    paths = ["--results", str(results), "--readme", str(tmp_path / "README.md"), "--chart", str(tmp_path / "h.png")]
    return [*paths, *more]


def test_the_table_gives_each_contender_and_withholds_a_failed_speed() -> None:
    table = report.render_table(_newest(), "2026-12-06T211134.json").splitlines()
    assert table[0] == (
        "From `bench/results/2026-12-06T211134.json` (2026-12-06 21:11 UTC; 1,000,000 records; 2 CPUs, Python 3.11.7)."
    )
    assert "| `limit` | 242,494 | - | - | 4.1 | 957 | - |" in table
    assert "| `core` | 20,878 | 20,888 | - | 47.9 | 1,986 | the reference |" in table
    assert "| `quix_streams` | withheld | withheld | - | 83.9 | 1,047 | **failed**: coverage 0.0 |" in table
    worker = "| `cxkpi_worker` | 9,434 | 10,066 | 7,368 | 104.9 | 1,203 | equal, 18,360 windows (coverage 0.61) |"
    assert worker in table
    assert "| `cxkpi_two_workers` once both were busy | 16,821 | 10,417 | - | 51.4 | - | - |" in table
    assert "| `cxkpi_two_workers` until the first was through | 17,113 | 10,449 | - | 48.7 | - | - |" in table
    split = "- `cxkpi_two_workers`: partials merged per worker 52,312 / 52,891; the largest share 1.006x a fair one"
    assert split in table
    assert "| two_workers_both_busy/one_worker | 1.798 | - |" in table
    assert "| cxkpi_subset/quix_streams | 1.1 | 1.2 |" in table
    assert (
        "Event-to-metric delay at 4,595 events/s (half the maximum rate):"
        " p50 0.081 s, p99 0.499 s, 0 late window updates."
    ) in table


def test_each_target_says_met_missed_or_not_measured() -> None:
    table = report.render_table(_newest(), "2026-12-06T211134.json").splitlines()
    rows = {row.split(" | ")[0].removeprefix("| "): row for row in table if " | >= " in row or " | < " in row}
    core = "| >= 100,000 | 20,888 | missed ([profile](#where-the-cores-time-goes)) |"
    assert rows["the KPI core alone, events per CPU second (its faster build)"].endswith(core)
    assert rows["two workers / one, once both are busy"].endswith("| 1.798 | missed ([profile](#the-scale-model)) |")
    assert rows["event-to-metric delay p99 at half the rate, s"].endswith("| < 0.5 | 0.499 | met |")
    # Quix's speed was withheld: a ratio over it measures nothing, whatever the run wrote
    assert rows["subset worker / Quix Streams, per CPU second"].endswith("| >= 2 | - | not measured |")
    assert rows["full worker / consume limit"].endswith("| - | not measured |")
    assert len(rows) == len(targets.TARGETS)


def test_a_target_is_met_on_its_own_side_of_the_line() -> None:
    delay, core = targets.TARGETS[-1], targets.TARGETS[0]
    assert delay.met(0.499) and not delay.met(0.5)
    assert core.met(100_000) and not core.met(99_999)


def test_an_older_file_renders_with_what_it_has() -> None:
    table = report.render_table(_older(), "2026-11-26T162912.json")
    assert "| `cxkpi_worker` | 2,885 | - | - | 68.6 | 330 | - |" in table
    assert "(2026-11-26 16:29 UTC; 200,000 records; ? CPUs, Python ?)" in table
    assert "Event-to-metric delay: not measured in this run." in table


def test_a_failed_check_withholds_a_speed_in_files_that_only_said_true() -> None:
    run = _newest() | {"speeds_withheld": True}
    assert report.withheld(run) == {"quix_streams"}
    assert report.withheld(_older()) == set()


def test_check_fails_on_a_stale_readme_and_passes_once_rewritten(
    tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert report.main(_args(tmp_path, results, "--check")) == 1
    err = capsys.readouterr().err
    assert "README.md" in err and "2026-12-06T211134.json" in err
    assert report.main(_args(tmp_path, results)) == 0
    text = readme.read_text()
    assert text.startswith("# bench\n\nintro\n\n" + report.BEGIN)
    assert text.endswith(report.END + "\n\nafter the table\n")
    assert "an old table" not in text and "| `cxkpi_worker` | 9,434 |" in text
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert report.main(_args(tmp_path, results, "--check")) == 0
    # a newer run makes the README stale again
    (results / "2026-12-07T090000.json").write_text(json.dumps(_older() | {"date": "2026-12-07T09:00:00+00:00"}))
    assert report.main(_args(tmp_path, results, "--check")) == 1


def test_a_readme_without_the_markers_is_an_error(tmp_path: Path, results: Path) -> None:
    (tmp_path / "README.md").write_text("# bench\n")
    with pytest.raises(SystemExit, match="markers"):
        report.main(_args(tmp_path, results, "--check"))


def test_the_history_leaves_out_withheld_speeds_and_the_ratios_over_them() -> None:
    runs = [("2026-11-26T162912.json", _older()), ("2026-12-06T211134.json", _newest())]
    rates = history.per_cpu_series(runs)
    assert sorted(rates) == ["core", "cxkpi_two_workers", "cxkpi_worker"]  # no CPU figure for the limit or the old run
    assert [v for _, v in rates["cxkpi_worker"]] == [10_066.0]
    assert list(history.ratio_series(runs)) == ["two_workers_both_busy/one_worker"]


def test_the_core_target_reads_its_faster_build_unless_withheld() -> None:
    core_target = next(t for t in targets.TARGETS if t.figure == "core")
    run: dict[str, Any] = {
        "results": {"core": {"events_per_cpu_s": 20_000}, "core_compiled": {"events_per_cpu_s": 31_000}}
    }
    assert core_target.read(run) == 31_000
    assert core_target.read(run | {"speeds_withheld": ["core_compiled"]}) == 20_000
    assert core_target.read({"results": {"core": {"events_per_cpu_s": 20_000}}}) == 20_000


def test_the_header_says_which_core_the_workers_ran() -> None:
    assert "ran the compiled core" in report.header(_newest() | {"workers_core": "compiled"}, "x.json")
    assert "core." not in report.header(_newest(), "x.json")  # older files say nothing of it
