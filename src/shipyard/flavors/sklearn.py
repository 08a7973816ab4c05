"""scikit-learn estimators and pipelines, saved with skops.

skops rebuilds only types it is told to trust, and never runs code from the file. Beyond its own
defaults, shipyard vouches for the short list in :data:`BUILTIN_TRUSTED_TYPES`; the operator can
extend it with the ``trusted_types`` setting. Trust never comes from the artifact itself.

Trees are the exception that needs more than trust: skops refuses ``sklearn.tree._tree.Tree`` by
default because scikit-learn follows their node indices without bounds checks. shipyard trusts
them only together with :func:`shipyard.flavors._tree_check.check_model`, which checks every tree
after loading and before the model is returned.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from shipyard.errors import IntegrityError, UnsafeFormatError, UnsupportedModelError
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["BUILTIN_TRUSTED_TYPES", "SklearnFlavor"]

BUILTIN_TRUSTED_TYPES: tuple[str, ...] = (
    # Node storage of decision trees, forests and GradientBoosting: checked by _tree_check.
    "sklearn.tree._tree.Tree",
    # Node storage of HistGradientBoosting: checked by _tree_check.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # HistGradientBoosting with categorical features preprocesses numeric columns with
    # FunctionTransformer(partial(check_array, ...)). skops audits the function a partial wraps
    # on its own, so trusting partial does not extend to arbitrary callables.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    # CalibratedClassifierCV's fitted parts: an estimator (walked by _tree_check), its
    # calibrators and the classes; no code of their own beyond scikit-learn's.
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # A plain dict subclass: Voting* and Stacking* keep named_estimators_ in one.
    "sklearn.utils._bunch.Bunch",
    # A dtype descriptor, remembered by SimpleImputer, KBinsDiscretizer and others.
    "numpy.dtype",
)
"""Types beyond skops' defaults that shipyard loads without the operator's ``trusted_types``."""


class SklearnFlavor:
    """scikit-learn objects (estimators, pipelines, ColumnTransformers) as ``.skops`` files."""

    name = "sklearn"
    file_suffix = ".skops"
    accepted_suffixes: tuple[str, ...] = (".skops",)
    safe = True

    def can_save(self, model: Any) -> bool:
        module = type(model).__module__
        if not (module == "sklearn" or module.startswith("sklearn.")):
            return False
        base = sys.modules.get("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        return filename.lower().endswith(".skops") and head.startswith(b"PK\x03\x04")

    def save(self, model: Any) -> bytes:
        import skops.io as sio

        try:
            data: bytes = sio.dumps(model)
        except TypeError as exc:  # skops' UnsupportedTypeException is a TypeError
            raise UnsupportedModelError(
                f"skops cannot save this {type(model).__name__}: {exc}; replace the unsupported "
                "part (for example a lambda in a FunctionTransformer) with a module-level function"
            ) from exc
        return data

    def load(self, data: bytes, context: LoadContext) -> Any:
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        allowed = set(BUILTIN_TRUSTED_TYPES) | set(context.settings.trusted_types)
        try:
            # One parse on the happy path: skops refuses anything outside ``allowed`` itself.
            model = sio.loads(data, trusted=sorted(allowed))
        except UntrustedTypesFoundException as exc:
            refused = sorted(set(sio.get_untrusted_types(data=data)) - allowed)
            raise UnsafeFormatError(
                f"the skops artifact contains type(s) shipyard does not trust: "
                f"{', '.join(refused)}. Loading a type can run its code, so review it first; if "
                "you trust it, add its name to the trusted_types setting (SHIPYARD_TRUSTED_TYPES "
                "as a comma-separated list, or trusted_types = [...] in shipyard.toml)"
            ) from exc
        except Exception as exc:  # a damaged zip or schema can fail in many ways
            raise IntegrityError(
                f"the artifact is not a readable skops file, or could not be rebuilt: {exc}"
            ) from exc
        from shipyard.flavors._tree_check import check_model

        try:
            check_model(model)
        except RecursionError as exc:  # nesting no scikit-learn model has
            raise IntegrityError("the skops artifact is nested too deeply") from exc
        return model

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(model.predict(frame))

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        if not hasattr(model, "predict_proba"):  # available_if hides it when unsupported
            return None
        return np.asarray(model.predict_proba(frame), dtype=float)

    def describe(self, model: Any) -> dict[str, Any]:
        import numpy as np
        import sklearn
        import skops
        from sklearn.base import is_classifier, is_regressor
        from sklearn.pipeline import Pipeline

        from shipyard.flavors._tree_check import tree_stats

        final = model
        while isinstance(final, Pipeline) and not isinstance(final.steps[-1][1], str):
            final = final.steps[-1][1]
        task = "classification" if is_classifier(model) else None
        task = task or ("regression" if is_regressor(model) else "other")
        facts: dict[str, Any] = {
            "library": "scikit-learn",
            "library_version": sklearn.__version__,
            "format": f"skops {skops.__version__}",
            "estimator": type(final).__name__,
            "task": task,
            # available_if hides predict_proba where the estimator cannot give it (SVC())
            "has_proba": hasattr(model, "predict_proba"),
        }
        classes = getattr(final, "classes_", None)
        if classes is not None:
            if isinstance(classes, list):  # multi-output: one array per output
                facts["classes"] = [np.asarray(c).tolist() for c in classes]
            else:
                facts["classes"] = np.asarray(classes).tolist()
        n_features = getattr(model, "n_features_in_", None)
        if n_features is not None:
            facts["n_features"] = int(n_features)
        names = getattr(model, "feature_names_in_", None)
        if names is not None:
            facts["feature_names"] = [str(n) for n in names]
        n_trees, n_nodes = tree_stats(model)
        if n_trees:
            facts["n_trees"], facts["n_nodes"] = n_trees, n_nodes
        return facts
