"""From count vectors to shares, vectorised over leading axes (the noise floor passes a stack)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["fill_zeros", "shares"]

Array = npt.NDArray[np.float64]


def shares(counts: npt.ArrayLike) -> Array:
    """Counts over the last axis divided by their total (a zero total gives zeros)."""
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum(axis=-1, keepdims=True)
    return np.asarray(np.divide(c, total, out=np.zeros_like(c), where=total > 0), dtype=np.float64)


def fill_zeros(p: Array) -> Array:
    """Evidently's rule for the zero shares a logarithm cannot take, row by row.

    A zero share becomes 1e-4, or a millionth of the smallest non-zero share when that share is
    itself at most 1e-4.
    """
    positive = np.where(p > 0, p, np.inf)
    smallest = positive.min(axis=-1, keepdims=True)
    fill = np.where(smallest <= 1e-4, smallest / 1e6, 1e-4)
    return np.where(p > 0, p, fill)
