"""One logged prediction row, and turning a served batch into rows (pure: no I/O).

A request of *n* rows gives *n* records that share the request id; (request id, row index) is
unique in the store, so a retried request is recorded once.

The server does not build records on the event loop: it hands the log one
:class:`ServedRequest` (the validated frame and the outputs, as they are), and the log's writer
thread turns it into store rows with :func:`row_tuples`, off the requests' path.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from shipyard.errors import InvalidInputError

__all__ = [
    "ROW_COLUMNS",
    "PredictionRecord",
    "ServedRequest",
    "records_for",
    "row_tuples",
    "row_tuples_many",
    "to_row",
]

JSONScalar = str | int | float | bool | None
MAX_ID = 128
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
ROW_COLUMNS = (
    "request_id", "row_index", "ts_us", "endpoint", "model", "version", "variant", "inputs",
    "label", "probabilities", "latency_ms",
)  # fmt: skip
"""The store's columns, in the order :func:`row_tuples` gives them (the store checks it)."""


@dataclass(slots=True)
class PredictionRecord:
    """One row a version answered. ``time`` is seconds since the epoch (UTC);
    ``probabilities`` maps each class (as text) to its probability. (Not a frozen dataclass:
    the server makes one per answered row, and freezing triples the cost of making it.)"""

    request_id: str
    row_index: int
    endpoint: str
    model: str
    version: int
    inputs: Mapping[str, Any]
    label: Any
    probabilities: Mapping[str, float] | None = None
    variant: str = "main"
    latency_ms: float = 0.0
    time: float = field(default_factory=_time.time)


class _Redactor(Protocol):
    def apply(self, model: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]: ...
    def redacts(self, model: str) -> bool: ...


class _Columns(Protocol):
    @property
    def columns(self) -> dict[str, Any]: ...
    @property
    def names(self) -> tuple[str, ...]: ...


class _Outputs(Protocol):
    @property
    def labels(self) -> Any: ...
    @property
    def probabilities(self) -> Any: ...
    @property
    def classes(self) -> tuple[Any, ...] | None: ...


@dataclass(slots=True)
class ServedRequest:
    """One answered request as the server had it: its validated frame (a
    :class:`~shipyard.serving.frame.Frame`) and the :class:`~shipyard.serving.predictor.Outputs`
    it got, neither changed afterwards. Its rows are made later, in the log's writer thread."""

    request_id: str
    frame: _Columns
    outputs: _Outputs
    endpoint: str
    model: str
    version: int
    variant: str = "main"
    latency_ms: float = 0.0
    time: float = field(default_factory=_time.time)

    @property
    def n_rows(self) -> int:
        return len(self.outputs.labels)

    def records(self) -> list[PredictionRecord]:
        return records_for(
            self.request_id, self.frame, self.outputs, endpoint=self.endpoint, model=self.model,
            version=self.version, variant=self.variant, latency_ms=self.latency_ms,
            time=self.time,
        )  # fmt: skip


def row_tuples(served: ServedRequest, redactor: _Redactor | None = None) -> list[tuple[Any, ...]]:
    """The store rows of one served request, as tuples in :data:`ROW_COLUMNS` order, inputs
    redacted by ``redactor``: what :func:`to_row` gives for each of its :func:`records_for`,
    without making a record per row. Raises ``InvalidInputError`` as :func:`to_row` does."""
    request_id = _checked_id(served.request_id)
    names, rows = _input_rows(served.frame)
    outputs = served.outputs
    labels = _plain(outputs.labels)
    probabilities = None if outputs.probabilities is None else _plain(outputs.probabilities)
    classes = _class_names(outputs.classes)
    head = (request_id,)
    tail = (round(served.time * 1_000_000), served.endpoint, served.model, int(served.version))
    model, variant, latency = served.model, served.variant, float(served.latency_ms)
    dumps = orjson.dumps
    out = []
    try:
        for i, label in enumerate(labels):
            inputs: Mapping[str, Any] = dict(zip(names, rows[i], strict=False))
            if redactor is not None:
                inputs = redactor.apply(model, inputs)
            proba = (
                None
                if probabilities is None
                else dumps(dict(zip(classes, probabilities[i], strict=False))).decode()
            )
            out.append(
                (
                    *head, i, *tail, variant, dumps(inputs, option=_NUMPY).decode(),
                    dumps(label, option=_NUMPY).decode(), proba, latency,
                )
            )  # fmt: skip
    except TypeError as exc:
        raise InvalidInputError(
            f"prediction record {request_id}/{len(out)} is not JSON-able: {exc}; "
            "log plain numbers, strings, booleans or None"
        ) from exc
    return out


