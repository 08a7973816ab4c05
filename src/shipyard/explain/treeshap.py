"""Exact path-dependent TreeSHAP in time linear in the tree size, for scikit-learn trees.

The same values as ``shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")``
(tested to 1e-9), computed the way Linear TreeSHAP (Yu et al., NeurIPS 2022) does rather than
with shap's O(leaves x depth^2) recursion. For a leaf ``l`` whose path splits on the distinct
features ``F``, with ``z_k`` the product of the cover fractions and ``o_k`` the product of the
"does the row go this way" indicators of the path's edges on feature ``k``, the Shapley
weights are Beta integrals, so::

    phi_j += v_l (o_j - z_j) * integral_0^1 prod_{k in F, k != j} (z_k + t (o_k - z_k)) dt

The integrand is a polynomial of degree < |F|, so a Gauss-Legendre rule with ``m`` points,
``2m > |F|``, integrates it exactly, and every polynomial is kept as its values at those
points. Then:

- top-down, each node's path polynomial ``Q`` (the product over the path's features) is its
  parent's times the edge's new factor over the factor that feature had before;
- bottom-up, ``G(node)`` is the sum of ``v_l Q_l`` over the leaves below it;
- an edge ``e`` on feature ``j`` owns the leaves below it whose deepest ``j`` edge it is:
  ``G(child) - sum of G`` at the next ``j`` edges below, and adds ``(o_e - z_e)`` times the
  integral of that sum over its own factor (which divides every term exactly).

The ensemble's trees are one block of flat node arrays (scikit-learn numbers a node after its
parent), so a row is two passes over the nodes, O(nodes x points), in a small kernel that numba
(a dependency of shap) compiles on first use and caches on disk. A 100-tree forest with ~370
leaves per tree: ~5 ms a row against ~33 ms for shap's recursion (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

__all__ = ["LinearTreeShap", "supports"]

Array = np.ndarray[Any, Any]

_FORESTS = (
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
)


def supports(model: Any) -> bool:
    """Whether ``model`` is a fitted scikit-learn tree or forest of single-output trees."""
    if type(model).__name__ not in _FORESTS or not type(model).__module__.startswith("sklearn"):
        return False
    trees = _trees(model)
    return bool(trees) and all(t.tree_.n_outputs == 1 for t in trees)


def _trees(model: Any) -> list[Any]:
    return list(getattr(model, "estimators_", None) or [model])


class LinearTreeShap:
    """Attributions of one scikit-learn tree ensemble in its output space (probability for a
    classifier, as shap's TreeExplainer for forests; the prediction for a regressor).

    Thread-safe; the kernel (compiled by numba on first use, cached on disk) releases the GIL.
    """

    def __init__(self, model: Any) -> None:
        if not supports(model):
            raise TypeError(f"{type(model).__name__} is not a scikit-learn tree ensemble")
        trees = _trees(model)
        self.n_features = int(trees[0].tree_.n_features)
        parents, features, thresholds, lefts, missing, covers, values = [], [], [], [], [], [], []
        offset, roots = 0, []
        for est in trees:
            tree = est.tree_
            n = tree.node_count
            left, right = tree.children_left, tree.children_right
            parent = np.full(n, -1, dtype=np.int64)
            inner = np.flatnonzero(left >= 0)
            if np.any(left[inner] <= inner) or np.any(right[inner] <= inner):
                raise TypeError(
                    "a tree whose children come before their parent"
                )  # never in sklearn
            parent[left[inner]] = inner
            parent[right[inner]] = inner
            is_left = np.zeros(n, dtype=bool)
            is_left[left[inner]] = True
            split = np.where(parent >= 0, parent, 0)
            parents.append(np.where(parent >= 0, parent + offset, -1))
            features.append(np.where(parent >= 0, tree.feature[split], -1).astype(np.int64))
            thresholds.append(tree.threshold[split].astype(np.float64))
            lefts.append(is_left)
            go_left = getattr(tree, "missing_go_to_left", None)
            missing.append(
                np.zeros(n, dtype=bool) if go_left is None else np.asarray(go_left, bool)[split]
            )
            cover = np.asarray(tree.weighted_n_node_samples, dtype=np.float64)
            covers.append(np.where(parent >= 0, cover / cover[split], 1.0))
            value = np.asarray(tree.value[:, 0, :], dtype=np.float64)
            if type(est).__name__.endswith("Classifier"):
                totals = value.sum(axis=1, keepdims=True)
                value = np.divide(value, totals, out=np.zeros_like(value), where=totals > 0)
            values.append(value)
            roots.append(offset)
            offset += n
        self._parent = np.concatenate(parents)
        self._feature = np.concatenate(features)
        self._threshold = np.concatenate(thresholds)
        self._left = np.concatenate(lefts)
        self._missing_left = np.concatenate(missing)
        self._value = np.ascontiguousarray(np.concatenate(values) / len(trees))
        self._leaf = np.ones(offset, dtype=bool)
        self._leaf[self._parent[self._parent >= 0]] = False
        self._roots = np.array(roots, dtype=np.int64)
        self._prev, self._z, distinct = _same_feature_chain(
            self._parent, self._feature, np.concatenate(covers)
        )
        # the kernel works tree by tree, on indices local to the tree: its scratch space is
        # one tree's (small enough to stay in cache), not the ensemble's
        self._starts = np.array([*roots, offset], dtype=np.int64)
        base = np.repeat(self._roots, np.diff(self._starts))
        self._local_parent = np.where(self._parent >= 0, self._parent - base, -1)
        self._local_prev = np.where(self._prev >= 0, self._prev - base, -1)
        self._max_nodes = int(np.diff(self._starts).max())
        points = max(1, math.ceil((distinct + 1) / 2))
        t, w = np.polynomial.legendre.leggauss(points)
        self._t = (t + 1.0) / 2.0  # from [-1, 1] to [0, 1]
        self._w = w / 2.0
        self._kernel = _kernel()
        self._scratch = threading.local()

    def expected_value(self) -> Array:
        """The mean output over the training cover, per output column (class)."""
        out: Array = self._value[self._roots].sum(axis=0)
        return out

    def shap_values(self, x: Array, output: Array) -> tuple[Array, Array]:
        """Attributions (rows x features) of ``x`` (rows x features, float) for the output
        column ``output[r]`` of each row (the class index; 0 for a regressor), and that output
        as the trees give it (the mean over trees of the leaf each reaches), computed apart
        from the attributions so that their sum can be checked against it."""
        # scikit-learn's trees compare float32 inputs with their thresholds: so must we
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32), dtype=np.float64)
        out = np.zeros((len(x), self.n_features))
        predicted = np.zeros(len(x))
        output = np.asarray(output, dtype=np.int64)
        scratch = getattr(self._scratch, "arrays", None)
        if scratch is None:  # per thread: one tree's nodes x points, three times
            n, m = self._max_nodes, len(self._t)
            scratch = (
                np.empty(n),
                np.empty(n, dtype=np.bool_),
                np.empty((n, m)),
                np.empty((n, m)),
                np.empty((n, m)),
            )
            self._scratch.arrays = scratch
        for r in range(len(x)):
            predicted[r] = self._kernel(
                x[r],
                int(output[r]),
                self._starts,
                self._local_parent,
                self._feature,
                self._threshold,
                self._left,
                self._missing_left,
                self._leaf,
                self._value,
                self._local_prev,
                self._z,
                self._t,
                self._w,
                out[r],
                *scratch,
            )
        return out, predicted


def _same_feature_chain(parent: Array, feature: Array, cover: Array) -> tuple[Array, Array, int]:
    """Per node (as the child of its parent's split): the node of the nearest ancestor edge on
    the same feature (-1: none) and the cumulative cover fraction ``z`` of that feature's
    edges down to here; and the most distinct features on one root-to-leaf path."""
    n = len(parent)
    prev = np.full(n, -1, dtype=np.int64)
    z = np.ones(n)
    # the deepest edge per feature on the path to each node, shared by siblings
    last: list[dict[int, int]] = [{} for _ in range(n)]
    most = 0
    for node in range(n):  # parents come first (scikit-learn numbers children after parents)
        p = int(parent[node])
        if p < 0:
            continue
        j = int(feature[node])
        seen = last[p]
        before = seen.get(j, -1)
        prev[node] = before
        z[node] = (z[before] if before >= 0 else 1.0) * cover[node]
        mine = dict(seen)
        mine[j] = node
        last[node] = mine
        most = max(most, len(mine))
    for node in range(n):
        last[node] = {}
    return prev, z, most


_COMPILED: list[Any] = []


def _kernel() -> Any:
    """The per-row kernel, compiled once per process (numba caches it on disk)."""
    if not _COMPILED:
        import numba

        _COMPILED.append(numba.njit(cache=True, nogil=True)(_explain_row))
    return _COMPILED[0]


def _explain_row(
    x: Array,
    output: int,
    starts: Array,
    parent: Array,
    feature: Array,
    threshold: Array,
    left: Array,
    missing_left: Array,
    leaf: Array,
    value: Array,
    prev: Array,
    zc: Array,
    t: Array,
    w: Array,
    phi: Array,
    o: Array,
    reached: Array,
    q: Array,
    g: Array,
    below: Array,
) -> float:  # pragma: no cover - runs compiled (the tests compare it with shap)
    """One row through every tree; ``parent`` and ``prev`` are local to each tree (node
    ``starts[k] + i`` is the tree's node ``i``), the scratch arrays one tree long."""
    m = len(t)
    predicted = 0.0
    for tree in range(len(starts) - 1):
        base = starts[tree]
        n = starts[tree + 1] - base
        for node in range(n):  # top-down: each node's path polynomial, at the points t
            at = base + node
            for i in range(m):
                g[node, i] = 0.0
                below[node, i] = 0.0
            p = parent[at]
            if p < 0:
                o[node] = 1.0
                reached[node] = True
                for i in range(m):
                    q[node, i] = 1.0
                if leaf[at]:
                    predicted += value[at, output]
                continue
            xv = x[feature[at]]
            goes_left = missing_left[at] if np.isnan(xv) else xv <= threshold[at]
            follows = 1.0 if goes_left == left[at] else 0.0
            before = prev[at]
            o_old = o[before] if before >= 0 else 1.0
            z_old = zc[base + before] if before >= 0 else 1.0
            o[node] = o_old * follows
            reached[node] = reached[p] and follows == 1.0
            if reached[node] and leaf[at]:
                predicted += value[at, output]
            z_new = zc[at]
            for i in range(m):
                new = z_new + t[i] * (o[node] - z_new)
                old = z_old + t[i] * (o_old - z_old)
                q[node, i] = q[p, i] * new / old
        for node in range(n - 1, -1, -1):  # bottom-up: children before their parent
            at = base + node
            if leaf[at]:
                v = value[at, output]
                for i in range(m):
                    g[node, i] = v * q[node, i]
            p = parent[at]
            if p < 0:
                continue
            for i in range(m):
                g[p, i] += g[node, i]
            before = prev[at]
            if before >= 0:
                for i in range(m):
                    below[before, i] += g[node, i]
            z_new = zc[at]
            total = 0.0
            for i in range(m):
                total += w[i] * (g[node, i] - below[node, i]) / (z_new + t[i] * (o[node] - z_new))
            phi[feature[at]] += (o[node] - z_new) * total
    return predicted
