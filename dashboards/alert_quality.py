"""Alert quality measured like a classifier: the alerts a replayed scenario fired against
the ones it must fire (`dashboards.expected_alerts`).

An episode is one alert (one label set) from when Prometheus fired it until it resolved. It
is a true page when it matches an expectation: the same alert name, the expected labels,
and it began within the expectation's span (or within the time the rule needs to see it
after the span's end). Every other episode is a false page, and so is a
second episode matching an expectation already met: the alert resolved and fired again
(a flap). precision = true pages / episodes; recall = expectations met / expectations;
time to fire = from the incident's start to its first true page, in event time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dashboards.expected_alerts import ExpectedAlert, ScenarioAlerts


@dataclass(frozen=True)
class Episode:
    labels: Mapping[str, str]
    """Every label of the alert, `alertname` included."""
    start_h: float
    """When it began firing, in hours of event time after the scenario's start."""
    end_h: float | None = None
    """When it resolved (None: still active when the observation ended)."""

    @property
    def name(self) -> str:
        return self.labels["alertname"]

    def describe(self) -> str:
        extra = {k: v for k, v in sorted(self.labels.items()) if k not in ("alertname", "job", "instance")}
        inner = ", ".join(f"{k}={v}" for k, v in extra.items())
        until = "still firing" if self.end_h is None else f"resolved at {self.end_h:.1f} h"
        return f"{self.name}{{{inner}}} from {self.start_h:.1f} h, {until}"


@dataclass
class Quality:
    """One scenario's replay scored against its answer key."""

    case: ScenarioAlerts
    episodes: list[Episode]
    met: dict[int, Episode] = field(default_factory=dict)
    """Index of each met expectation -> its first true page."""
    false_pages: list[Episode] = field(default_factory=list)
    flaps: list[Episode] = field(default_factory=list)
    """Episodes that fired again for an expectation already met (also counted as false pages)."""

    @property
    def missing(self) -> list[ExpectedAlert]:
        return [e for i, e in enumerate(self.case.expected) if i not in self.met]

    @property
    def precision(self) -> float:
        """1.0 when nothing fired: no page was wrong."""
        return len(self.met) / len(self.episodes) if self.episodes else 1.0

    @property
    def recall(self) -> float:
        """1.0 when nothing was expected."""
        return len(self.met) / len(self.case.expected) if self.case.expected else 1.0

    def time_to_fire_h(self) -> dict[str, float]:
        """Expected alert -> event hours from the incident's start to its first true page."""
        expected = self.case.expected
        return {expected[i].alertname: ep.start_h - expected[i].from_h for i, ep in self.met.items()}

    def problems(self) -> list[str]:
        """Why this replay fails: false pages (flaps included) and missing pages; [] when none."""
        out = [f"false page: {ep.describe()}" for ep in self.false_pages if ep not in self.flaps]
        out += [f"flapped (fired again): {ep.describe()}" for ep in self.flaps]
        out += [f"missing: {e.alertname}{dict(e.labels)} between {e.from_h:g} h and {e.to_h:g} h" for e in self.missing]
        return out


def matches(expected: ExpectedAlert, episode: Episode, event_s_per_rule_s: float) -> bool:
    """Same alert and labels, begun within the span or the rule's detection time after it.

    `event_s_per_rule_s`: event seconds per second of the rules' (scaled) clock, which
    stretches the production detection time in event time (30 for a 1800x replay of rules
    shrunk 60x)."""
    if episode.name != expected.alertname:
        return False
    if any(episode.labels.get(k) != v for k, v in expected.labels.items()):
        return False
    latest = expected.to_h + expected.detect_s * event_s_per_rule_s / 3600
    return expected.from_h <= episode.start_h <= latest


def classify(case: ScenarioAlerts, episodes: Iterable[Episode], event_s_per_rule_s: float) -> Quality:
    """Score the episodes (in any order) against the scenario's expectations."""
    quality = Quality(case, sorted(episodes, key=lambda ep: ep.start_h))
    for episode in quality.episodes:
        hits = [i for i, e in enumerate(case.expected) if matches(e, episode, event_s_per_rule_s)]
        if not hits:
            quality.false_pages.append(episode)
        elif all(i in quality.met for i in hits):
            quality.flaps.append(episode)
            quality.false_pages.append(episode)
        else:
            quality.met[next(i for i in hits if i not in quality.met)] = episode
    return quality


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


def table(results: Sequence[Quality]) -> str:
    """The Markdown table of docs/alert-quality.md, one row per scenario."""
    rows = [
        "| scenario | expected | fired | precision | recall | time to fire (event time) |",
        "|---|---|---|---|---|---|",
    ]
    for q in results:
        expected = [f"{e.alertname}{_labels(e.labels)} {e.from_h:g}-{e.to_h:g} h" for e in q.case.expected]
        fired = [ep.describe() for ep in q.episodes]
        ttf = [f"{name} {h:.1f} h" for name, h in q.time_to_fire_h().items()]
        rows.append(
            f"| {q.case.scenario} | {_names(expected)} | {_names(fired)} | {q.precision:.2f} | {q.recall:.2f} "
            f"| {_names(ttf) if q.case.expected else '-'} |"
        )
    return "\n".join(rows) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "severity")
    return f"{{{inner}}}" if inner else ""
