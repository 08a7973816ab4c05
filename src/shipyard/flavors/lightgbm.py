"""LightGBM models in LightGBM's own text format (``Booster.model_to_string()``).

The scikit-learn wrappers are saved as their ``booster_`` and load as a ``lightgbm.Booster``, so
classifiers predict class indices ``0..k-1`` (the wrappers' label encoding is not part of the
native format).

LightGBM follows a tree's child and feature indices without bounds checks, and aborts the
process when a tree fails to parse in its parallel loader. So every tree is checked here first,
and the ``tree_sizes`` header is dropped, which makes LightGBM parse trees one by one and raise
an exception, instead of aborting, on anything this check did not foresee.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from shipyard.errors import IntegrityError, InvalidInputError, SignatureError, require
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["LightGBMFlavor"]

_MULTICLASS = frozenset({"multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"})


class LightGBMFlavor:
    """``lightgbm.Booster`` and the scikit-learn wrappers, as ``.txt`` model files."""

    name = "lightgbm"
    file_suffix = ".txt"
    accepted_suffixes: tuple[str, ...] = (".txt",)
    safe = True

    def can_save(self, model: Any) -> bool:
        lgb = sys.modules.get("lightgbm")
        return lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        return filename.lower().endswith(".txt") and (
            head.startswith(b"tree\n") or b"version=v" in head
        )

    def save(self, model: Any) -> bytes:
        text: str = _booster(model).model_to_string()
        return text.encode("utf-8")

    def load(self, data: bytes, context: LoadContext) -> Any:
        lgb: Any = require("lightgbm", "lightgbm")
        text = _checked_text(data)
        try:
            return lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise IntegrityError(f"the artifact is not a loadable LightGBM model: {exc}") from exc

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        booster = _booster(model)
        task = _task(booster)
        raw = _predict(booster, frame)
        if task == "binary":
            return (raw > 0.5).astype(np.int64)
        if task == "multiclass":
            return np.asarray(np.argmax(raw, axis=1))
        return raw

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        booster = _booster(model)
        task = _task(booster)
        if task == "binary":
            p = _predict(booster, frame)
            return np.column_stack([1.0 - p, p]).astype(float)
        if task == "multiclass":
            return _predict(booster, frame).astype(float)
        return None

    def describe(self, model: Any) -> dict[str, Any]:
        import lightgbm

        booster = _booster(model)
        task = _task(booster)
        facts: dict[str, Any] = {
            "library": "lightgbm",
            "library_version": lightgbm.__version__,
            "format": "lightgbm text",
            "estimator": "Booster",
            "objective": _objective(booster),
            "task": "regression" if task == "regression" else "classification",
            "n_features": int(booster.num_feature()),
            "n_trees": int(booster.num_trees()),
            "feature_names": [str(n) for n in booster.feature_name()],
        }
        if task == "binary":
            facts["classes"] = [0, 1]
        elif task == "multiclass":
            facts["classes"] = list(range(int(booster.num_model_per_iteration())))
        return facts


def _booster(model: Any) -> Any:
    lgb: Any = require("lightgbm", "lightgbm")
    if isinstance(model, lgb.Booster):
        return model
    if isinstance(model, lgb.LGBMModel):
        return model.booster_
    raise InvalidInputError(f"expected a LightGBM model, got {type(model).__name__}")


def _objective(booster: Any) -> str:
    """The objective's name; boosters built by ``lgb.train`` may only know it by an alias."""
    params = booster.params or {}
    for key in ("objective", "objective_type", "app", "application", "loss"):
        if isinstance(params.get(key), str):
            return str(params[key])
    # Not in the parameters (a default or custom objective): the model header has it.
    header: str = booster.model_to_string(num_iteration=1)
    for line in header.splitlines():
        if line.startswith("objective="):
            return line.removeprefix("objective=").split(" ")[0]
        if not line.strip():
            break
    return "regression"


def _task(booster: Any) -> str:
    objective = _objective(booster)
    if objective == "binary":
        return "binary"
    return "multiclass" if objective in _MULTICLASS else "regression"


