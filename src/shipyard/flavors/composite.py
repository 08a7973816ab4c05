"""A scikit-learn pipeline ending in a LightGBM or XGBoost model, stored without pickle.

No single safe format holds such a pipeline: skops does not trust the boosters' types, and the
boosters' native formats hold no preprocessing. So the artifact is a composite, one zip file::

    manifest.json      format, booster flavor, task, classes, and the sha256 of each part
    preprocess.skops   the fitted preprocessing (everything before the last step), via skops
    booster.txt|.ubj   the booster in its native format (LightGBM text or XGBoost UBJSON)

The registry checks the whole file against its digest before this flavor sees it; the flavor
then checks each part against the digest its manifest names, and loads each part with the flavor
that already validates that format (skops with shipyard's trusted types and tree checks; the
booster flavors' structural checks). ``predict`` is preprocess, then booster. Class labels are
kept in the manifest (as JSON values), because the boosters' native formats predict indices.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import IntegrityError, InvalidInputError, UnsupportedModelError
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["CompositeFlavor", "CompositeModel", "is_booster_pipeline"]

FORMAT = "shipyard.composite"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREPROCESS = "preprocess.skops"
_BOOSTER_FILES = {"lightgbm": "booster.txt", "xgboost": "booster.ubj"}
_MAX_PART_BYTES = 2 * 1024**3  # a part's declared size: refuse zip bombs before inflating


def _booster_kind(model: Any) -> str | None:
    """``lightgbm`` or ``xgboost`` for a booster or a scikit-learn wrapper of one, else None."""
    lgb, xgb = sys.modules.get("lightgbm"), sys.modules.get("xgboost")
    if lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel):
        return "lightgbm"
    if xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel):
        return "xgboost"
    return None


def is_booster_pipeline(model: Any) -> bool:
    """True for a scikit-learn ``Pipeline`` whose last step is a LightGBM or XGBoost model."""
    pipeline = sys.modules.get("sklearn.pipeline")
    return (
        pipeline is not None
        and isinstance(model, pipeline.Pipeline)
        and len(model.steps) >= 2
        and _booster_kind(model.steps[-1][1]) is not None
    )


@dataclass(frozen=True)
class CompositeModel:
    """Preprocessing (a fitted scikit-learn transformer) followed by a booster."""

    preprocess: Any
    booster: Any
    """A LightGBM/XGBoost booster or scikit-learn wrapper; a ``Booster`` once loaded."""
    kind: str
    """``lightgbm`` or ``xgboost``: the flavor of the booster part."""
    task: str
    classes: tuple[Any, ...] | None = None
    """Class labels in the order of the booster's class indices (classification only)."""

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> CompositeModel:
        """Split a fitted ``Pipeline`` ending in a LightGBM/XGBoost model into its two parts."""
        import numpy as np
        from sklearn.pipeline import Pipeline

        if not is_booster_pipeline(pipeline):
            raise UnsupportedModelError(
                f"expected a scikit-learn Pipeline ending in a LightGBM or XGBoost model, got "
                f"{type(pipeline).__name__}"
            )
        steps = pipeline.steps
        preprocess = steps[0][1] if len(steps) == 2 else Pipeline(steps[:-1])
        final = steps[-1][1]
        classes = getattr(final, "classes_", None)
        task = "classification" if classes is not None else "regression"
        labels = None if classes is None else tuple(np.asarray(classes).tolist())
        return cls(preprocess, final, str(_booster_kind(final)), task, labels)

    @property
    def classes_(self) -> np.ndarray | None:
        """The class labels as scikit-learn names them, for code that scores any classifier."""
        import numpy as np

        return None if self.classes is None else np.asarray(self.classes)

    def _transformed(self, frame: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        values = self.preprocess.transform(frame)
        if hasattr(values, "toarray"):  # a sparse matrix (one-hot encoders may give one)
            values = values.toarray()
        values = np.asarray(values, dtype=np.float64)
        return pd.DataFrame(values, columns=_booster_features(self, values.shape[1]))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        flavor = _booster_flavor(self.kind)
        raw = np.asarray(flavor.predict(self.booster, self._transformed(frame)))
        if self.classes is None:
            return raw
        labels = np.asarray(self.classes, dtype=object if _textual(self.classes) else None)
        return np.asarray(labels[raw.astype(np.int64)])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        if self.classes is None:
            return None
        proba = _booster_flavor(self.kind).predict_proba(self.booster, self._transformed(frame))
        return None if proba is None else np.asarray(proba, dtype=float)


def _textual(classes: tuple[Any, ...]) -> bool:
    return any(isinstance(c, str) for c in classes)


def _booster_features(model: CompositeModel, width: int) -> list[str]:
    """The column names the booster was trained with (generic ones if it has none)."""
    booster = model.booster
    names: Any = None
    if model.kind == "lightgbm":
        inner = getattr(booster, "booster_", booster)
        names = inner.feature_name()
    else:
        inner = booster.get_booster() if hasattr(booster, "get_booster") else booster
        names = inner.feature_names
    if names and len(names) == width:
        return [str(n) for n in names]
    return [f"f{i}" for i in range(width)]


def _booster_flavor(kind: str) -> Any:
    if kind == "lightgbm":
        from shipyard.flavors.lightgbm import LightGBMFlavor

        return LightGBMFlavor()
    from shipyard.flavors.xgboost import XGBoostFlavor

    return XGBoostFlavor()


class CompositeFlavor:
    """Pipelines ending in LightGBM/XGBoost as ``.composite.zip`` files (see the module doc)."""

    name = "composite"
    file_suffix = ".composite.zip"
    accepted_suffixes: tuple[str, ...] = (".composite.zip",)
    safe = True

    def can_save(self, model: Any) -> bool:
        return isinstance(model, CompositeModel) or is_booster_pipeline(model)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        return filename.lower().endswith(".composite.zip") and head.startswith(b"PK\x03\x04")

    def save(self, model: Any) -> bytes:
        from shipyard.flavors.sklearn import SklearnFlavor

        composite = (
            model if isinstance(model, CompositeModel) else CompositeModel.from_pipeline(model)
        )
        preprocess = SklearnFlavor().save(composite.preprocess)
        booster = _booster_flavor(composite.kind).save(composite.booster)
        booster_file = _BOOSTER_FILES[composite.kind]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "booster": composite.kind,
            "task": composite.task,
            "classes": None if composite.classes is None else list(composite.classes),
            "parts": {
                PREPROCESS: hashlib.sha256(preprocess).hexdigest(),
                booster_file: hashlib.sha256(booster).hexdigest(),
            },
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            # Fixed member timestamps: no wall-clock time in the container itself.
            for name, data in (
                (MANIFEST, json.dumps(manifest, sort_keys=True).encode()),
                (PREPROCESS, preprocess),
                (booster_file, booster),
            ):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        return buffer.getvalue()

    def load(self, data: bytes, context: LoadContext) -> Any:
        from shipyard.flavors.sklearn import SklearnFlavor

        parts = _read_parts(data)
        manifest = _manifest(parts)
        kind = manifest["booster"]
        preprocess = SklearnFlavor().load(parts[PREPROCESS], context)
        if not hasattr(preprocess, "transform"):
            raise IntegrityError("the composite's preprocess part is not a transformer")
        booster = _booster_flavor(kind).load(parts[_BOOSTER_FILES[kind]], context)
        classes = manifest["classes"]
        return CompositeModel(
            preprocess, booster, kind, manifest["task"], None if classes is None else tuple(classes)
        )

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        return _composite(model).predict(frame)

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        return _composite(model).predict_proba(frame)

    def describe(self, model: Any) -> dict[str, Any]:
        from shipyard.flavors.sklearn import SklearnFlavor

        composite = _composite(model)
        booster = _booster_flavor(composite.kind).describe(composite.booster)
        facts: dict[str, Any] = {
            "library": booster["library"],
            "library_version": booster["library_version"],
            "format": f"composite (skops preprocessing + {booster['format']})",
            "estimator": f"Pipeline -> {composite.kind} Booster",
            "task": composite.task,
            "has_proba": composite.classes is not None,
            "booster": booster,
            "preprocess": SklearnFlavor().describe(composite.preprocess)["estimator"],
        }
        if composite.classes is not None:
            facts["classes"] = list(composite.classes)
        names = getattr(composite.preprocess, "feature_names_in_", None)
        if names is not None:
            facts["feature_names"] = [str(n) for n in names]
            facts["n_features"] = len(names)
        if booster.get("n_trees") is not None:
            facts["n_trees"] = booster["n_trees"]
        return facts


def _composite(model: Any) -> CompositeModel:
    if isinstance(model, CompositeModel):
        return model
    if is_booster_pipeline(model):
        return CompositeModel.from_pipeline(model)
    raise InvalidInputError(f"expected a composite model, got {type(model).__name__}")


def _read_parts(data: bytes) -> dict[str, bytes]:
    """The zip's members, refusing anything but the three known names and oversized parts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            allowed = {MANIFEST, PREPROCESS, *_BOOSTER_FILES.values()}
            if len(names) != 3 or len(set(names)) != 3 or not set(names) <= allowed:
                raise ValueError(f"unexpected members {sorted(names)}")
            parts = {}
            for info in infos:
                if info.file_size > _MAX_PART_BYTES:
                    raise ValueError(f"{info.filename} declares {info.file_size} bytes")
                with archive.open(info) as member:
                    body = member.read(_MAX_PART_BYTES + 1)
                if len(body) > _MAX_PART_BYTES:
                    raise ValueError(f"{info.filename} is larger than it declares")
                parts[info.filename] = body
            return parts
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise IntegrityError(f"the artifact is not a readable composite model: {exc}") from exc


def _manifest(parts: dict[str, bytes]) -> dict[str, Any]:
    try:
        manifest = json.loads(parts[MANIFEST])
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError("the manifest does not name the composite format")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {manifest.get('format_version')!r} is not 1")
        kind = manifest.get("booster")
        if kind not in _BOOSTER_FILES:
            raise ValueError(f"booster {kind!r} is not lightgbm or xgboost")
        if manifest.get("task") not in ("classification", "regression"):
            raise ValueError("task is not classification or regression")
        classes = manifest.get("classes")
        if classes is not None and (
            not isinstance(classes, list)
            or not classes
            or not all(isinstance(c, str | int | float | bool) for c in classes)
        ):
            raise ValueError("classes is not a list of labels")
        digests = manifest.get("parts")
        expected = {PREPROCESS, _BOOSTER_FILES[kind]}
        if (
            not isinstance(digests, dict)
            or set(digests) != expected
            or set(parts) - {MANIFEST} != expected
        ):
            raise ValueError("the parts do not match the manifest")
        for name in expected:
            if hashlib.sha256(parts[name]).hexdigest() != digests[name]:
                raise ValueError(f"{name} does not match its sha256 in the manifest")
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise IntegrityError(
            f"the composite model failed verification: {exc}; the artifact is corrupt or was "
            "tampered with, re-register the model from its source"
        ) from exc
    return manifest
