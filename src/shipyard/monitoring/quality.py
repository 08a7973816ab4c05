"""Data quality of one window of logged inputs, against the version's signature and profile.

Pure: columns, the signature dict and the profile dict in, a :class:`QualityReport` out.

- **missing share** per feature (beside the reference's own missing share);
- **out-of-range share** of numeric features: present values outside the reference's
  ``[min, max]`` (from the profile, else the signature's training range);
- **new categories** of categorical features: levels the reference never saw, with counts,
  when the reference's levels are known completely (the signature lists them, or the profile
  lists every level);
- **schema violations**: signature features absent from the log, unknown extra columns, and
  values of the wrong type (text in a numeric feature, say). The server validates every request,
  so these stay at zero unless the log was written by something else;
- **served and rejected**: rows in the log are the served ones; the rejected count comes from the
  server's metrics when the caller has it (``None`` otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shipyard.monitoring.columns import as_columns

__all__ = ["FeatureQuality", "QualityReport", "data_quality"]

MAX_NEW_LEVELS = 20  # listed per feature, most frequent first; the count covers all of them


@dataclass(frozen=True)
class FeatureQuality:
    """One feature's quality figures; ``None`` where the figure does not apply or is unknown."""

    name: str
    kind: str
    n_rows: int
    missing: int
    missing_share: float | None
    reference_missing_share: float | None
    out_of_range: int | None
    out_of_range_share: float | None
    reference_min: float | None
    reference_max: float | None
    new_categories: dict[str, int] | None
    new_category_rows: int | None
    new_category_share: float | None
    violations: int


@dataclass(frozen=True)
class QualityReport:
    """The window's quality: per feature, and the schema and served-versus-rejected counts."""

    n_rows: int
    rejected: int | None
    features: tuple[FeatureQuality, ...]
    absent_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]

    def __getitem__(self, name: str) -> FeatureQuality:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @property
    def schema_violations(self) -> int:
        """Type violations in all features, plus one per absent or extra column."""
        typed = sum(f.violations for f in self.features)
        return typed + len(self.absent_columns) + len(self.extra_columns)

    @property
    def rejected_share(self) -> float | None:
        """Rejected requests' share of all requests seen (served rows + rejected)."""
        if self.rejected is None or self.n_rows + self.rejected == 0:
            return None
        return self.rejected / (self.n_rows + self.rejected)

    def figures(self) -> dict[str, float]:
        """The monitored figures (``quality.*``) of this report; absent ones are left out."""
        out: dict[str, float] = {
            "quality.rows": float(self.n_rows),
            "quality.schema_violations": float(self.schema_violations),
        }
        if self.rejected is not None:
            out["quality.rejected"] = float(self.rejected)
        if (share := self.rejected_share) is not None:
            out["quality.rejected_share"] = share
        for f in self.features:
            for field, value in (
                ("missing_share", f.missing_share),
                ("out_of_range_share", f.out_of_range_share),
                ("new_category_share", f.new_category_share),
                ("new_categories", None if f.new_categories is None else len(f.new_categories)),
                ("violations", f.violations),
            ):
                if value is not None and math.isfinite(value):
                    out[f"quality.{field}.{f.name}"] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_violations"] = self.schema_violations
        data["rejected_share"] = self.rejected_share
        return data


def data_quality(
    current: Any,
    signature: Mapping[str, Any],
    profile: Mapping[str, Any] | None = None,
    *,
    rejected: int | None = None,
) -> QualityReport:
    """The quality of ``current`` (a DataFrame or a mapping of column to array) for a version
    with ``signature`` (its ``to_dict()`` form) and reference ``profile``."""
    columns = as_columns(current, "current") if len(current) else {}
    n_rows = _rows(current, columns)
    specs = list(signature.get("inputs") or [])
    names = [str(s["name"]) for s in specs]
    ref_features: Mapping[str, Any] = (profile or {}).get("features") or {}
    features = []
    absent = []
    for spec in specs:
        name = str(spec["name"])
        values = columns.get(name)
        if values is None and n_rows:
            absent.append(name)
        if values is None:
            values = np.full(n_rows, None, dtype=object)
        features.append(_feature(name, spec, values, ref_features.get(name) or {}))
    extra = sorted(c for c in columns if c not in names)
    return QualityReport(
        n_rows=n_rows,
        rejected=rejected,
        features=tuple(features),
        absent_columns=tuple(absent),
        extra_columns=tuple(extra),
    )


