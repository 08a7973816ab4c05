"""Wasserstein-1 distance normalised by the reference's standard deviation.

W1 = ∫ |F_a - F_b| dx = ∫₀¹ |F_a⁻¹(t) - F_b⁻¹(t)| dt. On sorted samples the quantile functions
are step functions whose steps sit at multiples of 1/n and 1/m, so the integral is one gather
and one dot product over the merged step grid: no search, no re-sort of the values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats._arrays import Floats, as_sample
from shipyard.monitoring.stats._result import StatResult

__all__ = ["STD_FLOOR", "merged_steps", "wasserstein_norm", "wasserstein_sorted"]

# Evidently divides by max(std, 0.001), so a constant reference does not divide by zero.
STD_FLOOR = 0.001


def wasserstein_sorted(a: Floats, b: Floats) -> float:
    """W1 between two sorted, non-empty samples (equals ``scipy.stats.wasserstein_distance``)."""
    n, m = a.size, b.size
    if n == m:
        return float(np.abs(a - b).mean())
    steps = merged_steps(n, m)
    widths = np.diff(steps, append=np.int64(n) * m)
    return float(np.abs(a[steps // m] - b[steps // n]) @ widths) / (float(n) * float(m))


def merged_steps(n: int, m: int) -> npt.NDArray[np.int64]:
    """The sorted distinct steps of both quantile functions, in units of 1/(n m).

    a's steps sit at i m (0 <= i < n), b's at j n (1 <= j < m). Both are arithmetic, so each
    step's place in the merged order is known without a sort: i m has i a-steps and
    ceil(i m / n) - 1 b-steps before it, j n has j - 1 b-steps and floor(j n / m) + 1 a-steps
    (a tie goes a first). A scatter then builds the merge in linear time.
    """
    i = np.arange(n, dtype=np.int64)
    j = np.arange(1, m, dtype=np.int64)
    a_steps, b_steps = i * m, j * n
    steps = np.empty(n + m - 1, dtype=np.int64)
    steps[i + np.maximum((a_steps + n - 1) // n - 1, 0)] = a_steps
    steps[j + b_steps // m] = b_steps
    if math.gcd(n, m) == 1:  # steps meet only at multiples of lcm(n, m) = n m: never inside
        return steps
    return steps[np.concatenate(([True], steps[1:] != steps[:-1]))]


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
