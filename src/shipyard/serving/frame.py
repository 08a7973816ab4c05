"""The canonical request frame, and its validation against a signature (numpy only).

Every protocol codec decodes a request into columns (one 1-D numpy array per input name); then
:func:`validate_columns` checks them against the version's signature and returns a
:class:`Frame`: exactly the signature's features, in its order, with its dtypes. Errors are
``SignatureError``s that name the feature, the row and what to send instead; the server answers
them with 422.

The fast path: a request that arrives as one numeric ``[rows, features]`` matrix (a V2 2-D
tensor) goes to :func:`validate_matrix`. When every feature of the signature is a float64 number
(a *dense* signature), the matrix is checked in one vectorised pass (finite, width, rows) and the
:class:`Frame` carries it whole, so the ONNX runner feeds it to the graph without splitting it
into columns and stacking them again. Anything else (another signature, a non-finite value, a
wrong width) goes through :func:`validate_columns` on the matrix's columns, so the fast path
accepts exactly what the general path accepts and fails with exactly its errors.

The rules follow :func:`shipyard.registry.coerce.to_frame`, stricter where a server should be:
unknown extra inputs are refused (not dropped), infinities are refused, and NaN (a missing value)
is refused for features trained without missing values. Unknown levels of a categorical feature are accepted (the model
decides) unless ``strict_levels`` is set. Missing values arrive as ``None`` (JSON ``null``) or NaN.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shipyard.errors import SignatureError
from shipyard.registry.signature import FeatureSpec, Signature

__all__ = ["Frame", "validate_columns", "validate_matrix"]

Array = np.ndarray[Any, Any]


_FLOAT64 = np.dtype(np.float64)


class Frame:
    """Validated input: one 1-D array per feature, in signature order; rows are identified by
    (``request_id``, row index).

    A frame validated by :func:`validate_matrix` also carries ``matrix``: the C-contiguous
    float64 ``[n_rows, features]`` block in signature order, from which ``columns`` are views,
    made on first use. Frames are not changed after validation."""

    __slots__ = ("_columns", "_names", "matrix", "n_rows", "request_id")

    def __init__(
        self,
        columns: dict[str, Array] | None,
        n_rows: int,
        request_id: str = "",
        *,
        matrix: Array | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        if columns is None and (matrix is None or len(names) != matrix.shape[1]):
            raise ValueError("a frame needs its columns, or a matrix and its feature names")
        self._columns = columns
        self._names = names
        self.matrix = matrix
        self.n_rows = n_rows
        self.request_id = request_id

    @property
    def columns(self) -> dict[str, Array]:
        """One 1-D array per feature, in signature order."""
        columns = self._columns
        if columns is None:
            matrix = self.matrix
            assert matrix is not None
            columns = self._columns = {name: matrix[:, j] for j, name in enumerate(self._names)}
        return columns

    @property
    def names(self) -> tuple[str, ...]:
        """The feature names, in signature order (without building the columns)."""
        return self._names if self._columns is None else tuple(self._columns)

    def __repr__(self) -> str:
        layout = "columns" if self.matrix is None else "matrix"
        return f"<Frame {self.n_rows} row(s), {layout}, request {self.request_id!r}>"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What validation needs from a signature, computed once per signature."""

    names: tuple[str, ...]
    known: frozenset[str]
    specs: tuple[tuple[FeatureSpec, np.dtype[Any] | None, frozenset[str] | None], ...]
    expected: str
    """The feature names, listed for error messages."""
    dense: bool
    """Every feature is a float64 number: a matrix is validated in one pass."""


_PLANS: dict[int, tuple[Signature, _Plan]] = {}


def _plan(signature: Signature) -> _Plan:
    cached = _PLANS.get(id(signature))
    if cached is not None and cached[0] is signature:
        return cached[1]
    specs = tuple(
        (
            spec,
            np.dtype(spec.dtype) if spec.kind == "numeric" else None,
            frozenset(spec.levels) if spec.levels is not None else None,
        )
        for spec in signature.inputs
    )
    names = tuple(spec.name for spec in signature.inputs)
    dense = bool(specs) and all(dtype == _FLOAT64 for _, dtype, _ in specs)
    plan = _Plan(names, frozenset(names), specs, ", ".join(names), dense)
    if len(_PLANS) > 256:  # signatures live as long as their loaded version; keep this bounded
        _PLANS.clear()
    _PLANS[id(signature)] = (signature, plan)
    return plan


