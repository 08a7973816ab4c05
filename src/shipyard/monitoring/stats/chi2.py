"""Chi-squared tests on the counts of shared levels.

The default is the two-sample test of homogeneity on the 2 x k table: both the reference and
the current counts are samples. :func:`chi2_goodness_of_fit` is Evidently's test, which treats
the reference shares as the exact truth; with a large current window its p-value collapses even
when nothing changed, so it is offered only for ``compat="evidently"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._dist import chi2_sf
from shipyard.monitoring.stats._result import StatResult

__all__ = ["chi2_goodness_of_fit", "chi2_homogeneity", "cohens_w"]


def cohens_w(statistic: float, n_reference: int, n_current: int) -> float:
    """sqrt(sum((p_ref - p_cur)^2 / p_pooled)) from the 2 x k chi-squared statistic.

    Unlike Cramér's V it does not shrink when one sample is much larger than the other, so one
    effect floor means the same shift whatever the window's size.
    """
    n = n_reference + n_current
    return (
        math.sqrt(statistic * n / (n_reference * n_current)) if n_reference and n_current else 0.0
    )


def chi2_homogeneity(reference_counts: Any, current_counts: Any) -> StatResult:
    """Pearson's chi-squared test of homogeneity (no continuity correction) on the 2 x k table.

    Equals ``scipy.stats.chi2_contingency([ref, cur], correction=False)`` once levels absent
    from both samples are dropped; ``effect`` is Cohen's w.
    """
    ref, cur = as_counts(reference_counts, current_counts)
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    total = ref + cur
    keep = total > 0
    k = int(keep.sum())
    compared = f"2 x {k} table"
    if k < 2 or n_ref == 0 or n_cur == 0:
        return StatResult("chi2", 0.0, 1.0, n_ref, n_cur, compared, 0.0)
    observed = np.stack((ref[keep], cur[keep])).astype(np.float64)
    expected = np.outer([n_ref, n_cur], total[keep]) / float(n_ref + n_cur)
    stat = float((((observed - expected) ** 2) / expected).sum())
    p = chi2_sf(stat, k - 1)
    return StatResult("chi2", stat, p, n_ref, n_cur, compared, cohens_w(stat, n_ref, n_cur))


def chi2_goodness_of_fit(reference_counts: Any, current_counts: Any) -> StatResult:
    """Evidently's chi-squared: current counts against the reference shares taken as exact.

    ``scipy.stats.chisquare(f_obs=cur, f_exp=ref * n_cur / n_ref)`` over the levels seen in
    either sample. A level absent from the reference gives an infinite statistic (p = 0), and a
    single level gives a NaN p-value, both as in Evidently.
    """
    ref, cur = as_counts(reference_counts, current_counts)
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    keep = (ref + cur) > 0
    k = int(keep.sum())
    expected = ref[keep] * (n_cur / n_ref) if n_ref else np.zeros(k)
    observed = cur[keep].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (observed - expected) ** 2 / expected, np.inf)
    stat = float(terms.sum())
    p = chi2_sf(stat, k - 1) if k > 1 else math.nan
    return StatResult("chi2_gof", stat, p, n_ref, n_cur, f"{k} levels against reference shares")
