"""Sufficient statistics of one variant's metric, so every test runs on streamed aggregates.

A :class:`MeanSummary` (count, mean, sample variance) describes a continuous metric; a
:class:`BinomialSummary` (successes out of trials) a binary one. Both answer ``n``, ``mean``
and ``variance``, which is all the tests read. Summaries of disjoint windows merge exactly
(Chan et al.'s pairwise update), so the server can keep one per variant per minute and add them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shipyard.errors import InvalidInputError

__all__ = ["BinomialSummary", "MeanSummary", "Summary"]


class Summary(Protocol):
    """What a test needs to know about one variant's metric."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...


@dataclass(frozen=True)
class MeanSummary:
    """``n`` observations of a continuous metric: their mean and sample variance (ddof = 1)."""

    n: int
    mean: float
    variance: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise InvalidInputError(f"MeanSummary.n must be >= 0, got {self.n}")
        if not math.isfinite(self.mean) or not math.isfinite(self.variance) or self.variance < 0:
            raise InvalidInputError(
                f"MeanSummary needs a finite mean and a finite variance >= 0, "
                f"got mean={self.mean}, variance={self.variance}"
            )

    @classmethod
    def from_values(cls, values: Any) -> MeanSummary:
        """Summarise an array of observations (NaN is an error: drop missing values first)."""
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.size and not np.isfinite(arr).all():
            raise InvalidInputError("MeanSummary.from_values needs finite values")
        var = float(arr.var(ddof=1)) if arr.size > 1 else 0.0
        return cls(int(arr.size), float(arr.mean()) if arr.size else 0.0, var)

    def merge(self, other: MeanSummary) -> MeanSummary:
        """The summary of both windows together."""
        n = self.n + other.n
        if self.n == 0 or other.n == 0:
            return self if other.n == 0 else other
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = (
            self.variance * (self.n - 1)
            + other.variance * (other.n - 1)
            + delta * delta * self.n * other.n / n
        )
        return MeanSummary(n, mean, m2 / (n - 1))

    def to_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "mean": self.mean, "variance": self.variance}


@dataclass(frozen=True)
class BinomialSummary:
    """``successes`` out of ``n`` trials of a binary metric; its variance is p (1 - p)."""

    successes: int
    n: int

    def __post_init__(self) -> None:
        if not 0 <= self.successes <= self.n:
            raise InvalidInputError(
                f"BinomialSummary needs 0 <= successes <= n, got {self.successes} of {self.n}"
            )

    @property
    def mean(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        p = self.mean
        return p * (1.0 - p)

    def merge(self, other: BinomialSummary) -> BinomialSummary:
        return BinomialSummary(self.successes + other.successes, self.n + other.n)

    def to_dict(self) -> dict[str, float | int]:
        return {"successes": self.successes, "n": self.n}
