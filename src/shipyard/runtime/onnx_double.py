"""float64 converters for skl2onnx: imputers and tree classifiers computed in double.

:func:`install` wraps skl2onnx's converters for ``SimpleImputer`` (IsNaN/Where in double) and
tree classifiers (forests, extra trees, single trees: ``ai.onnx.ml`` opset 5 ``TreeEnsemble`` in
double, reproducing scikit-learn's float32 comparisons with double thresholds and summing
per-tree probabilities in tree order, so a binary forest's probabilities come out bit-identical).
Inputs that are not float64 go to the original converters unchanged.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["float_trees", "install"]

_INSTALLED = False
_DOUBLE_TREES = True  # False while a model is converted with skl2onnx's float trees


def install() -> None:
    """Wrap skl2onnx's converters for imputers and tree classifiers with float64 versions.

    Each wrapper handles float64 inputs itself and hands anything else to the original
    converter, so other users of skl2onnx in the process see the same graphs for float inputs.
    """
    global _INSTALLED
    if _INSTALLED:
        return
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import _converter_pool, register_converter
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    wrappers: dict[str, Any] = {"SklearnSimpleImputer": _double_imputer}
    for cls in (RandomForestClassifier, ExtraTreesClassifier):
        wrappers[sklearn_operator_name_map[cls]] = _double_forest
    for cls in (DecisionTreeClassifier, ExtraTreeClassifier):
        wrappers[sklearn_operator_name_map[cls]] = _double_forest
    for name, wrap in wrappers.items():
        registered = _converter_pool[name]
        register_converter(
            name, wrap(registered._fct), overwrite=True, options=registered.get_allowed_options()
        )
    _INSTALLED = True


def _sklearn_thresholds(thresholds: Any) -> Any:
    """Double thresholds ``w`` with ``x <= w`` exactly when ``float32(x) <= t`` (scikit-learn
    casts inputs to float32 and compares them with its float64 thresholds ``t``)."""
    t = np.asarray(thresholds, dtype=np.float64)
    below = t.astype(np.float32)
    below = np.where(below.astype(np.float64) > t, np.nextafter(below, np.float32(-np.inf)), below)
    above = np.nextafter(below, np.float32(np.inf))
    middle = (below.astype(np.float64) + above.astype(np.float64)) / 2  # exact in double
    # float32(middle) rounds to even: to ``below`` (then middle itself is <= t) or not.
    return np.where(middle.astype(np.float32) == below, middle, np.nextafter(middle, -np.inf))


def _double_forest(original: Any) -> Any:
    def convert_sklearn_tree_classifier(scope: Any, operator: Any, container: Any) -> None:
        from skl2onnx.common.data_types import DoubleTensorType

        op = operator.raw_operator
        options = container.get_options(
            op, {"raw_scores": False, "decision_path": False, "decision_leaf": False}
        )
        usable = (
            len(operator.inputs) == 1
            and isinstance(operator.inputs[0].type, DoubleTensorType)
            and _DOUBLE_TREES
            and container.target_opset_any_domain("ai.onnx.ml") >= 3
            and int(getattr(op, "n_outputs_", 1)) == 1
            and not any(options.values())
            and np.asarray(op.classes_).dtype.kind in "iuUO"
        )
        if not usable:
            original(scope, operator, container)
            return
        _forest_nodes(scope, operator, container)

    return convert_sklearn_tree_classifier


def _forest_nodes(scope: Any, operator: Any, container: Any) -> None:
    """Probabilities = (sum over trees of each leaf's class fractions) / n_trees, as
    scikit-learn computes them; label = the first most probable class."""
    from onnx import numpy_helper
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.proto import onnx_proto

    op = operator.raw_operator
    trees = [e.tree_ for e in getattr(op, "estimators_", [op])]
    classes = np.asarray(op.classes_)
    k = len(classes)
    fields: dict[str, list[Any]] = {
        key: []
        for key in (
            "features",
            "splits",
            "true",
            "true_leaf",
            "false",
            "false_leaf",
            "missing_true",
            "roots",
            "leaf_targets",
            "leaf_weights",
        )
    }
    for tree in trees:
        _add_tree(fields, tree, k)
    f = fields
    sums = scope.get_unique_variable_name("tree_sums")
    container.add_node(
        "TreeEnsemble",
        [operator.inputs[0].full_name],
        [sums],
        op_domain="ai.onnx.ml",
        op_version=3,  # really 5: skl2onnx refuses 5, _stamp_tree_opset declares it after
        name=scope.get_unique_operator_name("TreeEnsemble"),
        nodes_featureids=f["features"],
        nodes_splits=numpy_helper.from_array(np.asarray(f["splits"], dtype=np.float64)),
        nodes_modes=numpy_helper.from_array(np.zeros(len(f["features"]), dtype=np.uint8)),
        nodes_truenodeids=f["true"],
        nodes_trueleafs=f["true_leaf"],
        nodes_falsenodeids=f["false"],
        nodes_falseleafs=f["false_leaf"],
        nodes_missing_value_tracks_true=f["missing_true"],
        tree_roots=f["roots"],
        leaf_targetids=f["leaf_targets"],
        leaf_weights=numpy_helper.from_array(np.asarray(f["leaf_weights"], dtype=np.float64)),
        n_targets=k,
        aggregate_function=1,  # SUM
        post_transform=0,  # NONE
    )
    count = scope.get_unique_variable_name("n_trees")
    container.add_initializer(count, onnx_proto.TensorProto.DOUBLE, [], [float(len(trees))])
    proba_out = operator.outputs[1].full_name
    if isinstance(operator.outputs[1].type, FloatTensorType):  # declared float by skl2onnx
        operator.outputs[1].type = DoubleTensorType(operator.outputs[1].type.shape)
    as_float = isinstance(operator.outputs[1].type, FloatTensorType)
    proba = scope.get_unique_variable_name("proba64") if as_float else proba_out
    container.add_node("Div", [sums, count], [proba], name=scope.get_unique_operator_name("Div"))
    if as_float:
        container.add_node(
            "Cast",
            [proba],
            [proba_out],
            to=onnx_proto.TensorProto.FLOAT,
            name=scope.get_unique_operator_name("Cast"),
        )
    index = scope.get_unique_variable_name("argmax")
    container.add_node(
        "ArgMax",
        [proba],
        [index],
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("ArgMax"),
    )
    labels = scope.get_unique_variable_name("classes")
    if classes.dtype.kind in "iu":
        container.add_initializer(
            labels, onnx_proto.TensorProto.INT64, [k], classes.astype(np.int64).tolist()
        )
    else:
        names = [str(c).encode("utf-8") for c in classes]
        container.add_initializer(labels, onnx_proto.TensorProto.STRING, [k], names)
    container.add_node(
        "Gather",
        [labels, index],
        [operator.outputs[0].full_name],
        axis=0,
        name=scope.get_unique_operator_name("Gather"),
    )


def _add_tree(fields: dict[str, list[Any]], tree: Any, k: int) -> None:
    """One copy of ``tree`` per class (a TreeEnsemble leaf feeds one target)."""
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    leaf = left == -1
    inner = np.flatnonzero(~leaf)
    leaves = np.flatnonzero(leaf)
    value = np.asarray(tree.value)[:, 0, :]
    total = value.sum(axis=1, keepdims=True)
    proba = value / np.where(total == 0, 1.0, total)  # what DecisionTreeClassifier returns
    splits = _sklearn_thresholds(np.asarray(tree.threshold)[inner]).tolist()
    missing = getattr(tree, "missing_go_to_left", None)
    missing_true = (
        np.zeros(len(inner), dtype=np.int64)
        if missing is None
        else np.asarray(missing)[inner].astype(np.int64)
    ).tolist()
    features = np.asarray(tree.feature)[inner].tolist()
    inner_left, inner_right = left[inner], right[inner]
    for c in range(k):
        node_base = len(fields["features"])
        leaf_base = len(fields["leaf_weights"])
        position = np.empty(len(left), dtype=np.int64)
        position[inner] = node_base + np.arange(len(inner))
        position[leaves] = leaf_base + np.arange(len(leaves))
        if leaf[0]:  # a single-leaf tree: a root whose branches both reach the leaf
            fields["roots"].append(node_base)
            fields["features"].append(0)
            fields["splits"].append(0.0)
            fields["true"].append(leaf_base)
            fields["true_leaf"].append(1)
            fields["false"].append(leaf_base)
            fields["false_leaf"].append(1)
            fields["missing_true"].append(1)
        else:
            fields["roots"].append(node_base)
            fields["features"].extend(features)
            fields["splits"].extend(splits)
            fields["true"].extend(position[inner_left].tolist())
            fields["true_leaf"].extend(leaf[inner_left].astype(np.int64).tolist())
            fields["false"].extend(position[inner_right].tolist())
            fields["false_leaf"].extend(leaf[inner_right].astype(np.int64).tolist())
            fields["missing_true"].extend(missing_true)
        fields["leaf_targets"].extend([c] * len(leaves))
        fields["leaf_weights"].extend(proba[leaves, c].tolist())


def _double_imputer(original: Any) -> Any:
    def convert_sklearn_imputer(scope: Any, operator: Any, container: Any) -> None:
        from skl2onnx.common.data_types import DoubleTensorType
        from skl2onnx.proto import onnx_proto

        op = operator.raw_operator
        stats = np.asarray(getattr(op, "statistics_", [np.nan]), dtype=np.float64)
        missing = getattr(op, "missing_values", None)
        if not (
            all(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
            and isinstance(missing, float)
            and math.isnan(missing)
            and np.isfinite(stats).all()
            and not getattr(op, "add_indicator", False)
        ):
            original(scope, operator, container)
            return
        names = [v.full_name for v in operator.inputs]
        if len(names) > 1:
            joined = scope.get_unique_variable_name("imputer_in")
            container.add_node(
                "Concat", names, [joined], axis=1, name=scope.get_unique_operator_name("Concat")
            )
        else:
            joined = names[0]
        values = scope.get_unique_variable_name("imputer_values")
        container.add_initializer(values, onnx_proto.TensorProto.DOUBLE, [stats.size], stats)
        isnan = scope.get_unique_variable_name("imputer_isnan")
        container.add_node("IsNaN", [joined], [isnan], name=scope.get_unique_operator_name("IsNaN"))
        container.add_node(
            "Where",
            [isnan, values, joined],
            [operator.outputs[0].full_name],
            name=scope.get_unique_operator_name("Where"),
        )

    return convert_sklearn_imputer


@contextlib.contextmanager
def float_trees() -> Iterator[None]:
    """Convert tree classifiers with skl2onnx's own float trees inside the block (for a graph
    that also holds the deprecated tree operators, which opset 5 TreeEnsemble cannot join)."""
    global _DOUBLE_TREES
    _DOUBLE_TREES = False
    try:
        yield
    finally:
        _DOUBLE_TREES = True
