"""Tails and quantiles of the normal, Student t and chi-squared distributions, in pure Python.

The rollout statistics run on every evaluation of every rollout, so they avoid scipy: the
normal comes from ``math.erfc`` and :class:`statistics.NormalDist`; Student's t from the
regularised incomplete beta function and chi-squared from the regularised incomplete gamma
function, both by the continued fractions of Numerical Recipes (§6.2, §6.4). The tests check
every function against ``scipy.stats`` to ~1e-10.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["chi2_sf", "norm_cdf", "norm_ppf", "norm_sf", "t_cdf", "t_ppf", "t_sf"]

_STANDARD = NormalDist()
_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 100_000
_LARGE_DF = 1e7


def norm_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z, accurate in the far tails."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def norm_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z, accurate in the far tails."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """The standard normal quantile: ``norm_cdf(norm_ppf(p)) == p`` for 0 < p < 1."""
    return _STANDARD.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    return h  # pragma: no cover - converges in O(sqrt(max(a, b))) steps


def _stirling_error(x: float) -> float:
    """lgamma(x) minus Stirling's approximation, exact to double precision for x > 0."""
    if x < 15.0:
        return math.lgamma(x) - ((x - 0.5) * math.log(x) - x + 0.5 * math.log(2.0 * math.pi))
    x2 = x * x
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x


def _lgamma_shift(a: float, b: float) -> float:
    """log(Gamma(a + b) / Gamma(a)), without the cancellation of two huge lgamma values."""
    if a < 15.0:
        return math.lgamma(a + b) - math.lgamma(a)
    return (
        (a - 0.5) * math.log1p(b / a)
        + b * math.log(a + b)
        - b
        + _stirling_error(a + b)
        - _stirling_error(a)
    )


def _betainc(a: float, b: float, log_x: float, log_xc: float) -> float:
    """I_x(a, b), given log(x) and log(1 - x) so that neither is formed by subtraction."""
    x = math.exp(log_x)
    log_front = _lgamma_shift(a, b) - math.lgamma(b) + a * log_x + b * log_xc
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, math.exp(log_xc)) / b


def t_sf(t: float, df: float) -> float:
    """P(T >= t) for Student's T with ``df`` (possibly fractional) degrees of freedom."""
    if math.isnan(t) or math.isnan(df):
        return math.nan
    if df > _LARGE_DF:  # error O(1/df^2); the continued fraction needs O(sqrt(df)) steps
        return norm_sf(t * (1.0 - 0.25 / df) / math.sqrt(1.0 + t * t / (2.0 * df)))
    if t == 0.0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    # one tail is I_x(df/2, 1/2) / 2 with x = df / (df + t^2)
    t2 = t * t
    log_x = -math.log1p(t2 / df)
    log_xc = math.log(t2) - math.log(df + t2)
    tail = 0.5 * _betainc(df / 2.0, 0.5, log_x, log_xc)
    return tail if t > 0 else 1.0 - tail


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's T with ``df`` degrees of freedom."""
    return t_sf(-t, df)


def _t_pdf(t: float, df: float) -> float:
    log_norm = _lgamma_shift(df / 2.0, 0.5) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1.0) / 2.0 * math.log1p(t * t / df))


def t_ppf(p: float, df: float) -> float:
    """Student's t quantile, by safeguarded Newton steps from the normal quantile."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_ppf needs 0 < p < 1, got {p}")
    if p > 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = -1.0, 0.0
    if df > _LARGE_DF:
        z = norm_ppf(p)
        return z + (z**3 + z) / (4.0 * df)
    while t_cdf(lo, df) > p:  # bracket the root from below
        hi, lo = lo, lo * 2.0
    x = min(max(norm_ppf(p), lo), hi)
    for _ in range(200):
        f = t_cdf(x, df) - p
        if f > 0:
            hi = x
        else:
            lo = x
        step = f / _t_pdf(x, df)
        nxt = x - step
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - x) <= 1e-13 * max(1.0, abs(x)):
            return nxt
        x = nxt
    return x  # pragma: no cover


def _gammainc_upper(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x)."""
    if x <= 0.0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:  # series for P(a, x)
        term = total = 1.0 / a
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return 1.0 - total * math.exp(log_front)
    b = x + 1.0 - a  # continued fraction for Q(a, x)
    c, d = 1.0 / _TINY, 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return math.exp(log_front) * h


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-squared with ``df`` degrees of freedom."""
    if df <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    return _gammainc_upper(df / 2.0, x / 2.0)
