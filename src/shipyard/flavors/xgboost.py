"""XGBoost models in XGBoost's own UBJSON format (``Booster.save_raw("ubj")``).

The scikit-learn wrappers (``XGBClassifier``, ``XGBRegressor``) are saved as their booster, and
every artifact loads as an ``xgboost.Booster``. Classifiers therefore predict class indices
``0..k-1``, which is also what the wrappers return, since XGBoost requires such labels.

XGBoost's loader trusts its input: an empty, truncated or deeply nested document crashes the
process, and so do crafted tree arrays, at load or at predict. So the document is parsed here
first (bounds-checked) and its trees checked, as for scikit-learn trees, before XGBoost sees it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from shipyard.errors import IntegrityError, InvalidInputError, SignatureError, require
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["XGBoostFlavor"]


class XGBoostFlavor:
    """``xgboost.Booster`` and the scikit-learn wrappers, as ``.ubj`` files."""

    name = "xgboost"
    file_suffix = ".ubj"
    accepted_suffixes: tuple[str, ...] = (".ubj", ".json")
    safe = True

    def can_save(self, model: Any) -> bool:
        xgb = sys.modules.get("xgboost")
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        name = filename.lower()
        if name.endswith(".ubj"):
            return head.startswith(b"{")
        if name.endswith(".json"):
            return head.startswith(b'{"') and b'"learner"' in head
        return False

    def save(self, model: Any) -> bytes:
        return bytes(_booster(model).save_raw("ubj"))

    def load(self, data: bytes, context: LoadContext) -> Any:
        xgb: Any = require("xgboost", "xgboost")
        _check_document(_parse(data))
        try:
            return xgb.Booster(model_file=bytearray(data))
        except ValueError as exc:  # XGBoostError is a ValueError
            raise IntegrityError(f"the artifact is not a loadable XGBoost model: {exc}") from exc

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        booster = _booster(model)
        objective, _ = _objective(booster)
        raw = _predict(booster, frame)
        if objective == "binary:logistic":
            return (raw > 0.5).astype(np.int64)
        if objective == "binary:logitraw":
            return (raw > 0.0).astype(np.int64)
        if objective in ("binary:hinge", "multi:softmax"):
            return raw.astype(np.int64)
        if objective == "multi:softprob":
            return np.asarray(np.argmax(raw, axis=1))
        return raw

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        booster = _booster(model)
        objective, _ = _objective(booster)
        if objective in ("binary:logistic", "binary:logitraw"):
            p = _predict(booster, frame)
            if objective == "binary:logitraw":
                p = 1.0 / (1.0 + np.exp(-p))
            return np.column_stack([1.0 - p, p]).astype(float)
        if objective == "multi:softprob":
            return _predict(booster, frame).astype(float)
        if objective == "multi:softmax":  # the booster returns labels; rebuild the softmax
            margin = _predict(booster, frame, output_margin=True).astype(float)
            exp = np.exp(margin - margin.max(axis=1, keepdims=True))
            return np.asarray(exp / exp.sum(axis=1, keepdims=True))
        return None

    def describe(self, model: Any) -> dict[str, Any]:
        import xgboost

        booster = _booster(model)
        objective, n_classes = _objective(booster)
        classification = objective.startswith(("binary:", "multi:"))
        facts: dict[str, Any] = {
            "library": "xgboost",
            "library_version": xgboost.__version__,
            "format": "ubj",
            "estimator": "Booster",
            "objective": objective,
            "task": "classification" if classification else "regression",
            "n_features": int(booster.num_features()),
            "n_trees": _num_trees(booster),
        }
        if classification:
            facts["classes"] = list(range(max(n_classes, 2)))
        if booster.feature_names:
            facts["feature_names"] = list(booster.feature_names)
        return facts


def _booster(model: Any) -> Any:
    xgb: Any = require("xgboost", "xgboost")
    if isinstance(model, xgb.Booster):
        return model
    if isinstance(model, xgb.XGBModel):
        return model.get_booster()
    raise InvalidInputError(f"expected an XGBoost model, got {type(model).__name__}")


def _objective(booster: Any) -> tuple[str, int]:
    learner = json.loads(booster.save_config())["learner"]
    return str(learner["objective"]["name"]), int(learner["learner_model_param"]["num_class"])


def _num_trees(booster: Any) -> int | None:
    model = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]
    model = model.get("gbtree", model)  # dart wraps a gbtree
    params = model.get("model", {}).get("gbtree_model_param")  # gblinear has no trees
    return None if params is None else int(params["num_trees"])


def _predict(booster: Any, frame: pd.DataFrame, **kwargs: Any) -> np.ndarray:
    import numpy as np
    import xgboost as xgb

    names = [str(c) for c in frame.columns] if booster.feature_names else None
    try:
        matrix = xgb.DMatrix(frame.to_numpy(dtype=np.float32), feature_names=names)
        return np.asarray(booster.predict(matrix, **kwargs))
    except ValueError as exc:  # feature_names mismatch, non-numeric data
        raise SignatureError(f"the data does not fit the XGBoost model: {exc}") from exc


# -- structural checks --------------------------------------------------------------------------

_NUMBERS = {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8", "d": ">f4", "D": ">f8"}
_MAX_DEPTH = 32  # XGBoost documents nest about 6 deep; its parser recurses without a limit


def _parse(data: bytes) -> Any:
    """The model document, read the way XGBoost tells JSON from UBJSON (``{"`` starts JSON)."""
    try:
        if data.startswith(b'{"'):
            return json.loads(data, object_pairs_hook=_unique_keys)
        if data.startswith(b"{"):
            reader = _UBJReader(data)
            document = reader.value(reader.marker(), 0)
            if reader.pos != len(data):
                raise ValueError("trailing bytes after the document")
            return document
        raise ValueError("it is neither UBJSON nor JSON")
    except (ValueError, RecursionError) as exc:
        raise IntegrityError(f"the artifact is not a well-formed XGBoost model: {exc}") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


class _UBJReader:
    """A bounds-checked reader for the UBJSON subset XGBoost writes; raises ValueError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = memoryview(data), 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("the document is truncated")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def marker(self) -> str:
        return chr(self.take(1)[0])

    def number(self, marker: str) -> Any:
        import numpy as np

        if marker not in _NUMBERS:
            raise ValueError(f"expected a number, found marker {marker!r}")
        dtype = np.dtype(_NUMBERS[marker])
        return np.frombuffer(self.take(dtype.itemsize), dtype)[0].item()

    def length(self, marker: str | None = None) -> int:
        value = self.number(marker or self.marker())
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"invalid length {value!r}")
        return value

    def value(self, marker: str, depth: int) -> Any:
        if marker in ("T", "F", "Z"):
            return {"T": True, "F": False, "Z": None}[marker]
        if marker == "S":
            return bytes(self.take(self.length())).decode("utf-8")
        if marker in ("[", "{"):
            if depth >= _MAX_DEPTH:
                raise ValueError("the document is nested too deeply")
            return self.container(marker == "{", depth + 1)
        return self.number(marker)

    def container(self, is_object: bool, depth: int) -> Any:
        import numpy as np

        marker, typed = self.marker(), None
        if marker == "$":
            typed, marker = self.marker(), self.marker()
            if marker != "#":
                raise ValueError("a typed container has no count")
        if marker == "#":
            count = self.length()
            if typed in _NUMBERS and not is_object:
                dtype = np.dtype(_NUMBERS[typed])
                return np.frombuffer(self.take(count * dtype.itemsize), dtype)
            if count > len(self.data) - self.pos:
                raise ValueError("the document is truncated")
            items = [self.item(is_object, typed, None, depth) for _ in range(count)]
        else:
            items, end = [], "}" if is_object else "]"
            while marker != end:
                items.append(self.item(is_object, typed, marker, depth))
                marker = self.marker()
        if not is_object:
            return items
        return _unique_keys(items)

    def item(self, is_object: bool, typed: str | None, marker: str | None, depth: int) -> Any:
        key = bytes(self.take(self.length(marker))).decode("utf-8") if is_object else None
        first = marker if not is_object and marker is not None else None
        value = self.value(typed or first or self.marker(), depth)
        return (key, value) if is_object else value


def _check_document(document: Any) -> None:
    """Every index XGBoost follows at predict time points inside its array."""
    try:
        learner = document["learner"]
        params = learner["learner_model_param"]
        n_features = int(params["num_feature"])
        n_groups = max(int(params.get("num_class", 0)), int(params.get("num_target", 1)), 1)
        booster = learner["gradient_booster"]
        model = booster.get("gbtree", booster).get("model", {})
        if "trees" not in model:  # gblinear: XGBoost checks its weight vector itself
            return
        trees, tree_info = model["trees"], model["tree_info"]
        if len(tree_info) != len(trees) or not all(0 <= int(g) < n_groups for g in tree_info):
            raise ValueError(f"tree_info must give each tree an output group below {n_groups}")
        if "weight_drop" in booster and len(booster["weight_drop"]) != len(trees):
            raise ValueError("dart weight_drop must have one weight per tree")
        for i, tree in enumerate(trees):
            _check_tree(tree, n_features, f"trees[{i}]")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise IntegrityError(
            f"the XGBoost model does not check out: {exc}; the artifact is corrupt or was "
            "tampered with; re-export the model from its source"
        ) from exc


def _check_tree(tree: Any, n_features: int, path: str) -> None:
    import numpy as np

    n = int(tree["tree_param"]["num_nodes"])
    left, right = np.asarray(tree["left_children"]), np.asarray(tree["right_children"])
    feature = np.asarray(tree["split_indices"])
    if n < 1 or any(len(a) != n for a in (left, right, feature, tree["split_type"])):
        raise ValueError(f"{path}: the node arrays do not all have num_nodes={n} entries")
    index, leaf = np.arange(n), left == -1
    bad = (leaf & (right != -1)) | (~leaf & ((left <= index) | (left >= n)))
    bad |= ~leaf & ((right <= index) | (right >= n) | (feature < 0) | (feature >= n_features))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: node {node} has children ({int(left[node])}, {int(right[node])}) and "
            f"feature {int(feature[node])}; children must lie in ({node}, {n}) and features "
            f"below {n_features}"
        )
    nodes = np.asarray(tree.get("categories_nodes", []), dtype=np.int64)
    starts = np.asarray(tree.get("categories_segments", []), dtype=np.int64)
    sizes = np.asarray(tree.get("categories_sizes", []), dtype=np.int64)
    n_categories = len(tree.get("categories", []))
    if not len(nodes) == len(starts) == len(sizes):
        raise ValueError(f"{path}: categorical split arrays differ in length")
    outside = (starts < 0) | (sizes < 0) | (sizes > n_categories - starts)  # no overflow
    if ((nodes < 0) | (nodes >= n) | outside).any():
        raise ValueError(
            f"{path}: a categorical split points outside the {n_categories} categories"
        )
