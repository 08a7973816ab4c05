"""ONNX conversion at registration: attached when the converted graph agrees with the native
model on the reference sample, rejected (with the reason) otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def _attachment(registry: Any, ref: str) -> Any:
    version = registry.get_version(ref)
    found = [
        a for a in registry.store.attachments(version.model, version.version) if "onnx" in a.kind
    ]
    assert len(found) == 1, found
    return found[0]


def _runner_outputs(registry: Any, ref: str, X: Any) -> tuple[Any, Any, Any]:
    """The attached graph run through the fast path, and the native model, on ``X``."""
    from shipyard.registry.coerce import to_frame
    from shipyard.serving.frame import Frame
    from shipyard.serving.predictor import Predictor

    loaded = registry.load(ref)
    data = registry.artifacts.get(loaded.version.attachments["onnx"])  # digest-verified
    predictor = Predictor(loaded, onnx=data)
    assert predictor.path == "onnx"
    table = to_frame(predictor.signature, X)
    columns = {
        name: table[name].astype(object).where(table[name].notna(), None).to_numpy()
        if table[name].dtype.kind not in "iufb"
        else table[name].to_numpy()
        for name in predictor.features
    }
    out = predictor.predict(Frame(columns, len(table)))
    native = predictor._native(Frame(columns, len(table)), True)
    return out, native, predictor


def test_churn_pipeline_one_hot_forest_converts_exactly(
    sqlite_registry: Any, churn_set: Any
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    d = churn_set
    model = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(), d.numeric),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), d.categorical),
                    ]
                ),
            ),
            ("rf", RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0)),
        ]
    ).fit(d.X, d.y)
    version = sqlite_registry.register(model, "churn", reference=d.X, target=d.y)
    assert "onnx" in version.attachments  # the returned version already shows it
    attached = _attachment(sqlite_registry, "churn/1")
    assert attached.kind == "onnx"
    assert attached.data["rows_checked"] == len(d.X)
    assert attached.data["layout"] == "columns"  # one input per feature, text for categoricals
    assert attached.data["opset"]["ai.onnx.ml"] == 5  # the double TreeEnsemble
    assert attached.data["max_abs_diff"] <= 1e-12
    # Rows with missing numbers (data_usage_gb) go through the graph's float64 imputer.
    assert d.X["data_usage_gb"].isna().any()
    out, native, _ = _runner_outputs(sqlite_registry, "churn/1", d.X)
    assert out.labels.tolist() == native.labels.tolist() == model.predict(d.X).tolist()
    np.testing.assert_allclose(out.probabilities, model.predict_proba(d.X), rtol=0, atol=1e-12)


def test_numeric_logistic_with_scaler_stays_in_double(
    sqlite_registry: Any, numeric_set: Any
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = numeric_set
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    sqlite_registry.register(model, "logit", reference=X, target=y)
    attached = _attachment(sqlite_registry, "logit/1")
    assert attached.kind == "onnx" and attached.data["layout"] == "matrix"
    # In float32 the scaler moved probabilities by up to 0.012 (the issue); in double: ~1e-16.
    assert attached.data["max_abs_diff"] <= 1e-12
    out, _, _ = _runner_outputs(sqlite_registry, "logit/1", X)
    assert out.labels.tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(out.probabilities, model.predict_proba(X), rtol=0, atol=1e-12)


def test_three_string_classes_keep_the_model_order(sqlite_registry: Any, numeric_set: Any) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, _ = numeric_set
    labels = np.array(["zebra", "apple", "mango"])[(X["f0"] > 0).astype(int) + (X["f1"] > 1)]
    model = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X, labels)
    sqlite_registry.register(model, "fruit", reference=X, target=labels)
    assert _attachment(sqlite_registry, "fruit/1").kind == "onnx"
    out, _, predictor = _runner_outputs(sqlite_registry, "fruit/1", X)
    assert list(predictor.classes or ()) == list(model.classes_)
    assert out.labels.tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(out.probabilities, model.predict_proba(X), rtol=0, atol=1e-12)


def test_xgboost_converts(sqlite_registry: Any, numeric_set: Any) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = numeric_set
    model = xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(X, y)
    sqlite_registry.register(model, "xgb", reference=X, target=y)
    attached = _attachment(sqlite_registry, "xgb/1")
    assert attached.kind == "onnx", attached.data
    assert attached.data["input_dtype"] == "float32"  # XGBoost itself works in float32
    assert attached.data["max_abs_diff"] <= 1e-5
    out, native, _ = _runner_outputs(sqlite_registry, "xgb/1", X)
    assert out.labels.tolist() == native.labels.tolist()
    np.testing.assert_allclose(out.probabilities, native.probabilities, rtol=0, atol=1e-5)


def test_lightgbm_converts(sqlite_registry: Any, numeric_set: Any) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = numeric_set
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(X, y)
    sqlite_registry.register(model, "lgbm", reference=X, target=y)
    attached = _attachment(sqlite_registry, "lgbm/1")
    assert attached.kind == "onnx", attached.data
    assert attached.data["max_abs_diff"] <= 1e-5
    out, native, _ = _runner_outputs(sqlite_registry, "lgbm/1", X)
    assert out.labels.tolist() == native.labels.tolist()
    np.testing.assert_allclose(out.probabilities, native.probabilities, rtol=0, atol=1e-5)


def test_unconvertible_model_is_rejected_with_the_reason(
    sqlite_registry: Any, numeric_set: Any
) -> None:
    from sklearn.semi_supervised import LabelSpreading

    X, y = numeric_set
    model = LabelSpreading().fit(X.iloc[:200], y[:200])
    version = sqlite_registry.register(model, "spread", reference=X.iloc[:200], target=y[:200])
    attached = _attachment(sqlite_registry, "spread/1")
    assert attached.kind == "onnx_rejected" and attached.digest is None
    assert "LabelSpreading" in attached.data["reason"]
    assert "onnx" not in version.attachments


def test_disagreement_is_rejected(
    sqlite_registry: Any, numeric_set: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    from shipyard.runtime import onnx_convert

    monkeypatch.setattr(onnx_convert, "TOLERANCE", -1.0)  # nothing can agree
    X, y = numeric_set
    sqlite_registry.register(LogisticRegression().fit(X, y), "strict", reference=X, target=y)
    attached = _attachment(sqlite_registry, "strict/1")
    assert attached.kind == "onnx_rejected"
    assert "differ from the native model's by up to" in attached.data["reason"]


def test_no_reference_data_means_no_check_and_no_onnx(
    sqlite_registry: Any, numeric_set: Any
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_set
    model = LogisticRegression().fit(X, y)
    sqlite_registry.register(model, "example", input_example=X.head(3))
    assert "no sample" in _attachment(sqlite_registry, "example/1").data["reason"]


def test_conversion_can_be_turned_off(sqlite_registry: Any, numeric_set: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_set
    version = sqlite_registry.register(
        LogisticRegression().fit(X, y), "off", reference=X, target=y, convert_onnx=False
    )
    assert version.attachments == {}
    assert sqlite_registry.store.attachments("off", 1) == []


def test_the_attachment_is_audited(sqlite_registry: Any, numeric_set: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_set
    sqlite_registry.register(LogisticRegression().fit(X, y), "audited", reference=X, target=y)
    actions = [e.action for e in sqlite_registry.audit_log(subject="audited")]
    assert actions[-1] == "version.attach"
    sqlite_registry.verify_audit()
