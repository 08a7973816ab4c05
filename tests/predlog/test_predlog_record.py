"""Records from a served frame: NaN becomes None, and huge or infinite values pass unchanged
without a numpy warning (the suite turns warnings into errors)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from shipyard.errors import InvalidInputError
from shipyard.predlog.record import (
    ROW_COLUMNS,
    ServedRequest,
    records_for,
    row_tuples,
    row_tuples_many,
    to_row,
)
from shipyard.predlog.redact import Redactor
from shipyard.serving.frame import Frame
from shipyard.serving.predictor import Outputs

NAMES = ("a", "b", "c")


def _records(matrix: np.ndarray, outputs: Outputs) -> list:
    frame = Frame(None, matrix.shape[0], "req", matrix=matrix, names=NAMES)
    return records_for("req", frame, outputs, endpoint="e", model="m", version=1)


def test_huge_values_are_kept_as_they_are() -> None:
    matrix = np.array([[1e308, 1e308, -1e308], [np.inf, 1.0, -np.inf]])
    outputs = Outputs(np.array([1e308, 2.5]), np.array([[1e308, 1e308], [0.5, 0.5]]), (0, 1))
    first, second = _records(matrix, outputs)
    assert first.inputs == {"a": 1e308, "b": 1e308, "c": -1e308}
    assert second.inputs == {"a": np.inf, "b": 1.0, "c": -np.inf}
    assert (first.label, second.label) == (1e308, 2.5)
    assert first.probabilities == {"0": 1e308, "1": 1e308}


def test_nan_becomes_none_in_inputs_labels_and_probabilities() -> None:
    matrix = np.array([[np.nan, 2.0, 3.0], [4.0, 5.0, 6.0]])
    outputs = Outputs(np.array([np.nan, 1.0]), np.array([[np.nan, 0.7], [0.2, 0.8]]), ("x", "y"))
    first, second = _records(matrix, outputs)
    assert first.inputs == {"a": None, "b": 2.0, "c": 3.0}
    assert second.inputs == {"a": 4.0, "b": 5.0, "c": 6.0}
    assert (first.label, second.label) == (None, 1.0)
    assert first.probabilities == {"x": None, "y": 0.7}
    assert second.probabilities == {"x": 0.2, "y": 0.8}


def test_integer_labels_stay_integers() -> None:
    (record,) = _records(np.array([[1.0, 2.0, 3.0]]), Outputs(np.array([3])))
    assert record.label == 3 and type(record.label) is int
    assert record.probabilities is None


def test_row_tuples_are_the_records_rows_without_the_records() -> None:
    """What the writer thread makes from a served request equals what to_row makes from each
    of its records: redaction, NaN, huge values and class names included."""
    matrix = np.array([[np.nan, 2.0, 1e308], [4.0, -np.inf, 6.0], [7.0, 8.0, 9.0]])
    outputs = Outputs(
        np.array([1.0, np.nan, 0.0]), np.array([[np.nan, 0.7], [0.2, 0.8], [1.0, 0.0]]), (0, 1)
    )
    frame = Frame(None, 3, "req", matrix=matrix, names=NAMES)
    served = ServedRequest("req-7", frame, outputs, "e", "m", 2, "canary", 1.25, 1_700_000_000.5)
    redactor = Redactor(b"salt", {"m": {"a": "hash", "c": "drop"}})
    expected = [
        tuple(to_row(r, redactor.apply(r.model, r.inputs))[c] for c in ROW_COLUMNS)
        for r in served.records()
    ]
    made = row_tuples(served, redactor)
    assert made == expected and len(made) == 3
    assert made[0][:7] == ("req-7", 0, 1_700_000_000_500_000, "e", "m", 2, "canary")
    assert orjson.loads(made[0][7]) == {"a": None, "b": 2.0}  # a was missing: None, not hashed
    assert orjson.loads(made[1][8]) is None and orjson.loads(made[0][9]) == {"0": None, "1": 0.7}
    columns = Frame({"a": np.array([1]), "b": np.array([2.5]), "c": np.array([3])}, 1, "req")
    served = ServedRequest("req-8", columns, Outputs(np.array(["yes"])), "e", "m", 2)
    (row,) = row_tuples(served)
    assert (row[7], row[8], row[9]) == ('{"a":1,"b":2.5,"c":3}', '"yes"', None)


def test_row_tuples_refuse_what_the_store_cannot_hold() -> None:
    frame = Frame(None, 1, "req", matrix=np.array([[1.0, 2.0, 3.0]]), names=NAMES)
    odd = Outputs(np.array([object()], dtype=object))
    with pytest.raises(InvalidInputError, match="not JSON-able"):
        row_tuples(ServedRequest("req", frame, odd, "e", "m", 1))
    with pytest.raises(InvalidInputError, match="request id"):
        row_tuples(ServedRequest("x" * 200, frame, Outputs(np.array([1])), "e", "m", 1))


def _served(
    request_id: str, matrix: np.ndarray, outputs: Outputs, model: str = "m"
) -> ServedRequest:
    frame = Frame(None, matrix.shape[0], request_id, matrix=matrix, names=NAMES)
    return ServedRequest(request_id, frame, outputs, "e", model, 2, "main", 0.5, 1_700_000_000.25)


def test_rows_of_many_requests_equal_their_rows_one_at_a_time() -> None:
    """Runs of like requests are made together; requests that differ (other model, classes,
    no probabilities, redacted features, a columns frame) break the run; the rows are the
    same, in order, either way."""
    rng = np.random.default_rng(3)
    proba = Outputs(np.array([1, 0]), rng.random((2, 2)), (0, 1))
    batch = [
        _served("r1", rng.normal(size=(2, 3)), proba),
        _served("r2", np.array([[np.nan, 1.0, np.inf], [2.0, 3.0, 4.0]]), proba),
        _served("r3", rng.normal(size=(1, 3)), Outputs(np.array([0]), np.array([[0.4, 0.6]]), (0, 1))),
        _served("r4", rng.normal(size=(1, 3)), Outputs(np.array([1]))),  # no probabilities
        _served("r5", rng.normal(size=(1, 3)), Outputs(np.array(["a"]), None, None)),
        _served("r6", rng.normal(size=(1, 3)), Outputs(np.array(["b"]), None, None)),
        _served("r7", rng.normal(size=(1, 3)), Outputs(np.array([1.5])), model="hidden"),
        ServedRequest("r8", Frame({"a": np.array([1]), "b": np.array([2.5]), "c": np.array([3])}, 1),
                      Outputs(np.array([0])), "e", "m", 2),
        _served("r9", rng.normal(size=(1, 3)), Outputs(np.array([np.nan, 2.0])[:1])),
        _served("r10", rng.normal(size=(1, 3)), Outputs(np.array([np.nan, 2.0])[1:])),
    ]  # fmt: skip
    redactor = Redactor(b"salt", {"hidden": {"a": "drop"}})
    one_at_a_time = [row for served in batch for row in row_tuples(served, redactor)]
    together = row_tuples_many(batch, redactor)
    assert together == one_at_a_time and len(together) == 12
    assert orjson.loads(together[2][7]) == {"a": None, "b": 1.0, "c": None}  # NaN, infinity
    assert [row[8] for row in together[-2:]] == ["null", "2.0"]


def test_rows_of_many_requests_refuse_what_the_store_cannot_hold() -> None:
    ok = Outputs(np.array([1]))
    batch = [_served("r1", np.ones((1, 3)), ok), _served("x" * 200, np.ones((1, 3)), ok)]
    with pytest.raises(InvalidInputError, match="request id"):
        row_tuples_many(batch)
