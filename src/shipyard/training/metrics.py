"""The metrics a training config can optimise and gate on, as pure functions of predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["GREATER_IS_BETTER", "needs_proba", "score", "score_model"]

GREATER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "accuracy": True,
    "f1": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


def needs_proba(metric: str) -> bool:
    return metric in ("roc_auc", "log_loss")


def score(
    metric: str,
    y_true: Any,
    predicted: np.ndarray[Any, Any],
    classes: Any = None,
) -> float | None:
    """``metric`` of the predictions: class probabilities (columns in ``classes`` order) for
    roc_auc and log_loss, labels or values otherwise. ``None`` when it is undefined on these rows
    (roc_auc on one class)."""
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y_true)
    if metric == "roc_auc":
        present = np.unique(y)
        if present.size < 2:
            return None
        if predicted.shape[1] == 2:
            return float(m.roc_auc_score(y == classes[1], predicted[:, 1]))
        if present.size < len(classes):
            return None
        return float(m.roc_auc_score(y, predicted, multi_class="ovr", labels=list(classes)))
    if metric == "log_loss":
        return float(m.log_loss(y, predicted, labels=list(classes)))
    if metric == "accuracy":
        return float(m.accuracy_score(y, predicted))
    if metric == "f1":
        if classes is not None and len(classes) == 2:
            return float(m.f1_score(y, predicted, pos_label=classes[1], zero_division=0.0))
        return float(m.f1_score(y, predicted, average="macro", zero_division=0.0))
    if metric == "rmse":
        return float(np.sqrt(m.mean_squared_error(y, predicted)))
    if metric == "mae":
        return float(m.mean_absolute_error(y, predicted))
    if metric == "r2":
        return float(m.r2_score(y, predicted)) if y.size > 1 else None
    raise ValueError(f"unknown metric {metric!r}")


def score_model(metric: str, model: Any, X: Any, y: Any) -> float | None:
    """``metric`` of a fitted estimator (or a loaded version) on ``X``, ``y``."""
    import numpy as np

    if needs_proba(metric):
        classes = _classes(model)
        return score(metric, y, np.asarray(model.predict_proba(X), dtype=float), classes)
    classes = _classes(model) if metric == "f1" else None
    return score(metric, y, np.asarray(model.predict(X)), classes)


def _classes(model: Any) -> Any:
    classes = getattr(model, "classes_", None)
    if classes is None:  # a LoadedModel: the classes are part of its signature
        native = getattr(model, "native", None)
        classes = getattr(native, "classes_", None)
    if classes is None:
        raise ValueError("the model does not report its classes")
    return list(classes)
