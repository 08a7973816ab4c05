"""Shadow comparison: how often, and by how much, a shadow version's answers differ.

The shadow sees the same requests as the champion, so the comparison is paired: one figure per
request, no split to test. Agreement gets a Wilson score interval (sound near 0 and 1, where a
good shadow lives); the mean absolute difference a normal interval on the paired differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats._dist import norm_ppf
from shipyard.rollouts.stats.result import check_alpha

__all__ = [
    "AgreementResult",
    "DifferenceResult",
    "agreement_rate",
    "mean_absolute_difference",
    "wilson_interval",
]


@dataclass(frozen=True)
class AgreementResult:
    rate: float
    agreements: int
    n: int
    ci_low: float
    ci_high: float
    alpha: float


@dataclass(frozen=True)
class DifferenceResult:
    mean_absolute_difference: float
    max_absolute_difference: float
    mean_difference: float
    n: int
    ci_low: float
    ci_high: float
    alpha: float


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for a proportion (``binomtest(...).proportion_ci("wilson")``)."""
    check_alpha(alpha)
    if n <= 0:
        return 0.0, 1.0
    z = norm_ppf(1.0 - alpha / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _pair(primary: Any, shadow: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    a, b = np.asarray(primary), np.asarray(shadow)
    if a.shape != b.shape:
        raise InvalidInputError(
            f"primary and shadow answers must pair up one to one, got shapes {a.shape} and {b.shape}"
        )
    return a.reshape(a.shape[0], -1) if a.ndim else a, b.reshape(b.shape[0], -1) if b.ndim else b


def agreement_rate(primary: Any, shadow: Any, *, alpha: float = 0.05) -> AgreementResult:
    """Share of requests where the shadow's label equals the primary's (all outputs of a row)."""
    a, b = _pair(primary, shadow)
    if a.ndim == 0 or a.shape[0] == 0:
        raise InvalidInputError("agreement_rate needs at least one paired answer")
    agree = int(np.all(a == b, axis=1).sum())
    n = int(a.shape[0])
    low, high = wilson_interval(agree, n, alpha)
    return AgreementResult(agree / n, agree, n, low, high, alpha)


def mean_absolute_difference(primary: Any, shadow: Any, *, alpha: float = 0.05) -> DifferenceResult:
    """Mean |shadow - primary| over requests (and outputs), with a normal interval."""
    check_alpha(alpha)
    a, b = _pair(primary, shadow)
    if a.ndim == 0 or a.shape[0] == 0:
        raise InvalidInputError("mean_absolute_difference needs at least one paired answer")
    diff = b.astype(np.float64) - a.astype(np.float64)
    if not np.isfinite(diff).all():
        raise InvalidInputError("mean_absolute_difference needs finite predictions")
    absdiff = np.abs(diff).mean(axis=1)
    n = int(absdiff.size)
    mad = float(absdiff.mean())
    se = float(absdiff.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    half = norm_ppf(1.0 - alpha / 2.0) * se
    return DifferenceResult(
        mad,
        float(np.abs(diff).max()),
        float(diff.mean()),
        n,
        max(0.0, mad - half),
        mad + half,
        alpha,
    )
