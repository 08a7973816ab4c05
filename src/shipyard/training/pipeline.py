"""The model families, each one scikit-learn ``Pipeline``: preprocessing, then the estimator.

The whole pipeline is one artifact. Linear models (logistic regression, or ridge for regression) get median imputation, scaling and one-hot
encoding; tree families get ordinal codes (unknown and missing categories become -1, which
HistGradientBoosting reads as missing). A family also declares its search space for AutoML.

LightGBM and XGBoost use their scikit-learn APIs and are imported only when used. A pipeline
ending in one is registered with the composite flavor (:mod:`shipyard.flavors.composite`): the
preprocessing saved with skops and the booster in its native format, each verified on load, so no
pickle is involved.

HistGradientBoosting is served safely: its tree storage (``TreePredictor``) is one of the types
the scikit-learn flavor trusts only together with ``flavors/_tree_check.py``, which bounds-checks
every node, feature and categorical bitset after the skops load and before any prediction. So it
stays in the default families.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import require

if TYPE_CHECKING:
    import optuna

    from shipyard.settings import Settings

__all__ = [
    "FAMILY_SPECS",
    "Family",
    "build_pipeline",
    "check_storable",
    "default_params",
    "installed_families",
]

Params = dict[str, Any]


@dataclass(frozen=True)
class Family:
    name: str
    tree: bool
    """Ordinal codes for categoricals and no scaling (else one-hot and scaling)."""
    extra: str | None
    """The pip extra holding the library, for families outside scikit-learn."""
    make: Callable[[str, Params, int, Sequence[int]], Any]
    """``(task, params, seed, categorical column positions) -> estimator``."""
    suggest: Callable[[optuna.Trial, str], Params]
    """``(trial, task) -> params``: the family's search space, names prefixed by the family."""
    defaults: Params


