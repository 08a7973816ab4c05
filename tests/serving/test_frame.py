"""validate_columns: decoded columns checked against a signature, with numpy alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.errors import SignatureError
from shipyard.registry.signature import FeatureSpec, Signature
from shipyard.serving.frame import Frame, validate_columns, validate_matrix

SIGNATURE = Signature(
    inputs=(
        FeatureSpec("tenure", "int64", "numeric", False),
        FeatureSpec("charges", "float64", "numeric", False),
        FeatureSpec("usage", "float64", "numeric", True),
        FeatureSpec("contract", "string", "categorical", False, levels=("monthly", "yearly")),
        FeatureSpec("paperless", "bool", "boolean", False),
    )
)


def columns(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenure": np.array([1, 24]),
        "charges": np.array([20.5, 99.0]),
        "usage": np.array([1.0, np.nan]),
        "contract": np.array(["monthly", "yearly"], dtype=object),
        "paperless": np.array([True, False]),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def error(**changes: Any) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        validate_columns(SIGNATURE, columns(**changes))
    return info.value


def test_valid_columns_become_a_frame_in_signature_order() -> None:
    given = columns()
    shuffled = dict(reversed(list(given.items())))
    frame = validate_columns(SIGNATURE, shuffled, "req-1")
    assert isinstance(frame, Frame)
    assert list(frame.columns) == ["tenure", "charges", "usage", "contract", "paperless"]
    assert frame.n_rows == 2 and frame.request_id == "req-1"
    assert frame.columns["tenure"].dtype == np.int64
    assert frame.columns["paperless"].dtype == bool
    assert np.isnan(frame.columns["usage"][1])  # nullable: NaN is a missing value


def test_missing_feature_is_named_with_the_expected_list() -> None:
    exc = error(charges=None)
    assert exc.feature == "charges"
    assert "missing feature 'charges'" in str(exc)
    assert "tenure, charges, usage, contract, paperless" in str(exc)


def test_unknown_inputs_are_refused_and_the_features_listed() -> None:
    exc = error(colour=np.array(["red", "blue"], dtype=object))
    assert exc.feature == "colour"
    assert "unknown input 'colour'" in str(exc) and "features are: tenure" in str(exc)


@pytest.mark.parametrize(
    ("feature", "values", "expected"),
    [
        ("charges", np.array(["20.5", "3"], dtype=object), "expects numbers, got '20.5' at row 0"),
        ("charges", np.array([True, False]), "expects numbers, got True"),
        ("tenure", np.array([1.0, 2.5]), "expects whole numbers (int64), got 2.5 at row 1"),
        ("tenure", np.array([1.0, 1e300]), "whole numbers (int64)"),
        ("contract", np.array([1, 2]), "expects text, got 1 at row 0"),
        ("contract", np.array(["monthly", 3], dtype=object), "expects text, got 3 at row 1"),
        ("contract", np.array(["monthly", None], dtype=object), "missing at row 1"),
        ("paperless", np.array([0, 2]), "expects booleans, got 2 at row 1"),
        ("paperless", np.array(["yes", "no"], dtype=object), "expects booleans, got 'yes'"),
    ],
)
def test_wrong_types_name_the_feature_and_row(feature: str, values: Any, expected: str) -> None:
    exc = error(**{feature: values})
    assert exc.feature == feature
    assert expected in str(exc)


def test_non_finite_numbers_are_refused_where_the_signature_forbids_them() -> None:
    assert "'charges' is missing at row 1" in str(error(charges=np.array([1.0, np.nan])))
    assert "'charges' is not finite at row 0" in str(error(charges=np.array([np.inf, 1.0])))
    assert "'usage' is not finite" in str(error(usage=np.array([1.0, -np.inf])))


def test_lenient_where_the_model_decides() -> None:
    frame = validate_columns(
        SIGNATURE,
        columns(
            tenure=np.array([3.0, 4.0]),  # whole floats for an integer feature
            contract=np.array(["weekly", "monthly"], dtype=object),  # an unknown level
            paperless=np.array([1, 0]),  # 0/1 for a boolean
            usage=np.array([None, 2], dtype=object),  # null for a nullable number
        ),
    )
    assert frame.columns["tenure"].tolist() == [3, 4]
    assert frame.columns["paperless"].tolist() == [True, False]
    assert np.isnan(frame.columns["usage"][0])


def test_strict_levels_refuse_unknown_levels() -> None:
    cols = columns(contract=np.array(["weekly", "monthly"], dtype=object))
    with pytest.raises(SignatureError, match="unknown level 'weekly' at row 0"):
        validate_columns(SIGNATURE, cols, strict_levels=True)


def test_ragged_and_empty_columns_are_refused() -> None:
    exc = error(charges=np.array([1.0]))
    assert exc.feature == "charges" and "one value per row" in str(exc)
    empty = {k: v[:0] for k, v in columns().items()}
    with pytest.raises(SignatureError, match="empty input"):
        validate_columns(SIGNATURE, empty)


def test_datetime_features_take_iso_text() -> None:
    signature = Signature(
        inputs=(
            FeatureSpec("at", "datetime64[ns]", "datetime", False),
            FeatureSpec("seen", "datetime64[ns, UTC]", "datetime", True),
        )
    )
    frame = validate_columns(
        signature,
        {
            "at": np.array(["2024-05-01T12:00:00"], dtype=object),
            "seen": np.array(["2024-05-01T14:00:00+02:00"], dtype=object),
        },
    )
    assert frame.columns["at"][0] == np.datetime64("2024-05-01T12:00:00")
    assert frame.columns["seen"][0] == np.datetime64("2024-05-01T12:00:00")  # held as UTC
    with pytest.raises(SignatureError, match="'at' expects date-times without a UTC offset"):
        validate_columns(
            signature,
            {
                "at": np.array(["2024-05-01T12:00:00+00:00"], dtype=object),
                "seen": np.array([None], dtype=object),
            },
        )
    with pytest.raises(SignatureError, match="'at' expects date-times, got 'soon'"):
        validate_columns(
            signature,
            {"at": np.array(["soon"], dtype=object), "seen": np.array([None], dtype=object)},
        )


# -- the matrix fast path: one [rows, features] block for an all-float64 signature ----------

DENSE = Signature(
    inputs=(
        FeatureSpec("x", "float64", "numeric", False),
        FeatureSpec("y", "float64", "numeric", True),
        FeatureSpec("z", "float64", "numeric", False),
    )
)


def _split(matrix: Any, names: tuple[str, ...] = ("x", "y", "z")) -> dict[str, Any]:
    return {name: matrix[:, j] for j, name in enumerate(names)}


def test_a_finite_matrix_is_validated_whole_and_kept() -> None:
    matrix = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    frame = validate_matrix(DENSE, matrix, "req-m")
    assert frame.matrix is not None and frame.matrix.flags.c_contiguous
    assert frame.matrix.dtype == np.float64 and frame.n_rows == 2 and frame.request_id == "req-m"
    general = validate_columns(DENSE, _split(matrix))
    assert list(frame.columns) == list(general.columns) == ["x", "y", "z"]
    for name in general.columns:
        assert frame.columns[name].dtype == general.columns[name].dtype
        assert frame.columns[name].tolist() == general.columns[name].tolist()
    ints = validate_columns(DENSE, np.array([[1, 2, 3]]))  # a matrix goes the same way
    assert ints.matrix is not None and ints.matrix.dtype == np.float64
    assert ints.matrix.tolist() == [[1.0, 2.0, 3.0]]
    fortran = validate_matrix(DENSE, np.asfortranarray(matrix))
    assert fortran.matrix is not None and fortran.matrix.flags.c_contiguous


@pytest.mark.parametrize(
    "matrix",
    [
        np.array([[1.0, 2.0, np.nan]]),  # missing where the signature forbids it
        np.array([[1.0, 2.0, 3.0], [np.inf, 2.0, 3.0]]),  # not finite
        np.array([[1.0, -np.inf, 3.0]]),  # not finite, even where NaN is allowed
        np.array([[1.0, 2.0, np.inf]], dtype=np.float32),  # inf in FP32
        np.array([[True, False, True]]),  # booleans are not numbers
        np.array([["1.0", "2.0", "3.0"]], dtype=object),  # text
        np.array([[1.0, None, "3"]], dtype=object),  # a string among numbers
        np.empty((0, 3)),  # no rows
    ],
)
def test_the_matrix_path_fails_exactly_as_the_columns_do(matrix: Any) -> None:
    with pytest.raises(SignatureError) as general:
        validate_columns(DENSE, _split(matrix))
    with pytest.raises(SignatureError) as fast:
        validate_matrix(DENSE, matrix)
    assert str(fast.value) == str(general.value)
    assert fast.value.feature == general.value.feature


def test_a_matrix_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(SignatureError, match="2 columns, but the model expects 3 features"):
        validate_matrix(DENSE, np.array([[1.0, 2.0]]))
    with pytest.raises(TypeError):
        validate_matrix(DENSE, np.array([1.0, 2.0, 3.0]))


def test_missing_values_where_allowed_take_the_general_path() -> None:
    frame = validate_matrix(DENSE, np.array([[1.0, np.nan, 3.0]]))
    assert np.isnan(frame.columns["y"][0]) and frame.columns["x"].tolist() == [1.0]


def test_a_mixed_signature_validates_a_matrix_column_by_column() -> None:
    matrix = np.array([[1, 20.5, None, "monthly", True]], dtype=object)
    names = ("tenure", "charges", "usage", "contract", "paperless")
    frame = validate_matrix(SIGNATURE, matrix, "r")
    assert frame.matrix is None
    assert frame.columns["tenure"].dtype == np.int64 and np.isnan(frame.columns["usage"][0])
    bad = matrix.copy()
    bad[0, 0] = 1.5
    with pytest.raises(SignatureError) as fast:
        validate_matrix(SIGNATURE, bad)
    with pytest.raises(SignatureError) as general:
        validate_columns(SIGNATURE, _split(bad, names))
    assert str(fast.value) == str(general.value) and fast.value.feature == "tenure"


def test_matrix_frames_predict_as_column_frames(serving_registry: Any) -> None:
    """The ONNX runner fed a frame's matrix (alone, batched, or mixed with column frames)
    answers as it does from the frame's columns."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from shipyard.serving.predictor import Predictor

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 20))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=300) > 0).astype(int)
    table = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    version = serving_registry.register(
        LogisticRegression(max_iter=500).fit(table, y), "dense", reference=table, target=y
    )
    loaded = serving_registry.load(version.ref)
    predictor = Predictor(loaded, serving_registry.artifacts.get(version.attachments["onnx"]))
    assert predictor.path == "onnx"
    names = predictor.features
    rows = [X[i : i + n] for i, n in ((0, 1), (1, 3), (4, 1), (5, 2))]
    fast = [validate_matrix(predictor.signature, r) for r in rows]
    general = [validate_columns(predictor.signature, _split(r, names)) for r in rows]
    assert all(f.matrix is not None for f in fast) and all(g.matrix is None for g in general)
    for batch in (fast[:1], fast, [fast[0], general[1], fast[2], general[3]]):
        reference = general[: len(batch)]
        got = predictor.predict_batch(batch)
        expected = predictor.predict_batch(reference)
        assert got.labels.tolist() == expected.labels.tolist()
        assert got.probabilities is not None and expected.probabilities is not None
        np.testing.assert_array_equal(got.probabilities, expected.probabilities)
    native = predictor._native(fast[1], True)  # the native path reads the column views
    assert native.labels.tolist() == predictor.predict(general[1]).labels.tolist()


@pytest.mark.parametrize("value", [2.0**63, 9223372036854775806.0, -(2.0**63) - 4096])
def test_integers_beyond_int64_are_refused_not_wrapped(value: float) -> None:
    # Found by schemathesis: float(int64 max) rounds up to 2**63, which a "> max" check let
    # through, and the cast then wrapped it to the int64 minimum.
    exc = error(tenure=np.array([value, 24.5 - 0.5]))
    assert exc.feature == "tenure"
    assert "whole numbers (int64)" in str(exc)


def test_the_largest_exact_integers_still_pass() -> None:
    frame = validate_columns(SIGNATURE, columns(tenure=np.array([2.0**53, -(2.0**53)])))
    assert frame.columns["tenure"].tolist() == [2**53, -(2**53)]
