"""Confidence intervals for metrics recorded with their cross-validation spread.

A metric ``m`` has an interval when its standard deviation over folds is recorded (the metric
``m_std``, as ``shipyard train`` records ``cv_auc`` and ``cv_auc_std``) and so is the number of
folds (``m_n``, or the length of the ``training`` attachment's ``cv_scores``). The interval is
the 95% Student-t interval of the mean, ``m +/- t(0.975, n-1) * std / sqrt(n)``: folds share
training rows, so it is, if anything, too narrow; the card says how it was computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Interval", "metric_intervals"]

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    n: int
    std: float


def metric_intervals(
    metrics: Mapping[str, float], folds: int | None = None
) -> dict[str, Interval | None]:
    """For each headline metric (not the ``_std``/``_n`` helpers), its interval or None."""
    from scipy import stats

    result: dict[str, Interval | None] = {}
    for name, value in metrics.items():
        if name.endswith(("_std", "_n")):
            continue
        std = metrics.get(f"{name}_std")
        n_value = metrics.get(f"{name}_n", folds)
        n = int(n_value) if n_value is not None else 0
        if std is None or n < 2 or not math.isfinite(std) or std < 0:
            result[name] = None
            continue
        half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * std / math.sqrt(n)
        result[name] = Interval(value - half, value + half, n, std)
    return result
