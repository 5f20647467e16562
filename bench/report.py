"""`python -m bench.report`: bench/README.md's latest results table, from the newest results file.

python -m bench.report           # rewrite the table between the markers, draw bench/history.png
python -m bench.report --check   # exit 1, naming the files, when the README's table is stale

The table is rendered from the newest `bench/results/<date>.json` that `python -m bench`
wrote (the soak's and the memory run's files have a prefix and another shape). Files differ
over time (per CPU seconds since 2026-11-27, the last quarter's rate since 2026-12-03, ...):
a figure a file lacks shows as "-". The chart (bench/history.py) is drawn but not checked:
PNG bytes differ between matplotlib versions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.subset import MIN_COVERAGE
from bench.targets import TARGETS, measured

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
CHART = HERE / "history.png"
BEGIN, END = "<!-- BEGIN GENERATED: python -m bench.report -->", "<!-- END GENERATED -->"
RUN_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}\.json$")
"""A run of `python -m bench`: its date alone names it (write_result with no prefix)."""
BUSY = (("both_busy", "once both were busy"), ("all_busy", "once all were busy"))


def run_files(folder: Path) -> list[Path]:
    """The benchmark's results files, oldest first (their names are their UTC dates)."""
    return sorted(p for p in folder.glob("*.json") if RUN_FILE.match(p.name))


