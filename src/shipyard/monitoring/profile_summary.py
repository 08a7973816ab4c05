"""A version's stored reference profile as a reference :class:`Summary`.

The profile (:mod:`shipyard.registry.profile`) keeps, per numeric feature, an equal-width
histogram over ``[min, max]``, eleven quantiles and the moments; per categorical feature the
shares of its most frequent levels and of the rest. That is enough for a reference summary:

- the histogram's inner edges become the summary's edges (its first and last bins open-ended:
  no reference value lies outside ``[min, max]``, so the counts carry over exactly);
- the quantile sketch is a stand-in read off the CDF where the profile knows it (at each
  histogram edge, exactly, and at the eleven quantiles), interpolated linearly between, rounded
  for an integer feature; its CDF can be off by the widest step between those knots, and its
  ``rank_error`` says so, so a Wasserstein or KS figure from a profile is rougher than one from
  rows;
- level shares times the count give the level counts; the rest is ``pooled``;
- the distinct values of a numeric feature are not kept, except for an integer feature with
  at most 20 values whose histogram bins are narrower than 1 (one value per bin): for others
  the default test is chosen as for many values.

Summarise the current window ``like=`` the result. When the version's reference *sample* is at
hand, ``summarise(sample)`` is the better reference: every figure then comes from real rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.monitoring.sketch import DEFAULT_SKETCH_SIZE, QuantileSketch
from shipyard.monitoring.stats._arrays import Counts, Floats
from shipyard.monitoring.summaries import (
    FEW_VALUES,
    MAX_LEVELS,
    CategoricalSummary,
    FeatureSummary,
    NumericSummary,
    Summary,
)

__all__ = ["summary_from_profile"]

_STAND_IN = 1024  # values in a profile's stand-in sketch


def summary_from_profile(profile: Mapping[str, Any]) -> Summary:
    """The reference summary of a profile from :func:`~shipyard.registry.profile.build_profile`."""
    features = profile.get("features") if isinstance(profile, Mapping) else None
    rows = profile.get("n_rows") if isinstance(profile, Mapping) else None
    if not isinstance(features, Mapping) or not isinstance(rows, int):
        raise InvalidInputError(
            "a reference profile is a mapping with 'n_rows' and 'features', as build_profile "
            "returns it; give the version's profile, or summarise its reference sample instead"
        )
    out: dict[str, FeatureSummary] = {}
    for name, entry in features.items():
        kind = entry.get("kind")
        count = int(entry.get("count") or 0)
        missing = rows - count
        if kind == "numeric":
            out[name] = _numeric(str(name), entry, rows, count, missing)
        elif kind in ("categorical", "boolean"):
            levels = {str(k): round(share * count) for k, share in entry["levels"].items()}
            pooled = round((entry.get("other") or 0.0) * count)
            out[name] = CategoricalSummary(kind, rows, missing, levels, pooled, MAX_LEVELS)
        # datetime features have no drift test
    return Summary(rows, out)


def _numeric(
    name: str, entry: Mapping[str, Any], rows: int, count: int, missing: int
) -> NumericSummary:
    histogram = entry.get("histogram")
    if not histogram:  # no finite value in the reference
        empty = QuantileSketch(DEFAULT_SKETCH_SIZE, (), 0, 0)
        return NumericSummary(
            rows, missing, count, np.empty(0), np.zeros(1, dtype=np.int64), None, None,
            0, 0.0, 0.0, math.inf, -math.inf, empty,
        )  # fmt: skip
    edges = np.asarray(histogram["edges"], dtype=np.float64)
    counts = np.asarray(histogram["counts"], dtype=np.int64)
    n = int(counts.sum())
    if edges.size != counts.size + 1 or not np.all(np.diff(edges) > 0):
        raise InvalidInputError(f"the profile's histogram of feature {name!r} is malformed")
    # CDF knots: the histogram's (exact at every edge) and the quantiles'
    xs = np.concatenate((edges, np.asarray(entry["quantiles"]["values"], dtype=np.float64)))
    fs = np.concatenate(
        (np.concatenate(([0], np.cumsum(counts))) / max(n, 1), entry["quantiles"]["probs"])
    )
    order = np.lexsort((fs, xs))
    xs, fs = xs[order], np.maximum.accumulate(fs[order])
    grid = (np.arange(_STAND_IN) + 0.5) / _STAND_IN
    stand_in = np.interp(grid, fs, xs)  # the quantile function, linear between knots
    if str(entry.get("dtype", "")).startswith(("int", "uint")):
        stand_in = np.round(stand_in)  # whole numbers stay whole
    gap = float(np.diff(fs).max()) if fs.size > 1 else 1.0
    sketch = QuantileSketch(DEFAULT_SKETCH_SIZE, (stand_in,), _STAND_IN, math.ceil(gap * _STAND_IN))
    std = float(entry.get("std") or 0.0)
    values, value_counts = _whole_values(entry, edges, counts)
    return NumericSummary(
        rows=rows,
        missing=missing,
        infinite=count - n,
        edges=edges[1:-1],  # np.histogram's edges increase strictly, even for a constant
        counts=counts,
        values=values,
        value_counts=value_counts,
        n=n,
        mean=float(entry["mean"]),
        m2=std * std * (n - 1),
        min=float(entry["min"]),
        max=float(entry["max"]),
        sketch=sketch,
    )


def _whole_values(
    entry: Mapping[str, Any], edges: Floats, counts: Counts
) -> tuple[Floats | None, Counts | None]:
    """Per-value counts of an integer feature whose bins are narrower than 1, else None.

    Such a histogram holds at most one whole number per bin, so its counts are exact.
    """
    low, high = entry["min"], entry["max"]
    whole = str(entry.get("dtype", "")).startswith(("int", "uint"))
    if not whole or high - low >= counts.size or high - low + 1 > FEW_VALUES:
        return None, None
    numbers = np.arange(low, high + 1, dtype=np.float64)
    index = np.minimum(np.searchsorted(edges, numbers, side="right") - 1, counts.size - 1)
    seen = counts[index] > 0
    return numbers[seen], counts[index][seen]
