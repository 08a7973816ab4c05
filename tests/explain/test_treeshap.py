"""The linear-time TreeSHAP against shap's own TreeExplainer, on the trees scikit-learn grows."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from shipyard.explain.treeshap import LinearTreeShap, supports

shap = pytest.importorskip("shap")
pytest.importorskip("numba")


def _data(rows: int = 1500, features: int = 8, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    score = X[:, 0] + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] + rng.normal(size=rows)
    return X, score


def _shap(model: Any, X: Any) -> Any:
    explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    return np.asarray(explainer.shap_values(X, check_additivity=False)), explainer.expected_value


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=25, min_samples_leaf=3, random_state=0),
        ExtraTreesClassifier(n_estimators=15, random_state=0),
        DecisionTreeClassifier(random_state=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_binary_classifiers_match_shap(model: Any) -> None:
    X, score = _data()
    model.fit(X[:1000], (score[:1000] > 0).astype(int))
    rows = X[1000:1060]
    expected, base = _shap(model, rows)
    fast = LinearTreeShap(model)
    values, predicted = fast.shap_values(rows, np.ones(len(rows), dtype=int))
    np.testing.assert_allclose(values, expected[:, :, 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.expected_value(), base, rtol=0, atol=1e-12)
    np.testing.assert_allclose(predicted, model.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    total = fast.expected_value()[1] + values.sum(axis=1)
    np.testing.assert_allclose(total, predicted, rtol=0, atol=1e-9)


def test_multiclass_explains_the_class_asked_for_each_row() -> None:
    X, score = _data(seed=1)
    y = np.digitize(score, [-1.0, 1.0])  # three classes
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:1000], y[:1000])
    rows = X[1000:1040]
    classes = np.arange(len(rows)) % 3
    expected, _ = _shap(model, rows)
    values, predicted = LinearTreeShap(model).shap_values(rows, classes)
    picked = expected[np.arange(len(rows)), :, classes]
    np.testing.assert_allclose(values, picked, rtol=0, atol=1e-9)
    proba = model.predict_proba(rows)[np.arange(len(rows)), classes]
    np.testing.assert_allclose(predicted, proba, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "model",
    [
        RandomForestRegressor(n_estimators=20, random_state=0),
        ExtraTreesRegressor(n_estimators=10, max_depth=12, random_state=0),
        DecisionTreeRegressor(max_leaf_nodes=60, random_state=0),  # best-first numbering
    ],
    ids=lambda m: type(m).__name__,
)
def test_regressors_match_shap(model: Any) -> None:
    X, score = _data(seed=2)
    model.fit(X[:1000], score[:1000])
    rows = X[1000:1050]
    expected, base = _shap(model, rows)
    fast = LinearTreeShap(model)
    values, predicted = fast.shap_values(rows, np.zeros(len(rows), dtype=int))
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(predicted, model.predict(rows), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.expected_value()[0], np.ravel(base)[0], rtol=0, atol=1e-9)


def test_weighted_training_and_missing_values_follow_the_trees() -> None:
    X, score = _data(seed=3)
    X[::7, 2] = np.nan  # scikit-learn >= 1.4 forests learn where a missing value goes
    weights = np.where(score > 1.0, 3.0, 1.0)
    model = RandomForestClassifier(n_estimators=15, random_state=0)
    model.fit(X[:1000], (score[:1000] > 0).astype(int), sample_weight=weights[:1000])
    rows = X[1000:1070]
    assert np.isnan(rows).any()
    fast = LinearTreeShap(model)
    values, predicted = fast.shap_values(rows, np.ones(len(rows), dtype=int))
    np.testing.assert_allclose(predicted, model.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    total = fast.expected_value()[1] + values.sum(axis=1)
    np.testing.assert_allclose(total, predicted, rtol=0, atol=1e-9)


def test_threads_get_their_own_scratch_space() -> None:
    X, score = _data(seed=4)
    model = RandomForestClassifier(n_estimators=20, random_state=0)
    model.fit(X[:1000], (score[:1000] > 0).astype(int))
    fast = LinearTreeShap(model)
    rows = X[1000:1200]
    alone, _ = fast.shap_values(rows, np.ones(len(rows), dtype=int))
    results: dict[int, Any] = {}

    def work(i: int) -> None:
        results[i] = fast.shap_values(rows, np.ones(len(rows), dtype=int))[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(results) == [0, 1, 2]
    for values in results.values():
        np.testing.assert_array_equal(values, alone)


def test_only_scikit_learn_single_output_trees_are_supported() -> None:
    X, score = _data(rows=300)
    multi = RandomForestRegressor(n_estimators=3).fit(X, np.c_[score, score * 2])
    assert not supports(multi)
    assert not supports(object())
    assert supports(RandomForestRegressor(n_estimators=3).fit(X, score))
    with pytest.raises(TypeError):
        LinearTreeShap(multi)
