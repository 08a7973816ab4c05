"""Rollout plans: YAML and dicts in, frozen dataclasses out, errors naming the field."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidInputError
from shipyard.rollouts import Guardrails, MetricSpec, RolloutPlan

PLAN = """
steps: [5, 25, 50, 100]
min_bake: 5m
min_samples: 1000
inconclusive_limit: 12
guardrails:
  max_error_rate: 0.05
  max_error_rate_increase: 0.01
  max_p99_latency_ms: 250
  drift: true
metric:
  name: conversion
  kind: binary
  margin: 0.005
  promote_when: better
"""


def test_rollout_plan_reads_yaml() -> None:
    plan = RolloutPlan.from_yaml(PLAN)
    assert plan.steps == (5.0, 25.0, 50.0, 100.0)
    assert plan.min_bake_seconds == 300.0
    assert plan.deciding_step == 2
    assert plan.guardrails == Guardrails(
        max_error_rate=0.05, max_error_rate_increase=0.01, max_p99_latency_ms=250.0
    )
    assert plan.metric == MetricSpec(name="conversion", margin=0.005, promote_when="better")
    assert RolloutPlan.from_dict(plan.to_dict()) == plan
    assert RolloutPlan.from_yaml("") == RolloutPlan()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": [5, 50]}, "plan.steps"),
        ({"steps": [50, 25, 100]}, "plan.steps"),
        ({"steps": [5, "x", 100]}, r"plan.steps\[1\]"),
        ({"min_bake": "5 minutes"}, "plan.min_bake"),
        ({"min_samples": 10.5}, "plan.min_samples"),
        ({"inconclusive_limit": 0}, "plan.inconclusive_limit"),
        ({"alpha": 0.9}, "plan.alpha"),
        ({"stepz": [5, 100]}, "plan.stepz: unknown field"),
        ({"guardrails": {"max_eror_rate": 0.1}}, "plan.guardrails.max_eror_rate: unknown field"),
        ({"guardrails": {"max_error_rate": 2}}, "plan.guardrails.max_error_rate"),
        ({"guardrails": {"drift": "yes"}}, "plan.guardrails.drift"),
        ({"guardrails": [1]}, "plan.guardrails: expected a mapping"),
        ({"metric": {"kind": "binary"}}, "plan.metric.name"),
        ({"metric": {"name": "m", "kind": "ordinal"}}, "plan.metric.kind"),
        ({"metric": {"name": "m", "promote_when": "maybe"}}, "plan.metric.promote_when"),
        ({"metric": {"name": "m", "margin": -1}}, "plan.metric.margin"),
    ],
)
def test_rollout_plan_errors_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        RolloutPlan.from_dict({"steps": [5, 100], **change})


def test_rollout_plan_durations_and_bad_yaml() -> None:
    assert RolloutPlan.from_dict({"min_bake": "90s"}).min_bake_seconds == 90.0
    assert RolloutPlan.from_dict({"min_bake": "1.5h"}).min_bake_seconds == 5400.0
    assert RolloutPlan.from_dict({"min_bake": 42}).min_bake_seconds == 42.0
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        RolloutPlan.from_yaml("steps: [5, 100")
    with pytest.raises(InvalidInputError, match="plan: expected a mapping"):
        RolloutPlan.from_yaml("- 5\n- 100\n")
