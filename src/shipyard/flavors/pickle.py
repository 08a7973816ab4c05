"""The last resort: any other Python object, pickled; serving calls its ``predict``.

Loading a pickle runs code chosen by whoever wrote the file, so this flavor is ``safe = False``:
it refuses to load unless the operator set ``allow_pickle``, and it reports every load through
``LoadContext.on_unsafe_load`` so the registry can audit it.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import TYPE_CHECKING, Any

from shipyard.errors import IntegrityError, MissingDependencyError, UnsafeFormatError
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["PickleFlavor", "refusal_message"]


def refusal_message(subject: str) -> str:
    """Why a pickle artifact is refused, how to allow it, and how to avoid needing to."""
    return (
        f"{subject} would be stored as a pickle, and pickle artifacts can run arbitrary code "
        "when they are loaded, so shipyard refuses them by default. Convert the model instead: "
        "scikit-learn estimators and pipelines are saved with skops automatically (pass the "
        "estimator itself, not a wrapper around it); other models can be exported to ONNX "
        "(skl2onnx, torch.onnx, tf2onnx) or saved natively as an XGBoost or LightGBM booster. "
        "If you trust where this artifact comes from, the operator can allow pickle with "
        "SHIPYARD_ALLOW_PICKLE=1 (or allow_pickle = true in shipyard.toml)."
    )


class PickleFlavor:
    """Any other object, via cloudpickle (or pickle); loads pickle and joblib files."""

    name = "pickle"
    file_suffix = ".pkl"
    accepted_suffixes: tuple[str, ...] = (".pkl", ".pickle", ".joblib", ".cloudpickle")
    safe = False

    def can_save(self, model: Any) -> bool:
        # Any object at all, but not the mistakes: a missing model, a class, a module.
        return model is not None and not isinstance(model, type | types.ModuleType)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        return filename.lower().endswith(self.accepted_suffixes) and bool(head)

    def save(self, model: Any) -> bytes:
        try:
            import cloudpickle
        except ImportError:
            return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        data: bytes = cloudpickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        return data

    def load(self, data: bytes, context: LoadContext) -> Any:
        if not context.settings.allow_pickle:
            raise UnsafeFormatError(refusal_message("This artifact"))
        if context.on_unsafe_load is not None:
            context.on_unsafe_load(self.name)
        try:
            return _unpickle(data)
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                f"the pickled model needs the module {exc.name!r}, which is not installed in "
                "this environment; install the packages the model was trained with"
            ) from exc
        except Exception as exc:  # unpickling can fail with any exception
            raise IntegrityError(f"the pickle artifact could not be loaded: {exc!r}") from exc

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(model.predict(frame))

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        method = getattr(model, "predict_proba", None)
        return None if not callable(method) else np.asarray(method(frame), dtype=float)

    def describe(self, model: Any) -> dict[str, Any]:
        import numpy as np

        cls = type(model)
        facts: dict[str, Any] = {
            "library": cls.__module__.split(".")[0],
            "format": "pickle",
            "estimator": f"{cls.__module__}.{cls.__qualname__}",
            "task": "classification" if hasattr(model, "predict_proba") else "other",
        }
        classes = getattr(model, "classes_", None)
        if classes is not None:
            facts["classes"] = np.asarray(classes).tolist()
        n_features = getattr(model, "n_features_in_", None)
        if isinstance(n_features, int | np.integer):
            facts["n_features"] = int(n_features)
        return facts


def _unpickle(data: bytes) -> Any:
    try:
        import joblib  # reads plain pickles too, and joblib's compressed files
    except ImportError:
        return pickle.loads(data)
    return joblib.load(io.BytesIO(data))
