"""Sample-ratio mismatch: do the assignment counts match the planned split?

A split that does not deliver its weights (a biased hash, a variant that drops requests before
they are counted, a bot hitting one arm) invalidates every comparison built on it, whatever
the metric says. The check is Pearson's chi-squared goodness-of-fit of the observed counts
against the planned weights; it runs at a strict alpha (0.001 by default) because it is
checked continuously and a false alarm stops a rollout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats._dist import chi2_sf
from shipyard.rollouts.stats.result import check_alpha

__all__ = ["SRMResult", "sample_ratio_mismatch"]


@dataclass(frozen=True)
class SRMResult:
    """The chi-squared statistic, its p-value, and whether the split is broken."""

    statistic: float
    p_value: float
    df: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    alpha: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.alpha

    @property
    def observed_shares(self) -> tuple[float, ...]:
        total = sum(self.observed)
        return tuple(c / total for c in self.observed) if total else ()


def sample_ratio_mismatch(
    counts: Sequence[int], weights: Sequence[float], *, alpha: float = 0.001
) -> SRMResult:
    """Chi-squared goodness-of-fit of ``counts`` against ``weights`` (any positive scale).

    Equals ``scipy.stats.chisquare(counts, f_exp=weights / sum(weights) * sum(counts))``.
    """
    check_alpha(alpha)
    if len(counts) != len(weights) or len(counts) < 2:
        raise InvalidInputError(
            f"sample_ratio_mismatch needs one weight per count and at least two variants, "
            f"got {len(counts)} counts and {len(weights)} weights"
        )
    if any(c < 0 for c in counts):
        raise InvalidInputError(f"assignment counts must be >= 0, got {list(counts)}")
    if any(not math.isfinite(w) or w <= 0 for w in weights):
        raise InvalidInputError(f"planned weights must be positive, got {list(weights)}")
    total, weight_sum = sum(counts), float(sum(weights))
    expected = tuple(w / weight_sum * total for w in weights)
    if total == 0:
        return SRMResult(0.0, 1.0, len(counts) - 1, tuple(counts), expected, alpha)
    stat = sum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True))
    df = len(counts) - 1
    return SRMResult(stat, chi2_sf(stat, df), df, tuple(int(c) for c in counts), expected, alpha)
