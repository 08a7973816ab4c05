"""Performance metrics against scikit-learn's, and the delta to the registered metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidInputError
from shipyard.monitoring.performance import (
    classification_metrics,
    performance_report,
    regression_metrics,
    roc_auc,
)


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1).round(2)  # ties included
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 >= 0.5).astype(int)
    got = classification_metrics(y, pred, proba=proba, classes=[0, 1])
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 400)
    raw = rng.dirichlet([1, 1, 1], 400) + np.eye(3)[[classes.index(v) for v in y]] * 0.5
    proba = raw / raw.sum(axis=1, keepdims=True)
    pred = np.array(classes)[proba.argmax(axis=1)]
    got = classification_metrics(y, pred, proba=proba, classes=classes)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert got[name] == pytest.approx(fn(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    )
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(100, 20, 300)
    pred = y + rng.normal(3, 10, 300)
    got = regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))


def test_roc_auc_is_none_with_one_class() -> None:
    assert roc_auc(np.array([True, True]), np.array([0.2, 0.9])) is None


def test_report_keeps_labelled_rows_and_sets_delta_against_registration() -> None:
    pred = np.array([1, 0, 1, 1, 0, 0])
    actuals = np.array([1.0, np.nan, 0.0, 1.0, np.nan, 0.0])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.4, 0.6], [0.1, 0.9], [0.7, 0.3], [0.8, 0.2]])
    report = performance_report(
        "classification",
        pred,
        actuals,
        probabilities=proba,
        classes=[0, 1],
        registered={"auc": 0.9, "accuracy": 0.8, "note": 3.0},
    )
    mask = ~np.isnan(actuals)
    y = actuals[mask].astype(int)
    assert report.n_rows == 6 and report.n_labelled == 4
    assert report.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred[mask]))
    assert report.registered == {"roc_auc": 0.9, "accuracy": 0.8}
    assert report.delta["accuracy"] == pytest.approx(report.metrics["accuracy"] - 0.8)
    auc = skm.roc_auc_score(y, proba[mask][:, 1])
    assert report.delta["roc_auc"] == pytest.approx(auc - 0.9)
    figures = report.figures()
    assert figures["performance.labelled"] == 4.0
    assert figures["performance.delta.accuracy"] == pytest.approx(report.delta["accuracy"])


def test_report_without_labels_has_no_metrics() -> None:
    report = performance_report("regression", np.array([1.0, 2.0]), None, registered={"rmse": 1})
    assert report.n_labelled == 0 and report.metrics == {} and report.delta == {}
    assert report.figures() == {"performance.labelled": 0.0}


def test_unknown_label_names_the_classes() -> None:
    with pytest.raises(InvalidInputError, match="not among the model's classes"):
        classification_metrics(np.array(["x"]), np.array(["a"]), classes=["a", "b"])