def load(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def withheld(report: dict[str, Any]) -> set[str]:
    """Contenders whose speed does not count: named by the run, or whose subset check failed
    (files of 2026-12-02 say only `"speeds_withheld": true`; older ones say nothing)."""
    named = report.get("speeds_withheld")
    names = set(named) if isinstance(named, list) else set()
    for name, result in report.get("results", {}).items():
        check = result.get("subset_check")
        if check and (check.get("differing") or check.get("coverage", 1.0) < MIN_COVERAGE):
            names.add(name)
    return names


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and digits == 0:
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _subset(name: str, check: dict[str, Any] | None, failed: bool) -> str:
    if not check:
        return "the reference" if name == "core" else "-"
    coverage = check.get("coverage", 1.0)
    if failed:
        differing = len(check.get("differing", []))
        return "**failed**: " + (f"{differing:,} windows differ, " if differing else "") + f"coverage {coverage}"
    text = f"equal, {check.get('windows_compared', 0):,} windows"
    return text + (f" (coverage {coverage})" if coverage < 1.0 else "")


def contender_row(name: str, result: dict[str, Any], failed: bool) -> str:
    rate, per_cpu = _num(result.get("events_per_s")), _num(result.get("events_per_cpu_s"))
    if failed:  # its output was wrong or never came: its speed means nothing
        rate = per_cpu = "withheld"
    cells = [
        f"`{name}`",
        rate,
        per_cpu,
        _num(result.get("tail_events_per_s")),
        _num(result.get("seconds"), 1),
        _num(result.get("peak_rss_mb")),
        _subset(name, result.get("subset_check"), failed),
    ]
    return "| " + " | ".join(cells) + " |"


def busy_rows(name: str, result: dict[str, Any]) -> Iterable[str]:
    """A group of workers' rate once every one had consumed, and until the first was through."""
    for key, label in BUSY:
        busy = result.get(key)
        if not busy:
            continue
        spans = [(label, busy), ("until the first was through", busy.get("until_one_finished"))]
        for text, span in spans:
            if span:
                rate, per_cpu = _num(span.get("events_per_s")), _num(span.get("events_per_cpu_s"))
                seconds = _num(span.get("seconds"), 1)
                yield f"| `{name}` {text} | {rate} | {per_cpu} | - | {seconds} | - | - |"


def contenders_table(report: dict[str, Any]) -> list[str]:
    failed = withheld(report)
    lines = [
        "| contender | events/s | per CPU second | last quarter events/s | seconds | peak RSS MB | common subset |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in report.get("results", {}).items():
        lines.append(contender_row(name, result, name in failed))
        lines.extend(busy_rows(name, result))
    return lines if len(lines) > 2 else ["No contender ran."]


def split_lines(report: dict[str, Any]) -> list[str]:
    """How evenly stage two's partials were merged over the workers, where a run measured it."""
    lines = []
    for name, result in report.get("results", {}).items():
        if split := result.get("stage_two"):
            merged = " / ".join(f"{n:,}" for n in split.get("partials_merged", []))
            fair = split.get("max_over_fair")
            lines.append(f"- `{name}`: partials merged per worker {merged}; the largest share {fair}x a fair one")
    return lines


PER_CPU = "per CPU second: "


def ratio_lines(report: dict[str, Any]) -> list[str]:
    """One row per pair of contenders: the run writes `A/B` and `per CPU second: A/B` apart."""
    ratios = report.get("ratios") or {}
    if not ratios:
        return ["No ratios: the run had no `cxkpi_worker` or `cxkpi_subset` to compare."]
    rows: dict[str, list[str]] = {}
    for name, value in ratios.items():
        per_cpu = name.startswith(PER_CPU)
        rows.setdefault(name.removeprefix(PER_CPU), ["-", "-"])[per_cpu] = str(value)
    body = [f"| {name} | {clock} | {cpu} |" for name, (clock, cpu) in rows.items()]
    return ["| ratio | by the clock | per CPU second |", "|---|---|---|", *body]


def delay_line(report: dict[str, Any]) -> str:
    delay = report.get("delay_at_half_max_rate") or {}
    quantiles = delay.get("delay_seconds") or {}
    if not quantiles:
        return "Event-to-metric delay: not measured in this run."
    late = delay.get("late_window_updates")
    return (
        f"Event-to-metric delay at {_num(delay.get('sent_events_per_s'))} events/s (half the maximum rate):"
        f" p50 {quantiles.get('p50')} s, p99 {quantiles.get('p99')} s"
        + (f", {late:,} late window updates." if late is not None else ".")
    )


def target_lines(report: dict[str, Any]) -> list[str]:
    """Each target, the figure this run measured and whether it met it; a missed one names
    the section with the profile that says what stands in the way."""
    skip = withheld(report)
    rows = []
    for target in TARGETS:
        value = measured(target, report, skip)
        if value is None:
            got, verdict = "-", "not measured"
        else:
            got = _num(value, 0 if value >= 1000 else 3)
            verdict = "met" if target.met(value) else f"missed ([profile](#{target.profile}))"
        rows.append(f"| {target.label} | {target.wanted_text()} | {got} | {verdict} |")
    return ["| target | wanted | this run | |", "|---|---|---|---|", *rows]


def header(report: dict[str, Any], name: str) -> str:
    machine = report.get("machine") or {}
    date = str(report.get("date", "?"))[:16].replace("T", " ")
    built = report.get("workers_core")  # files before 2026-12-07 ran the Python core throughout
    return (
        f"From `bench/results/{name}` ({date} UTC; {_num(report.get('events'))} records;"
        f" {machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')})."
        + (f" The workers and `core_subset` ran the {built} core." if built else "")
    )


def render_table(report: dict[str, Any], name: str) -> str:
    """The newest run as markdown: its contenders, the ratios within it and the delay."""
    parts = [header(report, name), "", *contenders_table(report), ""]
    if split := split_lines(report):
        parts += [*split, ""]
    parts += [*ratio_lines(report), "", delay_line(report), "", *target_lines(report)]
    return "\n".join(parts)


def render_section(path: Path) -> str:
    return "\n".join([BEGIN, "", render_table(load(path), path.name), "", END])


def rewrite(readme: str, section: str, where: Path) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"{where} lacks the generated-section markers ({BEGIN} ... {END})")
    head, rest = readme.split(BEGIN, 1)
    return head + section + rest.split(END, 1)[1]


def _shown(path: Path) -> str:
    """A path as the user typed it, or relative to where they stand: no machine's folders in messages."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's table is stale")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder (bench/results)")
    parser.add_argument("--readme", type=Path, default=README, help="the README to rewrite (bench/README.md)")
    parser.add_argument("--chart", type=Path, default=CHART, help="the history chart (bench/history.png)")
    args = parser.parse_args(argv)
    files = run_files(args.results)
    if not files:
        print(f"no results files in {args.results}", file=sys.stderr)
        return 1
    current = args.readme.read_text(encoding="utf-8")
    wanted = rewrite(current, render_section(files[-1]), args.readme)
    if args.check:
        if wanted != current:
            stale = f"stale: {_shown(args.readme)}'s results table is not that of {_shown(files[-1])}"
            print(f"{stale}; run: python -m bench.report", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(wanted, encoding="utf-8")
    from bench.history import draw  # matplotlib only where the chart is drawn

    draw([(path.name, load(path)) for path in files], args.chart)
    print(f"wrote {_shown(args.readme)} (from {files[-1].name}) and {_shown(args.chart)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
