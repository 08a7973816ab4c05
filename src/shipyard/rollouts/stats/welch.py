"""Welch's t-test for continuous metrics, from sufficient statistics."""

from __future__ import annotations

import math

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats._dist import t_cdf, t_ppf, t_sf
from shipyard.rollouts.stats.result import (
    Alternative,
    TestResult,
    check_alpha,
    null_difference,
)
from shipyard.rollouts.stats.summary import Summary

__all__ = ["welch_df", "welch_ttest"]


def welch_df(baseline: Summary, candidate: Summary) -> float:
    """The Welch-Satterthwaite degrees of freedom of the difference of two means."""
    vb, vc = baseline.variance / baseline.n, candidate.variance / candidate.n
    denominator = vb * vb / (baseline.n - 1) + vc * vc / (candidate.n - 1)
    return (vb + vc) ** 2 / denominator if denominator > 0 else math.inf


def welch_ttest(
    baseline: Summary,
    candidate: Summary,
    *,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
    alpha: float = 0.05,
) -> TestResult:
    """Welch's unequal-variance t-test of mean_candidate - mean_baseline.

    Equals ``scipy.stats.ttest_ind(baseline, candidate + margin, equal_var=False,
    alternative=...)`` (with the sign turned to candidate - baseline) on the raw values, and its
    confidence interval is the one ``TtestResult.confidence_interval`` gives.
    """
    check_alpha(alpha)
    null = null_difference(alternative, margin)
    if baseline.n < 2 or candidate.n < 2:
        raise InvalidInputError("welch_ttest needs at least two observations in each variant")
    diff = candidate.mean - baseline.mean
    se = math.sqrt(baseline.variance / baseline.n + candidate.variance / candidate.n)
    if se == 0.0:
        raise InvalidInputError(
            "welch_ttest: both variants have zero variance, so there is no t statistic; "
            "compare the (constant) values directly"
        )
    df = welch_df(baseline, candidate)
    t = (diff - null) / se
    if alternative == "greater":
        p = t_sf(t, df)
        low, high = diff - t_ppf(1.0 - alpha, df) * se, math.inf
    elif alternative == "less":
        p = t_cdf(t, df)
        low, high = -math.inf, diff + t_ppf(1.0 - alpha, df) * se
    else:
        p = min(1.0, 2.0 * t_sf(abs(t), df))
        half = t_ppf(1.0 - alpha / 2.0, df) * se
        low, high = diff - half, diff + half
    return TestResult(
        "welch t",
        diff,
        t,
        p,
        low,
        high,
        alpha,
        alternative,
        margin,
        baseline.n,
        candidate.n,
        df,
    )