def validate_columns(
    signature: Signature,
    columns: dict[str, Array] | Array,
    request_id: str = "",
    *,
    strict_levels: bool = False,
) -> Frame:
    """Check decoded columns against ``signature``; return them as a :class:`Frame`.
    ``columns`` may also be one ``[rows, features]`` matrix in signature order: see
    :func:`validate_matrix`."""
    if isinstance(columns, np.ndarray):
        return validate_matrix(signature, columns, request_id, strict_levels=strict_levels)
    plan = _plan(signature)
    expected = plan.expected
    if len(columns) != len(plan.names) or not plan.known.issuperset(columns):
        if unknown := [name for name in columns if name not in plan.known]:
            listed = ", ".join(map(repr, unknown))
            raise SignatureError(
                f"unknown input{'s' if len(unknown) > 1 else ''} {listed}; the model's features "
                f"are: {expected}",
                feature=unknown[0],
            )
        missing = [name for name in plan.names if name not in columns]
        listed = ", ".join(map(repr, missing))
        raise SignatureError(
            f"missing feature{'s' if len(missing) > 1 else ''} {listed}; the model expects: "
            f"{expected}",
            feature=missing[0],
        )
    first = plan.names[0]
    n_rows = len(columns[first])
    if n_rows == 0:
        raise SignatureError(f"empty input; send at least one row with the features: {expected}")
    out: dict[str, Array] = {}
    for spec, dtype, levels in plan.specs:
        values = columns[spec.name]
        if values.ndim != 1 or len(values) != n_rows:
            raise SignatureError(
                f"feature {spec.name!r} has {values.size} values but {first!r} has {n_rows}; "
                "send one value per row for every feature",
                feature=spec.name,
            )
        if dtype is not None:
            out[spec.name] = _numeric(spec, dtype, values)
        elif spec.kind == "categorical":
            out[spec.name] = _categorical(spec, values, levels if strict_levels else None)
        elif spec.kind == "boolean":
            out[spec.name] = _boolean(spec, values)
        else:
            out[spec.name] = _datetime(spec, values)
    return Frame(out, n_rows, request_id)


def validate_matrix(
    signature: Signature,
    matrix: Array,
    request_id: str = "",
    *,
    strict_levels: bool = False,
    finite: bool = False,
) -> Frame:
    """Check a numeric ``[rows, features]`` matrix (columns in signature order) against
    ``signature``; return it as a :class:`Frame`.

    For a dense signature (every feature a float64 number) a finite matrix of the right width
    is accepted in one vectorised pass, and the frame keeps it whole; ``finite=True`` says the
    caller knows every value is finite (float64 numbers parsed from JSON), which skips that
    pass. Everything else (and every failure) goes through :func:`validate_columns` on the
    matrix's columns, so the answer, error message included, is the one the columns would
    get."""
    plan = _plan(signature)
    if (
        plan.dense
        and matrix.ndim == 2
        and matrix.shape[0] > 0
        and matrix.shape[1] == len(plan.names)
        and matrix.dtype.kind in "iuf"
    ):
        values = matrix if matrix.dtype is _FLOAT64 else matrix.astype(np.float64)
        # One reduction: a NaN or an infinity anywhere makes the sum non-finite. (A sum that
        # overflows only sends a finite matrix down the general path, which then accepts it.)
        if (finite and values is matrix) or math.isfinite(values.sum()):
            if not values.flags.c_contiguous:
                values = np.ascontiguousarray(values)
            return Frame(None, values.shape[0], request_id, matrix=values, names=plan.names)
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        raise TypeError("validate_matrix takes a 2-D [rows, features] numpy array")
    names = plan.names
    if matrix.shape[1] != len(names):  # the codec checks the width; say it again for others
        raise SignatureError(
            f"the input has {matrix.shape[1]} columns, but the model expects {len(names)} "
            f"features, in this order: {plan.expected}"
        )
    columns = {name: matrix[:, j] for j, name in enumerate(names)}
    return validate_columns(signature, columns, request_id, strict_levels=strict_levels)


def _numeric(spec: FeatureSpec, dtype: np.dtype[Any], values: Array) -> Array:
    whole = dtype.kind in "iu"
    fix = "send a whole number" if whole else "send a number"
    kind = values.dtype.kind
    if kind == "b":
        raise _type_error(spec, "numbers", values[0], 0, fix)
    if kind not in "iuf":
        values = _objects_to_float(spec, values, fix)
        kind = "f"
    if kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            nan = np.isnan(values)
            bad = ~finite if not spec.nullable else ~finite & ~nan
            if bad.any():
                row = int(bad.argmax())
                what = "missing" if nan[row] else "not finite"
                raise SignatureError(
                    f"feature {spec.name!r} is {what} at row {row} ({values[row]!r}), but the "
                    f"model was trained without missing values in it; {fix}",
                    feature=spec.name,
                )
            if (
                whole
            ):  # a nullable integer feature with missing values stays float64, as in to_frame
                _check_whole(spec, dtype, values, ~nan, fix)
                return values.astype(np.float64, copy=False)
        if whole:
            _check_whole(spec, dtype, values, finite, fix)
    return values.astype(dtype, copy=False)