def _rows(current: Any, columns: Mapping[str, Any]) -> int:
    if columns:
        return int(next(iter(columns.values())).shape[0])
    return len(current) if hasattr(current, "index") else 0


def _feature(
    name: str, spec: Mapping[str, Any], values: np.ndarray[Any, Any], ref: Mapping[str, Any]
) -> FeatureQuality:
    kind = str(spec.get("kind", "numeric"))
    n = int(values.shape[0])
    missing_mask = _missing(values)
    missing = int(missing_mask.sum())
    present = values[~missing_mask]
    violations = 0
    out_of_range = new_rows = None
    lo = hi = None
    new: dict[str, int] | None = None
    if kind == "numeric":
        numbers, violations = _as_numbers(present)
        lo = _num(ref.get("min"), spec.get("min"))
        hi = _num(ref.get("max"), spec.get("max"))
        if lo is not None or hi is not None:
            outside = np.zeros(numbers.shape[0], dtype=bool)
            if lo is not None:
                outside |= numbers < lo
            if hi is not None:
                outside |= numbers > hi
            out_of_range = int(outside.sum())
    elif kind == "boolean":
        violations = sum(not isinstance(v, bool | np.bool_) for v in present)
    elif kind == "categorical":
        known = _known_levels(spec, ref)
        if known is not None:
            levels, counts = _count(present)
            unseen = {lvl: c for lvl, c in zip(levels, counts, strict=True) if lvl not in known}
            ranked = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))
            new = dict(ranked[:MAX_NEW_LEVELS])
            new_rows = sum(unseen.values())
    n_present = n - missing
    return FeatureQuality(
        name=name,
        kind=kind,
        n_rows=n,
        missing=missing,
        missing_share=missing / n if n else None,
        reference_missing_share=_num(ref.get("missing_share"), None),
        out_of_range=out_of_range,
        out_of_range_share=(out_of_range / n_present)
        if out_of_range is not None and n_present
        else None,
        reference_min=lo,
        reference_max=hi,
        new_categories=new,
        new_category_rows=new_rows,
        new_category_share=(new_rows / n_present) if new_rows is not None and n_present else None,
        violations=int(violations),
    )


def _missing(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if values.dtype.kind == "f":
        mask: np.ndarray[Any, Any] = np.isnan(values)
        return mask
    if values.dtype.kind in "iub":
        return np.zeros(values.shape[0], dtype=bool)
    return np.array(
        [v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool
    )


def _as_numbers(present: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int]:
    """The present values as floats, and how many were not numbers (those are left out)."""
    if present.dtype.kind in "fiu":
        return present.astype(np.float64, copy=False), 0
    ok = [
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in present
    ]
    numbers = np.array([float(v) for v, good in zip(present, ok, strict=True) if good])
    return numbers, len(ok) - sum(ok)


def _count(present: np.ndarray[Any, Any]) -> tuple[list[str], list[int]]:
    counts: dict[str, int] = {}
    for v in present:
        key = str(v)
        counts[key] = counts.get(key, 0) + 1
    return list(counts), list(counts.values())


def _known_levels(spec: Mapping[str, Any], ref: Mapping[str, Any]) -> set[str] | None:
    """The reference's complete level set, or None when only its most frequent are known."""
    if spec.get("levels") is not None:
        return {str(v) for v in spec["levels"]}
    levels = ref.get("levels")
    if isinstance(levels, Mapping) and not ref.get("other"):
        return {str(v) for v in levels}
    return None


def _num(first: Any, second: Any) -> float | None:
    for value in (first, second):
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None
