"""Rollout persistence on SQLite and PostgreSQL: one active rollout per endpoint, each change
and its routing and audit entry in one transaction, promotion moving champion."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.errors import ConflictError, NotFoundError
from shipyard.registry.endpoints import EndpointStore
from shipyard.rollouts import machine
from shipyard.rollouts.controller import act, start_rollout
from shipyard.rollouts.observation import Observation, VariantSnapshot
from shipyard.rollouts.plan import RolloutPlan
from shipyard.rollouts.store import RolloutStore


@pytest.fixture
def served(registry: Any, churn: Any, churn_model: Any) -> Any:
    """``churn`` with versions 1 (champion) and 2, and an endpoint following the champion."""
    for _ in range(2):
        registry.register(churn_model, "churn", reference=churn.X.head(50), target=churn.y.head(50))
    registry.set_alias("churn", "champion", 1)
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "tester")
    return registry


def test_start_evaluate_and_promote(served: Any) -> None:
    registry = served
    store = RolloutStore(registry.db)
    plan = RolloutPlan.from_dict({"steps": [10, 50, 100], "min_bake": 0, "min_samples": 0})
    rollout = start_rollout(registry, "churn", 2, share=10, plan=plan)
    assert (rollout.status, rollout.baseline_version, rollout.state.weight) == ("running", 1, 10)
    assert store.active("churn") == rollout and store.latest("churn") == rollout
    endpoint = EndpointStore(registry.db).get("churn")
    assert [(v.name, v.ref, v.weight) for v in endpoint.variants] == [
        ("main", "churn@champion", 0.9),
        ("candidate", "churn/2", 0.1),
    ]
    with pytest.raises(ConflictError, match="already has an active rollout"):
        start_rollout(registry, "churn", 2)

    obs = Observation(VariantSnapshot(100), VariantSnapshot(100), elapsed_seconds=1.0)
    advanced = store.apply(rollout, machine.evaluate(plan, rollout.state, obs), "controller")
    assert advanced.state.weight == 50 and advanced.status == "running"
    assert EndpointStore(registry.db).get("churn").variants[1].weight == 0.5
    with pytest.raises(ConflictError, match="changed meanwhile"):  # the stale copy is refused
        store.apply(rollout, machine.pause(rollout.state), "someone")
    held = store.record(advanced, advanced.state, {"counts": {"main": [5, 0]}})
    assert held.observed == {"counts": {"main": [5, 0]}}

    promoted = act(registry, "churn", "promote", actor="alice")
    assert promoted.status == "promoted" and promoted.ended_at is not None
    assert registry.get_model("churn").aliases["champion"] == 2
    endpoint = EndpointStore(registry.db).get("churn")
    assert endpoint.policy == "single" and endpoint.main.ref == "churn@champion"
    assert store.active("churn") is None and store.list(active_only=True) == []
    last = registry.audit_log()[-4:]  # one transaction: routing, aliases, the step
    assert [(e.action, e.subject, e.actor) for e in last] == [
        ("alias.delete", "churn@challenger", "alice"),
        ("alias.set", "churn@champion", "alice"),
        ("endpoint.route", "endpoint:churn", "alice"),
        ("rollout.promote", "rollout:churn", "alice"),
    ]
    assert registry.verify_audit() == len(registry.audit_log())


def test_rollback_returns_to_a_pinned_baseline(served: Any) -> None:
    registry = served
    EndpointStore(registry.db).ensure("churn", "churn", "churn/1", "tester")
    start_rollout(registry, "churn", 2, mode="ab", share=20, key="field:user_id")
    endpoint = EndpointStore(registry.db).get("churn")
    assert (endpoint.policy, endpoint.key) == ("ab", "field:user_id")
    rolled = act(registry, "churn", "rollback")
    assert rolled.status == "rolled_back" and rolled.state.weight == 0
    endpoint = EndpointStore(registry.db).get("churn")
    assert endpoint.policy == "single" and endpoint.main.ref == "churn/1"
    assert registry.get_model("churn").aliases["champion"] == 1
    with pytest.raises(ConflictError, match="no active rollout"):
        act(registry, "churn", "pause")


def test_unknowns_are_not_found(served: Any) -> None:
    store = RolloutStore(served.db)
    with pytest.raises(NotFoundError, match="has no rollout yet"):
        store.latest("churn")
    with pytest.raises(NotFoundError, match="no endpoint named 'ghost'"):
        store.latest("ghost")
    with pytest.raises(NotFoundError, match="no rollout #42"):
        store.get(42)


def test_the_alias_history_tells_each_rollout(served: Any) -> None:
    """Start points challenger at the candidate; rollback removes it; promotion removes it and
    moves champion: each an audited alias move by whoever acted."""
    registry = served
    start_rollout(registry, "churn", 2, share=10, actor="ann")
    assert registry.get_model("churn").aliases == {"champion": 1, "challenger": 2}
    assert registry.get_version("churn/2").aliases == ("challenger",)
    start = registry.audit_log()[-3:]  # one transaction
    assert [(e.action, e.subject) for e in start] == [
        ("endpoint.route", "endpoint:churn"),
        ("alias.set", "churn@challenger"),
        ("rollout.start", "rollout:churn"),
    ]

    act(registry, "churn", "pause", actor="bob")  # no alias moves while it runs
    act(registry, "churn", "rollback", actor="bob")
    assert registry.get_model("churn").aliases == {"champion": 1}
    moves = [
        (m.alias, m.from_version, m.to_version, m.actor) for m in registry.alias_history("churn")
    ]
    assert moves[-2:] == [("challenger", None, 2, "ann"), ("challenger", 2, None, "bob")]

    start_rollout(registry, "churn", 2, share=10, actor="ann")
    act(registry, "churn", "promote", actor="carol")
    assert registry.get_model("churn").aliases == {"champion": 2}
    moves = [
        (m.alias, m.from_version, m.to_version, m.actor) for m in registry.alias_history("churn")
    ]
    assert moves[-3:] == [
        ("challenger", None, 2, "ann"),
        ("challenger", 2, None, "carol"),
        ("champion", 1, 2, "carol"),
    ]
    assert registry.verify_audit() == len(registry.audit_log())


def test_a_challenger_moved_elsewhere_is_left_alone(
    served: Any, churn: Any, churn_model: Any
) -> None:
    registry = served
    registry.register(churn_model, "churn", reference=churn.X.head(50))  # v3
    registry.set_alias("churn", "challenger", 3)
    start_rollout(registry, "churn", 2, share=10)  # takes the alias over, audited
    assert registry.alias_history("churn", "challenger")[-1].from_version == 3
    registry.set_alias("churn", "challenger", 3)  # someone points it elsewhere meanwhile
    before = len(registry.alias_history("churn"))
    act(registry, "churn", "rollback")
    assert registry.get_model("churn").aliases["challenger"] == 3
    assert len(registry.alias_history("churn")) == before
