"""Rollouts: experiment statistics and the progressive-rollout state machine, both pure.

:mod:`~shipyard.rollouts.stats` compares variants from sufficient statistics;
:mod:`~shipyard.rollouts.plan` reads a rollout plan; :mod:`~shipyard.rollouts.machine` turns a
state and an observation into the next state and a decision. Nothing here does I/O: the server
feeds observations in and persists ``RolloutState.to_dict()``.
"""

from shipyard.rollouts.machine import (
    Action,
    Decision,
    RolloutState,
    Transition,
    evaluate,
    pause,
    promote,
    resume,
    rollback,
    start,
)
from shipyard.rollouts.observation import Observation, VariantSnapshot
from shipyard.rollouts.plan import Guardrails, MetricSpec, RolloutPlan

__all__ = [
    "Action",
    "Decision",
    "Guardrails",
    "MetricSpec",
    "Observation",
    "RolloutPlan",
    "RolloutState",
    "Transition",
    "VariantSnapshot",
    "evaluate",
    "pause",
    "promote",
    "resume",
    "rollback",
    "start",
]
