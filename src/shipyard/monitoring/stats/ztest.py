"""Two-proportion Z test (pooled, two-sided)."""

from __future__ import annotations

import math
from typing import Any

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._dist import norm_sf_two_sided
from shipyard.monitoring.stats._result import StatResult

__all__ = ["two_proportion_z", "z_test"]


def two_proportion_z(
    hits_reference: int, n_reference: int, hits_current: int, n_current: int
) -> StatResult:
    """Z for p_ref - p_cur with the pooled variance; ``effect`` is Cohen's w = |z| sqrt(1/n1 + 1/n2).

    The square of z is the 2 x 2 chi-squared statistic without continuity correction. When both
    samples are all hits or all misses nothing can have changed: z = 0, p = 1.
    """
    if n_reference <= 0 or n_current <= 0:
        raise InvalidInputError("two_proportion_z needs at least one row in each sample")
    if not (0 <= hits_reference <= n_reference and 0 <= hits_current <= n_current):
        raise InvalidInputError("hits must be between 0 and the number of rows")
    p1, p2 = hits_reference / n_reference, hits_current / n_current
    pooled = (hits_reference + hits_current) / (n_reference + n_current)
    spread = pooled * (1.0 - pooled) * (1.0 / n_reference + 1.0 / n_current)
    z = (p1 - p2) / math.sqrt(spread) if spread > 0 else 0.0
    w = abs(p1 - p2) / math.sqrt(pooled * (1.0 - pooled)) if spread > 0 else 0.0
    return StatResult(
        "z", z, norm_sf_two_sided(z), n_reference, n_current, "two proportions (pooled)", w
    )


def z_test(reference_counts: Any, current_counts: Any) -> StatResult:
    """Two-proportion Z on the counts of at most two levels: the share of the first level."""
    ref, cur = as_counts(reference_counts, current_counts)
    if ref.size > 2:
        raise InvalidInputError(f"z_test compares at most two levels, got {ref.size}")
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    first_ref = int(ref[0]) if ref.size else 0
    first_cur = int(cur[0]) if cur.size else 0
    return two_proportion_z(first_ref, n_ref, first_cur, n_cur)
