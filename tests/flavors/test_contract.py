"""The contract every registered flavor keeps, run over all of them.

A flavor registered in ``shipyard.flavors`` without a case in ``CASES`` fails here: add a builder
that trains a small model of that flavor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import IntegrityError, NotFoundError, UnsupportedModelError
from shipyard.flavors import (
    LoadContext,
    all_flavors,
    flavor_for_file,
    flavor_for_model,
    get_flavor,
)
from shipyard.settings import Settings

N_ROWS = 160


@dataclass(frozen=True)
class Case:
    model: Any
    """What a user hands to shipyard."""
    frame: pd.DataFrame
    """Features, in the order of the signature."""
    expected: np.ndarray
    """The original model's predictions on ``frame``."""
    filename: str
    """What an uploaded artifact of this flavor is called."""
    n_classes: int = 0
    """0 for a model without class probabilities."""
    rtol: float = 0.0


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # float32-representable values, so ONNX (float32 inputs) sees exactly the same numbers
    a = rng.normal(size=N_ROWS).astype(np.float32).astype(np.float64)
    b = rng.normal(size=N_ROWS).astype(np.float32).astype(np.float64)
    c = rng.choice(["red", "green", "blue"], size=N_ROWS)
    return pd.DataFrame({"a": a, "b": b, "c": c})


def _binary(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["a"] + (frame["c"] == "red")) > 0.3).to_numpy().astype(np.int64)


def _three_classes(frame: pd.DataFrame) -> np.ndarray:
    return np.digitize(frame["a"] + frame["b"], [-0.5, 0.5]).astype(np.int64)


def _target(frame: pd.DataFrame) -> np.ndarray:
    return (2.0 * frame["a"] - frame["b"] + (frame["c"] == "blue")).to_numpy()


