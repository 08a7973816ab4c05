"""Attributions add up to the model's raw output, per original feature, for each method."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.errors import InvalidInputError, MissingDependencyError
from shipyard.explain import Explainer, explain

TOLERANCE = 1e-6


def _pipeline(churn: Any, estimator: Any, *, scale: bool = False, categorical: bool = True) -> Any:
    numeric = (
        make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        if scale
        else SimpleImputer(strategy="median")
    )
    parts: list[Any] = [("num", numeric, churn.numeric)]
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), churn.categorical))
    return Pipeline([("pre", ColumnTransformer(parts)), ("model", estimator)])


def _explainer(model: Any, churn: Any, **options: Any) -> Explainer:
    return Explainer(model, list(churn.X.columns), churn.X.iloc[:100], **options)


def test_forest_pipeline_adds_up_to_the_probability(churn: Any, churn_model: Any) -> None:
    rows = churn.X.iloc[200:260]
    explanation = _explainer(churn_model, churn).explain(rows)
    assert explanation.method == "tree"
    assert explanation.output_space == "probability"
    assert explanation.features == tuple(churn.X.columns)  # original columns, not one-hot ones
    assert explanation.values.shape == (60, len(churn.X.columns))
    proba = churn_model.predict_proba(rows)[:, 1]
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, proba, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(explanation.outputs, proba, rtol=0, atol=TOLERANCE)
    assert set(explanation.classes or ()) == {churn_model.classes_[1]}


@pytest.mark.parametrize(
    "estimator",
    [
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        HistGradientBoostingClassifier(max_iter=30, random_state=0),
    ],
    ids=["gradient-boosting", "hist-gradient-boosting"],
)
def test_boosted_pipeline_adds_up_to_the_log_odds(churn: Any, estimator: Any) -> None:
    model = _pipeline(churn, estimator).fit(churn.X, churn.y)
    rows = churn.X.iloc[300:350]
    explanation = _explainer(model, churn).explain(rows)
    assert (explanation.method, explanation.output_space) == ("tree", "log-odds")
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, model.decision_function(rows), rtol=0, atol=TOLERANCE)


def test_xgboost_adds_up_to_the_margin(churn: Any) -> None:
    xgboost = pytest.importorskip("xgboost")
    estimator = xgboost.XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1)
    model = _pipeline(churn, estimator).fit(churn.X, churn.y)
    rows = churn.X.iloc[:40]
    explanation = _explainer(model, churn).explain(rows)
    assert explanation.method == "tree"
    margin = model[-1].predict(model[:-1].transform(rows), output_margin=True)
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, margin, rtol=0, atol=1e-5)  # xgboost computes in float32


def test_logistic_pipeline_adds_up_to_the_log_odds(churn: Any) -> None:
    model = _pipeline(churn, LogisticRegression(max_iter=1000), scale=True).fit(churn.X, churn.y)
    rows = churn.X.iloc[:80]
    background = churn.X.iloc[:100]
    explanation = Explainer(model, list(churn.X.columns), background).explain(rows)
    assert (explanation.method, explanation.output_space) == ("linear", "log-odds")
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, model.decision_function(rows), rtol=0, atol=TOLERANCE)
    # the base value is the log-odds at the background's mean prepared row
    mean_row = model[:-1].transform(background).mean(axis=0)
    expected_base = float(model[-1].coef_[0] @ mean_row + model[-1].intercept_[0])
    assert explanation.base_value == pytest.approx(expected_base, abs=TOLERANCE)


def test_linear_regressor_reports_values(churn: Any) -> None:
    model = _pipeline(churn, Ridge()).fit(churn.X, churn.X["total_charges"].fillna(0) * 0 + 1.5)
    explanation = _explainer(model, churn).explain(churn.X.iloc[:5])
    assert (explanation.method, explanation.output_space, explanation.classes) == (
        "linear",
        "value",
        None,
    )
    np.testing.assert_allclose(explanation.outputs, model.predict(churn.X.iloc[:5]), atol=1e-9)


def test_one_hot_columns_are_summed_back_to_their_feature(churn: Any, churn_model: Any) -> None:
    shap = pytest.importorskip("shap")
    rows = churn.X.iloc[:20]
    explanation = _explainer(churn_model, churn).explain(rows)
    prepared = churn_model[:-1].transform(rows)
    raw = np.asarray(shap.TreeExplainer(churn_model[-1]).shap_values(prepared))[:, :, 1]
    names = churn_model[:-1].get_feature_names_out()  # e.g. "cat__contract_two-year"
    for j, feature in enumerate(explanation.features):
        prefix = ("num__" if feature in churn.numeric else "cat__") + feature
        columns = [
            i for i, name in enumerate(names) if name == prefix or name.startswith(prefix + "_")
        ]
        assert columns, feature
        np.testing.assert_allclose(
            explanation.values[:, j], raw[:, columns].sum(axis=1), rtol=0, atol=1e-12
        )
    assert len(names) > len(explanation.features)  # one-hot widened them


def test_sampling_explainer_for_other_models(churn: Any) -> None:
    # only the numeric columns reach the model: the categorical features must get exactly 0
    model = _pipeline(churn, KNeighborsClassifier(), scale=True, categorical=False)
    model.fit(churn.X, churn.y)
    rows = churn.X.iloc[:3]
    explanation = Explainer(
        model, list(churn.X.columns), churn.X.iloc[:20], method="sampling", budget=800
    ).explain(rows)
    assert (explanation.method, explanation.output_space) == ("sampling", "probability")
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, model.predict_proba(rows)[:, 1], rtol=0, atol=TOLERANCE)
    for feature in churn.categorical:
        j = explanation.features.index(feature)
        assert np.all(explanation.values[:, j] == 0.0)
    base = model.predict_proba(churn.X.iloc[:20])[:, 1].mean()
    assert explanation.base_value == pytest.approx(base, abs=1e-12)


def test_auto_falls_back_to_sampling_for_unknown_models(churn: Any) -> None:
    model = _pipeline(churn, KNeighborsClassifier(), scale=True).fit(churn.X, churn.y)
    explainer = _explainer(model, churn, budget=100)
    assert explainer.method == "sampling"
    with pytest.raises(InvalidInputError, match="method 'tree' needs a tree ensemble"):
        _explainer(model, churn, method="tree")
    with pytest.raises(InvalidInputError, match="method 'linear' needs a linear model"):
        _explainer(model, churn, method="linear")
    with pytest.raises(InvalidInputError, match="method must be one of"):
        _explainer(model, churn, method="magic")
    with pytest.raises(InvalidInputError, match="budget must be a positive integer"):
        _explainer(model, churn, budget=0)


def test_row_records_are_json_ready(churn: Any, churn_model: Any) -> None:
    explanation = _explainer(churn_model, churn).explain(churn.X.iloc[:2])
    record = explanation.row(0)
    assert set(record) == {
        "base_value",
        "output",
        "output_space",
        "method",
        "attributions",
        "class",
    }
    magnitudes = [abs(v) for v in record["attributions"].values()]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert isinstance(record["class"], int)


def test_missing_shap_names_the_extra(
    churn: Any, churn_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'shipyard\[explain\]'"):
        _explainer(churn_model, churn)


def test_registry_load_explain_uses_the_reference_sample(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    model = registry.load(version.ref)
    records = churn.X.iloc[:4].to_dict(orient="records")
    explanation = model.explain(records)
    proba = churn_model.predict_proba(pd.DataFrame(records))[:, 1]
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, proba, rtol=0, atol=TOLERANCE)
    assert explain(model, records).values.shape == (4, len(churn.X.columns))
    assert explain(version.ref, records, registry=registry).method == "tree"


def test_explain_without_reference_data_says_what_to_do(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    version = registry.register(
        churn_model, "churn", input_example=churn.X.head(5), convert_onnx=False
    )
    model = registry.load(version.ref)
    with pytest.raises(InvalidInputError, match=r"no reference sample.*background="):
        model.explain(churn.X.head(2))
    explanation = model.explain(churn.X.head(2), background=churn.X.iloc[:50])
    assert explanation.additivity_error() < TOLERANCE
    with pytest.raises(InvalidInputError, match="takes a loaded model"):
        explain(object(), churn.X.head(1))


def test_multi_class_rows_explain_their_predicted_class(churn: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    target = churn.X["contract"]  # three classes, predicted from the other features
    X = churn.X.drop(columns=["contract"])
    features = list(X.columns)
    categorical = [c for c in churn.categorical if c != "contract"]
    prepare = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), churn.numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    forest = Pipeline(
        [("pre", prepare), ("model", RandomForestClassifier(n_estimators=15, random_state=0))]
    )
    forest.fit(X, target)
    rows = X.iloc[:30]
    explanation = Explainer(forest, features, X.iloc[:100]).explain(rows)
    proba = forest.predict_proba(rows)
    predicted = proba.argmax(axis=1)
    assert explanation.classes == tuple(forest.classes_[predicted])
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, proba[np.arange(30), predicted], rtol=0, atol=TOLERANCE)
