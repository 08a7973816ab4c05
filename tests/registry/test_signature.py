import json

import numpy as np
import pandas as pd
import pytest

from shipyard.datasets import churn
from shipyard.errors import InvalidInputError, SignatureError
from shipyard.registry.coerce import to_frame
from shipyard.registry.signature import (
    FeatureSpec,
    OutputSpec,
    Signature,
    as_dataframe,
    infer_signature,
)

TEXT = pd.Series(["a"]).dtype  # object on pandas 2, "str" on pandas 3


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30, 41, 52, 63],
            "income": [1.5, np.nan, 3.0, 4.5],
            "plan": ["basic", "pro", None, "basic"],
            "active": [True, False, True, True],
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
        }
    )


@pytest.fixture
def sig(train) -> Signature:
    return infer_signature(train, pd.Series([0, 1, 1, 0]), has_proba=True)


def row(**overrides):
    record = {
        "age": 40,
        "income": 2.0,
        "plan": "pro",
        "active": True,
        "seen": "2024-05-01T12:00:00",
    }
    return {**record, **overrides}


# -- inference ---------------------------------------------------------------------------------


def test_infer_reads_kinds_dtypes_ranges_levels_and_nullability(sig):
    age, income, plan, active, seen = sig.inputs
    assert age == FeatureSpec("age", "int64", "numeric", False, min=30, max=63)
    assert isinstance(age.min, int)
    assert income == FeatureSpec("income", "float64", "numeric", True, min=1.5, max=4.5)
    assert plan == FeatureSpec("plan", "string", "categorical", True, levels=("basic", "pro"))
    assert active == FeatureSpec("active", "bool", "boolean", False)
    assert seen.kind == "datetime" and seen.dtype.startswith("datetime64[")
    assert sig.feature_names == ["age", "income", "plan", "active", "seen"]
    assert sig.output == OutputSpec("classification", dtype="int64", classes=(0, 1), has_proba=True)


def test_infer_keeps_levels_up_to_max_levels_sorted():
    X = pd.DataFrame({"c": ["b", "a", "c", "a"]})
    assert infer_signature(X, max_levels=3).inputs[0].levels == ("a", "b", "c")
    assert infer_signature(X, max_levels=2).inputs[0].levels is None


def test_infer_reads_category_and_object_columns():
    X = pd.DataFrame(
        {
            "cat": pd.Categorical(["x", "y", "x"]),
            "nums": pd.Series([1, None, 3], dtype=object),
            "mixed": pd.Series([1, "a", 2.5], dtype=object),
            "flags": pd.Series([True, None, False], dtype=object),
        }
    )
    cat, nums, mixed, flags = infer_signature(X).inputs
    assert (cat.kind, cat.dtype, cat.levels) == ("categorical", "string", ("x", "y"))
    assert (nums.kind, nums.dtype, nums.nullable) == ("numeric", "int64", True)
    assert (mixed.kind, mixed.dtype, mixed.levels) == ("categorical", "object", None)
    assert (flags.kind, flags.dtype, flags.nullable) == ("boolean", "bool", True)


@pytest.mark.parametrize(
    ("y", "task", "classes"),
    [
        (pd.Series(["no", "yes", "no"]), "classification", ("no", "yes")),
        (np.array([True, False, True]), "classification", (False, True)),
        (np.array([3, 1, 2]), "classification", (1, 2, 3)),
        (np.arange(30), "regression", None),
        (np.array([0.5, 1.0, 0.0]), "regression", None),
    ],
)
def test_infer_output_task_from_y(y, task, classes):
    output = infer_signature(pd.DataFrame({"x": np.arange(len(y))}), y).output
    assert output is not None
    assert (output.task, output.classes) == (task, classes)
    assert all(not isinstance(c, np.generic) for c in output.classes or ())


def test_given_classes_keep_their_order_and_need_no_y():
    X = pd.DataFrame({"x": [1.0]})
    output = infer_signature(X, classes=np.array(["z", "a"]), has_proba=True).output
    assert output == OutputSpec(
        "classification", dtype="string", classes=("z", "a"), has_proba=True
    )
    assert infer_signature(X).output is None
    with pytest.raises(InvalidInputError):
        infer_signature(X, has_proba=True)
    with pytest.raises(InvalidInputError):
        infer_signature(pd.DataFrame({"x": np.arange(30)}), np.arange(30.0), has_proba=True)


def test_infer_accepts_arrays_and_dicts():
    assert infer_signature(np.zeros((3, 2))).feature_names == ["f0", "f1"]
    assert infer_signature({"a": [1, 2], "b": ["x", "y"]}).feature_names == ["a", "b"]
    with pytest.raises(InvalidInputError, match="strings"):
        infer_signature(pd.DataFrame(np.zeros((2, 2))))


# -- serialization ------------------------------------------------------------------------------


def test_to_dict_round_trips_through_json(sig):
    data = json.loads(json.dumps(sig.to_dict(), allow_nan=False))
    assert Signature.from_dict(data) == sig
    assert Signature.from_dict(data).to_dict() == sig.to_dict()


