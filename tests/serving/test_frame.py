"""validate_columns: decoded columns checked against a signature, with numpy alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.errors import SignatureError
from shipyard.registry.signature import FeatureSpec, Signature
from shipyard.serving.frame import Frame, validate_columns

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
