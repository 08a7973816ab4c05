"""The reference profile of the data a version was trained on, and its fingerprint.

Monitoring compares live traffic against the profile (quantiles and histograms for numbers,
level frequencies for categories); validation reads the ranges. The profile is a JSON-ready
dict: every float is finite or None. Beside it, :func:`build_profile` keeps a bounded random
sample of the rows, for the tests that need raw values (Kolmogorov-Smirnov, for example).

Shape of the profile::

    {"format_version": 1, "n_rows": 5000,
     "features": {name: {"kind", "dtype", "count", "missing_share", ...}},
     "target": {"name", "task", "kind", "dtype", "count", "missing_share", ...} | None}

Numeric entries add ``infinite_share`` (of the present values), then ``min``, ``max``,
``mean``, ``std`` (ddof=1), ``quantiles`` (``{"probs": [...], "values": [...]}``, linear
interpolation) and ``histogram`` (``{"edges": [...], "counts": [...]}``, equal-width bins), all
over the finite values. Categorical and boolean entries add ``n_levels``,
``levels`` (``{str(level): share}`` of the present rows, most frequent first, at most
``top_levels``) and ``other`` (the share of the remaining levels). Datetime entries add ``min``
and ``max`` as ISO 8601 text. ``count`` is the number of present (non-missing) values.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError
from shipyard.registry.signature import as_dataframe, infer_signature, kind_and_dtype

__all__ = ["QUANTILES", "build_profile", "data_fingerprint"]

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
FORMAT_VERSION = 1


def build_profile(
    X: Any,
    y: Any = None,
    *,
    sample_rows: int = 10_000,
    seed: int = 0,
    bins: int = 20,
    top_levels: int = 100,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Profile training data ``X`` (and target ``y``); return ``(profile, sample)``.

    ``sample`` holds at most ``sample_rows`` rows of ``X`` drawn uniformly without replacement
    with ``seed`` (all rows when there are fewer), in their original order with a fresh index,
    plus the target column when ``y`` is given (named after ``y``, else ``"target"``).
    """
    for name, value, least in (
        ("sample_rows", sample_rows, 0),
        ("bins", bins, 1),
        ("top_levels", top_levels, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"{name} must be an integer >= {least}, got {value!r}")
    frame = as_dataframe(X).reset_index(drop=True)
    target = None if y is None else _target(frame, y)
    signature = infer_signature(frame, target, max_levels=0)
    features = {
        spec.name: _profile(frame[spec.name], spec.kind, bins, top_levels)
        for spec in signature.inputs
    }
    target_profile = None
    if target is not None and signature.output is not None:
        task = signature.output.task
        kind = "categorical" if task == "classification" else "numeric"
        target_profile = {
            "name": target.name,
            "task": task,
            **_profile(target, kind, bins, top_levels),
        }
    profile = {
        "format_version": FORMAT_VERSION,
        "n_rows": len(frame),
        "features": features,
        "target": target_profile,
    }
    table = frame if target is None else frame.assign(**{str(target.name): target})
    if len(table) > sample_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(table), sample_rows, replace=False))
        table = table.iloc[rows]
    return profile, table.reset_index(drop=True)


def data_fingerprint(X: Any, y: Any = None) -> str:
    """A sha256 hex digest of the data's content: column names, dtypes and values, in order.

    It is stable across processes, machines and runs (pandas' keyed value hashes, not Python's
    salted ``hash``), ignores the index, and changes when any single value changes, when rows or
    columns are reordered, or when a column is renamed or changes type.
    """
    frame = as_dataframe(X)
    digest = hashlib.sha256(b"shipyard.data_fingerprint.v1\n")
    digest.update(f"{len(frame)} rows\n".encode())
    columns = [("feature", frame.iloc[:, i]) for i in range(frame.shape[1])]
    if y is not None:
        columns.append(("target", _target(frame, y)))
    for role, column in columns:
        header = json.dumps([role, str(column.name), *kind_and_dtype(column)]).encode()
        digest.update(len(header).to_bytes(8, "little") + header)
        values = pd.util.hash_pandas_object(column, index=False).to_numpy()
        digest.update(values.astype("<u8").tobytes())
    return digest.hexdigest()


def _target(frame: pd.DataFrame, y: Any) -> pd.Series[Any]:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InvalidInputError("y must be one column; multi-output targets are not supported")
        y = y.iloc[:, 0]
    target = y.reset_index(drop=True) if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if target.ndim != 1 or len(target) != len(frame):
        raise InvalidInputError(
            f"y must be one value per row of X ({len(frame)}), got {len(target)}"
        )
    name = target.name if isinstance(target.name, str) else "target"
    if name in frame.columns:
        raise InvalidInputError(f"the target name {name!r} is also a column of X; rename one")
    return target.rename(name)


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _profile(s: pd.Series[Any], kind: str, bins: int, top_levels: int) -> dict[str, Any]:
    present = s.notna().to_numpy()
    count = int(present.sum())
    entry: dict[str, Any] = {
        "kind": kind,
        "dtype": kind_and_dtype(s)[1],
        "count": count,
        "missing_share": (len(s) - count) / len(s) if len(s) else None,
    }
    if kind == "numeric":
        entry.update(_numeric(s.to_numpy(dtype="float64", na_value=np.nan)[present], bins))
    elif kind == "datetime":
        stamps = s[present]
        entry["min"] = stamps.min().isoformat() if count else None
        entry["max"] = stamps.max().isoformat() if count else None
    else:
        entry.update(_levels(s, count, top_levels))
    return entry


def _numeric(values: np.ndarray[Any, Any], bins: int) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    stats: dict[str, Any] = {
        "infinite_share": (values.size - finite.size) / values.size if values.size else None,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "quantiles": {"probs": list(QUANTILES), "values": [None] * len(QUANTILES)},
        "histogram": None,
    }
    if finite.size == 0:
        return stats
    counts, edges = np.histogram(finite, bins=bins)
    stats.update(
        min=_number(finite.min()),
        max=_number(finite.max()),
        mean=_number(finite.mean()),
        std=_number(finite.std(ddof=1)) if finite.size > 1 else None,
        histogram={"edges": [_number(e) for e in edges], "counts": [int(c) for c in counts]},
    )
    stats["quantiles"]["values"] = [_number(q) for q in np.quantile(finite, QUANTILES)]
    return stats


def _levels(s: pd.Series[Any], count: int, top_levels: int) -> dict[str, Any]:
    counts = s.value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical dtype lists unused categories too
    # Levels are JSON keys, so text; values that print alike (1 and "1") are merged.
    counts.index = pd.Index([str(level) for level in counts.index], dtype=object)
    counts = counts.groupby(level=0, sort=True).sum().sort_values(ascending=False, kind="stable")
    top = counts.iloc[:top_levels]
    shares = {str(k): int(v) / count for k, v in top.items()} if count else {}
    other = int(counts.iloc[top_levels:].sum()) / count if count else 0.0
    return {"n_levels": len(counts), "levels": shares, "other": other}
