"""Structural checks for the tree arrays of a scikit-learn model loaded from a skops file.

scikit-learn walks ``Tree`` and HistGradientBoosting ``TreePredictor`` node arrays in compiled
code without bounds checks, and skops can only vouch for an object's type, not its contents. A
crafted artifact could therefore make ``predict`` read outside the arrays or loop forever. These
checks run after loading and before the model is handed out, so every index that compiled code
will follow is known to be in range:

- internal nodes point to children with a *larger* index that exists (scikit-learn writes parents
  before children, so this also rules out cycles); leaves have both children at -1;
- split features exist in the data the tree will actually see (``bound``: the narrowest
  ``n_features_in_`` among the estimators on the way down an ensemble, since only the outermost
  one validates the input width);
- categorical splits of HistGradientBoosting point at existing bitsets and categorical features;
- GradientBoosting's stage matrix matches the width of the raw predictions it writes into.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

import numpy as np

from shipyard.errors import IntegrityError

__all__ = ["check_model", "tree_stats"]

# Attributes whose estimators see the same columns as their owner (ensemble members).
_SAME_INPUT = frozenset({"estimators_", "estimator_", "best_estimator_", "tree_", "_predictors"})
_TREE_LEAF = -1
_ADVICE = "the artifact is corrupt or was tampered with; re-export the model from its source"


@dataclass(frozen=True)
class _Part:
    path: str
    obj: Any
    bound: int | None
    """Columns of the array this part's compiled code indexes into, when known."""
    categorical: Any = None
    """HistGradientBoosting only: the per-feature categorical mask of the owning estimator."""


def check_model(model: Any) -> None:
    """Raise :class:`IntegrityError` naming the estimator path and node of the first bad tree."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    for part in _walk(model, type(model).__name__, None, None, set()):
        if isinstance(part.obj, Tree):
            _check_tree(part)
        elif isinstance(part.obj, TreePredictor):
            _check_predictor(part)
        if _is_stage_matrix_owner(part.obj):
            _check_stages(part)
        if hasattr(part.obj, "estimators_features_"):
            _check_feature_subsets(part)


def tree_stats(model: Any) -> tuple[int, int]:
    """Number of trees and of nodes in all of ``model``'s trees (0, 0 for non-tree models)."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    counted: dict[int, int] = {}  # a tree shared by two estimators counts once
    for part in _walk(model, type(model).__name__, None, None, set()):
        if isinstance(part.obj, Tree):
            counted[id(part.obj)] = int(part.obj.node_count)
        elif isinstance(part.obj, TreePredictor):
            counted[id(part.obj)] = len(part.obj.nodes)
    return len(counted), sum(counted.values())


def _walk(
    obj: Any, path: str, bound: int | None, cats: Any, seen: set[tuple[int, int | None]]
) -> Iterator[_Part]:
    if obj is None or isinstance(obj, str | bytes | int | float | np.generic | ModuleType):
        return
    key = (id(obj), bound)
    if key in seen:  # shared sub-objects (and any reference cycle) are visited once per bound
        return
    seen.add(key)
    yield _Part(path, obj, bound, cats)
    if isinstance(obj, dict):
        for name, value in obj.items():
            yield from _walk(value, f"{path}[{name!r}]", bound, cats, seen)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from _walk(value, f"{path}[{i}]", bound, cats, seen)
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for index in np.ndindex(obj.shape):
                label = ", ".join(str(i) for i in index)
                yield from _walk(obj[index], f"{path}[{label}]", bound, cats, seen)
    elif isinstance(getattr(obj, "__dict__", None), dict):  # estimators and their helpers
        path = f"{path}({type(obj).__name__})" if path.endswith("]") else path
        bound = _narrower(bound, _int_attr(obj, "n_features_in_"))
        if hasattr(obj, "_predictors"):
            bound, cats = _hgb_scope(obj, path, bound)
        # Chains feed member i the input plus i earlier predictions, and members validate it.
        chain = type(obj).__name__ in ("ClassifierChain", "RegressorChain")
        for name, value in list(vars(obj).items()):
            inherited = bound if name in _SAME_INPUT and not chain else None
            child_cats = cats if name == "_predictors" else None
            yield from _walk(value, f"{path}.{name}", inherited, child_cats, seen)