def build_pipeline(
    family: str,
    task: str,
    params: Params,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int,
) -> Any:
    """An unfitted ``Pipeline([("preprocess", ColumnTransformer), ("model", estimator)])``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    spec = FAMILY_SPECS[family]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        if family == "hist_gradient_boosting":  # handles missing values natively
            parts.append(("numeric", "passthrough", list(numeric)))
        elif spec.tree:
            parts.append(("numeric", SimpleImputer(strategy="median"), list(numeric)))
        else:
            scaled = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
            parts.append(("numeric", scaled, list(numeric)))
    if categorical:
        if spec.tree:
            encoder: Any = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                max_categories=250,  # HistGradientBoosting takes at most 255 bins per feature
            )
        else:
            encoder = make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
            )
        parts.append(("categorical", encoder, list(categorical)))
    positions = list(range(len(numeric), len(numeric) + len(categorical)))
    estimator = spec.make(task, {**spec.defaults, **params}, seed, positions)
    preprocess = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def default_params(family: str) -> Params:
    return dict(FAMILY_SPECS[family].defaults)


def check_storable(family: str, settings: Settings) -> None:
    """Raise :class:`~shipyard.errors.MissingDependencyError` (naming the ``pip install``) when
    ``family`` needs an extra that is not installed; every family is storable without pickle
    (LightGBM and XGBoost pipelines through the composite flavor)."""
    spec = FAMILY_SPECS[family]
    if spec.extra is not None:
        require(family, spec.extra)


def installed_families() -> tuple[str, ...]:
    """The families whose library is importable, without importing it: the default search."""
    import importlib.util

    return tuple(
        name
        for name, spec in FAMILY_SPECS.items()
        if spec.extra is None or importlib.util.find_spec(name) is not None
    )


# -- the families -----------------------------------------------------------------------------


def _linear(task: str, p: Params, seed: int, _cat: Sequence[int]) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return LogisticRegression(C=p.get("C", 1.0), max_iter=2000, random_state=seed)
    return Ridge(alpha=p.get("alpha", 1.0), random_state=seed)


def _linear_space(trial: optuna.Trial, task: str) -> Params:
    if task == "classification":
        return {"C": trial.suggest_float("linear.C", 1e-3, 1e2, log=True)}
    return {"alpha": trial.suggest_float("linear.alpha", 1e-3, 1e3, log=True)}


def _forest(task: str, p: Params, seed: int, _cat: Sequence[int]) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        random_state=seed,
        n_jobs=1,
    )


def _forest_space(trial: optuna.Trial, _task: str) -> Params:
    return {
        "n_estimators": trial.suggest_int("random_forest.n_estimators", 50, 300, step=50),
        "max_depth": trial.suggest_int("random_forest.max_depth", 3, 20),
        "min_samples_leaf": trial.suggest_int("random_forest.min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_float("random_forest.max_features", 0.2, 1.0),
    }


def _hgb(task: str, p: Params, seed: int, cat: Sequence[int]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    return cls(
        learning_rate=p["learning_rate"],
        max_iter=p["max_iter"],
        max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        categorical_features=list(cat) or None,
        early_stopping=False,  # a fixed number of rounds keeps the search reproducible
        random_state=seed,
    )


def _hgb_space(trial: optuna.Trial, _task: str) -> Params:
    return {
        "learning_rate": trial.suggest_float(
            "hist_gradient_boosting.learning_rate", 0.02, 0.3, log=True
        ),
        "max_iter": trial.suggest_int("hist_gradient_boosting.max_iter", 50, 400, step=50),
        "max_leaf_nodes": trial.suggest_int(
            "hist_gradient_boosting.max_leaf_nodes", 8, 64, log=True
        ),
        "min_samples_leaf": trial.suggest_int(
            "hist_gradient_boosting.min_samples_leaf", 5, 100, log=True
        ),
        "l2_regularization": trial.suggest_float(
            "hist_gradient_boosting.l2_regularization", 1e-6, 10.0, log=True
        ),
    }


def _lightgbm(task: str, p: Params, seed: int, _cat: Sequence[int]) -> Any:
    lgb: Any = require("lightgbm", "lightgbm")
    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    return cls(**p, random_state=seed, n_jobs=1, deterministic=True, verbose=-1)


def _lightgbm_space(trial: optuna.Trial, _task: str) -> Params:
    return {
        "n_estimators": trial.suggest_int("lightgbm.n_estimators", 50, 400, step=50),
        "learning_rate": trial.suggest_float("lightgbm.learning_rate", 0.02, 0.3, log=True),
        "num_leaves": trial.suggest_int("lightgbm.num_leaves", 8, 128, log=True),
        "min_child_samples": trial.suggest_int("lightgbm.min_child_samples", 5, 100, log=True),
        "reg_lambda": trial.suggest_float("lightgbm.reg_lambda", 1e-6, 10.0, log=True),
    }


def _xgboost(task: str, p: Params, seed: int, _cat: Sequence[int]) -> Any:
    xgb: Any = require("xgboost", "xgboost")
    cls = xgb.XGBClassifier if task == "classification" else xgb.XGBRegressor
    return cls(**p, random_state=seed, n_jobs=1, tree_method="hist")


def _xgboost_space(trial: optuna.Trial, _task: str) -> Params:
    return {
        "n_estimators": trial.suggest_int("xgboost.n_estimators", 50, 400, step=50),
        "learning_rate": trial.suggest_float("xgboost.learning_rate", 0.02, 0.3, log=True),
        "max_depth": trial.suggest_int("xgboost.max_depth", 2, 10),
        "subsample": trial.suggest_float("xgboost.subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("xgboost.reg_lambda", 1e-6, 10.0, log=True),
    }


FAMILY_SPECS: dict[str, Family] = {
    "linear": Family("linear", False, None, _linear, _linear_space, {}),
    "random_forest": Family(
        "random_forest",
        True,
        None,
        _forest,
        _forest_space,
        {"n_estimators": 200, "max_depth": None, "min_samples_leaf": 1, "max_features": "sqrt"},
    ),
    "hist_gradient_boosting": Family(
        "hist_gradient_boosting",
        True,
        None,
        _hgb,
        _hgb_space,
        {
            "learning_rate": 0.1,
            "max_iter": 100,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 20,
            "l2_regularization": 0.0,
        },
    ),
    "lightgbm": Family(
        "lightgbm", True, "lightgbm", _lightgbm, _lightgbm_space, {"n_estimators": 100}
    ),
    "xgboost": Family("xgboost", True, "xgboost", _xgboost, _xgboost_space, {"n_estimators": 100}),
}
