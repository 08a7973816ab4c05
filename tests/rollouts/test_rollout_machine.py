"""The state machine, one transition at a time."""

from __future__ import annotations

import json

import pytest

from shipyard.errors import ConflictError
from shipyard.rollouts import (
    Action,
    Guardrails,
    MetricSpec,
    Observation,
    RolloutPlan,
    RolloutState,
    VariantSnapshot,
    evaluate,
    pause,
    promote,
    resume,
    rollback,
    start,
)
from shipyard.rollouts.stats import BinomialSummary

PLAN = RolloutPlan(
    steps=(10.0, 50.0, 100.0),
    min_bake_seconds=60.0,
    min_samples=100,
    inconclusive_limit=2,
    guardrails=Guardrails(max_error_rate=0.05, max_p99_latency_ms=200.0),
)


def _obs(
    requests: int = 1000, errors: int = 0, elapsed: float = 120.0, **candidate: object
) -> Observation:
    return Observation(
        baseline=VariantSnapshot(requests * 9, 0, 50.0),
        candidate=VariantSnapshot(requests, errors, **candidate),  # type: ignore[arg-type]
        elapsed_seconds=elapsed,
    )


def test_rollout_machine_bakes_then_advances_then_promotes() -> None:
    state = start(PLAN)
    assert state.weight == 10.0
    held = evaluate(PLAN, state, _obs(requests=50, elapsed=30.0))
    assert held.decision.action is Action.HOLD
    assert "30 s of 60 s" in held.decision.reasons[0] and "50 of 100" in held.decision.reasons[0]
    advanced = evaluate(PLAN, held.state, _obs(requests=150))
    assert advanced.decision.action is Action.ADVANCE
    assert advanced.state.weight == advanced.decision.weight == 50.0
    assert advanced.state.step_start_requests == 150
    # the new step counts its own samples
    assert evaluate(PLAN, advanced.state, _obs(requests=200)).decision.action is Action.HOLD
    promoted = evaluate(PLAN, advanced.state, _obs(requests=300))
    assert promoted.decision.action is Action.PROMOTE
    assert promoted.state.phase == "promoted" and promoted.state.weight == 100.0
    with pytest.raises(ConflictError, match="already promoted"):
        evaluate(PLAN, promoted.state, _obs())


@pytest.mark.parametrize(
    ("obs", "reason"),
    [
        (_obs(requests=40, errors=40, elapsed=1.0), "error rate 100.00%"),
        (_obs(latency_p99_ms=900.0, elapsed=1.0), "p99 latency 900.0 ms"),
        (_obs(drift=True, elapsed=1.0), "drift"),
    ],
)
def test_rollout_machine_rolls_back_on_a_failing_guardrail_at_once(
    obs: Observation, reason: str
) -> None:
    result = evaluate(PLAN, start(PLAN), obs)
    assert result.decision.action is Action.ROLLBACK
    assert result.state.phase == "rolled_back" and result.decision.weight == 0.0
    assert reason in " ".join(result.decision.reasons)


def test_rollout_machine_does_not_roll_back_on_a_few_errors() -> None:
    # 2 errors in 25 requests is 8% against a 5% limit, but far from convincing
    result = evaluate(PLAN, start(PLAN), _obs(requests=25, errors=2, elapsed=1.0))
    assert result.decision.action is Action.HOLD


def test_rollout_machine_stops_after_the_inconclusive_limit_and_operators_act() -> None:
    plan = RolloutPlan(
        steps=(50.0, 100.0),
        min_bake_seconds=0.0,
        min_samples=10,
        inconclusive_limit=2,
        metric=MetricSpec("conversion", promote_when="better"),
    )

    def obs(n: int) -> Observation:
        b = VariantSnapshot(n, metric=BinomialSummary(n // 10, n))
        c = VariantSnapshot(n, metric=BinomialSummary(n // 10, n))
        return Observation(b, c, 10.0)

    first = evaluate(plan, start(plan), obs(200))
    assert (
        first.decision.action is Action.HOLD
        and "inconclusive (1 of 2)" in first.decision.reasons[0]
    )
    assert "metric.p_value" in first.decision.figures
    stopped = evaluate(plan, first.state, obs(400))
    assert stopped.decision.action is Action.STOP and stopped.state.phase == "stopped"
    assert evaluate(plan, stopped.state, obs(500)).decision.action is Action.HOLD
    resumed = resume(stopped.state)
    assert resumed.state.phase == "progressing" and resumed.state.inconclusive == 0
    paused = pause(resumed.state)
    assert evaluate(plan, paused.state, obs(600)).decision.reasons == ("paused by an operator",)
    assert promote(paused.state).state.weight == 100.0
    done = rollback(paused.state, "bad feedback from support")
    assert done.decision.reasons == ("bad feedback from support",)
    with pytest.raises(ConflictError, match="already rolled back"):
        resume(done.state)


def test_rollout_machine_state_and_decision_are_json_serialisable() -> None:
    plan = RolloutPlan(steps=(50.0, 100.0), min_samples=1, metric=MetricSpec("conversion"))
    obs = Observation(
        VariantSnapshot(100, metric=BinomialSummary(10, 100)),
        VariantSnapshot(100, metric=BinomialSummary(12, 100)),
        0.0,
    )
    result = evaluate(plan, start(plan), obs)
    assert set(result.state.tests) == {"metric.promote", "metric.harm"}
    text = json.dumps(result.state.to_dict())
    assert RolloutState.from_dict(json.loads(text)) == result.state
    json.dumps(result.decision.to_dict(), allow_nan=False)
    # deterministic: the same input gives the same output
    assert evaluate(plan, start(plan), obs) == result
