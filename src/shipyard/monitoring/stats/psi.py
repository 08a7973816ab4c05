"""Population stability index between two distributions over shared levels or bins."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._result import StatResult
from shipyard.monitoring.stats._shares import fill_zeros, shares

__all__ = ["psi", "psi_value"]


def psi_value(reference: npt.ArrayLike, current: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """sum((r - c) ln(r / c)) over the last axis, zero shares filled as Evidently does."""
    r, c = fill_zeros(shares(reference)), fill_zeros(shares(current))
    return np.asarray(((r - c) * np.log(r / c)).sum(axis=-1), dtype=np.float64)


def psi(reference_counts: Any, current_counts: Any) -> StatResult:
    """PSI of two count vectors over the same levels (or bins)."""
    ref, cur = as_counts(reference_counts, current_counts)
    d = float(psi_value(ref, cur))
    return StatResult(
        "psi", d, None, int(ref.sum()), int(cur.sum()), f"{ref.size} shared levels or bins"
    )
