"""The pure rule evaluator: (rule, previous state, observation) -> (new state, events).

No clock, no I/O: the caller passes the observation's time, so a test drives it with a fake
clock and the scheduler with the window's end. The state is a small frozen value with a
JSON form (:meth:`RuleState.to_dict`), to be kept between runs (in the registry database).

States: ``ok`` (the condition does not hold), ``pending`` (it holds, but not yet for long
enough, or the rule fired less than ``cooldown`` ago), ``firing`` (notified, not yet resolved).
An observation without a value (``None`` or NaN: the window could not give the figure) changes
nothing but the time of the last evaluation.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from shipyard.errors import InvalidInputError
from shipyard.monitoring.alerts.events import AlertEvent, EventState
from shipyard.monitoring.alerts.rules import AlertRule

__all__ = ["Evaluation", "Observation", "RuleState", "Status", "evaluate", "evaluate_rules"]

Status = Literal["ok", "pending", "firing"]
_STATUSES = ("ok", "pending", "firing")


@dataclass(frozen=True)
class Observation:
    """One evaluation's figure ``value`` (``None`` when absent) at ``time`` (epoch seconds)."""

    value: float | None
    time: float


@dataclass(frozen=True)
class RuleState:
    """What the evaluator remembers of one rule between evaluations."""

    rule: str
    status: Status = "ok"
    streak: int = 0
    """Consecutive evaluations in which the condition held."""
    since: float | None = None
    """When the condition began to hold (None when it does not)."""
    fired_at: float | None = None
    """When the rule last fired, the anchor of its cooldown."""
    alert_id: str | None = None
    """The id of the firing alert, shared with its resolved event."""
    last_time: float | None = None
    last_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "rule": self.rule,
            "status": self.status,
            "streak": self.streak,
            "since": self.since,
            "fired_at": self.fired_at,
            "alert_id": self.alert_id,
            "last_time": self.last_time,
            "last_value": self.last_value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleState:
        """Read :meth:`to_dict`'s form back, checking it (it comes from storage)."""
        if set(data) != set(cls("x").to_dict()):
            raise InvalidInputError(f"not a stored rule state: keys {sorted(data)}")
        status = data["status"]
        if status not in _STATUSES:
            raise InvalidInputError(f"stored rule state has unknown status {status!r}")
        try:
            return cls._from_checked(data, status)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"stored rule state is malformed: {exc}") from exc

    @classmethod
    def _from_checked(cls, data: Mapping[str, Any], status: Any) -> RuleState:
        return cls(
            rule=str(data["rule"]),
            status=cast(Status, status),
            streak=int(data["streak"]),
            since=_opt_float(data["since"]),
            fired_at=_opt_float(data["fired_at"]),
            alert_id=None if data["alert_id"] is None else str(data["alert_id"]),
            last_time=_opt_float(data["last_time"]),
            last_value=_opt_float(data["last_value"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """The new state and the events (zero or one) of one evaluation."""

    state: RuleState
    events: tuple[AlertEvent, ...]


def evaluate(rule: AlertRule, state: RuleState | None, observation: Observation) -> Evaluation:
    """Advance ``rule``'s state by one observation; see the module docstring."""
    state = RuleState(rule=rule.name) if state is None else state
    if state.rule != rule.name:
        raise InvalidInputError(f"state of rule {state.rule!r} passed with rule {rule.name!r}")
    now = observation.time
    if not math.isfinite(now):
        raise InvalidInputError(f"observation time must be finite, got {now!r}")
    if state.last_time is not None and now <= state.last_time:
        raise InvalidInputError(
            f"rule {rule.name!r}: observation at {now} is not after the previous one at "
            f"{state.last_time}; evaluations must move forward in time"
        )
    value = observation.value
    if value is None or math.isnan(value):
        return Evaluation(replace(state, last_time=now, last_value=None), ())
    value = float(value)
    seen = replace(state, last_time=now, last_value=value)

    if not rule.holds(value):
        cleared = replace(seen, status="ok", streak=0, since=None, alert_id=None)
        if state.status == "firing" and state.alert_id is not None and state.since is not None:
            return Evaluation(
                cleared, (_event(rule, "resolved", state.alert_id, value, now, state.since),)
            )
        return Evaluation(cleared, ())

    since = state.since if state.since is not None else now
    held = seen.streak + 1 >= rule.for_evaluations and now - since >= rule.for_seconds
    held_state = replace(seen, streak=state.streak + 1, since=since)
    if state.status == "firing":
        return Evaluation(held_state, ())
    cooled = state.fired_at is None or now - state.fired_at >= rule.cooldown
    if not (held and cooled):
        return Evaluation(replace(held_state, status="pending"), ())
    alert_id = _alert_id(rule, now)
    fired = replace(held_state, status="firing", fired_at=now, alert_id=alert_id)
    return Evaluation(fired, (_event(rule, "firing", alert_id, value, now, since),))


def evaluate_rules(
    rules: Iterable[AlertRule],
    states: Mapping[str, RuleState],
    figures: Mapping[str, float | None],
    time: float,
) -> tuple[dict[str, RuleState], list[AlertEvent]]:
    """Evaluate every rule on one window's figures; a figure not in ``figures`` is absent."""
    new_states: dict[str, RuleState] = {}
    events: list[AlertEvent] = []
    for rule in rules:
        result = evaluate(rule, states.get(rule.name), Observation(figures.get(rule.figure), time))
        new_states[rule.name] = result.state
        events.extend(result.events)
    return new_states, events


def _alert_id(rule: AlertRule, fired_at: float) -> str:
    # Observation times strictly increase, so a rule never fires twice at the same time.
    labels = ",".join(f"{k}={v}" for k, v in sorted(rule.labels.items()))
    key = f"{rule.name}|{labels}|{fired_at!r}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _event(
    rule: AlertRule, state: EventState, alert_id: str, value: float, now: float, since: float
) -> AlertEvent:
    return AlertEvent(
        id=alert_id,
        state=state,
        rule=rule.name,
        figure=rule.figure,
        value=value,
        op=rule.op,
        threshold=rule.threshold,
        severity=rule.severity,
        time=now,
        since=since,
        labels=dict(rule.labels),
        channels=rule.channels,
        description=rule.description,
    )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
