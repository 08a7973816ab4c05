"""Jensen-Shannon distance between two distributions over shared levels or bins."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.stats._arrays import as_counts
from shipyard.monitoring.stats._result import StatResult
from shipyard.monitoring.stats._shares import shares

__all__ = ["jensen_shannon", "js_distance"]


def js_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """sqrt(JS divergence) in nats over the last axis, as ``scipy.spatial.distance.jensenshannon``."""
    p, q = shares(p), shares(q)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    return np.asarray(np.sqrt(np.maximum((kl_p + kl_q) / 2.0, 0.0)), dtype=np.float64)


def jensen_shannon(reference_counts: Any, current_counts: Any) -> StatResult:
    """Jensen-Shannon distance (natural log, so at most sqrt(ln 2) ≈ 0.83) of two count vectors."""
    ref, cur = as_counts(reference_counts, current_counts)
    d = float(js_distance(ref, cur))
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    return StatResult("jensenshannon", d, None, n_ref, n_cur, f"{ref.size} shared levels or bins")
