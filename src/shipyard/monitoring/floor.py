"""Noise floors: how large a distance gets between samples of one distribution.

A distance has no null distribution of its own, and on a small window its sampling noise alone
passes a fixed threshold. The floor is the ``quantile`` (0.95) of the same distance over
``n_resamples`` resamples of the reference at the window's size, seeded; a distance is drift only
above it. Both floors are vectorised over the resamples.

- Counts (levels or bins): reference and window are drawn as multinomials from the reference
  shares, at their real sizes.
- Wasserstein: a random subset of ``s`` reference values against the rest of the reference. With
  the reference sorted and its prefix sums built once, W1(reference, subset) is exact in
  O(s log n) per resample, and W1(rest, subset) = W1(reference, subset) n / (n - s) because
  F_ref - F_sub = (n - s) / n (F_rest - F_sub). ``s`` is the window's size, at most half the
  reference and at most ``max_rows``: a smaller ``s`` only raises the floor (more noise), so a
  capped floor errs towards fewer alarms, and the cap keeps large windows cheap.

  A window larger than ``max_rows`` gets the capped floor scaled down to its real size by the
  two-sample rate of W1: sqrt(n m / (n + m)) W1 tends to the integral of a Brownian bridge of F,
  whose law depends on neither size. So the floor for a window of ``m`` rows against ``n`` is
  the floor measured at ``s`` rows (subset against the rest) times sqrt(e_s / e_m), with
  e_s = s (n - s) / n and e_m = n m / (n + m) the effective sizes. Without it a million-row
  window would be held to the noise of a thousand rows (about 0.07 standard deviations of a
  normal instead of 0.002); with it the floor stays an honest figure at any size, at the cost
  of one resampling at ``max_rows`` rows. A reference far larger than ``s`` is first cut to a
  random pool of ``POOL_ROWS`` rows (or ``POOL_FACTOR s``), and the same law carries the floor
  from the pool's size to the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from shipyard.monitoring.stats._arrays import Counts, Floats

__all__ = ["counts_floor", "effective_rows", "subset_w1", "wasserstein_floor"]

# A reference this much larger than the resampled size is first cut to a random pool of this
# size: the resamples then gather from an array that fits in the cache, and the floor
# is scaled from the pool to the whole reference like any other size change.
POOL_ROWS = 20_000
POOL_FACTOR = 20


def counts_floor(
    distance: Callable[[Any, Any], Any],
    reference: Counts,
    window: int,
    *,
    n_resamples: int,
    quantile: float,
    rng: np.random.Generator,
) -> float:
    """Floor of a distance over count vectors, for a window of ``window`` rows."""
    n = int(reference.sum())
    p = reference / n
    ref = rng.multinomial(n, p, size=n_resamples)
    cur = rng.multinomial(window, p, size=n_resamples)
    return float(np.quantile(distance(ref, cur), quantile))


def wasserstein_floor(
    reference: Floats,
    scale: float,
    window: int,
    *,
    n_resamples: int,
    quantile: float,
    rng: np.random.Generator,
    max_rows: int,
    n_reference: int | None = None,
) -> tuple[float, int] | None:
    """Floor of W1 / ``scale`` for a window of ``window`` rows, from the SORTED reference.

    Returns ``(floor, s)`` with ``s`` the subset size resampled, or ``None`` when the reference
    is too small to split. A window above ``max_rows`` gets the floor at ``s`` scaled to its own
    size (see the module docstring). ``n_reference`` is the size of the reference that
    ``reference`` stands for, when it is a stand-in (quantiles read from a sketch).
    """
    n = reference.size
    s = min(window, n // 2, max_rows)
    if s < 1:
        return None
    pool = reference
    if n > max(POOL_ROWS, POOL_FACTOR * s):
        # sorted indices of a sorted array: the pool is sorted too
        pool = reference[np.sort(rng.choice(n, max(POOL_ROWS, POOL_FACTOR * s), replace=False))]
    k = pool.size
    subsets = np.sort(np.stack([rng.choice(k, s, replace=False) for _ in range(n_resamples)]), 1)
    w = subset_w1(pool, subsets) * (k / (k - s))
    floor = float(np.quantile(w / scale, quantile))
    total = n if n_reference is None else n_reference
    if window > max_rows or k < total:
        floor *= math.sqrt(effective_rows(s, k - s) / effective_rows(window, total))
    return floor, s


def effective_rows(a: int, b: int) -> float:
    """a b / (a + b): the size that sets the noise of a two-sample distance."""
    return a * b / (a + b)


def subset_w1(reference: Floats, subsets: Any) -> Floats:
    """W1 between the sorted ``reference`` and each of its subsets (rows of sorted indices).

    Every point where the integral is evaluated is a reference value ``r[i]``, and
    ∫_{-inf}^{r[i]} F_ref = ((i + 1) r[i] - sum(r[:i + 1])) / n whichever index of a tie ``i``
    is (tied values add zero), so the work is gathers, not searches.
    """
    n = reference.size
    s = subsets.shape[1]
    r = reference - reference[n // 2]  # centred, so the prefix sums lose no precision
    prefix = np.cumsum(r)

    def integral(i: Any) -> Floats:
        return np.asarray(((i + 1) * r[i] - prefix[i]) / n, dtype=np.float64)

    y = r[subsets]
    at_y = integral(subsets)
    total = at_y[:, 0] + (r[-1] - y[:, -1]) - (integral(n - 1) - at_y[:, -1])
    if s > 1:
        level = np.arange(1, s) / s
        # Between consecutive subset values F_sub = j/s; F_ref first reaches j/s at r[q].
        q = (np.arange(1, s) * n + s - 1) // s - 1
        lo, hi = subsets[:, :-1], subsets[:, 1:]
        cross = np.clip(q, lo, hi)
        at_cross = integral(cross)
        below = level * (r[cross] - y[:, :-1]) - (at_cross - at_y[:, :-1])
        above = (at_y[:, 1:] - at_cross) - level * (y[:, 1:] - r[cross])
        total = total + (below + above).sum(axis=1)
    return np.asarray(total, dtype=np.float64)
