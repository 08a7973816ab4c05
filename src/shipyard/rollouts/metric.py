"""The metric to win, tested sequentially at every evaluation of a rollout.

Two mSPRTs run side by side on the cumulative metric summaries. The promotion test asks for the
plan's criterion ("better": the candidate beats the baseline; "not_worse": it is not worse by
more than the margin) at the plan's alpha. The harm test watches the two-sided always-valid
interval at the guardrails' alpha and reports harm once the whole interval is worse than the
margin. Both keep their running state in the rollout state, so evidence seen at an earlier
look is never lost when the estimate wanders back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.rollouts.observation import Observation
from shipyard.rollouts.plan import MetricSpec
from shipyard.rollouts.stats.msprt import SequentialState, msprt, standardized_tau2
from shipyard.rollouts.stats.result import Alternative

__all__ = ["MetricVerdict", "evaluate_metric"]

DEFAULT_EFFECT_SIZE = 0.1  # tau in standard deviations of the metric when the plan sets none


@dataclass
class MetricVerdict:
    promotable: bool = False
    harmful: bool = False
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    tests: dict[str, SequentialState] = field(default_factory=dict)
    tau2: float | None = None


def evaluate_metric(
    spec: MetricSpec,
    obs: Observation,
    tests: dict[str, SequentialState],
    tau2: float | None,
    *,
    alpha: float,
    harm_alpha: float,
) -> MetricVerdict:
    """Update both tests with this look; ``tau2`` is fixed at the first look with data."""
    verdict = MetricVerdict(tests=dict(tests), tau2=tau2)
    base, cand = obs.baseline.metric, obs.candidate.metric
    if base is None or cand is None or base.n < 2 or cand.n < 2:
        verdict.reasons.append(f"{spec.name}: not enough feedback yet")
        return verdict
    if tau2 is None:
        tau2 = (
            spec.mixing_sd**2
            if spec.mixing_sd
            else standardized_tau2(base, cand, DEFAULT_EFFECT_SIZE)
        )
        tau2 = max(tau2, spec.margin**2)
        if tau2 <= 0:  # no variance yet and no margin: wait for data that varies
            verdict.reasons.append(f"{spec.name}: no variation in the metric yet")
            return verdict
        verdict.tau2 = tau2
    better: Alternative = "greater" if spec.higher_is_better else "less"
    margin = spec.margin if spec.promote_when == "not_worse" else 0.0
    promote = msprt(
        base,
        cand,
        tau2=tau2,
        alpha=alpha,
        alternative=better,
        margin=margin,
        state=tests.get("metric.promote"),
    )
    harm = msprt(base, cand, tau2=tau2, alpha=harm_alpha, state=tests.get("metric.harm"))
    verdict.tests.update({"metric.promote": promote.state, "metric.harm": harm.state})
    verdict.figures.update(
        {
            "metric.baseline": base.mean,
            "metric.candidate": cand.mean,
            "metric.difference": promote.difference,
            "metric.ci_low": promote.ci_low,
            "metric.ci_high": promote.ci_high,
            "metric.p_value": promote.p_value,
        }
    )
    ci = f"[{promote.ci_low:+.4g}, {promote.ci_high:+.4g}]"
    worse_than_margin = (
        harm.ci_high < -spec.margin if spec.higher_is_better else harm.ci_low > spec.margin
    )
    if worse_than_margin:
        verdict.harmful = True
        verdict.reasons.append(
            f"{spec.name} is worse than the baseline by more than the margin {spec.margin:g}: "
            f"difference {harm.difference:+.4g}, always-valid interval "
            f"[{harm.ci_low:+.4g}, {harm.ci_high:+.4g}] at alpha {harm_alpha:g}"
        )
    elif promote.significant:
        verdict.promotable = True
        what = "better than" if margin == 0.0 else f"not worse (margin {margin:g}) than"
        verdict.reasons.append(
            f"{spec.name} is {what} the baseline: difference {promote.difference:+.4g}, "
            f"always-valid p = {promote.p_value:.3g}, interval {ci}"
        )
    else:
        verdict.reasons.append(
            f"{spec.name} is inconclusive: difference {promote.difference:+.4g}, "
            f"always-valid p = {promote.p_value:.3g} > {alpha:g}, interval {ci}"
        )
    return verdict
