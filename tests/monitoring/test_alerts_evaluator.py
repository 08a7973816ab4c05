"""The pure evaluator, driven by a fake clock: for, cooldown, resolve, absent data, state."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from shipyard.errors import InvalidInputError
from shipyard.monitoring import drift_report
from shipyard.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    Observation,
    RuleState,
    drift_figures,
    evaluate,
    evaluate_rules,
)

T0 = 1_700_000_000.0


def make_rule(**changes: Any) -> AlertRule:
    data: dict[str, Any] = {
        "name": "churn-drift",
        "figure": "drift.share",
        "op": ">=",
        "threshold": 0.5,
        "severity": "critical",
        "channels": ["ops"],
        "labels": {"model": "churn", "version": "3"},
        **changes,
    }
    return AlertRule.from_dict(data)


class Run:
    """Feeds values one minute apart, keeping the state as the registry would: as JSON."""

    def __init__(self, rule: AlertRule, step: float = 60.0) -> None:
        self.rule, self.step, self.now = rule, step, T0
        self.stored: str | None = None

    def feed(self, *values: float | None) -> list[list[AlertEvent]]:
        out = []
        for value in values:
            state = None if self.stored is None else RuleState.from_dict(json.loads(self.stored))
            result = evaluate(self.rule, state, Observation(value, self.now))
            self.stored = json.dumps(result.state.to_dict())
            self.now += self.step
            out.append(list(result.events))
        return out

    @property
    def state(self) -> RuleState:
        assert self.stored is not None
        return RuleState.from_dict(json.loads(self.stored))


def states(events: list[list[AlertEvent]]) -> list[str]:
    return ["+".join(e.state for e in batch) or "-" for batch in events]


def test_fires_at_once_and_resolves_once() -> None:
    run = Run(make_rule())
    events = run.feed(0.1, 0.6, 0.7, 0.2, 0.1)
    assert states(events) == ["-", "firing", "-", "resolved", "-"]
    firing, resolved = events[1][0], events[3][0]
    assert (firing.value, firing.threshold, firing.op, firing.severity) == (
        0.6,
        0.5,
        ">=",
        "critical",
    )
    assert firing.time == firing.since == T0 + 60
    assert firing.labels == {"model": "churn", "version": "3"} and firing.channels == ("ops",)
    assert resolved.id == firing.id and resolved.value == 0.2 and resolved.since == firing.since


def test_for_counts_consecutive_evaluations() -> None:
    run = Run(make_rule(**{"for": 3}))
    assert states(run.feed(0.6, 0.6, 0.1, 0.6, 0.6, 0.6, 0.6)) == [
        "-",
        "-",
        "-",
        "-",
        "-",
        "firing",
        "-",
    ]
    assert run.state.status == "firing" and run.state.streak == 4


def test_for_a_duration_waits_from_the_first_breach() -> None:
    run = Run(make_rule(**{"for": "5m"}))  # one evaluation a minute
    events = run.feed(*[0.9] * 7)
    assert states(events) == ["-"] * 5 + ["firing", "-"]
    assert events[5][0].since == T0 and events[5][0].time == T0 + 300


def test_for_both_needs_both() -> None:
    run = Run(make_rule(**{"for": {"evaluations": 2, "duration": "10m"}}), step=600)
    assert states(run.feed(0.9, 0.9)) == ["-", "firing"]
    run = Run(make_rule(**{"for": {"evaluations": 3, "duration": "1m"}}), step=600)
    assert states(run.feed(0.9, 0.9, 0.9)) == ["-", "-", "firing"]


def test_cooldown_holds_back_a_repeat_but_not_a_lasting_alert() -> None:
    run = Run(make_rule(cooldown="5m"))
    # fires at 1, resolves at 2, holds again at 3..: within 5 min of the firing it is pending,
    # and it fires again once the cooldown is over, as the condition still holds.
    events = run.feed(0.1, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9)
    assert states(events) == ["-", "firing", "resolved", "-", "-", "-", "firing", "-", "-"]
    assert events[6][0].time - events[1][0].time == 300
    assert events[6][0].id != events[1][0].id


def test_a_flap_within_the_cooldown_is_silent() -> None:
    run = Run(make_rule(cooldown="1h"))
    assert states(run.feed(0.9, 0.1, 0.9, 0.1, 0.9, 0.1)) == [
        "firing",
        "resolved",
        "-",
        "-",
        "-",
        "-",
    ]


def test_an_absent_figure_changes_nothing() -> None:
    run = Run(make_rule(**{"for": 2}))
    assert states(run.feed(0.9, None, float("nan"), 0.9, None, 0.1)) == [
        "-",
        "-",
        "-",
        "firing",
        "-",
        "resolved",
    ]


@pytest.mark.parametrize(
    ("op", "fires_on"), [("<", 0.4), ("<=", 0.5), (">", 0.6), ("==", 0.5), ("!=", 0.4)]
)
def test_every_comparison(op: str, fires_on: float) -> None:
    rule = make_rule(op=op)
    assert rule.holds(fires_on)
    assert evaluate(rule, None, Observation(fires_on, T0)).events


def test_evaluation_is_deterministic() -> None:
    a, b = Run(make_rule(cooldown="2m")), Run(make_rule(cooldown="2m"))
    values = [0.1, 0.9, 0.9, 0.2, 0.8, 0.8, 0.8, 0.1]
    assert a.feed(*values) == b.feed(*values)
    assert a.stored == b.stored


def test_time_must_move_forward_and_states_match_their_rule() -> None:
    rule = make_rule()
    state = evaluate(rule, None, Observation(0.1, T0)).state
    with pytest.raises(InvalidInputError, match="not after the previous one"):
        evaluate(rule, state, Observation(0.1, T0))
    with pytest.raises(InvalidInputError, match="passed with rule"):
        evaluate(make_rule(name="other"), state, Observation(0.1, T0 + 1))
    with pytest.raises(InvalidInputError, match="not a stored rule state"):
        RuleState.from_dict({"rule": "x"})


def test_rules_evaluate_on_a_drift_report() -> None:
    rng = np.random.default_rng(0)
    reference = {"age": rng.normal(size=2000), "tenure": rng.normal(size=2000)}
    current = {"age": rng.normal(size=500), "tenure": rng.normal(loc=1.5, size=500)}
    figures = drift_figures(drift_report(reference, current))
    assert figures["drift.share"] == 0.5 and figures["drift.feature.tenure.drifted"] == 1.0
    assert figures["quality.missing_share.age"] == 0.0
    rules = [
        make_rule(),
        make_rule(name="tenure", figure="drift.feature.tenure.statistic", op=">", threshold=0.1),
        make_rule(name="age", figure="drift.feature.age.statistic", op=">", threshold=0.1),
        make_rule(name="acc", figure="performance.accuracy", op="<", threshold=0.8),
    ]
    new_states, events = evaluate_rules(rules, {}, figures, T0)
    assert [e.rule for e in events] == ["churn-drift", "tenure"]
    assert new_states["acc"].status == "ok" and new_states["acc"].last_value is None
    json.dumps([e.to_dict() for e in events])
