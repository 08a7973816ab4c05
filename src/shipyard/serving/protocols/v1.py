"""The KServe V1 (TF Serving style) REST codec, and the JSON table decoding MLflow shares.

``POST /v1/models/{name}:predict`` takes a JSON object with exactly one of:

- ``instances``: rows, each an array of the feature values in signature order
  (``[[12, "monthly", ...], ...]``), or records, each an object keyed by feature name
  (``[{"tenure_months": 12, ...}, ...]``; a feature absent from a record is a missing value);
- ``inputs``: the same rows or records, or columns (``{"tenure_months": [12, 30], ...}``).

and optionally ``"parameters": {"output": "label" | "probabilities"}``. The answer is
``{"predictions": [...]}``: one label per row by default (as ``mlflow models serve`` answers for
scikit-learn), or with ``"output": "probabilities"`` one array per row of class probabilities, in
the class order the V2 model metadata lists under ``parameters.classes``.

Everything here is pure: bytes in, columns (one 1-D numpy array per name) out, and back. A body
that cannot be parsed or breaks the format raises ``InvalidInputError`` (400); a row whose length
does not fit the features raises ``SignatureError`` (422); everything else about the values is
judged by :func:`shipyard.serving.frame.validate_columns`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.serving.frame import Array
from shipyard.serving.predictor import Outputs

__all__ = [
    "OUTPUTS",
    "TableRequest",
    "bounded",
    "column",
    "decode_predict",
    "encode_model",
    "encode_models",
    "encode_predictions",
    "from_columns",
    "from_records",
    "from_rows",
    "labels_json",
    "loads",
    "output_choice",
    "table",
]

OUTPUTS = ("label", "probabilities")
"""Values of the ``output`` request parameter (V1 ``parameters``, MLflow ``params``)."""
_SCALARS = (str, int, float, bool, type(None))
_UNKNOWN_KEPT = 8
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True, slots=True)
class TableRequest:
    """A decoded tabular request: columns by name, and whether probabilities were asked for."""

    columns: dict[str, Array]
    proba: bool


def loads(body: bytes) -> Any:
    """Parse JSON with orjson; fall back to the standard library for the ``NaN``/``Infinity``
    tokens that Python's ``json.dumps`` writes (pandas' missing values), which orjson refuses."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error: Exception = exc
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InvalidInputError("the request body is not valid UTF-8 text") from None
    except (ValueError, RecursionError):
        raise InvalidInputError(f"the request body is not valid JSON: {error}") from None


def output_choice(parameters: Any, key: str) -> bool:
    """True when ``parameters`` (the body's ``key`` object) asks for probabilities."""
    if parameters is None:
        return False
    if type(parameters) is not dict:
        raise InvalidInputError(f'{key!r} must be a JSON object, such as {{"output": "label"}}')
    output = parameters.get("output", "label")
    if output not in OUTPUTS:
        raise InvalidInputError(
            f"{key}.output must be one of {', '.join(map(repr, OUTPUTS))}, got {output!r}"
        )
    return bool(output == "probabilities")


def decode_predict(body: bytes, features: Sequence[str]) -> TableRequest:
    """Decode a V1 ``:predict`` body into columns."""
    request = loads(body)
    if type(request) is not dict:
        raise InvalidInputError(
            "the request body must be a JSON object with 'instances' or 'inputs'"
        )
    given = [key for key in ("instances", "inputs") if key in request]
    if len(given) != 1:
        raise InvalidInputError(
            "the request body must have exactly one of 'instances' (rows or records) and "
            f"'inputs' (rows, records or columns); it has {'both' if given else 'neither'}"
        )
    proba = output_choice(request.get("parameters"), "parameters")
    key = given[0]
    value = request[key]
    if key == "inputs" and type(value) is dict:
        return TableRequest(from_columns(value, key), proba)
    return TableRequest(table(value, features, key), proba)