def _predict(booster: Any, frame: pd.DataFrame) -> np.ndarray:
    import lightgbm as lgb
    import numpy as np

    try:
        return np.asarray(booster.predict(frame))
    except (
        ValueError,
        lgb.basic.LightGBMError,
    ) as exc:  # unsupported column types, wrong number of features
        raise SignatureError(f"the data does not fit the LightGBM model: {exc}") from exc


# -- structural checks --------------------------------------------------------------------------


def _checked_text(data: bytes) -> str:
    """The model text, with every tree checked and without the ``tree_sizes`` header line."""
    try:
        text = data.decode("utf-8")
        head, _, body = text.partition("\nTree=")
        header = _fields(head.split("\n")[1:])  # the first line is the word "tree"
        n_features = int(header["max_feature_idx"]) + 1
        if n_features < 1 or header.get("num_class", "1") != header.get(
            "num_tree_per_iteration", "1"
        ):
            raise ValueError("the header's feature or class counts are inconsistent")
        for block in body.split("\nend of trees", 1)[0].split("\nTree="):
            index, _, rest = block.partition("\n")
            _check_tree(_fields(rest.split("\n")), n_features, f"Tree={index}")
    except (ValueError, KeyError, OverflowError) as exc:  # UnicodeDecodeError is a ValueError
        raise IntegrityError(
            f"the LightGBM model does not check out: {exc}; the artifact is corrupt or was "
            "tampered with; re-export the model from its source"
        ) from exc
    return "\n".join(line for line in text.split("\n") if not line.startswith("tree_sizes="))


def _fields(lines: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or key in fields:
            raise ValueError(f"unexpected line {line[:40]!r}")
        fields[key] = value.strip()
    return fields


def _check_tree(fields: dict[str, str], n_features: int, path: str) -> None:
    import numpy as np

    def numbers(key: str, count: int, dtype: type = np.int64) -> Any:
        array: Any = np.array(fields[key].split(), dtype=dtype)
        if len(array) != count:
            raise ValueError(f"{path}: {key} has {len(array)} values, expected {count}")
        return array

    n_leaves = int(fields["num_leaves"])
    if n_leaves < 1:
        raise ValueError(f"{path}: num_leaves must be at least 1")
    numbers("leaf_value", n_leaves, float)
    n = n_leaves - 1  # internal nodes; a child c >= 0 is a node, c < 0 is leaf ~c
    if n == 0:
        return
    feature, decision = numbers("split_feature", n), numbers("decision_type", n)
    threshold = numbers("threshold", n, float)
    index = np.arange(n)
    for key in ("left_child", "right_child"):
        child = numbers(key, n)
        bad = ((child >= 0) & ((child <= index) | (child >= n))) | (child < -n_leaves)
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: node {node} has {key} {int(child[node])}")
    if ((feature < 0) | (feature >= n_features)).any():
        raise ValueError(f"{path}: a split feature is not below {n_features}")
    categorical = (decision & 1) == 1
    n_cat = int(fields.get("num_cat", "0"))
    if n_cat or categorical.any():
        bounds = numbers("cat_boundaries", n_cat + 1)
        words = len(fields["cat_threshold"].split())
        cat_index = threshold[categorical]
        if bounds[0] != 0 or (np.diff(bounds) < 0).any() or bounds[-1] != words:
            raise ValueError(f"{path}: cat_boundaries do not partition cat_threshold")
        if ((cat_index < 0) | (cat_index >= n_cat) | (cat_index % 1 != 0)).any():
            raise ValueError(f"{path}: a categorical split points past num_cat={n_cat}")
    if fields.get("is_linear", "0") != "0":
        per_leaf = numbers("num_features", n_leaves)
        used = numbers("leaf_features", int(per_leaf.sum()))
        numbers("leaf_coeff", len(used), float)
        if (per_leaf < 0).any() or ((used < 0) | (used >= n_features)).any():
            raise ValueError(f"{path}: a linear leaf uses a feature that does not exist")
