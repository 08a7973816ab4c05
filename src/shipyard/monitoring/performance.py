"""Model quality on the labelled rows of a window, set against the metrics of registration.

Pure functions of arrays (numpy and scipy's ranks only; the tests check each one against
scikit-learn):

- classifiers: ``accuracy``; ``precision``, ``recall``, ``f1`` (of the positive class — the
  second of the model's classes, as scikit-learn's ``pos_label`` — when there are two classes,
  else their macro average) and ``precision_macro``, ``recall_macro``, ``f1_macro``; with logged
  probabilities ``roc_auc`` (one-vs-rest macro for more than two classes) and ``log_loss``;
- regressors: ``mae``, ``rmse``, ``r2``.

:func:`performance_report` keeps the rows that have a label, computes the metrics and the
difference to each metric recorded at registration under the same (or a well-known alias) name:
``delta = current - registered``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError

__all__ = [
    "PerformanceReport",
    "classification_metrics",
    "labelled",
    "performance_report",
    "regression_metrics",
    "roc_auc",
]

Array = npt.NDArray[Any]

# Names people record at registration for the metrics computed here.
ALIASES = {
    "auc": "roc_auc",
    "roc_auc": "roc_auc",
    "accuracy": "accuracy",
    "acc": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
    "f1_macro": "f1_macro",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "log_loss": "log_loss",
    "logloss": "log_loss",
    "mae": "mae",
    "rmse": "rmse",
    "r2": "r2",
}


@dataclass(frozen=True)
class PerformanceReport:
    """Metrics over ``n_labelled`` labelled rows (of ``n_rows``); ``registered`` holds the
    version's recorded value of each metric it has, ``delta`` the change since."""

    task: str
    n_rows: int
    n_labelled: int
    metrics: dict[str, float | None]
    registered: dict[str, float]
    delta: dict[str, float]

    def figures(self) -> dict[str, float]:
        """``performance.<metric>``, ``performance.delta.<metric>`` and ``performance.labelled``."""
        out = {"performance.labelled": float(self.n_labelled)}
        for name, value in self.metrics.items():
            if value is not None and math.isfinite(value):
                out[f"performance.{name}"] = value
        for name, value in self.delta.items():
            out[f"performance.delta.{name}"] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def labelled(actuals: Array | None) -> Array:
    """The mask of rows that have a label (not None, not NaN)."""
    if actuals is None:
        return np.zeros(0, dtype=bool)
    values = np.asarray(actuals)
    if values.dtype.kind == "f":
        mask: Array = ~np.isnan(values)
        return mask
    if values.dtype.kind in "iub":
        return np.ones(values.shape[0], dtype=bool)
    return np.array(
        [v is not None and not (isinstance(v, float) and math.isnan(v)) for v in values],
        dtype=bool,
    )


def performance_report(
    task: str,
    predicted: Array,
    actuals: Array | None,
    *,
    probabilities: Array | None = None,
    classes: Sequence[Any] | None = None,
    registered: Mapping[str, float] | None = None,
) -> PerformanceReport:
    """Metrics over the rows of ``predicted`` whose ``actuals`` are known (None: no labels)."""
    predicted = np.asarray(predicted)
    n_rows = int(predicted.shape[0])
    mask = labelled(actuals)
    if actuals is not None and mask.shape[0] != n_rows:
        raise InvalidInputError(
            f"actuals has {mask.shape[0]} rows but there are {n_rows} predictions; align them"
        )
    n = int(mask.sum())
    metrics: dict[str, float | None] = {}
    if n and actuals is not None:
        y_true = np.asarray(actuals)[mask]
        y_pred = predicted[mask]
        if task == "regression":
            metrics = dict(regression_metrics(_floats(y_true), _floats(y_pred)))
        elif task == "classification":
            proba = None if probabilities is None else np.asarray(probabilities, float)[mask]
            metrics = classification_metrics(y_true, y_pred, proba=proba, classes=classes)
        else:
            raise InvalidInputError(f"task must be classification or regression, got {task!r}")
    recorded: dict[str, float] = {}
    delta: dict[str, float] = {}
    for name, value in (registered or {}).items():
        key = ALIASES.get(name.lower())
        if key is None or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        recorded[key] = float(value)
        current = metrics.get(key)
        if current is not None and math.isfinite(current):
            delta[key] = current - float(value)
    return PerformanceReport(task, n_rows, n, metrics, recorded, delta)