def table(value: Any, features: Sequence[str], where: str) -> dict[str, Array]:
    """Rows (arrays in signature order) or records (objects), told apart by the first item."""
    if type(value) is not list or not value:
        raise InvalidInputError(
            f"{where!r} must be a non-empty array of rows (arrays of the feature values in "
            f"signature order: {', '.join(features)}) or of records (objects by feature name)"
        )
    first = value[0]
    if type(first) is dict:
        return from_records(value, features, where)
    if type(first) is list:
        return from_rows(value, features, where, signature_order=True)
    if len(features) == 1:  # one feature: a bare list of its values
        return {features[0]: column(value, where, features[0])}
    raise InvalidInputError(
        f"{where}[0] must be a row (an array) or a record (an object), got {_kind(first)}"
    )


def from_rows(
    rows: list[Any], names: Sequence[str], where: str, *, signature_order: bool
) -> dict[str, Array]:
    """Columns from rows of values in the order of ``names`` (the signature's features, or the
    columns a request listed)."""
    width = len(names)
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise InvalidInputError(f"{where}[{i}] must be an array of values, got {_kind(row)}")
        if len(row) != width:
            message = f"{where}[{i}] has {len(row)} values, but " + (
                f"the model expects {width} features, in this order: {', '.join(names)}"
                if signature_order
                else f"{width} columns are named"
            )
            raise SignatureError(message) if signature_order else InvalidInputError(message)
    if width == 0:
        return {}
    return {
        name: column(list(values), where, name)
        for name, values in zip(names, zip(*rows, strict=True), strict=True)
    }


def from_records(records: list[Any], features: Sequence[str], where: str) -> dict[str, Array]:
    """Columns from objects keyed by feature name; a key absent from a record is missing there."""
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidInputError(f"{where}[{i}] must be an object, as {where}[0] is")
        names.update(dict.fromkeys(record))
    return {
        name: column([r.get(name) for r in records], where, name)
        for name in bounded(names, features)
    }


def bounded(names: Iterable[str], features: Sequence[str]) -> list[str]:
    """The names that are features, and the first few that are not (enough for validation to
    name them): rows times names stays bounded by rows times features, whatever a body holds."""
    known = set(features)
    unknown = [name for name in names if name not in known][:_UNKNOWN_KEPT]
    return [name for name in names if name in known] + unknown


def from_columns(columns: dict[str, Any], where: str) -> dict[str, Array]:
    """Columns given as ``{name: [values]}`` (a scalar is a column of one row)."""
    if not columns:
        raise InvalidInputError(f"{where!r} must name at least one feature")
    return {
        name: column(values if type(values) is list else [values], where, name)
        for name, values in columns.items()
    }


def column(values: list[Any], where: str, name: str) -> Array:
    """One 1-D array of JSON scalars: numeric when they all are numbers, else objects."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError, OverflowError):  # ragged nesting, huge integers
        array = np.empty(0, dtype=object)
    if array.ndim == 1 and array.dtype.kind in "iuf" and len(array) == len(values):
        if not any(v.__class__ is bool for v in values):  # numpy reads [true, 2] as [1, 2]
            return array
    elif array.ndim == 1 and array.dtype.kind == "b":
        return array
    for row, value in enumerate(values):
        if not isinstance(value, _SCALARS):
            raise InvalidInputError(
                f"{where}: the value of {name!r} at row {row} must be a number, string, boolean "
                f"or null, got {_kind(value)}"
            )
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def labels_json(array: Array) -> Any:
    """Labels as orjson serialises them: a numeric or boolean array natively, else a list."""
    if array.dtype.kind in "iufb":
        return np.ascontiguousarray(array)
    return [
        v if isinstance(v, str | bool | int | float) or v is None else str(v)
        for v in array.tolist()
    ]


def encode_predictions(outputs: Outputs, proba: bool) -> bytes:
    """``{"predictions": [...]}``: labels, or per-row class probabilities when ``proba``."""
    if proba and outputs.probabilities is not None:
        predictions: Any = np.ascontiguousarray(outputs.probabilities, dtype=np.float64)
    else:
        predictions = labels_json(outputs.labels)
    return orjson.dumps({"predictions": predictions}, option=_NUMPY)


def encode_models(names: Sequence[str]) -> bytes:
    return orjson.dumps({"models": list(names)})


def encode_model(name: str, ready: bool) -> bytes:
    return orjson.dumps({"name": name, "ready": ready})