def _check_tree(part: _Part) -> None:
    tree, path = part.obj, part.path
    n, capacity = int(tree.node_count), int(tree.capacity)
    # node_count sizes every array view below, so it must be checked before any of them is read.
    if n < 1:
        _fail(f"{path}: the tree has no nodes")
    if n > capacity:
        _fail(f"{path}: node_count {n} is more than the {capacity} stored nodes")
    if int(tree.n_outputs) < 1 or int(tree.max_n_classes) < 1:
        _fail(f"{path}: n_outputs and the number of classes must be at least 1")
    expected = (n, int(tree.n_outputs), int(tree.max_n_classes))
    if tree.value.shape != expected:
        _fail(f"{path}: value array has shape {tree.value.shape}, expected {expected}")
    limit = _narrower(int(tree.n_features), part.bound)
    assert limit is not None
    left, right = tree.children_left, tree.children_right
    feature, threshold = tree.feature, tree.threshold
    _check_nodes(path, left == _TREE_LEAF, left, right, feature, limit)
    leaf = left == _TREE_LEAF
    if (leaf & (right != _TREE_LEAF)).any():
        node = int(np.flatnonzero(leaf & (right != _TREE_LEAF))[0])
        _fail(f"{path}: leaf node {node} has a right child {int(right[node])}")
    # +inf is legitimate: scikit-learn's threshold for "only missing values go right".
    bad = ~leaf & (np.isnan(threshold) | (threshold == -np.inf))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        _fail(f"{path}: node {node} has threshold {float(threshold[node])}")


def _check_predictor(part: _Part) -> None:
    predictor, path = part.obj, part.path
    nodes = predictor.nodes
    fields = ("left", "right", "feature_idx", "is_leaf", "is_categorical", "bitset_idx")
    if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or len(nodes) < 1:
        _fail(f"{path}: nodes must be a non-empty 1-D array")
    if nodes.dtype.names is None or not set(fields) <= set(nodes.dtype.names):
        _fail(f"{path}: nodes array has an unexpected dtype {nodes.dtype}")
    leaf = nodes["is_leaf"] != 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    limit = part.bound if part.bound is not None else np.iinfo(np.int64).max
    _check_nodes(path, leaf, left, right, feature, limit)

    split = ~leaf & (nodes["is_categorical"] != 0)
    if not split.any():
        return
    n_bitsets = min(
        _bitset_rows(predictor.raw_left_cat_bitsets, f"{path}.raw_left_cat_bitsets"),
        _bitset_rows(predictor.binned_left_cat_bitsets, f"{path}.binned_left_cat_bitsets"),
    )
    bitset_idx = nodes["bitset_idx"].astype(np.int64)
    bad = split & (bitset_idx >= n_bitsets)
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        _fail(f"{path}: node {node} uses bitset {int(bitset_idx[node])} of {n_bitsets}")
    cats = np.zeros(0, dtype=bool) if part.categorical is None else part.categorical
    in_mask = np.zeros(len(nodes), dtype=bool)
    known = (feature >= 0) & (feature < len(cats))
    in_mask[known] = cats[feature[known]]
    bad = split & ~in_mask
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        _fail(
            f"{path}: node {node} splits feature {int(feature[node])} as categorical, but "
            "the estimator does not mark it categorical"
        )


def _check_nodes(path: str, leaf: Any, left: Any, right: Any, feature: Any, limit: int) -> None:
    """Children of internal nodes exist and come after their parent; features are in range."""
    n = len(left)
    index = np.arange(n)
    internal = ~leaf
    for name, child in (("left", left), ("right", right)):
        bad = internal & ((child <= index) | (child >= n))
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            _fail(
                f"{path}: node {node} has {name} child {int(child[node])}, which must lie in "
                f"({node}, {n})"
            )
    bad = internal & ((feature < 0) | (feature >= limit))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        _fail(
            f"{path}: node {node} splits on feature {int(feature[node])}, but the input has "
            f"{limit} features"
        )