def row_tuples_many(
    batch: Sequence[ServedRequest], redactor: _Redactor | None = None
) -> list[tuple[Any, ...]]:
    """:func:`row_tuples` of every request in ``batch``, in order, made together: a run of
    requests that each hold one float64 matrix with the same features, classes and model (what
    the server's fast path gives) converts with one ``tolist`` per array for the whole run instead
    of a handful of numpy calls per request.
    Raises as :func:`row_tuples` does for any request of the batch (the caller can then make
    the requests one at a time to find it)."""
    out: list[tuple[Any, ...]] = []
    start, n = 0, len(batch)
    while start < n:
        end = _run_end(batch, start, redactor)
        if end - start < 2:
            out.extend(row_tuples(batch[start], redactor))
            start += 1
            continue
        out.extend(_run_rows(batch[start:end]))
        start = end
    return out


def _run_end(batch: Sequence[ServedRequest], start: int, redactor: _Redactor | None) -> int:
    """The end of the run from ``start`` that :func:`_run_rows` can make together."""
    first = batch[start]
    matrix = getattr(first.frame, "matrix", None)
    if matrix is None or matrix.dtype != np.float64:
        return start + 1
    if redactor is not None and redactor.redacts(first.model):
        return start + 1
    names, model = first.frame.names, first.model
    outputs = first.outputs
    classes, proba = outputs.classes, outputs.probabilities is None
    kind = outputs.labels.dtype
    end = start + 1
    for served in batch[start + 1 :]:
        other = served.outputs
        m = getattr(served.frame, "matrix", None)
        if (
            m is None
            or m.dtype != np.float64
            or served.model != model
            or served.frame.names != names
            or other.classes != classes
            or (other.probabilities is None) != proba
            or other.labels.dtype != kind
        ):
            break
        end += 1
    return end


def _run_rows(run: Sequence[ServedRequest]) -> list[tuple[Any, ...]]:
    """The rows of a run found by :func:`_run_end` (same features, classes, model)."""
    first = run[0]
    names = first.frame.names
    block = np.concatenate([s.frame.matrix for s in run])  # type: ignore[attr-defined]
    values: list[list[Any]] = block.tolist()
    if np.isnan(block).any():
        values = [[None if v != v else v for v in row] for row in values]
    labels = _plain(np.concatenate([s.outputs.labels for s in run]))
    has_proba = first.outputs.probabilities is not None
    probabilities = (
        _plain(np.concatenate([s.outputs.probabilities for s in run])) if has_proba else None
    )
    classes = _class_names(first.outputs.classes)
    dumps = orjson.dumps
    out: list[tuple[Any, ...]] = []
    k = 0
    try:
        for served in run:
            request_id = _checked_id(served.request_id)
            ts = round(served.time * 1_000_000)
            endpoint, model, version = served.endpoint, served.model, int(served.version)
            variant, latency = served.variant, float(served.latency_ms)
            for i in range(len(served.outputs.labels)):
                proba = (
                    None
                    if probabilities is None
                    else dumps(dict(zip(classes, probabilities[k], strict=False))).decode()
                )
                out.append(
                    (
                        request_id, i, ts, endpoint, model, version, variant,
                        dumps(dict(zip(names, values[k], strict=False))).decode(),
                        dumps(labels[k], option=_NUMPY).decode(), proba, latency,
                    )
                )  # fmt: skip
                k += 1
    except TypeError as exc:
        raise InvalidInputError(
            f"prediction records of {len(run)} requests are not JSON-able: {exc}; "
            "log plain numbers, strings, booleans or None"
        ) from exc
    return out


