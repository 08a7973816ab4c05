"""L-infinity distance: the largest change in the share of any one level or bin."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._result import StatResult
from shipyard.monitoring.stats._shares import shares

__all__ = ["linf", "linf_distance"]


def linf_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """max |p - q| of the shares over the last axis."""
    return np.asarray(np.abs(shares(p) - shares(q)).max(axis=-1), dtype=np.float64)


def linf(reference_counts: Any, current_counts: Any) -> StatResult:
    """L-infinity distance of two count vectors over the same levels (or bins)."""
    ref, cur = as_counts(reference_counts, current_counts)
    d = float(linf_distance(ref, cur))
    return StatResult(
        "linf", d, None, int(ref.sum()), int(cur.sum()), f"{ref.size} shared levels or bins"
    )
