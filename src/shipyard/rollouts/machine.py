"""The progressive-rollout state machine: pure, deterministic, serialisable.

``evaluate(plan, state, observation)`` returns the next state and a decision, with Argo
Rollouts' semantics:

- a failing guardrail (or a metric shown worse than its margin) rolls back at once, at any
  step, even while baking or paused;
- a step holds until it has baked (``min_bake_seconds`` in the step and ``min_samples``
  candidate requests served in it);
- a baked step advances to the next weight; the step before 100% (the deciding step) advances
  only when the metric test passes, and advancing to 100% is promotion (move ``champion``);
- an inconclusive deciding step holds, and after ``inconclusive_limit`` inconclusive
  evaluations stops and notifies: the weights stay and a person decides (promote, rollback,
  or resume for another round).

Counters in an observation are cumulative since the rollout started; the state remembers them
at each step's start to count the step's own samples. Operators act through
:func:`pause`, :func:`resume`, :func:`promote` and :func:`rollback`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from shipyard.errors import ConflictError
from shipyard.rollouts.guardrails import check_guardrails
from shipyard.rollouts.metric import evaluate_metric
from shipyard.rollouts.observation import Observation
from shipyard.rollouts.plan import RolloutPlan
from shipyard.rollouts.stats.msprt import SequentialState

__all__ = [
    "Action",
    "Decision",
    "RolloutState",
    "Transition",
    "evaluate",
    "pause",
    "promote",
    "resume",
    "rollback",
    "start",
]

Phase = Literal["progressing", "paused", "stopped", "promoted", "rolled_back"]
FINISHED: frozenset[str] = frozenset({"promoted", "rolled_back"})


class Action(StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands; ``to_dict``/``from_dict`` round-trip it through JSON."""

    phase: Phase = "progressing"
    step_index: int = 0
    weight: float = 0.0
    step_start_requests: int = 0
    inconclusive: int = 0
    evaluations: int = 0
    metric_tau2: float | None = None
    tests: dict[str, SequentialState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "step_index": self.step_index,
            "weight": self.weight,
            "step_start_requests": self.step_start_requests,
            "inconclusive": self.inconclusive,
            "evaluations": self.evaluations,
            "metric_tau2": self.metric_tau2,
            "tests": {k: v.to_dict() for k, v in sorted(self.tests.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutState:
        tau2 = data.get("metric_tau2")
        return cls(
            phase=data["phase"],
            step_index=int(data["step_index"]),
            weight=float(data["weight"]),
            step_start_requests=int(data["step_start_requests"]),
            inconclusive=int(data["inconclusive"]),
            evaluations=int(data["evaluations"]),
            metric_tau2=None if tau2 is None else float(tau2),
            tests={k: SequentialState.from_dict(v) for k, v in data.get("tests", {}).items()},
        )


@dataclass(frozen=True)
class Decision:
    """What to do now: the action, the candidate's weight after it, why, and the figures."""

    action: Action
    weight: float
    reasons: tuple[str, ...]
    figures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        figures = {k: (v if abs(v) != float("inf") else None) for k, v in self.figures.items()}
        return {
            "action": self.action.value,
            "weight": self.weight,
            "reasons": list(self.reasons),
            "figures": figures,
        }


@dataclass(frozen=True)
class Transition:
    state: RolloutState
    decision: Decision


def start(plan: RolloutPlan) -> RolloutState:
    """A rollout at its first step's weight."""
    return RolloutState(weight=plan.steps[0])


def _check_open(state: RolloutState, what: str) -> None:
    if state.phase in FINISHED:
        raise ConflictError(
            f"cannot {what}: the rollout is already {state.phase.replace('_', ' ')}; "
            "start a new rollout"
        )


def _figures(plan: RolloutPlan, state: RolloutState, obs: Observation) -> dict[str, float]:
    figures = {
        "step.index": float(state.step_index),
        "step.weight": state.weight,
        "step.elapsed_seconds": obs.elapsed_seconds,
        "step.samples": float(obs.candidate.requests - state.step_start_requests),
        "candidate.requests": float(obs.candidate.requests),
        "candidate.error_rate": obs.candidate.error_rate,
        "baseline.requests": float(obs.baseline.requests),
        "baseline.error_rate": obs.baseline.error_rate,
    }
    for name, snap in (("candidate", obs.candidate), ("baseline", obs.baseline)):
        if snap.latency_p99_ms is not None:
            figures[f"{name}.p99_ms"] = snap.latency_p99_ms
    return figures


def evaluate(plan: RolloutPlan, state: RolloutState, obs: Observation) -> Transition:
    """One evaluation: guardrails, then bake, then (at the deciding step) the metric."""
    _check_open(state, "evaluate")
    figures = _figures(plan, state, obs)
    rails = check_guardrails(plan.guardrails, obs)
    figures.update(rails.figures)
    failures = list(rails.failures)
    state = replace(state, evaluations=state.evaluations + 1)
    metric_reasons: list[str] = []
    promotable = plan.metric is None
    if plan.metric is not None:
        verdict = evaluate_metric(
            plan.metric,
            obs,
            state.tests,
            state.metric_tau2,
            alpha=plan.alpha,
            harm_alpha=plan.guardrails.alpha,
        )
        state = replace(state, tests=verdict.tests, metric_tau2=verdict.tau2)
        figures.update(verdict.figures)
        promotable = verdict.promotable
        if verdict.harmful and plan.guardrails.metric_non_inferiority:
            failures.extend(verdict.reasons)
        else:
            metric_reasons = verdict.reasons
    if failures:
        return _finish(state, "rolled_back", Action.ROLLBACK, 0.0, failures, figures)
    if state.phase != "progressing":
        why = "paused by an operator" if state.phase == "paused" else "stopped, awaiting a person"
        return Transition(state, Decision(Action.HOLD, state.weight, (why,), figures))
    samples = obs.candidate.requests - state.step_start_requests
    if obs.elapsed_seconds < plan.min_bake_seconds or samples < plan.min_samples:
        why = (
            f"baking step {state.step_index + 1} at {state.weight:g}%: "
            f"{obs.elapsed_seconds:.0f} s of {plan.min_bake_seconds:.0f} s, "
            f"{samples} of {plan.min_samples} candidate requests"
        )
        return Transition(state, Decision(Action.HOLD, state.weight, (why,), figures))
    if state.step_index < plan.deciding_step:
        nxt = state.step_index + 1
        state = replace(
            state,
            step_index=nxt,
            weight=plan.steps[nxt],
            step_start_requests=obs.candidate.requests,
            inconclusive=0,
        )
        why = f"step passed: guardrails hold; advancing to {plan.steps[nxt]:g}%"
        return Transition(
            state, Decision(Action.ADVANCE, state.weight, (why, *metric_reasons), figures)
        )
    if promotable:
        why = "deciding step passed: promoting the candidate to champion"
        return _finish(state, "promoted", Action.PROMOTE, 100.0, [why, *metric_reasons], figures)
    count = state.inconclusive + 1
    state = replace(state, inconclusive=count)
    if count >= plan.inconclusive_limit:
        why = f"inconclusive {count} times (limit {plan.inconclusive_limit}): stopping for a person"
        state = replace(state, phase="stopped")
        return Transition(
            state, Decision(Action.STOP, state.weight, (why, *metric_reasons), figures)
        )
    why = f"inconclusive ({count} of {plan.inconclusive_limit}): holding at {state.weight:g}%"
    return Transition(state, Decision(Action.HOLD, state.weight, (why, *metric_reasons), figures))


def _finish(
    state: RolloutState,
    phase: Phase,
    action: Action,
    weight: float,
    reasons: list[str],
    figures: dict[str, float],
) -> Transition:
    state = replace(state, phase=phase, weight=weight)
    return Transition(state, Decision(action, weight, tuple(reasons), figures))


def pause(state: RolloutState, reason: str = "paused by an operator") -> Transition:
    """Hold at the current weight; guardrails still roll back."""
    _check_open(state, "pause")
    return Transition(
        replace(state, phase="paused"), Decision(Action.PAUSE, state.weight, (reason,))
    )


def resume(state: RolloutState, reason: str = "resumed by an operator") -> Transition:
    """Continue a paused or stopped rollout; a stopped one gets a fresh inconclusive count."""
    _check_open(state, "resume")
    new = replace(state, phase="progressing", inconclusive=0)
    return Transition(new, Decision(Action.RESUME, state.weight, (reason,)))


def promote(state: RolloutState, reason: str = "promoted by an operator") -> Transition:
    """Promote now, skipping the remaining steps."""
    _check_open(state, "promote")
    return _finish(state, "promoted", Action.PROMOTE, 100.0, [reason], {})


def rollback(state: RolloutState, reason: str = "rolled back by an operator") -> Transition:
    """Send all traffic back to the champion now."""
    _check_open(state, "roll back")
    return _finish(state, "rolled_back", Action.ROLLBACK, 0.0, [reason], {})
