"""A mergeable quantile sketch with a stated, deterministic rank error.

The sketch is a stack of compactors (Manku-Rajagopalan-Lindsay, the skeleton of KLL): level
``h`` holds values that each stand for ``2**h`` rows. When a level holds more than ``k`` values it
is sorted and every other value moves up a level with double the weight. Compacting a sorted
buffer changes the number of rows counted at or below any ``x`` by at most the buffer's weight,
so the sketch adds up the weight of every compaction it ran, and merges add both sides' sums:
``rank_error`` is a hard bound, in rows, on ``|estimated rank - true rank|`` for any value (the
estimate comes from counting each kept value with its weight). The bound grows like
``n log2(n / k) / k`` at worst; measured, 20 million rows summarised 250,000 at a time at
``k = 4096`` keep 7,892 values with a bound of 0.097% of the rows, and the actual error is far
smaller because the compaction offsets alternate.

Merging is concatenating level by level and compacting again, so the sketch of chunks merged in
any order answers within its (summed) bound; memory stays at most ``k`` values per level,
``k log2(n / k)`` in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.monitoring.stats._arrays import Floats

__all__ = ["DEFAULT_SKETCH_SIZE", "QuantileSketch"]

DEFAULT_SKETCH_SIZE = 4096


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """Weighted values standing for ``n`` rows; see the module docstring."""

    k: int
    levels: tuple[Floats, ...]  # level h: sorted values of weight 2**h
    n: int
    rank_error: int

    @classmethod
    def of(
        cls, values: Any, k: int = DEFAULT_SKETCH_SIZE, *, is_sorted: bool = False
    ) -> QuantileSketch:
        """The sketch of finite ``values`` (a chunk); ``is_sorted`` spares the sort."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise InvalidInputError(f"the sketch size k must be an integer >= 2, got {k!r}")
        array = np.asarray(values, dtype=np.float64)
        array = array if is_sorted else np.sort(array)
        if array.size and not (np.isfinite(array[0]) and np.isfinite(array[-1])):
            raise InvalidInputError("a quantile sketch takes finite values; drop NaN and inf first")
        levels, error = _compact([array], 0, k)
        return cls(k, levels, int(array.size), error)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both sides' rows, within the sum of their bounds plus its own."""
        if other.k != self.k:
            raise InvalidInputError(
                f"sketches of different sizes cannot merge (k={self.k} and k={other.k}); "
                "summarise every chunk with the same sketch_size"
            )
        depth = max(len(self.levels), len(other.levels))
        joined = []
        for h in range(depth):
            parts = [s.levels[h] for s in (self, other) if h < len(s.levels)]
            joined.append(
                np.sort(np.concatenate(parts), kind="stable") if len(parts) > 1 else parts[0]
            )
        levels, error = _compact(joined, self.rank_error + other.rank_error, self.k)
        return QuantileSketch(self.k, levels, self.n + other.n, error)

    @property
    def size(self) -> int:
        """How many values the sketch keeps."""
        return sum(level.size for level in self.levels)

    def weighted(self) -> tuple[Floats, Floats]:
        """The kept values, sorted, and the rows each stands for (summing to ``n``)."""
        values = np.concatenate(self.levels) if self.levels else np.empty(0)
        weights = (
            np.concatenate(
                [np.full(level.size, float(2**h)) for h, level in enumerate(self.levels)]
            )
            if self.levels
            else np.empty(0)
        )
        order = np.argsort(values, kind="stable")
        return values[order], weights[order]

    def rank(self, x: Any) -> Floats:
        """Estimated number of rows ``<= x``, within ``rank_error`` of the truth."""
        values, weights = self.weighted()
        cumulative = np.concatenate(([0.0], np.cumsum(weights)))
        return np.asarray(cumulative[np.searchsorted(values, x, side="right")], dtype=np.float64)

    def quantile(self, q: Any) -> Floats:
        """The smallest kept value whose estimated rank reaches ``q n`` (lower quantile)."""
        if self.n == 0:
            raise InvalidInputError("the sketch holds no values; a quantile needs at least one")
        values, weights = self.weighted()
        cumulative = np.cumsum(weights)
        target = np.asarray(q, dtype=np.float64) * self.n
        index = np.minimum(np.searchsorted(cumulative, target, side="left"), values.size - 1)
        return np.asarray(values[index], dtype=np.float64)


def _compact(levels: list[Floats], error: int, k: int) -> tuple[tuple[Floats, ...], int]:
    """Compact every level over ``k`` values, bottom up; return the levels and the new bound."""
    levels = list(levels)
    h = 0
    while h < len(levels):
        buffer = levels[h]
        if buffer.size > k:  # every level is kept sorted
            keep = buffer.size % 2  # an odd value out stays at this level
            pairs = buffer[keep:]
            offset = (pairs.size // 2 + h) % 2  # alternate, so errors tend to cancel
            promoted = pairs[offset::2]
            levels[h] = buffer[:keep]
            if h + 1 == len(levels):
                levels.append(promoted)
            else:
                levels[h + 1] = np.sort(np.concatenate((levels[h + 1], promoted)), kind="stable")
            error += 2**h
        h += 1
    return tuple(levels), error
