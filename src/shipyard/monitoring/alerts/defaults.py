"""The rules every monitored model gets without asking: today, attribution drift below 0.9.

A config-file or registry rule of the same name replaces a default (to change its threshold,
channels or severity, or to quiet it with a threshold no NDCG can break, such as ``< 0``);
``attribution_rows = 0`` in the settings stops the figure being computed at all.
"""

from __future__ import annotations

from shipyard.explain.drift import ATTRIBUTION_DRIFT_THRESHOLD
from shipyard.monitoring.alerts.rules import AlertRule

__all__ = ["DEFAULT_RULES"]

DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule.from_dict(
        {
            "name": "attribution-drift",
            "figure": "attribution.ndcg",
            "op": "<",
            "threshold": ATTRIBUTION_DRIFT_THRESHOLD,
            "severity": "warning",
            "channels": ["log"],
            "description": "the features the model relies on live are ranked differently from "
            "training (NDCG of live mean |attribution| against the training importance, as "
            "SageMaker Clarify measures it)",
        },
        "default rule",
    ),
)
