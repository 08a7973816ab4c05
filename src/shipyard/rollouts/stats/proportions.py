"""Two-proportion z-test for binary metrics (conversion, correctness, errors)."""

from __future__ import annotations

import math

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats._dist import norm_cdf, norm_ppf, norm_sf
from shipyard.rollouts.stats.result import (
    Alternative,
    TestResult,
    check_alpha,
    null_difference,
)
from shipyard.rollouts.stats.summary import BinomialSummary

__all__ = ["p_value_from_z", "proportion_ztest", "z_interval"]


def p_value_from_z(z: float, alternative: Alternative) -> float:
    if alternative == "greater":
        return norm_sf(z)
    if alternative == "less":
        return norm_cdf(z)
    return min(1.0, 2.0 * norm_sf(abs(z)))


def z_interval(
    estimate: float, se: float, alpha: float, alternative: Alternative
) -> tuple[float, float]:
    """The normal confidence interval dual to a z-test: one-sided for one-sided tests."""
    if alternative == "two-sided":
        half = norm_ppf(1.0 - alpha / 2.0) * se
        return estimate - half, estimate + half
    half = norm_ppf(1.0 - alpha) * se
    return (estimate - half, math.inf) if alternative == "greater" else (-math.inf, estimate + half)


def proportion_ztest(
    baseline: BinomialSummary,
    candidate: BinomialSummary,
    *,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
    alpha: float = 0.05,
) -> TestResult:
    """Z-test of p_candidate - p_baseline, with its confidence interval.

    Without a margin the statistic uses the pooled variance (the textbook test; z squared is
    the 2 x 2 chi-squared without continuity correction). A non-inferiority test (``margin``
    > 0) has a null of ``-margin``, not 0, where pooling is wrong, so it uses the unpooled
    (Wald) variance, as does the interval always. Same as ``statsmodels``'
    ``test_proportions_2indep(method="score"|"wald")`` up to those choices.
    """
    check_alpha(alpha)
    null = null_difference(alternative, margin)
    if baseline.n == 0 or candidate.n == 0:
        raise InvalidInputError("proportion_ztest needs at least one trial in each variant")
    p_b, p_c = baseline.mean, candidate.mean
    diff = p_c - p_b
    wald_se = math.sqrt(p_b * (1 - p_b) / baseline.n + p_c * (1 - p_c) / candidate.n)
    if margin == 0.0:
        pooled = (baseline.successes + candidate.successes) / (baseline.n + candidate.n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / baseline.n + 1 / candidate.n))
    else:
        se = wald_se
    if se > 0:
        z = (diff - null) / se
    else:  # every trial agrees in both variants: only the sign of the gap to the null remains
        z = 0.0 if diff == null else math.copysign(math.inf, diff - null)
    low, high = z_interval(diff, wald_se, alpha, alternative)
    return TestResult(
        "two-proportion z",
        diff,
        z,
        p_value_from_z(z, alternative),
        low,
        high,
        alpha,
        alternative,
        margin,
        baseline.n,
        candidate.n,
    )
