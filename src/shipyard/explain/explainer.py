"""Choosing and running an attribution method for one fitted model.

- ``tree``: exact path-dependent TreeSHAP on the final estimator of a tree ensemble: scikit-learn
  forests and single trees through :mod:`shipyard.explain.treeshap` (linear time, the same
  values), boosting, XGBoost and LightGBM through ``shap.TreeExplainer``. Output space as shap
  defines it: probability for forests, log-odds (or margin) for boosted classifiers.
- ``linear``: exact linear SHAP for scikit-learn linear models, with features independent:
  ``coef * (z - mean(background))``, base ``intercept + coef . mean(background)``; log-odds for
  a logistic regression.
- ``sampling``: for anything else (or a Pipeline step that cannot be seen through), antithetic
  permutation sampling over the original features against the background rows, the algorithm
  of ``shap.PermutationExplainer``, written here because shap's maskers cannot hold text
  columns. ``budget`` bounds the model evaluations per row; attributions still add up exactly.

Tree and linear attributions are computed on the matrix the final estimator sees and summed
back to the original features (:mod:`shipyard.explain.features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, MissingDependencyError
from shipyard.explain import treeshap
from shipyard.explain.explanation import Explanation
from shipyard.explain.features import column_owners, split_pipeline

__all__ = ["METHODS", "Explainer", "import_shap"]

METHODS = ("auto", "tree", "linear", "sampling")
DEFAULT_BUDGET = 2_000
Matrix = np.ndarray[Any, np.dtype[np.float64]]


def import_shap() -> Any:
    try:
        import shap
    except ImportError as exc:
        raise MissingDependencyError(
            "exact tree attributions need the shap package: pip install 'shipyard[explain]'"
        ) from exc
    return shap


class Explainer:
    """Attributions for one fitted model over ``features`` (the columns it is given, in order),
    against ``background`` rows of those features (at most ~100: see
    :func:`shipyard.explain.background.summarise`). Thread-safe once built."""

    def __init__(
        self,
        model: Any,
        features: Sequence[str],
        background: pd.DataFrame,
        *,
        method: str = "auto",
        budget: int = DEFAULT_BUDGET,
        seed: int = 0,
    ) -> None:
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise InvalidInputError(f"budget must be a positive integer, got {budget!r}")
        if len(background) == 0:
            raise InvalidInputError("the background data has no rows")
        self.model = model
        self.features = tuple(features)
        self.background = background.loc[:, list(self.features)].reset_index(drop=True)
        self.budget = budget
        self.seed = seed
        prepare, self.final = split_pipeline(model)
        self.prepare = prepare
        self.classes: tuple[Any, ...] | None = (
            tuple(self.final.classes_) if hasattr(self.final, "classes_") else None
        )
        owners = column_owners(prepare, len(self.features)) if prepare else None
        if not prepare and _all_numeric(self.background):
            owners = list(range(len(self.features)))
        self._owners = owners
        self._tree: Any = None
        self._fast: treeshap.LinearTreeShap | None = None
        self._tree_space = ""
        self.method = self._choose(method)
        if self.method != "sampling":
            assert owners is not None
            self._sum_back = np.zeros((len(owners), len(self.features)))
            self._sum_back[np.arange(len(owners)), owners] = 1.0
            self._bg_matrix = self._transform(self.background)

    # -- choosing ---------------------------------------------------------------------------

    def _choose(self, method: str) -> str:
        if method == "sampling":
            return method
        if self._owners is None:
            if method != "auto":
                raise InvalidInputError(
                    f"method {method!r} needs a model whose preparing steps map columns back to "
                    "features (a Pipeline of ColumnTransformer, OneHotEncoder, imputers, "
                    "scalers); use method 'sampling' (or 'auto')"
                )
            return "sampling"
        if method in ("auto", "linear") and _is_linear(self.final):
            return "linear"
        if method == "linear":
            raise InvalidInputError(
                f"method 'linear' needs a linear model; {type(self.final).__name__} is not one"
            )
        if self._tree_explainer() is not None:
            return "tree"
        if method == "tree":
            raise InvalidInputError(
                f"method 'tree' needs a tree ensemble shap supports; {type(self.final).__name__} "
                "is not one: use method 'sampling' (or 'auto')"
            )
        return "sampling"

    def _tree_explainer(self) -> Any:
        if treeshap.supports(self.final) and _has_numba():
            self._fast = treeshap.LinearTreeShap(self.final)
            self._tree_space = "probability" if self.classes is not None else "raw_value"
            return self._fast
        shap = import_shap()
        try:
            explainer = shap.TreeExplainer(self.final, feature_perturbation="tree_path_dependent")
        except Exception:  # shap raises several kinds for models it does not know
            return None
        self._tree = explainer
        self._tree_space = str(getattr(explainer.model, "tree_output", "raw_value"))
        return explainer

    # -- explaining -------------------------------------------------------------------------

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """Attributions for the rows of ``frame`` (columns: ``features``)."""
        frame = frame.loc[:, list(self.features)]
        if self.method == "tree":
            return self._explain_tree(frame)
        if self.method == "linear":
            return self._explain_linear(frame)
        return self._explain_sampling(frame)

    def _transform(self, frame: pd.DataFrame) -> Matrix:
        data: Any = frame
        for step in self.prepare:
            data = step.transform(data)
        if hasattr(data, "toarray"):
            data = data.toarray()
        return np.asarray(data, dtype=np.float64)

    def _explain_tree(self, frame: pd.DataFrame) -> Explanation:
        matrix = self._transform(frame)
        if self._fast is not None:
            expected = self._fast.expected_value()
            pick = self._output_index(matrix, expected.size)
            values, outputs = self._fast.shap_values(matrix, pick)
            space = "probability" if self.classes is not None else "value"
            return self._result(
                values @ self._sum_back, expected[pick], outputs, "tree", space, pick
            )
        raw = np.asarray(self._tree.shap_values(matrix, check_additivity=False), dtype=float)
        expected = np.atleast_1d(np.asarray(self._tree.expected_value, dtype=float))
        if raw.ndim == 2:  # one output: a regressor, or a binary boosted classifier
            raw = raw[:, :, None]
        pick = self._output_index(matrix, raw.shape[2])
        rows = np.arange(len(frame))
        values = raw[rows, :, pick]
        base = expected[pick] if expected.size > 1 else np.full(len(frame), expected[0])
        outputs = self._tree_outputs(matrix, pick, raw.shape[2])
        space = {"probability": "probability", "log_odds": "log-odds"}.get(
            self._tree_space, "margin" if self.classes is not None else "value"
        )
        class_index = pick + 1 if raw.shape[2] == 1 and self.classes is not None else pick
        return self._result(values @ self._sum_back, base, outputs, "tree", space, class_index)

    def _tree_outputs(self, prepared: Matrix, pick: Any, n_outputs: int) -> Any:
        final, rows = self.final, np.arange(len(prepared))
        matrix = self._as_fitted(prepared)
        if self._tree_space == "probability" and hasattr(final, "predict_proba"):
            return np.asarray(final.predict_proba(matrix), dtype=float)[rows, pick]
        if self.classes is None:
            return np.asarray(final.predict(matrix), dtype=float)
        if hasattr(final, "decision_function"):
            scores = np.asarray(final.decision_function(matrix), dtype=float)
        elif type(final).__module__.startswith("xgboost"):
            scores = np.asarray(final.predict(matrix, output_margin=True), dtype=float)
        elif type(final).__module__.startswith("lightgbm"):
            scores = np.asarray(final.predict(matrix, raw_score=True), dtype=float)
        else:  # shap's own copy of the trees
            scores = np.asarray(self._tree.model.predict(prepared), dtype=float)
        if scores.ndim == 1:
            return scores
        return scores[rows, pick] if n_outputs > 1 else scores[:, 0]

    def _output_index(self, matrix: Matrix, n_outputs: int) -> Any:
        """Which output each row is explained for: the positive class of a binary classifier,
        the predicted class of a multi-class one."""
        if n_outputs == 1:
            return np.zeros(len(matrix), dtype=int)
        if n_outputs == 2:
            return np.ones(len(matrix), dtype=int)
        return np.asarray(self.final.predict_proba(self._as_fitted(matrix))).argmax(axis=1)

    def _as_fitted(self, prepared: Matrix) -> Any:
        """The prepared rows as the final estimator was fitted: named when it saw names."""
        names = getattr(self.final, "feature_names_in_", None)
        if names is not None and len(names) == prepared.shape[1]:
            return pd.DataFrame(prepared, columns=list(names))
        return prepared

    def _explain_linear(self, frame: pd.DataFrame) -> Explanation:
        matrix = self._transform(frame)
        coef = np.atleast_2d(np.asarray(self.final.coef_, dtype=float))
        intercept = np.atleast_1d(np.asarray(self.final.intercept_, dtype=float))
        if intercept.size == 1 and coef.shape[0] > 1:
            intercept = np.repeat(intercept, coef.shape[0])
        mean = self._bg_matrix.mean(axis=0)
        scores = matrix @ coef.T + intercept  # (rows, outputs): the decision function
        pick = np.zeros(len(frame), dtype=int) if coef.shape[0] == 1 else scores.argmax(axis=1)
        rows = np.arange(len(frame))
        weights = coef[pick]  # (rows, columns)
        values = weights * (matrix - mean)
        base = intercept[pick] + weights @ mean
        if self.classes is None:
            space = "value"
        elif type(self.final).__name__ == "LogisticRegression":
            space = "log-odds"
        else:
            space = "margin"
        class_index = pick + 1 if coef.shape[0] == 1 and self.classes is not None else pick
        return self._result(
            values @ self._sum_back, base, scores[rows, pick], "linear", space, class_index
        )

    def _explain_sampling(self, frame: pd.DataFrame) -> Explanation:
        n_features = len(self.features)
        background = self.background
        permutations = max(1, self.budget // (2 * (n_features + 1) * len(background)))
        rng = np.random.default_rng(self.seed)
        bg_outputs = self._model_outputs(background)  # (bg, outputs)
        out = self._model_outputs(frame)
        pick = (
            np.zeros(len(frame), dtype=int)
            if out.shape[1] == 1
            else (np.ones(len(frame), dtype=int) if out.shape[1] == 2 else out.argmax(axis=1))
        )
        values = np.zeros((len(frame), n_features))
        for i in range(len(frame)):
            row = frame.iloc[[i]]
            for _ in range(permutations):
                order = rng.permutation(n_features)
                for perm in (order, order[::-1]):  # antithetic pair
                    values[i] += self._walk(row, perm, pick[i])
            values[i] /= 2 * permutations
        base = bg_outputs[:, pick].mean(axis=0)
        space = "probability" if self.classes is not None else "value"
        outputs = out[np.arange(len(frame)), pick]
        return self._result(values, base, outputs, "sampling", space, pick)

    def _walk(self, row: pd.DataFrame, order: Any, pick: int) -> Matrix:
        """Marginal contributions along one permutation: switch the features to the row's
        values one by one, on every background row at once; they telescope to
        ``f(row) - mean f(background)``."""
        n_bg, n_features = len(self.background), len(self.features)
        steps = [self.background.copy()]
        current = self.background.copy()
        for j in order:
            name = self.features[j]
            current = current.copy()
            current[name] = pd.Series([row.iloc[0][name]] * n_bg, dtype=current[name].dtype)
            steps.append(current)
        stacked = pd.concat(steps, ignore_index=True)
        means = self._model_outputs(stacked)[:, pick].reshape(n_features + 1, n_bg).mean(axis=1)
        contributions = np.zeros(n_features)
        contributions[np.asarray(order)] = np.diff(means)
        return contributions

    def _model_outputs(self, frame: pd.DataFrame) -> Matrix:
        if self.classes is not None and hasattr(self.model, "predict_proba"):
            return np.asarray(self.model.predict_proba(frame), dtype=float)
        return np.asarray(self.model.predict(frame), dtype=float).reshape(len(frame), -1)

    def _result(
        self,
        values: Matrix,
        base: Any,
        outputs: Any,
        method: str,
        space: str,
        pick: Any,
    ) -> Explanation:
        classes = None
        if self.classes is not None:
            classes = tuple(self.classes[int(i)] for i in np.asarray(pick))
        return Explanation(
            features=self.features,
            values=np.asarray(values, dtype=np.float64),
            base_values=np.broadcast_to(np.asarray(base, dtype=np.float64), (len(values),)).copy(),
            outputs=np.asarray(outputs, dtype=np.float64).reshape(len(values)),
            method=method,
            output_space=space,
            classes=classes,
        )


def _is_linear(model: Any) -> bool:
    return (
        type(model).__module__.startswith("sklearn.linear_model")
        and hasattr(model, "coef_")
        and hasattr(model, "intercept_")
    )


def _all_numeric(frame: pd.DataFrame) -> bool:
    return all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes)


def _has_numba() -> bool:
    """Whether numba (a dependency of shap) is there to compile the linear-time TreeSHAP."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True
