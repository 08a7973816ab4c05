"""Explanations: per-prediction feature attributions, global importance, attribution drift.

``explain(model, X)`` (or ``model.explain(X)`` on what ``Registry.load`` returns) gives an
:class:`Explanation`: one attribution per row and original feature, adding up with the base
value to the model's raw output. ``global_importance`` is the mean ``|attribution|`` over the
reference sample, kept as the version's ``importance`` attachment; ``ndcg`` compares a live
importance ranking with it (attribution drift). shap is imported only when a tree model is
explained (``pip install 'shipyard[explain]'``).
"""

from __future__ import annotations

from shipyard.explain.api import explain, explainer_for
from shipyard.explain.drift import (
    ATTRIBUTION_DRIFT_THRESHOLD,
    AttributionDrift,
    attribution_drift,
    ndcg,
)
from shipyard.explain.explainer import METHODS, Explainer
from shipyard.explain.explanation import Explanation
from shipyard.explain.importance import global_importance, live_importance, stored_importance

__all__ = [
    "ATTRIBUTION_DRIFT_THRESHOLD",
    "METHODS",
    "AttributionDrift",
    "Explainer",
    "Explanation",
    "attribution_drift",
    "explain",
    "explainer_for",
    "global_importance",
    "live_importance",
    "ndcg",
    "stored_importance",
]
