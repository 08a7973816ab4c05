"""Records from a served frame: NaN becomes None, and huge or infinite values pass unchanged
without a numpy warning (the suite turns warnings into errors)."""

from __future__ import annotations

import numpy as np

from shipyard.predlog.record import records_for
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
