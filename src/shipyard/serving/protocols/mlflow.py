"""The MLflow scoring protocol codec (what ``mlflow models serve`` speaks), pure functions.

``POST /invocations`` takes ``Content-Type: application/json`` with exactly one of
``dataframe_split`` (``{"columns": [...], "data": [[...]]}``; ``index`` is ignored; without
``columns`` the values are in signature order), ``dataframe_records`` (``[{...}, ...]``),
``instances`` or ``inputs`` (as in :mod:`.v1`), plus optional ``params``; or ``text/csv`` (a
header row, then one row per line, as ``DataFrame.to_csv`` writes it: an unnamed first column is
the index and is dropped; pandas' default missing-value markers such as an empty field, ``NA`` or
``nan`` are missing values). Only UTF-8 is accepted (``charset`` may say so). The answer is
``{"predictions": [...]}``, labels as MLflow returns them for scikit-learn, or with
``"params": {"output": "probabilities"}`` (JSON only) one array of class probabilities per row.

Errors are MLflow's: ``{"error_code": "BAD_REQUEST", "message": "..."}``. Statuses follow the
rest of the server (400 body, 404 model, 413 size, 415 content type, 422 signature, 503 not
ready); :data:`ERROR_CODES` gives the MLflow error code for each.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from shipyard.errors import InvalidInputError
from shipyard.serving.frame import Array
from shipyard.serving.protocols import v1

__all__ = [
    "CONTENT_TYPES",
    "ERROR_CODES",
    "FORMATS",
    "UnsupportedMediaTypeError",
    "decode_invocation",
    "encode_error",
]

CONTENT_TYPES = ("application/json", "text/csv")
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "BAD_REQUEST",
    409: "RESOURCE_CONFLICT",
    413: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
    422: "INVALID_PARAMETER_VALUE",
    503: "TEMPORARILY_UNAVAILABLE",
}
# pandas.read_csv's default missing-value markers (MLflow parses CSV with it).
_NA = frozenset(
    [
        *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
        *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
    ]
)
_TRUE = frozenset(("True", "TRUE", "true"))
_FALSE = frozenset(("False", "FALSE", "false"))


class UnsupportedMediaTypeError(InvalidInputError):
    """The request's content type is not one the scoring protocol accepts (415)."""


def decode_invocation(
    body: bytes, content_type: str | None, features: Sequence[str], kinds: Mapping[str, str]
) -> v1.TableRequest:
    """Decode an ``/invocations`` body; ``kinds`` maps each feature to its signature kind
    (``numeric``, ``boolean``, ...), which CSV text needs to be read as numbers or booleans."""
    mime, _, rest = (content_type or "").partition(";")
    mime = mime.strip().lower()
    for parameter in rest.split(";") if rest.strip() else ():
        key, _, value = parameter.strip().partition("=")
        if key.strip().lower() != "charset":
            raise UnsupportedMediaTypeError(f"unrecognized content type parameter {key!r}")
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError("the scoring server only supports UTF-8")
    if mime == "application/json":
        return _decode_json(body, features)
    if mime == "text/csv":
        return v1.TableRequest(_decode_csv(body, features, kinds), proba=False)
    raise UnsupportedMediaTypeError(
        f"this predictor only supports the content types {', '.join(CONTENT_TYPES)}; got "
        f"{content_type or 'none'!r}"
    )


def _decode_json(body: bytes, features: Sequence[str]) -> v1.TableRequest:
    request = v1.loads(body)
    if type(request) is not dict:
        got = "a list" if type(request) is list else f"a {type(request).__name__}"
        raise InvalidInputError(
            "the input must be a JSON object with exactly one of the fields "
            f"{', '.join(FORMATS)}; received {got}"
        )
    given = [key for key in FORMATS if key in request]
    if len(given) != 1:
        raise InvalidInputError(
            f"the input must be a JSON object with exactly one of the fields {', '.join(FORMATS)}"
            f"; received the fields {', '.join(map(repr, request)) or 'none'}"
        )
    proba = v1.output_choice(request.get("params"), "params")
    key = given[0]
    value = request[key]
    if key == "dataframe_split":
        return v1.TableRequest(_split(value, features), proba)
    if key == "dataframe_records":
        if type(value) is not list or not value or type(value[0]) is not dict:
            raise InvalidInputError(
                "'dataframe_records' must be a non-empty array of objects keyed by feature name"
            )
        return v1.TableRequest(v1.from_records(value, features, key), proba)
    if key == "inputs" and type(value) is dict:
        return v1.TableRequest(v1.from_columns(value, key), proba)
    return v1.TableRequest(v1.table(value, features, key), proba)


def _split(value: Any, features: Sequence[str]) -> dict[str, Array]:
    where = "dataframe_split"
    if type(value) is not dict or type(value.get("data")) is not list or not value["data"]:
        raise InvalidInputError(
            f'{where!r} must be an object {{"columns": [names], "data": [[row], ...]}} with '
            "at least one row"
        )
    columns = value.get("columns")
    if columns is None:
        return v1.from_rows(value["data"], features, f"{where}.data", signature_order=True)
    if type(columns) is not list or not all(type(c) is str for c in columns):
        raise InvalidInputError(f"{where}.columns must be an array of feature names (strings)")
    if len(set(columns)) != len(columns):
        twice = next(c for c in columns if columns.count(c) > 1)
        raise InvalidInputError(f"{where}.columns names {twice!r} twice")
    return v1.from_rows(value["data"], columns, f"{where}.data", signature_order=False)


def _decode_csv(body: bytes, features: Sequence[str], kinds: Mapping[str, str]) -> dict[str, Array]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the CSV body is not valid UTF-8 text: {exc}") from None
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as exc:
        raise InvalidInputError(f"the CSV body cannot be parsed: {exc}") from None
    if not lines:
        raise InvalidInputError("the CSV body is empty; send a header row, then one row per line")
    header, rows = lines[0], lines[1:]
    skip = 1 if header[0] == "" else 0  # DataFrame.to_csv() writes the index first, unnamed
    names = header[skip:]
    if len(set(names)) != len(names) or "" in names:
        raise InvalidInputError("the CSV header must name each column once (no empty names)")
    width = len(header)
    for number, row in enumerate(rows, start=2):
        if len(row) > width:
            raise InvalidInputError(
                f"CSV row {number} has {len(row)} fields, but the header has {width}"
            )
    columns: dict[str, Array] = {}
    where = {name: j for j, name in enumerate(names, start=skip)}
    for name in v1.bounded(names, features):
        j = where[name]
        cells = [row[j] if j < len(row) else "" for row in rows]
        kind = kinds.get(name, "categorical")
        columns[name] = v1.column([_cell(cell, kind) for cell in cells], "CSV", name)
    return columns


def _cell(text: str, kind: str) -> Any:
    if text in _NA:
        return None
    if kind == "numeric":
        return _number(text)
    if kind == "boolean":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return _number(text)
    return text


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # validation names the feature and the row


def encode_error(status: int, message: str) -> bytes:
    return orjson.dumps(
        {"error_code": ERROR_CODES.get(status, "INTERNAL_ERROR"), "message": message}
    )