def regression_metrics(y_true: Array, y_pred: Array) -> dict[str, float]:
    """MAE, RMSE and R²; with a constant target R² is 1 for a perfect fit, else 0 (as
    scikit-learn's ``force_finite``)."""
    y_true = _floats(y_true)
    y_pred = _floats(y_pred)
    err = y_pred - y_true
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    ss_res = float((err**2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(math.sqrt((err**2).mean())),
        "r2": r2,
    }


def classification_metrics(
    y_true: Array,
    y_pred: Array,
    *,
    proba: Array | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float | None]:
    """Accuracy, precision/recall/F1 (positive class and macro), ROC AUC and log loss.

    ``classes`` is the model's class order (that of ``proba``'s columns); without it, the sorted
    union of the labels seen. A metric that the data cannot give (ROC AUC with one class
    present) is None.
    """
    y_true, y_pred, order = _align(y_true, y_pred, classes)
    k = len(order)
    per_class = [_prf(y_true == i, y_pred == i) for i in range(k)]
    out: dict[str, float | None] = {"accuracy": float((y_true == y_pred).mean())}
    present = [i for i in range(k) if (y_true == i).any() or (y_pred == i).any()]
    for j, name in enumerate(("precision", "recall", "f1")):
        out[f"{name}_macro"] = float(np.mean([per_class[i][j] for i in present]))
        out[name] = per_class[k - 1][j] if k == 2 else out[f"{name}_macro"]
    out["roc_auc"] = None
    out["log_loss"] = None
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[1] != k:
            raise InvalidInputError(
                f"probabilities must have one column per class ({k}), got shape {proba.shape}"
            )
        out["log_loss"] = log_loss(y_true, proba)
        if k == 2:
            out["roc_auc"] = roc_auc(y_true == 1, proba[:, 1])
        else:
            aucs = [roc_auc(y_true == i, proba[:, i]) for i in range(k)]
            known = [a for a in aucs if a is not None]
            out["roc_auc"] = float(np.mean(known)) if len(known) == k else None
    return out


def roc_auc(positive: Array, score: Array) -> float | None:
    """The area under the ROC curve (Mann-Whitney U, ties counted half); None with one class."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def log_loss(y_index: Array, proba: Array) -> float:
    """Mean negative log-likelihood of the true class; probabilities clipped to [eps, 1-eps]
    and each row rescaled to sum to 1 (as scikit-learn)."""
    eps = float(np.finfo(np.float64).eps)
    p = np.clip(proba, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    picked = p[np.arange(p.shape[0]), y_index]
    return float(-np.log(picked).mean())


def _prf(truth: Array, pred: Array) -> tuple[float, float, float]:
    tp = float((truth & pred).sum())
    fp = float((~truth & pred).sum())
    fn = float((truth & ~pred).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def _align(
    y_true: Array, y_pred: Array, classes: Sequence[Any] | None
) -> tuple[Array, Array, list[str]]:
    """Both label arrays as indices into one class order (labels compared by their text, so
    a label 1 logged as ``1`` and fed back as ``1.0`` or ``"1"`` is the same class)."""
    t = [_key(v) for v in np.asarray(y_true).tolist()]
    p = [_key(v) for v in np.asarray(y_pred).tolist()]
    if classes is not None:
        order = [_key(c) for c in classes]
    else:
        seen = set(t) | set(p)
        order = sorted(seen, key=_sort_key)
    index = {c: i for i, c in enumerate(order)}
    if unknown := sorted({v for v in t + p if v not in index}):
        raise InvalidInputError(
            f"label(s) {', '.join(unknown[:5])} are not among the model's classes "
            f"({', '.join(order)}); check the labels sent as feedback"
        )
    return np.array([index[v] for v in t]), np.array([index[v] for v in p]), order


def _key(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _sort_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _floats(values: Array) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"a regressor's labels and predictions must be numbers: {exc}"
        ) from exc
