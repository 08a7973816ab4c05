"""The controller without a server: counters in, decisions applied, the lease held by one
controller, every decision sent to the alert channels; and the metric from feedback rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shipyard.monitoring.alerts import AlertDispatcher, AlertEvent
from shipyard.registry.endpoints import EndpointStore
from shipyard.rollouts.controller import RolloutController, metric_summaries, start_rollout
from shipyard.rollouts.plan import MetricSpec, RolloutPlan
from shipyard.rollouts.stats.summary import BinomialSummary
from shipyard.rollouts.store import RolloutStore
from shipyard.serving.routing import ShadowRunner, VariantStats


class Recorder:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def send(self, alert: AlertEvent) -> None:
        self.events.append(alert)


class FakeHost:
    """What the controller reads from a ModelHost: per-variant counters."""

    def __init__(self) -> None:
        self.stats: dict[str, VariantStats] = {}
        self.shadows = ShadowRunner()

    def stats_for(self, name: str) -> VariantStats:
        return self.stats.setdefault(name, VariantStats())

    def serve(self, variant: str, requests: int, errors: int = 0) -> None:
        stats = self.stats_for(variant)
        for i in range(requests):
            stats.record(500 if i < errors else 200, 0.002)


@pytest.fixture
def served(registry: Any, churn: Any, churn_model: Any) -> Any:
    for _ in range(2):
        registry.register(churn_model, "churn", reference=churn.X.head(50), target=churn.y.head(50))
    registry.set_alias("churn", "champion", 1)
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "tester")
    return registry


def test_decisions_are_applied_and_notified(served: Any) -> None:
    recorder = Recorder()
    controller = RolloutController(
        served, interval=0.1, dispatcher=AlertDispatcher({"rec": recorder})
    )
    plan = RolloutPlan.from_dict(
        {
            "steps": [50, 100],
            "min_bake": 0,
            "min_samples": 20,
            "guardrails": {"max_error_rate": 0.1},
        }
    )
    start_rollout(served, "churn", 2, share=50, plan=plan)
    host = FakeHost()
    hosts: Any = {"churn": host}
    first = asyncio.run(controller.tick(hosts))
    assert [d.action.value for d in first] == ["hold"]  # no candidate requests yet
    assert recorder.events == []  # holds are not notified
    held = RolloutStore(served.db).latest("churn").observed
    assert "last_decision" not in held  # a hold is no decision...
    evaluation = held["last_evaluation"]  # ...but its figures are kept for the console
    assert evaluation["action"] == "hold" and evaluation["at"] > 0
    assert evaluation["figures"]["candidate.error_rate"] == 0.0
    host.serve("main", 30)
    host.serve("candidate", 30)
    second = asyncio.run(controller.tick(hosts))
    assert [d.action.value for d in second] == ["promote"]
    rollout = RolloutStore(served.db).latest("churn")
    assert rollout.status == "promoted" and rollout.observed["counts"]["candidate"] == [30, 0]
    assert served.get_model("churn").aliases["champion"] == 2
    (event,) = recorder.events
    assert event.rule == "rollout:churn" and event.op == "promote"
    assert event.labels["endpoint"] == "churn" and "promoting" in event.description


def test_failing_candidate_is_rolled_back_and_alerted_critical(served: Any) -> None:
    recorder = Recorder()
    controller = RolloutController(served, dispatcher=AlertDispatcher({"rec": recorder}))
    plan = RolloutPlan.from_dict(
        {"steps": [10, 100], "min_bake": "1h", "guardrails": {"max_error_rate": 0.05}}
    )
    start_rollout(served, "churn", 2, share=10, plan=plan)
    host = FakeHost()
    asyncio.run(controller.tick({"churn": host}))  # type: ignore[dict-item]
    host.serve("main", 200)
    host.serve("candidate", 40, errors=40)
    (decision,) = asyncio.run(controller.tick({"churn": host}))  # type: ignore[dict-item]
    assert decision.action.value == "rollback"
    assert RolloutStore(served.db).latest("churn").status == "rolled_back"
    assert EndpointStore(served.db).get("churn").policy == "single"
    assert recorder.events[-1].severity == "critical"


def test_only_the_lease_holder_acts(served: Any) -> None:
    start_rollout(served, "churn", 2, share=50)
    one = RolloutController(served, holder="replica-1", interval=60)
    two = RolloutController(served, holder="replica-2", interval=60)
    hosts: Any = {"churn": FakeHost()}
    assert len(asyncio.run(one.tick(hosts))) == 1
    assert asyncio.run(two.tick(hosts)) == []  # replica-1 holds rollout:churn
    assert asyncio.run(one.tick({})) == []  # an endpoint this server does not serve


def test_metric_summaries_per_variant() -> None:
    variants = ["main", "main", "candidate", "candidate", "candidate"]
    labels = [1, 0, 1, 1, 0]
    actuals = [1, 1, 1, float("nan"), 0]
    accuracy = metric_summaries(MetricSpec("accuracy"), variants, labels, actuals)
    assert accuracy == {"main": BinomialSummary(1, 2), "candidate": BinomialSummary(2, 2)}
    conversion = metric_summaries(MetricSpec("conversion"), variants, labels, actuals)
    assert conversion == {"main": BinomialSummary(2, 2), "candidate": BinomialSummary(1, 2)}
    error = metric_summaries(
        MetricSpec("abs_error", kind="continuous", higher_is_better=False),
        ["main", "main"],
        [1.0, 3.0],
        [2.0, 2.0],
    )
    assert error["main"].n == 2 and error["main"].mean == 1.0