def _one_hot_pipeline(estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer(
        [("num", "passthrough", ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
    )
    return Pipeline([("columns", columns), ("model", estimator)])


def _sklearn_classifier() -> Case:
    from sklearn.ensemble import RandomForestClassifier

    frame = _frame()
    model = _one_hot_pipeline(RandomForestClassifier(n_estimators=7, random_state=0))
    model.fit(frame, _binary(frame))
    return Case(model, frame, model.predict(frame), "model.skops", n_classes=2)


def _sklearn_regressor() -> Case:
    from sklearn.ensemble import GradientBoostingRegressor

    frame = _frame()
    model = _one_hot_pipeline(GradientBoostingRegressor(n_estimators=10, random_state=0))
    model.fit(frame, _target(frame))
    return Case(model, frame, model.predict(frame), "model.skops")


def _sklearn_hist_categorical() -> Case:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _frame().astype({"c": "category"})
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    model.fit(frame, _three_classes(frame))
    return Case(model, frame, model.predict(frame), "model.skops", n_classes=3)


def _onnx_classifier() -> Case:
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    frame = _frame()
    pipeline = _one_hot_pipeline(RandomForestClassifier(n_estimators=7, random_state=0))
    pipeline.fit(frame, _binary(frame))
    model = to_onnx(pipeline, frame.astype({"a": np.float32, "b": np.float32})[:1])
    return Case(model, frame, pipeline.predict(frame), "model.onnx", n_classes=2)


def _onnx_regressor() -> Case:
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestRegressor

    frame = _frame()[["a", "b"]]
    forest = RandomForestRegressor(n_estimators=5, random_state=0)
    forest.fit(frame.to_numpy(), _target(_frame()))
    model = to_onnx(forest, frame.to_numpy(dtype=np.float32)[:1])  # one matrix input
    # ONNX computes in float32, scikit-learn in float64
    return Case(model, frame, forest.predict(frame.to_numpy()), "model.onnx", rtol=1e-5)


def _xgboost_classifier() -> Case:
    from xgboost import XGBClassifier

    frame = _frame()[["a", "b"]]
    model = XGBClassifier(n_estimators=8, max_depth=3).fit(frame, _binary(_frame()))
    return Case(model, frame, model.predict(frame), "model.ubj", n_classes=2)


def _xgboost_multiclass() -> Case:
    from xgboost import XGBClassifier

    frame = _frame()[["a", "b"]]
    model = XGBClassifier(n_estimators=8, max_depth=3).fit(frame, _three_classes(frame))
    return Case(model, frame, model.predict(frame), "model.ubj", n_classes=3)


def _xgboost_regressor() -> Case:
    from xgboost import XGBRegressor

    frame = _frame()[["a", "b"]]
    model = XGBRegressor(n_estimators=8, max_depth=3).fit(frame, _target(_frame()))
    return Case(model, frame, model.predict(frame), "model.ubj")


def _lightgbm_classifier() -> Case:
    from lightgbm import LGBMClassifier

    frame = _frame().astype({"c": "category"})
    model = LGBMClassifier(n_estimators=8, min_child_samples=5, verbose=-1)
    model.fit(frame, _binary(frame))
    return Case(model, frame, model.predict(frame), "model.txt", n_classes=2)


def _lightgbm_multiclass() -> Case:
    from lightgbm import LGBMClassifier

    frame = _frame()[["a", "b"]]
    model = LGBMClassifier(n_estimators=8, min_child_samples=5, verbose=-1)
    model.fit(frame, _three_classes(frame))
    return Case(model, frame, model.predict(frame), "model.txt", n_classes=3)


def _lightgbm_regressor() -> Case:
    from lightgbm import LGBMRegressor

    frame = _frame()[["a", "b"]]
    model = LGBMRegressor(n_estimators=8, min_child_samples=5, verbose=-1)
    model.fit(frame, _target(_frame()))
    return Case(model, frame, model.predict(frame), "model.txt")


def _composite_classifier() -> Case:
    from lightgbm import LGBMClassifier

    frame = _frame()
    model = _one_hot_pipeline(LGBMClassifier(n_estimators=8, min_child_samples=5, verbose=-1))
    model.fit(frame, _binary(frame))
    return Case(model, frame, model.predict(frame), "model.composite.zip", n_classes=2)


def _composite_regressor() -> Case:
    from xgboost import XGBRegressor

    frame = _frame()
    model = _one_hot_pipeline(XGBRegressor(n_estimators=8, max_depth=3))
    model.fit(frame, _target(frame))
    return Case(model, frame, model.predict(frame), "model.composite.zip", rtol=1e-6)


class ThresholdRule:
    """A plain Python model: no library, only ``predict``."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["a"].to_numpy() > self.threshold).astype(np.int64)


def _pickle_plain_object() -> Case:
    frame = _frame()
    model = ThresholdRule(0.25)
    return Case(model, frame, model.predict(frame), "model.pkl")


CASES: dict[str, dict[str, Callable[[], Case]]] = {
    "composite": {"classifier": _composite_classifier, "regressor": _composite_regressor},
    "sklearn": {
        "classifier": _sklearn_classifier,
        "regressor": _sklearn_regressor,
        "hist-categorical": _sklearn_hist_categorical,
    },
    "onnx": {"classifier": _onnx_classifier, "regressor": _onnx_regressor},
    "xgboost": {
        "classifier": _xgboost_classifier,
        "multiclass": _xgboost_multiclass,
        "regressor": _xgboost_regressor,
    },
    "lightgbm": {
        "classifier": _lightgbm_classifier,
        "multiclass": _lightgbm_multiclass,
        "regressor": _lightgbm_regressor,
    },
    "pickle": {"plain-object": _pickle_plain_object},
}

CONTRACT_CASES = [
    pytest.param(flavor.name, variant, id=f"{flavor.name}-{variant}")
    for flavor in all_flavors()
    for variant in CASES.get(flavor.name, {"no-case": None})
]


@pytest.mark.parametrize(("flavor_name", "variant"), CONTRACT_CASES)
def test_flavor_contract(flavor_name: str, variant: str) -> None:
    builders = CASES.get(flavor_name, {})
    assert variant in builders, f"flavor {flavor_name!r} is registered but has no case in CASES"
    case = builders[variant]()
    flavor = get_flavor(flavor_name)
    settings = Settings(allow_pickle=True)

    assert flavor_for_model(case.model, settings) is flavor
    data = flavor.save(case.model)
    assert isinstance(data, bytes) and data
    assert case.filename.endswith(flavor.file_suffix)
    assert flavor_for_file(case.filename, data[:64], settings) is flavor

    unsafe_loads: list[str] = []
    loaded = flavor.load(data, LoadContext(settings, on_unsafe_load=unsafe_loads.append))
    assert unsafe_loads == ([] if flavor.safe else [flavor.name])
    for garbage in (b"", b"\x00\xffnot a model" * 8):
        with pytest.raises(IntegrityError):
            flavor.load(garbage, LoadContext(settings))

    predictions = flavor.predict(loaded, case.frame)
    assert isinstance(predictions, np.ndarray)
    if case.rtol:
        np.testing.assert_allclose(predictions.ravel(), case.expected.ravel(), rtol=case.rtol)
    else:
        np.testing.assert_array_equal(predictions, case.expected)

    proba = flavor.predict_proba(loaded, case.frame)
    if case.n_classes:
        assert proba is not None
        assert proba.shape == (len(case.frame), case.n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(np.argmax(proba, axis=1), predictions)
    else:
        assert proba is None

    facts = flavor.describe(loaded)
    json.dumps(facts, allow_nan=False)
    assert facts["task"] in ("classification", "regression", "other")
    assert (facts["task"] == "classification") == bool(case.n_classes)
    if case.n_classes:
        assert facts["classes"] == list(range(case.n_classes))
    assert flavor.describe(case.model) == facts  # in-memory and loaded models agree


def test_get_flavor_names_the_known_flavors() -> None:
    assert [f.name for f in all_flavors()] == [
        "composite",
        "sklearn",
        "onnx",
        "xgboost",
        "lightgbm",
        "pickle",
    ]
    assert all_flavors()[-1].safe is False  # pickle is only ever the last resort
    with pytest.raises(NotFoundError, match=r"'tensorflow'.*composite, sklearn, onnx, xgboost"):
        get_flavor("tensorflow")


def test_unknown_file_lists_the_accepted_suffixes() -> None:
    with pytest.raises(UnsupportedModelError, match=r"\.skops.*\.onnx.*\.ubj.*\.txt.*\.pkl"):
        flavor_for_file("model.h5", b"\x89HDF\r\n", Settings())
    # a .json or .txt file is only a model when its first bytes say so
    with pytest.raises(UnsupportedModelError):
        flavor_for_file("notes.txt", b"remember the milk", Settings())
    with pytest.raises(UnsupportedModelError):
        flavor_for_file("config.json", b'{"name": "churn"}', Settings())


def test_nothing_fits_none() -> None:
    with pytest.raises(UnsupportedModelError, match="fitted model object"):
        flavor_for_model(None, Settings(allow_pickle=True))


def test_xgboost_json_model_files_are_recognised() -> None:
    case = _xgboost_regressor()
    data = bytes(case.model.get_booster().save_raw("json"))
    flavor = flavor_for_file("model.json", data[:64], Settings())
    assert flavor.name == "xgboost"
    loaded = flavor.load(data, LoadContext(Settings()))
    np.testing.assert_array_equal(flavor.predict(loaded, case.frame), case.expected)


def test_importing_flavors_imports_no_ml_library() -> None:
    code = (
        "import sys, shipyard.flavors; "
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn', 'skops', 'onnx', 'onnxruntime', "
        "'xgboost', 'lightgbm', 'cloudpickle', 'joblib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
