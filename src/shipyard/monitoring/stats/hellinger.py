"""Hellinger distance between two distributions over shared levels or bins."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._result import StatResult
from shipyard.monitoring.stats._shares import shares

__all__ = ["hellinger", "hellinger_distance"]


def hellinger_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """sqrt(sum((sqrt p - sqrt q)^2) / 2) over the last axis: 0 for equal, 1 for disjoint."""
    diff = np.sqrt(shares(p)) - np.sqrt(shares(q))
    return np.asarray(np.sqrt((diff * diff).sum(axis=-1) / 2.0), dtype=np.float64)


def hellinger(reference_counts: Any, current_counts: Any) -> StatResult:
    """Hellinger distance of two count vectors over the same levels (or bins)."""
    ref, cur = as_counts(reference_counts, current_counts)
    d = float(hellinger_distance(ref, cur))
    return StatResult(
        "hellinger", d, None, int(ref.sum()), int(cur.sum()), f"{ref.size} shared levels or bins"
    )
