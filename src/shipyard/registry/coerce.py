"""Coercing prediction input to a signature: the one validation every prediction path uses.

``to_frame`` turns a DataFrame, a dict of columns, one record, a list of records or a 2-D array
into exactly the signature's features, in order, with their dtypes; errors are
``SignatureError``s that name the feature, the row and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from shipyard.errors import SignatureError
from shipyard.registry.signature import FeatureSpec, Signature, _is_number, _plain, as_dataframe

__all__ = ["to_frame"]

_TEXT_DTYPE = pd.Series(["a"]).dtype
_NUMBERS = frozenset({"integer", "floating", "mixed-integer-float", "empty"})
_FLAGS = frozenset({"boolean", "empty"})
_DATES = frozenset({"string", "datetime", "datetime64", "date", "empty"})


def to_frame(signature: Signature, data: Any) -> pd.DataFrame:
    """Coerce prediction input to exactly the signature's features, in order, with its dtypes.

    ``data`` is a DataFrame, a dict of columns, one record (a dict of scalars), a list of
    records, or a 2-D array / list of rows (columns in signature order). Unknown extra columns
    are dropped, as MLflow does. Unknown levels and out-of-range numbers are accepted (the model
    decides). Numeric features take numbers only, never numeric text; float features accept
    integers; integer features accept whole floats, and a nullable one becomes float64 when
    values are missing. Boolean features accept booleans and 0/1 (object dtype when values are
    missing). Datetime features accept date-times or ISO 8601 text. Rows in error messages count
    from 0. The result has a fresh ``RangeIndex``.
    """
    names = signature.feature_names
    frame = as_dataframe(data, names=names)
    if len(frame) == 0 or frame.shape[1] == 0:
        raise SignatureError(
            f"empty input; send at least one row with the features: {', '.join(names)}"
        )
    if missing := [n for n in names if n not in frame.columns]:
        listed = ", ".join(map(repr, missing))
        raise SignatureError(
            f"missing feature{'s' if len(missing) > 1 else ''} {listed}; the model expects: "
            f"{', '.join(names)}",
            feature=missing[0],
        )
    columns: dict[str, pd.Series[Any]] = {}
    for spec in signature.inputs:
        column = frame[spec.name]
        if isinstance(column, pd.DataFrame):
            raise SignatureError(
                f"feature {spec.name!r} is given twice; send it once", feature=spec.name
            )
        columns[spec.name] = _coerce(spec, column.reset_index(drop=True))
    return pd.DataFrame(columns)


def _coerce(spec: FeatureSpec, s: pd.Series[Any]) -> pd.Series[Any]:
    null = s.isna().to_numpy()
    if null.any():
        if not spec.nullable:
            raise SignatureError(
                f"feature {spec.name!r} is missing at row {int(null.argmax())}, but the model was "
                "trained without missing values in it; send a value",
                feature=spec.name,
            )
        if null.all():  # nothing to check: give the kind's own missing value below
            s = pd.Series(np.full(len(s), np.nan, dtype=object))
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if spec.kind == "numeric":
        return _to_numeric(spec, s, null)
    if spec.kind == "boolean":
        return _to_boolean(spec, s, null)
    if spec.kind == "datetime":
        return _to_datetime(spec, s)
    if spec.dtype == "object":
        return s.astype(object)
    if not pdt.is_string_dtype(s.dtype) or (
        pdt.is_object_dtype(s.dtype) and pdt.infer_dtype(s, skipna=True) not in ("string", "empty")
    ):
        _reject(spec, s, lambda v: isinstance(v, str), "text", "send it as a string")
    return s.astype(_TEXT_DTYPE)


def _to_numeric(spec: FeatureSpec, s: pd.Series[Any], null: np.ndarray[Any, Any]) -> pd.Series[Any]:
    fix = "send a whole number" if np.dtype(spec.dtype).kind in "iu" else "send a number"
    if pdt.is_object_dtype(s.dtype) and pdt.infer_dtype(s, skipna=True) not in _NUMBERS:
        _reject(spec, s, _is_number, "numbers", fix)
    if pdt.is_object_dtype(s.dtype):
        try:
            s = pd.to_numeric(s)
        except (TypeError, ValueError) as exc:
            raise SignatureError(f"feature {spec.name!r}: {exc}; {fix}", feature=spec.name) from exc
    if pdt.is_bool_dtype(s.dtype) or not pdt.is_numeric_dtype(s.dtype):
        _reject(spec, s, lambda v: False, "numbers", fix)
    if np.dtype(spec.dtype).kind == "f":
        return pd.Series(s.to_numpy(dtype=spec.dtype, na_value=np.nan))
    if pdt.is_integer_dtype(s.dtype) and not null.any():
        return pd.Series(s.to_numpy(dtype=spec.dtype))
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        fractional = ~null & ((values != np.round(values)) | np.isinf(values))
    if fractional.any():
        row = int(fractional.argmax())
        raise _type_error(spec, "whole numbers", values[row], row, fix)
    return pd.Series(values if null.any() else values.astype(spec.dtype))


def _to_boolean(spec: FeatureSpec, s: pd.Series[Any], null: np.ndarray[Any, Any]) -> pd.Series[Any]:
    fix = "send true/false or 0/1"
    if pdt.is_bool_dtype(s.dtype):
        pass
    elif pdt.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~null & (values != 0) & (values != 1)
        if bad.any():
            raise _type_error(spec, "booleans", s.iloc[int(bad.argmax())], int(bad.argmax()), fix)
    elif not pdt.is_object_dtype(s.dtype) or pdt.infer_dtype(s, skipna=True) not in _FLAGS:
        _reject(spec, s, _is_flag, "booleans", fix)
    flags = s.where(~null, False).astype(bool)
    if not null.any():
        return flags
    out = flags.astype(object)
    out[null] = np.nan
    return out


def _to_datetime(spec: FeatureSpec, s: pd.Series[Any]) -> pd.Series[Any]:
    target = pdt.pandas_dtype(spec.dtype)
    aware = isinstance(target, pd.DatetimeTZDtype)
    fix = f"send an ISO 8601 date-time such as '2024-05-01T12:00:00{'+00:00' if aware else ''}'"
    if not pdt.is_datetime64_any_dtype(s.dtype):
        if not pdt.is_string_dtype(s.dtype) or (  # is_string_dtype is true for object too
            pdt.is_object_dtype(s.dtype) and pdt.infer_dtype(s, skipna=True) not in _DATES
        ):
            _reject(spec, s, _is_datetime_like, "date-times", fix)
        try:
            s = pd.to_datetime(s, format="ISO8601")
        except (ValueError, TypeError) as exc:
            _reject(spec, s, _is_datetime_like, "date-times", fix)
            raise SignatureError(f"feature {spec.name!r}: {exc}; {fix}", feature=spec.name) from exc
    if aware != isinstance(s.dtype, pd.DatetimeTZDtype):
        zone = "with" if aware else "without"
        message = f"feature {spec.name!r} expects date-times {zone} a UTC offset ({spec.dtype})"
        raise SignatureError(f"{message}; {fix}", feature=spec.name)
    try:
        return s.astype(target)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"feature {spec.name!r}: {exc}; {fix}", feature=spec.name) from exc


def _is_flag(v: Any) -> bool:
    return isinstance(v, bool | np.bool_) or (_is_number(v) and v in (0, 1))


def _is_datetime_like(v: Any) -> bool:
    if not isinstance(v, str):
        return isinstance(v, date | np.datetime64)
    try:
        pd.Timestamp(v)
    except ValueError:
        return False
    return True


def _reject(
    spec: FeatureSpec, s: pd.Series[Any], ok: Callable[[Any], bool], expected: str, fix: str
) -> None:
    """Raise for the first present value that ``ok`` refuses: the slow path, taken on errors only."""
    for row, value in enumerate(s.to_numpy(dtype=object)):
        if not (pdt.is_scalar(value) and pd.isna(value)) and not ok(value):
            raise _type_error(spec, expected, value, row, fix)


def _type_error(spec: FeatureSpec, expected: str, value: Any, row: int, fix: str) -> SignatureError:
    message = f"feature {spec.name!r} expects {expected}, got {_plain(value)!r} at row {row}; {fix}"
    return SignatureError(message, feature=spec.name)
