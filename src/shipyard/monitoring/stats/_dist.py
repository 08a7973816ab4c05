"""Tail probabilities of the null distributions the tests use.

The normal tail is ``math.erfc``. The chi-squared tail and the asymptotic Kolmogorov-Smirnov
tail come from scipy, imported inside the function so that ``import shipyard`` stays light
(scipy is always installed: scikit-learn depends on it). The exact two-sample KS tail is our
own lattice-path count, so small windows do not pay for scipy's full ``ks_2samp``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chi2_sf", "ks_2samp_pvalue", "norm_sf_two_sided"]

# scipy.stats.ks_2samp(method="auto") counts paths exactly up to this many rows per sample.
KS_EXACT_MAX_N = 10_000


def norm_sf_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-squared with ``df`` degrees of freedom."""
    if df <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    from scipy.special import chdtrc

    return float(chdtrc(df, x))


def ks_2samp_pvalue(d: float, n1: int, n2: int) -> tuple[float, str]:
    """Two-sided p-value of the two-sample KS statistic ``d``; returns ``(p, method)``.

    Mirrors ``scipy.stats.ks_2samp(method="auto")``: exact when both samples have at most
    10,000 rows, else Smirnov's asymptotic distribution ``kstwo(round(n1 n2 / (n1 + n2)))``.
    """
    if max(n1, n2) <= KS_EXACT_MAX_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        h = round(d * lcm)
        if h == 0:
            return 1.0, "exact"
        return _exact_outside(n1, n2, h * g), "exact"
    from scipy.stats import kstwo

    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(kstwo.sf(d, np.round(m * n / (m + n))))
    return min(max(p, 0.0), 1.0), "asymptotic"


def _exact_outside(m: int, n: int, bound: int) -> float:
    """Share of the lattice paths (0,0)→(m,n) that touch ``|i n - j m| >= bound``.

    Column ``i`` of the count of paths that stay strictly inside is the running sum of column
    ``i - 1`` over the window of ``j`` allowed there; each column is rescaled to 1 and the scale
    kept as a logarithm, so the counts (binomials of size ~2^(m+n)) never overflow.
    """
    if m > n:  # step along the shorter side: fewer, longer columns
        m, n = n, m
    hi = min(-(-bound // m) - 1, n)
    col = np.ones(hi + 1)
    lo, log_scale = 0, 0.0
    for i in range(1, m + 1):
        new_lo = max((i * n - bound) // m + 1, 0)
        new_hi = min(-(-(i * n + bound) // m) - 1, n)
        if new_lo > new_hi:
            return 1.0
        window = np.zeros(new_hi - new_lo + 1)
        start, stop = max(new_lo, lo), min(new_hi, lo + col.size - 1)
        if start <= stop:
            window[start - new_lo : stop - new_lo + 1] = col[start - lo : stop - lo + 1]
        col = np.cumsum(window)
        top = col[-1]
        if top <= 0.0:
            return 1.0
        col /= top
        log_scale += math.log(top)
        lo = new_lo
    log_inside = math.log(col[n - lo]) + log_scale
    log_total = math.lgamma(m + n + 1) - math.lgamma(m + 1) - math.lgamma(n + 1)
    return min(max(-math.expm1(log_inside - log_total), 0.0), 1.0)
