"""Crafted skops files: tampered tree arrays and untrusted types must not load."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from shipyard.errors import IntegrityError, UnsafeFormatError
from shipyard.flavors import LoadContext, get_flavor
from shipyard.flavors._tree_check import check_model
from shipyard.settings import Settings

FLAVOR = get_flavor("sklearn")
CONTEXT = LoadContext(Settings())


def _data(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, 3))
    X[:, 2] = rng.integers(0, 4, size=n)  # a small-integer column, categorical for HGB
    y = ((X[:, 0] > 0) ^ (X[:, 2] == 1)).astype(int)
    return X, y


def _model(kind: str) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data()
    models = {
        "forest": RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0),
        "tree": DecisionTreeClassifier(max_depth=4, random_state=0),
        # trees reached through objects that are not estimators (_CalibratedClassifier)
        "calibrated-forest": CalibratedClassifierCV(
            RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0), cv=2
        ),
        "gradient-boosting": GradientBoostingClassifier(n_estimators=3, max_depth=3),
        "hist-gradient-boosting": HistGradientBoostingClassifier(
            max_iter=3, categorical_features=[2], random_state=0
        ),
    }
    return models[kind].fit(X, y)


def _rewrite(data: bytes, edit: Callable[[str, bytes], bytes]) -> bytes:
    """Re-zip a skops file with every member passed through ``edit(name, content)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def _edit_first_node_array(data: bytes, change: Callable[[np.ndarray], None]) -> bytes:
    """Apply ``change`` to the first tree node array (sklearn Tree or HGB TreePredictor)."""
    done = []

    def edit(name: str, content: bytes) -> bytes:
        if done or not name.endswith(".npy"):
            return content
        array = np.load(io.BytesIO(content), allow_pickle=False)
        if not array.dtype.names or not {"left_child", "left"} & set(array.dtype.names):
            return content
        array = array.copy()
        change(array)
        done.append(name)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    tampered = _rewrite(data, edit)
    assert done, "the artifact has no tree node array"
    return tampered


def _fields(array: np.ndarray) -> tuple[str, str, str, np.ndarray]:
    """Names of the left, right and feature fields, and the internal-node mask."""
    if "left_child" in (array.dtype.names or ()):
        return "left_child", "right_child", "feature", array["left_child"] != -1
    return "left", "right", "feature_idx", array["is_leaf"] == 0


def _child_out_of_range(array: np.ndarray) -> None:
    left, _, _, _ = _fields(array)
    array[left][0] = len(array) + 7


def _child_points_back_to_root(array: np.ndarray) -> None:
    _, right, _, internal = _fields(array)
    deeper = np.flatnonzero(internal)[1]  # an internal node below the root
    array[right][deeper] = 0


def _feature_out_of_range(array: np.ndarray) -> None:
    _, _, feature, _ = _fields(array)
    array[feature][0] = 42


MODELS = ["forest", "tree", "calibrated-forest", "gradient-boosting", "hist-gradient-boosting"]
TAMPERINGS = {
    "child-out-of-range": (_child_out_of_range, "left child"),
    "cycle-to-root": (_child_points_back_to_root, "right child 0"),
    "feature-out-of-range": (_feature_out_of_range, "feature 42"),
}


@pytest.mark.parametrize("kind", MODELS)
def test_untampered_artifact_loads(kind: str) -> None:
    model = _model(kind)
    loaded = FLAVOR.load(FLAVOR.save(model), CONTEXT)
    X, _ = _data()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
@pytest.mark.parametrize("kind", MODELS)
def test_tampered_node_arrays_are_refused(kind: str, tampering: str) -> None:
    change, says = TAMPERINGS[tampering]
    data = _edit_first_node_array(FLAVOR.save(_model(kind)), change)
    with pytest.raises(IntegrityError, match=says) as info:
        FLAVOR.load(data, CONTEXT)
    assert "node" in str(info.value) and "tampered" in str(info.value)


def test_the_error_names_the_estimator_path() -> None:
    data = _edit_first_node_array(FLAVOR.save(_model("gradient-boosting")), _child_out_of_range)
    with pytest.raises(IntegrityError, match=r"GradientBoostingClassifier\.estimators_\[\d, 0\]"):
        FLAVOR.load(data, CONTEXT)


def test_a_tree_without_nodes_is_refused() -> None:
    # scikit-learn clamps node_count to the stored nodes, but predict still reads the root node
    def empty(name: str, content: bytes) -> bytes:
        if not name.endswith(".npy"):
            return content
        array = np.load(io.BytesIO(content), allow_pickle=False)
        is_nodes = array.dtype.names is not None and "left_child" in array.dtype.names
        if not (is_nodes or (array.ndim == 3 and array.dtype == np.float64)):  # or the values
            return content
        buffer = io.BytesIO()
        np.save(buffer, array[:0], allow_pickle=False)
        return buffer.getvalue()

    data = _rewrite(FLAVOR.save(_model("tree")), empty)
    with pytest.raises(IntegrityError, match="has no nodes"):
        FLAVOR.load(data, CONTEXT)


