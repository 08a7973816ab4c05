"""Splitting and cross-validation: the figures a candidate is judged by before its gates."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError
from shipyard.training.metrics import score_model
from shipyard.training.pipeline import Params, build_pipeline

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.training.data import TrainingData

__all__ = ["cross_validate", "holdout_split", "limit_threads"]


def holdout_split(
    data: TrainingData, task: str, share: float, seed: int
) -> tuple[TrainingData, TrainingData]:
    """Train and holdout parts, stratified by class for classification."""
    from sklearn.model_selection import train_test_split

    from shipyard.training.data import TrainingData

    n = len(data.y)
    n_holdout = round(n * share)
    if n_holdout < 1 or n - n_holdout < 2:
        raise InvalidInputError(
            f"split.holdout: {share} of {n} rows leaves no room for both parts; add rows or "
            "change the share"
        )
    stratify = data.y if task == "classification" and data.y.value_counts().min() >= 2 else None
    X_train, X_hold, y_train, y_hold, c_train, c_hold = train_test_split(
        data.X, data.y, data.context, test_size=n_holdout, random_state=seed, stratify=stratify
    )

    def part(X: pd.DataFrame, y: pd.Series[Any], context: pd.DataFrame) -> TrainingData:
        return TrainingData(
            X.reset_index(drop=True),
            y.reset_index(drop=True),
            data.numeric,
            data.categorical,
            context.reset_index(drop=True),
        )

    return part(X_train, y_train, c_train), part(X_hold, y_hold, c_hold)


def cross_validate(
    family: str,
    params: Params,
    data: TrainingData,
    *,
    task: str,
    metric: str,
    folds: int,
    seed: int,
    threads: int = 1,
    on_fold: Callable[[int, float], None] | None = None,
) -> list[float]:
    """The metric on each of ``folds`` folds (same folds for every candidate of one seed).

    ``on_fold(i, score)`` runs after each fold; AutoML reports there and may stop the trial.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        if int(data.y.value_counts().min()) < folds:
            raise InvalidInputError(
                f"split.folds: the rarest class has fewer than {folds} rows; lower folds or add data"
            )
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
    scores: list[float] = []
    for i, (train_idx, test_idx) in enumerate(splitter.split(data.X, data.y)):
        model = build_pipeline(
            family,
            task,
            params,
            numeric=data.numeric,
            categorical=data.categorical,
            seed=seed,
        )
        with limit_threads(threads):
            model.fit(data.X.iloc[train_idx], data.y.iloc[train_idx])
        value = score_model(metric, model, data.X.iloc[test_idx], data.y.iloc[test_idx])
        if value is None:
            raise InvalidInputError(
                f"metric: {metric} is undefined on fold {i + 1} (too few rows of a class); "
                "lower split.folds or add data"
            )
        scores.append(value)
        if on_fold is not None:
            on_fold(i, value)
    return scores


def limit_threads(threads: int) -> AbstractContextManager[Any]:
    """Cap the native thread pools (OpenMP, BLAS) while fitting: on a busy machine, OpenMP
    threads spin against each other and a HistGradientBoosting fit can take ten times longer."""
    # threadpoolctl (a scikit-learn dependency) ships no type information.
    threadpoolctl: Any = importlib.import_module("threadpoolctl")
    limits: AbstractContextManager[Any] = threadpoolctl.threadpool_limits(threads)
    return limits
