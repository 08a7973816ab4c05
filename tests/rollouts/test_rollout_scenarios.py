"""Rollouts on simulated traffic with a known truth, driven through the state machine.

Each tick (one minute) brings 2,000 requests, split by the candidate's weight; a share of them
returns feedback for a binary metric. The simulator plays the server: it keeps cumulative
counters, resets the step clock when the machine advances, and stops at a final decision.

What "promote when at least not worse" means here: with ``promote_when="not_worse"`` and
margin m, the deciding step promotes once the mSPRT rejects "the candidate is worse by m or
more" at alpha. So a candidate exactly m worse is promoted with probability at most alpha,
one no worse is promoted with high power, and one clearly worse is rolled back by the harm
guardrail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from shipyard.rollouts import (
    Action,
    Guardrails,
    MetricSpec,
    Observation,
    RolloutPlan,
    VariantSnapshot,
    evaluate,
    start,
)
from shipyard.rollouts.stats import BinomialSummary

TICK_SECONDS, TICK_REQUESTS, FEEDBACK_SHARE = 60.0, 2000, 0.5


@dataclass
class Truth:
    error_rate: float = 0.01
    conversion: float = 0.10
    p99_ms: float = 80.0


@dataclass
class Outcome:
    action: Action
    step_index: int
    ticks: int
    reasons: tuple[str, ...]


def _plan(**metric: object) -> RolloutPlan:
    return RolloutPlan(
        steps=(5.0, 25.0, 50.0, 100.0),
        min_bake_seconds=300.0,
        min_samples=500,
        inconclusive_limit=60,
        alpha=0.05,
        guardrails=Guardrails(
            max_error_rate=0.05, max_error_rate_increase=0.01, max_p99_latency_ms=250.0
        ),
        metric=MetricSpec("conversion", margin=0.01, mixing_sd=0.01, **metric),  # type: ignore[arg-type]
    )


def _run(
    plan: RolloutPlan, baseline: Truth, candidate: Truth, seed: int, max_ticks: int = 400
) -> Outcome:
    rng = np.random.default_rng(seed)
    state = start(plan)
    counts = {
        name: np.zeros(4, dtype=np.int64) for name in ("b", "c")
    }  # requests, errors, fb, hits
    elapsed = 0.0
    for tick in range(1, max_ticks + 1):
        n_c = int(rng.binomial(TICK_REQUESTS, state.weight / 100.0))
        for name, n, truth in (("b", TICK_REQUESTS - n_c, baseline), ("c", n_c, candidate)):
            errors = int(rng.binomial(n, truth.error_rate))
            feedback = int(rng.binomial(n - errors, FEEDBACK_SHARE))
            counts[name] += (n, errors, feedback, int(rng.binomial(feedback, truth.conversion)))
        elapsed += TICK_SECONDS

        def snap(name: str, truth: Truth) -> VariantSnapshot:
            req, err, fb, hits = (int(x) for x in counts[name])
            return VariantSnapshot(req, err, truth.p99_ms, BinomialSummary(hits, fb))

        obs = Observation(snap("b", baseline), snap("c", candidate), elapsed)
        result = evaluate(plan, state, obs)
        if result.decision.action is Action.ADVANCE:
            elapsed = 0.0
        if result.decision.action in (Action.PROMOTE, Action.ROLLBACK, Action.STOP):
            return Outcome(result.decision.action, state.step_index, tick, result.decision.reasons)
        state = result.state
    return Outcome(Action.HOLD, state.step_index, max_ticks, ())


def test_rollout_scenario_better_model_is_promoted() -> None:
    outcomes = [
        _run(_plan(promote_when="better"), Truth(), Truth(conversion=0.12), seed)
        for seed in range(5)
    ]
    assert all(o.action is Action.PROMOTE for o in outcomes), outcomes
    assert "better than the baseline" in " ".join(outcomes[0].reasons)


def test_rollout_scenario_higher_error_rate_is_rolled_back() -> None:
    for seed in range(5):
        outcome = _run(_plan(), Truth(), Truth(error_rate=0.04), seed)
        assert outcome.action is Action.ROLLBACK, outcome
        assert "above the baseline" in " ".join(outcome.reasons)


def test_rollout_scenario_failing_model_is_rolled_back_in_its_first_step() -> None:
    for seed in range(5):
        outcome = _run(_plan(), Truth(), Truth(error_rate=1.0), seed)
        assert outcome.action is Action.ROLLBACK and outcome.step_index == 0, outcome
        assert outcome.ticks == 1  # about 100 failed requests decide it
        slow = _run(_plan(), Truth(), Truth(p99_ms=900.0), seed)
        assert slow.action is Action.ROLLBACK and slow.step_index == 0


def test_rollout_scenario_clearly_worse_metric_is_rolled_back() -> None:
    outcome = _run(_plan(), Truth(), Truth(conversion=0.06), seed=1)
    assert outcome.action is Action.ROLLBACK
    assert "worse than the baseline by more than the margin" in " ".join(outcome.reasons)


@pytest.mark.slow
def test_rollout_scenario_aa_and_worse_by_the_margin_are_not_promoted_beyond_alpha() -> None:
    runs = 100
    better = [
        _run(_plan(promote_when="better"), Truth(), Truth(), 1000 + s, 120) for s in range(runs)
    ]
    aa_promoted = sum(o.action is Action.PROMOTE for o in better) / runs
    worse = [_run(_plan(), Truth(), Truth(conversion=0.09), 2000 + s, 120) for s in range(runs)]
    worse_promoted = sum(o.action is Action.PROMOTE for o in worse) / runs
    same = [_run(_plan(), Truth(), Truth(), 3000 + s, 120) for s in range(runs // 5)]
    same_promoted = sum(o.action is Action.PROMOTE for o in same) / len(same)
    print(
        f"A/A promoted as better: {aa_promoted:.2f}; worse by the margin promoted as not worse: "
        f"{worse_promoted:.2f}; A/A promoted as not worse: {same_promoted:.2f}"
    )
    assert aa_promoted <= 0.05
    assert worse_promoted <= 0.05
    assert same_promoted >= 0.8
