"""Two-sample Kolmogorov-Smirnov test, on sorted samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats._arrays import Floats, as_sample
from shipyard.monitoring.stats._dist import ks_2samp_pvalue
from shipyard.monitoring.stats._result import StatResult

__all__ = ["ks_2samp", "ks_statistic_sorted"]


def ks_statistic_sorted(a: Floats, b: Floats) -> float:
    """sup |F_a - F_b| for two sorted, non-empty samples (the empirical CDFs are right-continuous).

    The supremum is reached at a data point, so both CDFs are evaluated at every point of both
    samples with ``searchsorted`` (as scipy does), without re-sorting anything.
    """
    n, m = a.size, b.size
    d = 0.0
    for points in (a, b):
        diff = np.searchsorted(a, points, side="right") / n
        diff -= np.searchsorted(b, points, side="right") / m
        d = max(d, float(np.abs(diff).max()))
    return d


def ks_2samp(reference: Any, current: Any, *, assume_sorted: bool = False) -> StatResult:
    """Two-sided two-sample KS test; the p-value is computed as ``scipy.stats.ks_2samp`` does.

    NaN values are dropped. ``assume_sorted`` skips the sort for callers that already hold
    sorted samples.
    """
    a = as_sample(reference, "reference")
    b = as_sample(current, "current")
    if a.size == 0 or b.size == 0:
        raise InvalidInputError("ks_2samp needs at least one present value in each sample")
    if not assume_sorted:
        a, b = np.sort(a), np.sort(b)
    d = ks_statistic_sorted(a, b)
    p, method = ks_2samp_pvalue(d, a.size, b.size)
    return StatResult("ks", d, p, a.size, b.size, f"empirical CDFs ({method} p-value)", d)