def test_round_trip_of_churn_and_of_an_output_free_signature():
    data = churn(500)
    for signature in [infer_signature(data.X, data.y), infer_signature(data.X)]:
        assert Signature.from_dict(json.loads(json.dumps(signature.to_dict()))) == signature


def _spoil(path, value):
    def spoil(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return data

    return spoil


@pytest.mark.parametrize(
    "spoil",
    [
        _spoil(["inputs"], "age"),
        _spoil(["inputs", 0, "kind"], "number"),
        _spoil(["inputs", 0, "dtype"], "int65"),
        _spoil(["inputs", 0, "dtype"], "string"),
        _spoil(["inputs", 0, "nullable"], "no"),
        _spoil(["inputs", 0, "min"], "low"),
        _spoil(["inputs", 0, "name"], KeyError),
        _spoil(["inputs", 0, "colour"], "red"),
        _spoil(["inputs", 2, "levels"], "basic"),
        _spoil(["inputs", 2, "levels"], [1, 2]),
        _spoil(["inputs", 1, "name"], "age"),
        _spoil(["output", "task"], "ranking"),
        _spoil(["output", "classes"], [{"a": 1}]),
        _spoil(["output"], []),
        _spoil(["format_version"], 99),
        _spoil(["inputs", 0], None),
    ],
)
def test_from_dict_refuses_malformed_dicts(sig, spoil):
    with pytest.raises(InvalidInputError):
        Signature.from_dict(spoil(sig.to_dict()))


def test_from_dict_refuses_a_non_mapping():
    with pytest.raises(InvalidInputError):
        Signature.from_dict([])  # type: ignore[arg-type]


def test_regression_output_has_no_classes():
    with pytest.raises(InvalidInputError):
        OutputSpec("regression", classes=(0, 1))


# -- coercion: input forms ----------------------------------------------------------------------


def _check(frame, sig, n_rows):
    assert list(frame.columns) == sig.feature_names
    assert len(frame) == n_rows
    assert frame.index.equals(pd.RangeIndex(n_rows))
    assert frame["age"].dtype == np.int64
    assert frame["income"].dtype == np.float64
    assert frame["plan"].dtype == TEXT
    assert frame["active"].dtype == bool
    assert frame["seen"].dtype == sig.inputs[4].dtype


def test_to_frame_accepts_a_dataframe_and_drops_extra_columns(sig, train):
    given = train.assign(extra=1)[["extra", "seen", "plan", "age", "active", "income"]]
    given.index = [10, 11, 12, 13]
    frame = to_frame(sig, given)
    _check(frame, sig, 4)
    assert "extra" not in frame.columns


def test_to_frame_accepts_a_dict_of_columns(sig):
    records = [row(), row(age=41)]
    columns = {k: [r[k] for r in records] for k in records[0]}
    _check(to_frame(sig, columns), sig, 2)
    _check(to_frame(sig, {k: np.array(v) for k, v in columns.items()}), sig, 2)


def test_to_frame_accepts_a_single_record(sig):
    frame = to_frame(sig, row(extra="ignored"))
    _check(frame, sig, 1)
    assert frame.loc[0, "seen"] == pd.Timestamp("2024-05-01T12:00:00")


def test_to_frame_accepts_a_list_of_records(sig):
    _check(to_frame(sig, [row(), row(plan="basic"), row(active=False)]), sig, 3)


def test_to_frame_accepts_rows_in_signature_order(sig):
    rows = [list(row().values()), list(row(age=50).values())]
    _check(to_frame(sig, rows), sig, 2)
    _check(to_frame(sig, np.array(rows, dtype=object)), sig, 2)
    _check(to_frame(sig, tuple(tuple(r) for r in rows)), sig, 2)


def test_to_frame_converts_compatible_values(sig):
    frame = to_frame(
        sig,
        [
            row(age=40.0, income=2, active=1, seen=pd.Timestamp("2024-01-01")),
            row(age=np.int32(41), income=None, active=0, plan=None),
        ],
    )
    assert frame["age"].tolist() == [40, 41]
    assert frame["income"].iloc[0] == 2.0 and np.isnan(frame["income"].iloc[1])
    assert frame["active"].tolist() == [True, False]
    assert frame["plan"].isna().tolist() == [False, True]


def test_to_frame_accepts_unknown_levels_and_out_of_range_numbers(sig):
    frame = to_frame(sig, row(plan="enterprise", age=200, income=-1e9))
    assert frame.loc[0, "plan"] == "enterprise"
    assert frame.loc[0, "age"] == 200


def test_to_frame_accepts_category_inputs(sig, train):
    given = train.assign(plan=train["plan"].astype("category"))
    assert to_frame(sig, given)["plan"].dtype == TEXT


def test_missing_values_in_nullable_int_and_bool_features():
    signature = Signature(
        (
            FeatureSpec("n", "int64", "numeric", True),
            FeatureSpec("b", "bool", "boolean", True),
            FeatureSpec("o", "object", "categorical", True),
        )
    )
    frame = to_frame(signature, {"n": [1, None], "b": [True, None], "o": [[1], None]})
    assert frame["n"].dtype == np.float64 and frame["n"].iloc[0] == 1.0
    assert frame["b"].dtype == object and frame["b"].iloc[0] is True
    assert pd.isna(frame["b"].iloc[1])
    assert frame["o"].iloc[0] == [1]
    all_missing = to_frame(signature, {"n": [None], "b": [None], "o": [None]})
    assert all_missing.isna().all().all()


def test_a_churn_frame_coerces_to_itself():
    data = churn(2000)
    signature = infer_signature(data.X, data.y)
    pd.testing.assert_frame_equal(to_frame(signature, data.frame), data.X)


# -- coercion: errors name the feature ----------------------------------------------------------


def _error(sig, data) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        to_frame(sig, data)
    return info.value


def test_missing_feature_names_it_and_the_expected_ones(sig):
    given = row()
    del given["age"]
    error = _error(sig, given)
    assert error.feature == "age"
    assert str(error) == "missing feature 'age'; the model expects: age, income, plan, active, seen"


def test_wrong_type_names_feature_value_and_row(sig):
    error = _error(sig, [row(), row(), row(), row(age="abc")])
    assert error.feature == "age"
    assert "feature 'age' expects numbers, got 'abc' at row 3" in str(error)


@pytest.mark.parametrize(
    ("feature", "value", "phrase"),
    [
        ("income", "3.5", "expects numbers, got '3.5'"),
        ("age", 2.5, "expects whole numbers, got 2.5"),
        ("age", True, "expects numbers, got True"),
        ("plan", 3, "expects text, got 3"),
        ("active", 2, "expects booleans, got 2"),
        ("active", "yes", "expects booleans, got 'yes'"),
        ("seen", "not a date", "expects date-times, got 'not a date'"),
        ("seen", 5, "expects date-times, got 5"),
    ],
)
def test_each_kind_refuses_wrong_values(sig, feature, value, phrase):
    error = _error(sig, [row(), row(**{feature: value})])
    assert error.feature == feature
    assert phrase in str(error) and "at row 1" in str(error)
    assert "; send" in str(error)  # and says what to do


def test_numeric_text_is_refused_even_as_a_whole_column(sig):
    error = _error(sig, {**{k: [v] for k, v in row().items()}, "income": pd.Series(["3.5"])})
    assert error.feature == "income"


def test_null_in_a_non_nullable_feature_names_the_row(sig):
    error = _error(sig, [row(), row(), row(age=None)])
    assert error.feature == "age"
    assert "'age' is missing at row 2" in str(error)


@pytest.mark.parametrize("data", [[], {}, pd.DataFrame(columns=["age"]), np.empty((0, 5))])
def test_empty_input_is_refused(sig, data):
    assert "empty input" in str(_error(sig, data))


def test_wrong_row_width_names_the_expected_count_and_features(sig):
    message = str(_error(sig, [[1, 2.0, "pro"]]))
    assert "5 values" in message and "age, income, plan, active, seen" in message
    assert "got 3" in message
    assert "different lengths" in str(_error(sig, [list(row().values()), [1, 2]]))


def test_duplicate_feature_column_is_refused(sig, train):
    doubled = pd.concat([train, train[["age"]]], axis=1)
    assert _error(sig, doubled).feature == "age"


@pytest.mark.parametrize("data", ["text", 3, [1, 2, 3], np.zeros(5), {"a": [1, 2], "b": [1]}])
def test_unsupported_shapes_are_refused(sig, data):
    with pytest.raises(InvalidInputError):
        to_frame(sig, data)


def test_as_dataframe_names_array_columns():
    assert list(as_dataframe(np.zeros((2, 3))).columns) == ["f0", "f1", "f2"]
    assert list(as_dataframe([[1, 2]], names=["a", "b"]).columns) == ["a", "b"]


def test_time_zones_must_match_the_signature():
    aware = Signature((FeatureSpec("t", "datetime64[ns, UTC]", "datetime", False),))
    frame = to_frame(aware, {"t": ["2024-01-01T02:00:00+02:00"]})
    assert frame.loc[0, "t"] == pd.Timestamp("2024-01-01T00:00:00", tz="UTC")
    error = _error(aware, {"t": ["2024-01-01T00:00:00"]})
    assert error.feature == "t" and "with a UTC offset" in str(error)
    naive = Signature((FeatureSpec("t", "datetime64[ns]", "datetime", False),))
    assert "without a UTC offset" in str(_error(naive, {"t": ["2024-01-01T00:00:00+01:00"]}))


def test_numpy_scalars_are_stored_as_python_scalars():
    spec = FeatureSpec("x", "int64", "numeric", False, min=np.int64(1), max=np.int64(5))
    output = OutputSpec("classification", dtype="bool", classes=(np.False_, np.True_))
    assert type(spec.min) is int and output.classes == (False, True)
    assert type(output.classes[0]) is bool
    json.dumps(Signature((spec,), output).to_dict(), allow_nan=False)