def _check_whole(
    spec: FeatureSpec, dtype: np.dtype[Any], values: Array, present: Array, fix: str
) -> None:
    info = np.iinfo(dtype)
    # Compare in floats against max + 1: float(int64 max) rounds up to 2**63, so "> max" would
    # let 2**63 through and the cast would wrap it to the minimum.
    fractional = present & (
        (values != np.round(values)) | (values < float(info.min)) | (values >= float(info.max) + 1)
    )
    if fractional.any():
        row = int(fractional.argmax())
        raise _type_error(spec, f"whole numbers ({dtype.name})", values[row], row, fix)


def _objects_to_float(spec: FeatureSpec, values: Array, fix: str) -> Array:
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values.tolist()):
        if value is None:
            out[row] = np.nan
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[row] = value
        else:
            raise _type_error(spec, "numbers", value, row, fix)
    return out


def _categorical(spec: FeatureSpec, values: Array, levels: frozenset[str] | None) -> Array:
    if spec.dtype == "object":  # anything goes: the model decides
        return values.astype(object, copy=False)
    kind = values.dtype.kind
    if kind == "U":
        items = values.tolist()
    elif kind == "O":
        items = values.tolist()
        for row, value in enumerate(items):
            if type(value) is not str:
                if value is None and spec.nullable:
                    continue
                if value is None:
                    raise _missing(spec, row)
                raise _type_error(spec, "text", value, row, "send it as a string")
    else:
        raise _type_error(spec, "text", values[0], 0, "send it as a string")
    if levels is not None:
        for row, value in enumerate(items):
            if value is not None and value not in levels:
                raise SignatureError(
                    f"feature {spec.name!r} got the unknown level {value!r} at row {row}; "
                    f"known levels: {', '.join(sorted(levels))}",
                    feature=spec.name,
                )
    return values.astype(object, copy=False)


def _boolean(spec: FeatureSpec, values: Array) -> Array:
    fix = "send true/false or 0/1"
    kind = values.dtype.kind
    if kind == "b":
        return values
    if kind in "iuf":
        bad = (values != 0) & (values != 1)
        if bad.any():
            row = int(bad.argmax())
            raise _type_error(spec, "booleans", values[row], row, fix)
        return values.astype(bool)
    if kind != "O":
        raise _type_error(spec, "booleans", values[0], 0, fix)
    items = values.tolist()
    for row, value in enumerate(items):
        if value is None:
            if not spec.nullable:
                raise _missing(spec, row)
        elif not (isinstance(value, bool) or (type(value) in (int, float) and value in (0, 1))):
            raise _type_error(spec, "booleans", value, row, fix)
    if any(value is None for value in items):
        return np.array([np.nan if v is None else bool(v) for v in items], dtype=object)
    return np.array(items, dtype=bool)


def _datetime(spec: FeatureSpec, values: Array) -> Array:
    """ISO 8601 text to ``datetime64[ns]``; a zone-aware feature is held as UTC (the model
    boundary puts the zone back)."""
    aware = "," in spec.dtype
    fix = f"send an ISO 8601 date-time such as '2024-05-01T12:00:00{'+00:00' if aware else ''}'"
    if values.dtype.kind == "M" and not aware:
        return values.astype("datetime64[ns]")
    out = np.empty(len(values), dtype="datetime64[ns]")
    for row, value in enumerate(values.tolist()):
        if value is None:
            if not spec.nullable:
                raise _missing(spec, row)
            out[row] = np.datetime64("NaT")
            continue
        if not isinstance(value, str):
            raise _type_error(spec, "date-times", value, row, fix)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _type_error(spec, "date-times", value, row, fix) from None
        if aware != (parsed.tzinfo is not None):
            zone = "with" if aware else "without"
            raise SignatureError(
                f"feature {spec.name!r} expects date-times {zone} a UTC offset, got {value!r} "
                f"at row {row}; {fix}",
                feature=spec.name,
            )
        if aware:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        out[row] = np.datetime64(parsed, "ns")
    return out


def _missing(spec: FeatureSpec, row: int) -> SignatureError:
    return SignatureError(
        f"feature {spec.name!r} is missing at row {row}, but the model was trained without "
        "missing values in it; send a value",
        feature=spec.name,
    )


def _type_error(spec: FeatureSpec, expected: str, value: Any, row: int, fix: str) -> SignatureError:
    if isinstance(value, np.generic):
        value = value.item()
    message = f"feature {spec.name!r} expects {expected}, got {value!r} at row {row}; {fix}"
    return SignatureError(message, feature=spec.name)
