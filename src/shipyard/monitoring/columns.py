"""The edge of the drift report: columns in, one numpy array per feature out.

Reference and current data arrive as a mapping of column name to array, or as a pandas
DataFrame, converted here (duck-typed, so pandas is never imported). Missing values become NaN
in numeric columns and None in the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.monitoring.methods import KINDS, Kind

__all__ = ["as_columns", "infer_kind", "numeric_values"]


def as_columns(data: Any, name: str) -> dict[str, npt.NDArray[Any]]:
    """A mapping or a DataFrame as ``{column: 1-D array}``."""
    if isinstance(data, Mapping):
        columns = {str(k): np.asarray(v) for k, v in data.items()}
    elif hasattr(data, "columns") and hasattr(data, "dtypes"):
        columns = {str(c): _from_series(data[c]) for c in data.columns}
    else:
        raise InvalidInputError(
            f"{name} must be a mapping of column name to array, or a pandas DataFrame; "
            f"got {type(data).__name__}"
        )
    lengths = {c: v.shape for c, v in columns.items()}
    if bad := [c for c, shape in lengths.items() if len(shape) != 1]:
        raise InvalidInputError(f"{name} column(s) {', '.join(bad)} are not one-dimensional")
    if len({shape[0] for shape in lengths.values()}) > 1:
        raise InvalidInputError(f"{name} columns have different lengths: {lengths}")
    return columns


def _from_series(series: Any) -> npt.NDArray[Any]:
    kind = getattr(series.dtype, "kind", "O")
    if kind in "iuf":
        return cast(npt.NDArray[Any], series.to_numpy(dtype="float64", na_value=np.nan))
    if kind == "b" and not bool(series.isna().any()):
        return cast(npt.NDArray[Any], series.to_numpy(dtype=bool))
    return cast(npt.NDArray[Any], series.to_numpy(dtype=object, na_value=None))


def infer_kind(values: npt.NDArray[Any]) -> Kind:
    """numeric for numbers, boolean for booleans, categorical for anything else."""
    if values.dtype.kind == "b":
        return "boolean"
    return "numeric" if values.dtype.kind in "iuf" else "categorical"


def check_kind(kind: str, feature: str) -> Kind:
    """``kind`` if it is one of the known kinds."""
    if kind not in KINDS:
        raise InvalidInputError(
            f"kind of feature {feature!r} must be one of {', '.join(KINDS)}, got {kind!r}"
        )
    return kind


def numeric_values(values: npt.NDArray[Any], feature: str) -> npt.NDArray[np.float64]:
    """A numeric column as float64, with missing values as NaN."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    try:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"feature {feature!r} is numeric but holds non-numbers") from exc
