"""Input checks shared by the statistics: one-dimensional float samples, count vectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError

__all__ = ["Counts", "Floats", "as_counts", "as_sample"]

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]


def as_sample(values: Any, name: str) -> Floats:
    """``values`` as a 1-D float64 array with the missing (NaN) values dropped."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {array.shape}")
    nan = np.isnan(array)
    return array[~nan] if nan.any() else array


def as_counts(reference: Any, current: Any) -> tuple[Counts, Counts]:
    """Two count vectors over the same levels (or bins), checked to be non-negative integers."""
    ref = np.asarray(reference)
    cur = np.asarray(current)
    if ref.ndim != 1 or ref.shape != cur.shape:
        raise InvalidInputError(
            f"counts must be two 1-D arrays over the same levels, got {ref.shape} and {cur.shape}"
        )
    for counts in (ref, cur):
        if counts.size and (counts.min() < 0 or not np.array_equal(counts, np.round(counts))):
            raise InvalidInputError("counts must be non-negative whole numbers")
    return ref.astype(np.int64), cur.astype(np.int64)
