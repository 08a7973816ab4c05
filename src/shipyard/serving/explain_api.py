"""Explanation endpoints: predictions together with their feature attributions.

Two request shapes, one answer shape::

    POST /v1/models/{name}:explain        {"instances": [[12, "monthly", ...], ...]}  (KServe V1:
                                          rows in signature order, records, or "inputs")
    POST /api/v1/models/{name}/explain    {"dataframe_records": [{"tenure_months": 12, ...}]}
                                          or {"instances": [{...}, ...]}

    200 {"model": "churn/3", "predictions": [1, 0],
         "explanations": [{"base_value": 0.26, "output": 0.71, "output_space": "probability",
                           "method": "tree", "class": 1,
                           "attributions": {"contract": 0.31, "tenure_months": 0.12, ...}}, ...]}

Attributions are per original feature and add up with ``base_value`` to ``output``, the model's
raw output (see :mod:`shipyard.explain`). A malformed body is a 400 naming the field, values that
break the signature a 422, a version that cannot be explained (no reference sample, shap
missing) a 409 saying why. The attributions are CPU work, so they run in a thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.errors import InvalidInputError, MissingDependencyError, SignatureError
from shipyard.serving.frame import Frame, validate_columns
from shipyard.serving.protocols import v1

if TYPE_CHECKING:
    from shipyard.serving.frame import Array
    from shipyard.serving.predictor import Predictor

__all__ = ["MAX_ROWS", "explain_records", "explain_v1"]

MAX_ROWS = 1_000
_RECORD_KEYS = ("dataframe_records", "instances")
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


async def explain_v1(predictor: Predictor, body: bytes) -> tuple[int, bytes]:
    """``POST /v1/models/{name}:explain``: a KServe V1 body in, predictions and explanations out."""
    try:
        request = v1.decode_predict(body, predictor.features)
    except SignatureError as exc:
        return _error(422, exc)
    except InvalidInputError as exc:
        return _error(400, exc)
    return await _answer(predictor, request.columns, request.proba)


async def explain_records(predictor: Predictor, body: bytes) -> tuple[int, bytes]:
    """``POST /api/v1/models/{name}/explain``: records in, predictions and explanations out."""
    try:
        columns = _records(body, predictor.features)
    except InvalidInputError as exc:
        return _error(400, exc)
    return await _answer(predictor, columns, False)


def _records(body: bytes, features: tuple[str, ...]) -> dict[str, Array]:
    request = v1.loads(body)
    example = '{"dataframe_records": [{"feature": value, ...}, ...]}'
    if type(request) is not dict:
        raise InvalidInputError(f"the request body must be a JSON object such as {example}")
    given = [key for key in _RECORD_KEYS if key in request]
    if len(given) != 1:
        raise InvalidInputError(
            "the request body must have exactly one of 'dataframe_records' and 'instances' "
            f"(a list of records, objects by feature name), as in {example}"
        )
    key = given[0]
    records = request[key]
    if type(records) is not list or not records:
        raise InvalidInputError(f"{key!r} must be a non-empty list of records, as in {example}")
    if type(records[0]) is not dict:
        raise InvalidInputError(f"{key}[0] must be an object keyed by feature name")
    return v1.from_records(records, features, key)


async def _answer(
    predictor: Predictor, columns: dict[str, Array], proba: bool
) -> tuple[int, bytes]:
    if proba and not predictor.has_proba:
        return _error(
            400, InvalidInputError(f"{predictor.ref} has no class probabilities; ask for labels")
        )
    try:
        frame = validate_columns(predictor.signature, columns)
    except SignatureError as exc:
        return _error(422, exc)
    except InvalidInputError as exc:
        return _error(400, exc)
    if frame.n_rows > MAX_ROWS:
        message = f"explain at most {MAX_ROWS} rows per request; this one has {frame.n_rows}"
        return _error(400, InvalidInputError(message))
    try:
        answer = await asyncio.to_thread(_compute, predictor, frame, proba)
    except (InvalidInputError, MissingDependencyError) as exc:
        return _error(409, exc)
    return 200, orjson.dumps(answer, option=_OPTIONS)


def _compute(predictor: Predictor, frame: Frame, proba: bool) -> dict[str, Any]:
    from shipyard.explain.api import explainer_for

    explainer = explainer_for(predictor.model)
    outputs = predictor.predict(frame, proba=proba)
    table = predictor._dataframe(frame)
    explanation = explainer.explain(table)
    predictions: Any = (
        outputs.probabilities
        if proba and outputs.probabilities is not None
        else v1.labels_json(outputs.labels)
    )
    return {
        "model": predictor.ref,
        "predictions": predictions,
        "explanations": explanation.to_records(),
    }


def _error(status: int, exc: Exception) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": str(exc)})