def _bitset_rows(bitsets: Any, path: str) -> int:
    if not isinstance(bitsets, np.ndarray) or bitsets.ndim != 2 or bitsets.shape[1] != 8:
        _fail(f"{path}: expected an (n, 8) bitset array")
    return int(bitsets.shape[0])


def _hgb_scope(est: Any, path: str, bound: int | None) -> tuple[int | None, Any]:
    """Input width and categorical mask that HistGradientBoosting's predictors will see."""
    cats = getattr(getattr(est, "_bin_mapper", None), "is_categorical_", None)
    mask = None if cats is None else np.asarray(cats).astype(bool).ravel()
    pre = getattr(est, "_preprocessor", None)
    if pre is not None:
        bound = _narrower(bound, _preprocessor_width(pre, f"{path}._preprocessor"))
    return bound, mask


def _preprocessor_width(pre: Any, path: str) -> int:
    """Output width of the ColumnTransformer HistGradientBoosting builds for categories."""
    import functools

    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from sklearn.utils.validation import check_array

    if not isinstance(pre, ColumnTransformer):
        _fail(f"{path}: expected a ColumnTransformer, found {type(pre).__name__}")
    width = 0
    for name, transformer, columns in pre.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        func = getattr(transformer, "func", None)
        func = func.func if isinstance(func, functools.partial) else func
        width_preserving = (
            (isinstance(transformer, str) and transformer == "passthrough")
            or isinstance(transformer, OrdinalEncoder)
            or (isinstance(transformer, FunctionTransformer) and func in (None, check_array))
        )
        if not width_preserving:
            _fail(f"{path}: transformer {name!r} is not one HistGradientBoosting creates")
        cols = np.asarray(columns)
        width += int(cols.sum()) if cols.dtype == bool else int(cols.size)
    return width


def _is_stage_matrix_owner(obj: Any) -> bool:
    stages = getattr(obj, "estimators_", None)
    return isinstance(stages, np.ndarray) and stages.ndim == 2 and hasattr(obj, "init_")


def _check_stages(part: _Part) -> None:
    """GradientBoosting writes stage k's output into column k of its raw predictions."""
    est, path = part.obj, part.path
    n_features = _int_attr(est, "n_features_in_")
    if n_features is None or not est.estimators_.size:
        return
    probe = getattr(est, "_raw_predict_init", None)  # private: fall back if it ever goes
    if probe is None:
        width = _int_attr(est, "n_trees_per_iteration_")
        raw = np.zeros((1, width or 0))
    else:
        try:  # the very call predict makes, on one row of zeros
            raw = probe(np.zeros((1, n_features), dtype=np.float32))
        except Exception as exc:  # a crafted init_ can fail in any way; all mean "corrupt"
            _fail(f"{path}: initial predictions failed: {exc}")
    if raw.ndim != 2 or raw.shape[1] != est.estimators_.shape[1]:
        _fail(
            f"{path}: {est.estimators_.shape[1]} trees per stage, but the initial "
            f"predictions have shape {raw.shape}"
        )


def _check_feature_subsets(part: _Part) -> None:
    """Bagging and IsolationForest hand member i the columns ``estimators_features_[i]``."""
    members, subsets = getattr(part.obj, "estimators_", None), part.obj.estimators_features_
    if not isinstance(members, list) or len(members) != len(subsets):
        _fail(f"{part.path}: estimators_ and estimators_features_ do not pair up")
    for i, (member, features) in enumerate(zip(members, subsets, strict=True)):
        width = _int_attr(member, "n_features_in_")
        if width is not None and np.asarray(features).size != width:
            _fail(
                f"{part.path}.estimators_features_[{i}] selects {np.asarray(features).size} "
                f"columns for an estimator fitted on {width}"
            )


def _int_attr(obj: Any, name: str) -> int | None:
    value = getattr(obj, name, None)
    return (
        int(value) if isinstance(value, int | np.integer) and not isinstance(value, bool) else None
    )


def _narrower(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _fail(message: str) -> NoReturn:
    raise IntegrityError(f"{message}; {_ADVICE}")