def records_for(
    request_id: str,
    frame: _Columns,
    outputs: _Outputs,
    *,
    endpoint: str,
    model: str,
    version: int,
    variant: str = "main",
    latency_ms: float = 0.0,
    time: float | None = None,
) -> list[PredictionRecord]:
    """The records of one served request: a :class:`~shipyard.serving.frame.Frame` and the
    :class:`~shipyard.serving.predictor.Outputs` it got (numpy values become Python ones)."""
    when = _time.time() if time is None else time
    names, rows = _input_rows(frame)
    labels = _plain(outputs.labels)
    probabilities = None if outputs.probabilities is None else _plain(outputs.probabilities)
    classes = _class_names(outputs.classes)
    records = []
    for i, label in enumerate(labels):
        inputs = dict(zip(names, rows[i], strict=False))  # one row: as many values as names
        proba = (
            None if probabilities is None else dict(zip(classes, probabilities[i], strict=False))
        )
        records.append(
            PredictionRecord(
                request_id, i, endpoint, model, version, inputs, label, proba, variant,
                latency_ms, when,
            )
        )  # fmt: skip
    return records


def to_row(record: PredictionRecord, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The store row of a record whose ``inputs`` were already redacted. Raises
    ``InvalidInputError`` in the caller's thread for a value the store cannot take."""
    _checked_id(record.request_id)
    try:
        inputs_json = orjson.dumps(inputs, option=orjson.OPT_SERIALIZE_NUMPY)
        label_json = orjson.dumps(record.label, option=orjson.OPT_SERIALIZE_NUMPY)
        proba_json = (
            None
            if record.probabilities is None
            else orjson.dumps(record.probabilities, option=orjson.OPT_SERIALIZE_NUMPY)
        )
    except TypeError as exc:
        raise InvalidInputError(
            f"prediction record {record.request_id}/{record.row_index} is not JSON-able: {exc}; "
            "log plain numbers, strings, booleans or None"
        ) from exc
    return {
        "request_id": record.request_id,
        "row_index": int(record.row_index),
        "ts_us": round(record.time * 1_000_000),
        "endpoint": record.endpoint,
        "model": record.model,
        "version": int(record.version),
        "variant": record.variant,
        "inputs": inputs_json.decode(),
        "label": label_json.decode(),
        "probabilities": None if proba_json is None else proba_json.decode(),
        "latency_ms": float(record.latency_ms),
    }


def _checked_id(request_id: str) -> str:
    """``request_id``, if the store can key a row by it."""
    if not 0 < len(request_id) <= MAX_ID:
        raise InvalidInputError(f"request id must be 1-{MAX_ID} characters, got {request_id!r}")
    return request_id


def _input_rows(frame: _Columns) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
    """The feature names and one sequence of Python values per row. A frame that holds one
    float64 matrix (the fast path of a single numeric tensor) converts in one ``tolist``
    instead of a column at a time; NaN (a missing value) becomes None either way."""
    matrix = getattr(frame, "matrix", None)
    if matrix is not None:
        rows: list[list[Any]] = matrix.tolist()
        if matrix.dtype.kind == "f" and _has_nan(rows, 2):
            rows = [[None if v != v else v for v in row] for row in rows]
        return frame.names, rows
    columns = frame.columns
    return tuple(columns), list(zip(*(_plain(values) for values in columns.values()), strict=True))


def _plain(values: Any) -> list[Any]:
    """A column as Python values; NaN (a missing value) becomes None, as JSON needs."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        plain: list[Any] = values.tolist()  # no NaN in integers or booleans
        return plain
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        items: list[Any] = values.tolist()
        if not _has_nan(items, values.ndim):
            return items
        return [_nan_to_none(v) for v in items]
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    return [_nan_to_none(v) for v in items]


def _has_nan(items: list[Any], ndim: int) -> bool:
    """Whether a float array's ``tolist()`` holds a NaN: one Python sum (NaN propagates; an
    infinity minus another also gives NaN, which only sends the values the slow way), cheaper
    for a request's few values than a numpy reduction's call."""
    if ndim == 1:
        total = sum(items)
    elif ndim == 2:
        total = sum(map(sum, items))
    else:
        return bool(np.isnan(np.asarray(items, dtype=np.float64)).any())
    return bool(total != total)


_CLASS_NAMES: dict[tuple[Any, ...], list[str]] = {}


def _class_names(classes: tuple[Any, ...] | None) -> list[str]:
    """The classes as text (the keys of a record's probabilities), remembered per model."""
    if not classes:
        return []
    found = _CLASS_NAMES.get(classes)
    if found is None:
        found = [str(c) for c in _plain(classes)]
        if len(_CLASS_NAMES) < 256:
            _CLASS_NAMES[classes] = found
    return found


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value
