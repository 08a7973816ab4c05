"""The mixture sequential probability ratio test (mSPRT): always-valid p-values and intervals.

A rollout looks at its data again and again; a fixed-horizon test checked at every look finds
an "effect" in most A/A experiments. The mSPRT of Johari, Pekelis and Walsh ("Always valid
inference", Operations Research 2022) mixes the likelihood ratio over a normal prior
N(theta0, tau^2) on the difference. With ``d`` the estimated difference and ``V`` its variance
(var_b / n_b + var_c / n_c), the mixture ratio against theta0 is::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 V (V + tau^2)))

Under the null it is a non-negative martingale, so by Ville's inequality P(ever Lambda >= 1/alpha)
<= alpha: the running minimum of 1/Lambda is a p-value valid however often and whenever one
looks, and the set of theta0 with Lambda < 1/alpha is a confidence sequence, whose running
intersection is an always-valid interval. Variances are plug-in estimates (the paper's
large-sample form); ``tau^2`` is the squared size of the effects one expects, and only
efficiency, not validity, depends on it.

A non-inferiority test (``alternative="greater"``, ``margin`` m) counts evidence against
theta0 = -m only while the estimate lies above it, so its p-value reaches alpha exactly when the
interval's lower end rises above -m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats.result import Alternative, check_alpha, null_difference
from shipyard.rollouts.stats.summary import Summary

__all__ = [
    "SequentialResult",
    "SequentialState",
    "always_valid_p_values",
    "confidence_half_width",
    "confidence_sequence",
    "mixture_log_lambda",
    "msprt",
    "standardized_tau2",
]

FloatArray = NDArray[np.float64]


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class SequentialState:
    """What one test carries from look to look: the running p-value and interval."""

    looks: int = 0
    p_value: float = 1.0
    ci_low: float = -math.inf
    ci_high: float = math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: an infinite end of the interval is ``None``."""
        return {
            "looks": self.looks,
            "p_value": self.p_value,
            "ci_low": _finite_or_none(self.ci_low),
            "ci_high": _finite_or_none(self.ci_high),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequentialState:
        low, high = data.get("ci_low"), data.get("ci_high")
        return cls(
            int(data["looks"]),
            float(data["p_value"]),
            -math.inf if low is None else float(low),
            math.inf if high is None else float(high),
        )


@dataclass(frozen=True)
class SequentialResult:
    """One look of the mSPRT: this look's figures and the always-valid ones so far."""

    difference: float
    variance: float
    log_lambda: float
    p_value: float
    ci_low: float
    ci_high: float
    alpha: float
    alternative: Alternative
    margin: float
    tau2: float
    n_baseline: int
    n_candidate: int
    state: SequentialState

    @property
    def significant(self) -> bool:
        return self.p_value <= self.alpha


def _check_tau2(tau2: float) -> None:
    if not (math.isfinite(tau2) and tau2 > 0):
        raise InvalidInputError(f"the mixing variance tau2 must be a positive number, got {tau2}")


def mixture_log_lambda(
    estimate: Any, variance: Any, tau2: float, theta0: float = 0.0
) -> FloatArray:
    """log Lambda elementwise; 0 (no evidence) where the variance is not positive."""
    _check_tau2(tau2)
    d = np.asarray(estimate, dtype=np.float64) - theta0
    v = np.asarray(variance, dtype=np.float64)
    ok = v > 0
    safe_v = np.where(ok, v, 1.0)
    log_lam = 0.5 * np.log(safe_v / (safe_v + tau2)) + tau2 * d * d / (
        2.0 * safe_v * (safe_v + tau2)
    )
    return np.where(ok, log_lam, 0.0)


def confidence_half_width(variance: Any, tau2: float, alpha: float) -> FloatArray:
    """Half the width of the confidence sequence at one look (infinite without variance)."""
    v = np.asarray(variance, dtype=np.float64)
    ok = v > 0
    safe_v = np.where(ok, v, 1.0)
    bound = math.log(1.0 / alpha) + 0.5 * np.log((safe_v + tau2) / safe_v)
    return np.where(ok, np.sqrt(2.0 * safe_v * (safe_v + tau2) / tau2 * bound), np.inf)


def _look_p_values(
    estimate: Any, variance: Any, tau2: float, alternative: Alternative, margin: float
) -> FloatArray:
    null = null_difference(alternative, margin)
    p = np.exp(-np.maximum(mixture_log_lambda(estimate, variance, tau2, null), 0.0))
    d = np.asarray(estimate, dtype=np.float64) - null
    if alternative == "greater":
        p = np.where(d > 0, p, 1.0)
    elif alternative == "less":
        p = np.where(d < 0, p, 1.0)
    return p


def always_valid_p_values(
    estimates: Any,
    variances: Any,
    *,
    tau2: float,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
) -> FloatArray:
    """The always-valid p-value after each look (the last axis is the looks), vectorised."""
    return np.minimum.accumulate(
        _look_p_values(estimates, variances, tau2, alternative, margin), axis=-1
    )


def confidence_sequence(
    estimates: Any, variances: Any, *, tau2: float, alpha: float = 0.05
) -> tuple[FloatArray, FloatArray]:
    """The always-valid interval (running intersection) after each look, vectorised."""
    check_alpha(alpha)
    _check_tau2(tau2)
    d = np.asarray(estimates, dtype=np.float64)
    half = confidence_half_width(variances, tau2, alpha)
    low = np.maximum.accumulate(d - half, axis=-1)
    high = np.minimum.accumulate(d + half, axis=-1)
    return low, high


def standardized_tau2(baseline: Summary, candidate: Summary, effect_size: float) -> float:
    """tau^2 for effects of ``effect_size`` standard deviations of the metric (pooled)."""
    n = baseline.n + candidate.n
    pooled = (baseline.variance * baseline.n + candidate.variance * candidate.n) / n if n else 0.0
    return (effect_size * effect_size) * pooled


def msprt(
    baseline: Summary,
    candidate: Summary,
    *,
    tau2: float,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
    state: SequentialState | None = None,
) -> SequentialResult:
    """One look at the cumulative data: update ``state`` (a fresh test when ``None``).

    Pass the returned ``result.state`` to the next look. With fewer than two observations in a
    variant, or no variance at all, a look carries no evidence and changes nothing.
    """
    check_alpha(alpha)
    _check_tau2(tau2)
    null_difference(alternative, margin)
    state = state or SequentialState()
    diff = candidate.mean - baseline.mean
    if baseline.n >= 2 and candidate.n >= 2:
        variance = baseline.variance / baseline.n + candidate.variance / candidate.n
    else:
        variance = 0.0
    null = null_difference(alternative, margin)
    log_lam = float(mixture_log_lambda(diff, variance, tau2, null))
    p_look = float(_look_p_values(diff, variance, tau2, alternative, margin))
    half = float(confidence_half_width(variance, tau2, alpha))
    low, high = max(state.ci_low, diff - half), min(state.ci_high, diff + half)
    if low > high:  # the plug-in variance misled an earlier look: keep this look's interval
        low, high = diff - half, diff + half
    new_state = replace(
        state, looks=state.looks + 1, p_value=min(state.p_value, p_look), ci_low=low, ci_high=high
    )
    return SequentialResult(
        diff,
        variance,
        log_lam,
        new_state.p_value,
        low,
        high,
        alpha,
        alternative,
        margin,
        tau2,
        baseline.n,
        candidate.n,
        new_state,
    )
