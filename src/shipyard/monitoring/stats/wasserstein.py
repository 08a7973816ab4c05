"""Wasserstein-1 distance normalised by the reference's standard deviation.

W1 = ∫ |F_a - F_b| dx = ∫₀¹ |F_a⁻¹(t) - F_b⁻¹(t)| dt. On sorted samples the quantile functions
are step functions whose steps sit at multiples of 1/n and 1/m, so the integral is one gather
and one dot product over the merged step grid: no search, no re-sort of the values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats._arrays import Floats, as_sample
from shipyard.monitoring.stats._result import StatResult

__all__ = ["STD_FLOOR", "wasserstein_norm", "wasserstein_sorted"]

# Evidently divides by max(std, 0.001), so a constant reference does not divide by zero.
STD_FLOOR = 0.001


def wasserstein_sorted(a: Floats, b: Floats) -> float:
    """W1 between two sorted, non-empty samples (equals ``scipy.stats.wasserstein_distance``)."""
    n, m = a.size, b.size
    if n == m:
        return float(np.abs(a - b).mean())
    # Step t of the quantile grid, in units of 1/(n m): a's steps at i*m, b's at j*n.
    steps = np.concatenate((np.arange(n, dtype=np.int64) * m, np.arange(1, m, dtype=np.int64) * n))
    steps.sort()
    steps = steps[np.concatenate(([True], steps[1:] != steps[:-1]))]
    widths = np.diff(steps, append=np.int64(n) * m)
    return float(np.abs(a[steps // m] - b[steps // n]) @ widths) / (float(n) * float(m))


def wasserstein_norm(
    reference: Any, current: Any, *, std: float | None = None, assume_sorted: bool = False
) -> StatResult:
    """W1(reference, current) / max(std(reference), 0.001), std with ddof=0 as Evidently.

    ``std`` may be given (for example from a stored profile); NaN values are dropped.
    """
    a = as_sample(reference, "reference")
    b = as_sample(current, "current")
    if a.size == 0 or b.size == 0:
        raise InvalidInputError("wasserstein_norm needs at least one present value in each sample")
    scale = max(float(np.std(a)) if std is None else std, STD_FLOOR)
    if not assume_sorted:
        a, b = np.sort(a), np.sort(b)
    w = wasserstein_sorted(a, b) / scale
    return StatResult("wasserstein", w, None, a.size, b.size, "quantile functions, W1 / std")
