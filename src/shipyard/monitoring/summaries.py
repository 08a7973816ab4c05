"""Mergeable summaries: a window larger than memory, read in chunks, in bounded memory.

:func:`summarise` turns one chunk of rows into a :class:`Summary`; :meth:`Summary.merge` adds
two summaries (chunks of one window, or the logs of many replicas), in any order. Per feature:

- **numeric**: rows, missing (NaN) and infinite counts; count, mean, sum of squared deviations
  (Chan's parallel update), min and max of the finite values; a histogram over fixed edges (the
  reference's ``bins``-quantiles; the outer two bins are open-ended, so a current value outside
  the reference's range still lands somewhere); the counts of each value while there are at
  most ``FEW_VALUES`` distinct ones (the exact binning of a discrete feature); a
  :class:`~shipyard.monitoring.sketch.QuantileSketch`.
- **categorical / boolean**: rows, missing count, the count of each level as text, at most
  ``max_levels`` of them: past that the rarest are pooled (their rows counted in ``pooled``), so
  a high-cardinality feature stays small.

Counts, histograms and level counts merge exactly (while nothing is pooled); the moments up to
floating-point rounding; the sketch within its stated rank error. A summary's size depends on
the number of features, bins, levels and the sketch size, never on the number of rows.

The edges are fixed by the first summary (the reference's): summarise every later chunk, of the
reference or of a current window, with ``like=`` that summary, so all share their bins. The
first chunk should stand for the reference (a random sample of it, or the version's reference
sample, is best): its quantiles become the bins every window is counted in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.monitoring.columns import as_columns, check_kind, infer_kind, numeric_values
from shipyard.monitoring.methods import Kind
from shipyard.monitoring.sketch import DEFAULT_SKETCH_SIZE, QuantileSketch
from shipyard.monitoring.stats._arrays import Counts, Floats
from shipyard.monitoring.stats.binning import count_levels, missing_mask

__all__ = [
    "DEFAULT_BINS",
    "FEW_VALUES",
    "MAX_LEVELS",
    "CategoricalSummary",
    "FeatureSummary",
    "NumericSummary",
    "Summary",
    "reference_edges",
    "summarise",
]

DEFAULT_BINS = 20
MAX_LEVELS = 1000
# Evidently bins a reference of at most 20 distinct values one bin per value; so do summaries.
FEW_VALUES = 20


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """One numeric feature over some rows; see the module docstring."""

    rows: int
    missing: int
    infinite: int
    edges: Floats  # inner edges, increasing; counts has one bin more (open at both ends)
    counts: Counts
    values: Floats | None  # the distinct finite values while there are <= FEW_VALUES, else None
    value_counts: Counts | None
    n: int  # finite values
    mean: float
    m2: float  # sum of squared deviations from the mean
    min: float
    max: float
    sketch: QuantileSketch
    kind: Kind = field(default="numeric", init=False)

    @property
    def std(self) -> float:
        """Standard deviation of the finite values, ddof=0 (as the exact report uses)."""
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0

    def merge(self, other: NumericSummary, name: str) -> NumericSummary:
        """Both sides' rows; the edges must be the same."""
        if not np.array_equal(self.edges, other.edges):
            raise InvalidInputError(
                f"feature {name!r} was summarised with different bin edges on each side; "
                "summarise every chunk with like=<the first (reference) summary>"
            )
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n if n else 0.0
        m2 = self.m2 + other.m2 + (delta * delta * self.n * other.n / n if n else 0.0)
        values, value_counts = _merge_values(self, other)
        return NumericSummary(
            rows=self.rows + other.rows,
            missing=self.missing + other.missing,
            infinite=self.infinite + other.infinite,
            edges=self.edges,
            counts=self.counts + other.counts,
            values=values,
            value_counts=value_counts,
            n=n,
            mean=mean,
            m2=m2,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            sketch=self.sketch.merge(other.sketch),
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """One categorical or boolean feature over some rows: level counts, at most ``max_levels``."""

    kind: Kind
    rows: int
    missing: int
    levels: Mapping[str, int]
    pooled: int  # rows of levels dropped past max_levels: 0 means every count is exact
    max_levels: int

    def merge(self, other: CategoricalSummary, name: str) -> CategoricalSummary:
        """Both sides' rows; levels past ``max_levels`` are pooled again."""
        if other.kind != self.kind:
            raise InvalidInputError(
                f"feature {name!r} is {self.kind} on one side and {other.kind} on the other"
            )
        levels = dict(self.levels)
        for level, count in other.levels.items():
            levels[level] = levels.get(level, 0) + count
        kept, pooled = _cap(levels, self.max_levels)
        return CategoricalSummary(
            self.kind,
            self.rows + other.rows,
            self.missing + other.missing,
            kept,
            self.pooled + other.pooled + pooled,
            self.max_levels,
        )


FeatureSummary = NumericSummary | CategoricalSummary


@dataclass(frozen=True, eq=False)
class Summary:
    """Every feature's summary over ``rows`` rows."""

    rows: int
    features: Mapping[str, FeatureSummary]

    def __getitem__(self, name: str) -> FeatureSummary:
        return self.features[name]

    def merge(self, other: Summary) -> Summary:
        """The summary of both sides' rows: same features, same kinds, same edges."""
        if list(self.features) != list(other.features):
            raise InvalidInputError(
                "summaries of different features cannot merge: "
                f"{sorted(self.features)} and {sorted(other.features)}"
            )
        merged: dict[str, FeatureSummary] = {}
        for name, mine in self.features.items():
            theirs = other.features[name]
            # two branches, not one `or`: each merge needs its own narrowed types
            if isinstance(mine, NumericSummary) and isinstance(theirs, NumericSummary):  # noqa: SIM114
                merged[name] = mine.merge(theirs, name)
            elif isinstance(mine, CategoricalSummary) and isinstance(theirs, CategoricalSummary):
                merged[name] = mine.merge(theirs, name)
            else:
                raise InvalidInputError(
                    f"feature {name!r} is {mine.kind} on one side and {theirs.kind} on the other"
                )
        return Summary(self.rows + other.rows, merged)


def summarise(
    data: Any,
    kinds: Mapping[str, str] | None = None,
    *,
    like: Summary | None = None,
    bins: int = DEFAULT_BINS,
    sketch_size: int = DEFAULT_SKETCH_SIZE,
    max_levels: int = MAX_LEVELS,
    workers: int | None = None,
) -> Summary:
    """The summary of one chunk of rows (a mapping of column to 1-D array, or a DataFrame).

    With ``like``, the features, kinds, edges and sizes are ``like``'s, so the result merges
    with it and is compared with it; otherwise the features are ``kinds``' (or every column,
    kind read from the dtype) and each numeric feature's edges are this chunk's ``bins``-quantiles.
    ``workers`` threads summarise features side by side (default: up to 4, one per core).
    """
    for label, value, least in (("bins", bins, 1), ("max_levels", max_levels, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"{label} must be an integer >= {least}, got {value!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
    columns = as_columns(data, "the chunk")
    if like is not None:
        if kinds is not None:
            raise InvalidInputError("give kinds or like=, not both: like= fixes the kinds")
        names = list(like.features)
    else:
        names = list(kinds) if kinds is not None else list(columns)
    if absent := [n for n in names if n not in columns]:
        raise InvalidInputError(f"the chunk has no column(s) {', '.join(absent)}")
    rows = next(iter(columns.values())).shape[0] if columns else 0

    def one(name: str) -> FeatureSummary:
        column = columns[name]
        template = like.features[name] if like is not None else None
        if template is not None:
            kind = template.kind
        elif kinds is not None:
            kind = check_kind(kinds[name], name)
        else:
            kind = infer_kind(column)
        if kind == "numeric":
            edges = template.edges if isinstance(template, NumericSummary) else None
            k = template.sketch.k if isinstance(template, NumericSummary) else sketch_size
            return _numeric(numeric_values(column, name), edges, bins, k)
        cap = template.max_levels if isinstance(template, CategoricalSummary) else max_levels
        return _categorical(column, kind, cap)

    # numpy releases the GIL while it sorts and counts: features run side by side in threads
    threads = workers or min(4, os.cpu_count() or 1)
    if threads > 1 and len(names) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            features = dict(zip(names, pool.map(one, names), strict=True))
    else:
        features = {name: one(name) for name in names}
    return Summary(rows, features)


def reference_edges(values: Floats, bins: int) -> Floats:
    """Inner edges for ``bins`` bins from SORTED finite values: quantiles, or, for at most
    ``bins`` distinct values, the midpoints between them (one bin per value)."""
    if values.size == 0:
        return np.empty(0)
    distinct = values[np.concatenate(([True], values[1:] != values[:-1]))]
    if distinct.size <= bins:
        return np.asarray((distinct[:-1] + distinct[1:]) / 2.0, dtype=np.float64)
    inner = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.asarray(np.unique(inner), dtype=np.float64)


def _numeric(values: Floats, edges: Floats | None, bins: int, sketch_size: int) -> NumericSummary:
    finite = np.isfinite(values)
    missing = int(np.count_nonzero(np.isnan(values)))
    x = np.sort(values[finite]) if not finite.all() else np.sort(values)
    if edges is None:
        edges = reference_edges(x, bins)
    cuts = np.searchsorted(x, edges, side="left")  # bins [e_i-1, e_i), open at both ends
    counts = np.diff(np.concatenate(([0], cuts, [x.size]))).astype(np.int64)
    values_, value_counts = _few_values(x)
    mean = float(x.mean()) if x.size else 0.0
    deviations = x - mean
    return NumericSummary(
        rows=values.size,
        missing=missing,
        infinite=values.size - missing - x.size,
        edges=edges,
        counts=counts,
        values=values_,
        value_counts=value_counts,
        n=int(x.size),
        mean=mean,
        m2=float(deviations @ deviations),
        min=float(x[0]) if x.size else np.inf,
        max=float(x[-1]) if x.size else -np.inf,
        sketch=QuantileSketch.of(x, sketch_size, is_sorted=True),
    )


def _few_values(x: Floats) -> tuple[Floats | None, Counts | None]:
    if x.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    step = max(1, x.size // 1024)  # a sorted strided sample already shows many values
    if np.count_nonzero(x[step::step] != x[:-step:step]) >= FEW_VALUES:
        return None, None
    changes = x[1:] != x[:-1]
    if np.count_nonzero(changes) >= FEW_VALUES:
        return None, None
    starts = np.flatnonzero(np.concatenate(([True], changes)))
    return x[starts], np.diff(np.append(starts, x.size)).astype(np.int64)


def _merge_values(a: NumericSummary, b: NumericSummary) -> tuple[Floats | None, Counts | None]:
    if a.values is None or b.values is None or a.value_counts is None or b.value_counts is None:
        return None, None
    values, inverse = np.unique(np.concatenate((a.values, b.values)), return_inverse=True)
    if values.size > FEW_VALUES:
        return None, None
    counts = np.zeros(values.size, dtype=np.int64)
    np.add.at(counts, inverse, np.concatenate((a.value_counts, b.value_counts)))
    return values, counts


def _categorical(column: npt.NDArray[Any], kind: Kind, max_levels: int) -> CategoricalSummary:
    missing = missing_mask(column)
    present = column[~missing] if missing.any() else column
    levels: dict[str, int] = {}
    if present.size:
        found, counts = count_levels(present)
        for level, count in zip(found, counts.tolist(), strict=True):
            label = str(level)  # values that print alike (1 and "1") share a label
            levels[label] = levels.get(label, 0) + int(count)
    kept, pooled = _cap(levels, max_levels)
    return CategoricalSummary(kind, column.size, int(missing.sum()), kept, pooled, max_levels)


def _cap(levels: dict[str, int], max_levels: int) -> tuple[dict[str, int], int]:
    if len(levels) <= max_levels:
        return levels, 0
    ranked = sorted(levels.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:max_levels]), sum(count for _, count in ranked[max_levels:])