def test_categorical_split_with_a_missing_bitset_is_refused() -> None:
    def point_past_the_bitsets(array: np.ndarray) -> None:
        categorical = np.flatnonzero((array["is_categorical"] == 1) & (array["is_leaf"] == 0))
        assert categorical.size, "expected a categorical split in the first tree"
        array["bitset_idx"][categorical[0]] = 1000

    data = _edit_first_node_array(
        FLAVOR.save(_model("hist-gradient-boosting")), point_past_the_bitsets
    )
    with pytest.raises(IntegrityError, match="bitset 1000"):
        FLAVOR.load(data, CONTEXT)


def test_nan_threshold_is_refused_but_infinite_missing_value_split_loads() -> None:
    from sklearn.tree import DecisionTreeClassifier

    # scikit-learn uses +inf for "missing values go right", so +inf must stay accepted
    X = np.array([[0.0], [1.0], [2.0], [np.nan], [np.nan], [np.nan]])
    model = DecisionTreeClassifier().fit(X, [0, 0, 0, 1, 1, 1])
    assert np.isinf(model.tree_.threshold).any()
    data = FLAVOR.save(model)
    np.testing.assert_array_equal(FLAVOR.load(data, CONTEXT).predict(X), model.predict(X))

    def nan_threshold(array: np.ndarray) -> None:
        array["threshold"][0] = np.nan

    with pytest.raises(IntegrityError, match="threshold nan"):
        FLAVOR.load(_edit_first_node_array(data, nan_threshold), CONTEXT)


def test_gradient_boosting_stage_width_must_match_its_predictions() -> None:
    model = _model("gradient-boosting")
    check_model(model)
    model.estimators_ = np.concatenate([model.estimators_, model.estimators_], axis=1)
    with pytest.raises(IntegrityError, match="2 trees per stage"):
        check_model(model)


def test_isolation_forest_feature_subsets_must_match_their_trees() -> None:
    from sklearn.ensemble import IsolationForest

    X, _ = _data()
    model = IsolationForest(n_estimators=3, max_features=2, random_state=0).fit(X)
    loaded = FLAVOR.load(FLAVOR.save(model), CONTEXT)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    model.estimators_features_[0] = model.estimators_features_[0][:1]
    with pytest.raises(IntegrityError, match=r"estimators_features_\[0\] selects 1 columns"):
        check_model(model)


def test_chains_of_trees_load() -> None:
    # member i of a chain legitimately sees more columns than the chain: X plus i predictions
    from sklearn.multioutput import ClassifierChain
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data()
    Y = np.column_stack([y, 1 - y, X[:, 1] > 0])
    model = ClassifierChain(DecisionTreeClassifier(random_state=0)).fit(X, Y)
    assert model.estimators_[2].n_features_in_ == X.shape[1] + 2
    loaded = FLAVOR.load(FLAVOR.save(model), CONTEXT)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_hist_gradient_boosting_preprocessor_must_keep_the_width() -> None:
    from sklearn.decomposition import PCA

    model = _model("hist-gradient-boosting")
    name, _, columns = model._preprocessor.transformers_[1]
    model._preprocessor.transformers_[1] = (name, PCA(n_components=1), columns)
    with pytest.raises(IntegrityError, match="not one HistGradientBoosting creates"):
        check_model(model)


def double(X: Any) -> Any:
    """A module-level function: skops saves it by name, so loading it imports this module."""
    return np.asarray(X) * 2


def _function_pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = _data()
    return make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(X, y)


def test_untrusted_function_is_refused_until_the_operator_trusts_it() -> None:
    model = _function_pipeline()
    data = FLAVOR.save(model)
    name = f"{double.__module__}.double"
    with pytest.raises(UnsafeFormatError, match=rf"{name}.*trusted_types"):
        FLAVOR.load(data, CONTEXT)
    loaded = FLAVOR.load(data, LoadContext(Settings(trusted_types=(name,))))
    X, _ = _data()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_trusting_partial_does_not_trust_the_function_it_wraps() -> None:
    import functools

    from sklearn.preprocessing import FunctionTransformer

    X, _ = _data()
    model = FunctionTransformer(functools.partial(double)).fit(X)
    with pytest.raises(UnsafeFormatError, match=rf"{double.__module__}\.double"):
        FLAVOR.load(FLAVOR.save(model), CONTEXT)


def test_sklearn_internals_without_a_check_are_not_vouched_for() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _data()
    data = FLAVOR.save(KNeighborsClassifier(algorithm="kd_tree").fit(X, y))
    with pytest.raises(UnsafeFormatError, match=r"sklearn\.neighbors\._kd_tree\.KDTree"):
        FLAVOR.load(data, CONTEXT)


def test_a_damaged_zip_is_an_integrity_error() -> None:
    data = FLAVOR.save(_model("tree"))
    with pytest.raises(IntegrityError, match="not a readable skops file"):
        FLAVOR.load(data[: len(data) // 2], CONTEXT)


def test_describe_counts_trees_and_nodes() -> None:
    model = _model("forest")
    facts = FLAVOR.describe(FLAVOR.load(FLAVOR.save(model), CONTEXT))
    assert facts["n_trees"] == 3
    assert facts["n_nodes"] == sum(e.tree_.node_count for e in model.estimators_)
    assert json.loads(json.dumps(facts)) == facts
