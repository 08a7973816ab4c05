"""The loop's retrain step: a firing drift alert -> retrain on logged predictions with their
feedback -> gates -> register -> canary rollout, each step audited and notified; and the passes
that must not retrain (nothing new, another replica busy) or must stop (a rejected candidate)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipyard import datasets
from shipyard.errors import ConfigError
from shipyard.monitoring.alerts.dispatcher import AlertDispatcher
from shipyard.monitoring.alerts.events import AlertEvent
from shipyard.monitoring.store import MonitorStore
from shipyard.predlog import PredictionRecord, PredictionStore, default_url
from shipyard.predlog.record import to_row
from shipyard.registry import leases
from shipyard.registry.client import Registry
from shipyard.registry.endpoints import EndpointStore
from shipyard.rollouts.store import RolloutStore
from shipyard.settings import Settings
from shipyard.training import train
from shipyard.training.loop import load_policy, run_loop_once


class Inbox:
    """An alert channel that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def send(self, alert: AlertEvent) -> None:
        self.events.append(alert)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Registry, Path]]:
    """churn/1 as champion behind endpoint ``churn``; 1,000 logged predictions with feedback;
    a policy retraining on them when a drift alert fires."""
    settings = Settings(home=tmp_path / "home", actor="loop")
    registry = Registry(settings)
    frame = datasets.churn(1600, seed=8).frame
    base = {
        "data": "unused.csv",
        "target": "churned",
        "task": "classification",
        "model": "churn",
        "split": {"holdout": 0.25, "folds": 2},
        "families": ["linear"],
    }
    first = train(base, registry, frame=frame.iloc[:600].drop(columns=["tenure_months"]))
    registry.set_alias("churn", "champion", first.version.version)
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "loop")

    store = PredictionStore(settings.predlog_url or default_url(settings))
    now = time.time()
    rows = frame.iloc[600:].drop(columns=["churned"]).to_dict(orient="records")
    store.insert(
        [
            to_row(r, r.inputs)
            for r in (
                PredictionRecord(f"q{i}", 0, "churn", "churn", 1, row, 0, time=now - 3600 + i)
                for i, row in enumerate(rows)
            )
        ]
    )
    truth = frame["churned"].iloc[600:].tolist()
    store.add_feedback([(f"q{i}", 0, int(v)) for i, v in enumerate(truth)])
    store.dispose()

    (tmp_path / "train.yaml").write_text(
        "data: {source: predictions, model: churn, since: 7d}\n"
        "target: churned\ntask: classification\nmodel: churn\n"
        "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
        "gates:\n  metrics: [{metric: roc_auc, min: 0.6}]\n"
    )
    (tmp_path / "policy.yaml").write_text(
        "model: churn\ntrain: train.yaml\ntrigger: {alerts: [drift]}\n"
    )
    yield registry, tmp_path
    registry.close()


def _fire(registry: Registry, figure: str = "drift.share") -> None:
    now = datetime.now(UTC)
    record: Any = {
        "id": f"a-{time.time()}",
        "state": "firing",
        "rule": "churn-drift",
        "figure": figure,
        "value": 0.6,
        "op": ">=",
        "threshold": 0.5,
        "severity": "critical",
        "labels": {"model": "churn"},
        "time": now.isoformat(),
        "since": now.isoformat(),
        "dispatched_at": now.isoformat(),
        "channels": [],
        "delivered": [],
        "failures": [],
    }
    MonitorStore(registry.db).record_run(
        model="churn",
        version=1,
        window_start=None,
        window_end=now,
        rows=1000,
        status="alert",
        report={},
        started_at=now,
        events=[record],
    )


def _actions(registry: Registry) -> list[str]:
    return [e.action for e in registry.store.audit_entries("pipeline:churn")]


def test_drift_alert_retrains_and_starts_a_canary(world: tuple[Registry, Path]) -> None:
    registry, folder = world
    policy = load_policy(folder / "policy.yaml")
    inbox = Inbox()
    dispatcher = AlertDispatcher({"inbox": inbox})

    idle = run_loop_once(registry, policy, dispatcher=dispatcher)
    assert idle.status == "idle" and idle.version is None  # no alert yet: nothing to do

    _fire(registry, "quality.missing_share.age")  # a kind the policy does not retrain on
    _fire(registry)
    result = run_loop_once(registry, policy, dispatcher=dispatcher)
    assert result.status == "rolling_out", result.reasons
    assert result.triggers == ("alert churn-drift (drift.share) firing",)
    assert result.version == "churn/2"
    candidate = registry.get_version("churn/2")
    assert "tenure_months" in [f["name"] for f in candidate.signature["inputs"]]  # new data
    rollout = RolloutStore(registry.db).active("churn")
    assert rollout is not None and rollout.id == result.rollout_id
    assert rollout.candidate_version == 2 and rollout.baseline_version == 1
    assert _actions(registry) == [
        "pipeline.run",
        "pipeline.trigger",
        "pipeline.train",
        "pipeline.rollout",
        "pipeline.run",
    ]
    steps = [e.figure for e in inbox.events]
    assert steps == ["pipeline.trigger", "pipeline.train", "pipeline.rollout", "pipeline.run"]
    assert "canary rollout" in inbox.events[2].description

    again = run_loop_once(registry, policy, dispatcher=dispatcher)
    assert again.status == "idle"  # the alert was handled by the previous pass


def test_a_rejected_candidate_stops_the_loop_with_the_reasons(
    world: tuple[Registry, Path],
) -> None:
    registry, folder = world
    strict = (folder / "train.yaml").read_text().replace("min: 0.6", "min: 0.9999")
    (folder / "train.yaml").write_text(strict)
    _fire(registry)
    result = run_loop_once(registry, load_policy(folder / "policy.yaml"))
    assert result.status == "rejected" and not result.ok
    assert result.reasons and "fails >= 0.9999" in result.reasons[0]
    assert registry.get_version("churn/2").status == "rejected"
    assert RolloutStore(registry.db).active("churn") is None


def test_too_few_labels_fail_the_pass_with_the_counts(world: tuple[Registry, Path]) -> None:
    registry, folder = world
    text = (folder / "train.yaml").read_text()
    (folder / "train.yaml").write_text(text.replace("since: 7d}", "since: 7d, min_rows: 5000}"))
    _fire(registry)
    result = run_loop_once(registry, load_policy(folder / "policy.yaml"))
    assert result.status == "failed"
    assert "1000 of the 1000 predictions" in result.reasons[0]
    assert "at least 5000" in result.reasons[0]


def test_schedule_and_lease(world: tuple[Registry, Path]) -> None:
    registry, folder = world
    policy = load_policy(
        {
            "model": "churn",
            "train": str(folder / "train.yaml"),
            "trigger": {"alerts": [], "every": "1d"},
            "rollout": "none",
        }
    )
    assert leases.try_acquire(registry.db, "pipeline:churn", "other-replica", 60)
    busy = run_loop_once(registry, policy)
    assert busy.status == "busy"
    leases.release(registry.db, "pipeline:churn", "other-replica")

    due = run_loop_once(registry, policy)
    assert due.status == "candidate" and due.triggers[0].startswith("schedule: every 86400 s")
    assert RolloutStore(registry.db).active("churn") is None  # rollout: none
    assert run_loop_once(registry, policy).status == "idle"  # retrained less than 1d ago
    later = run_loop_once(registry, policy, now=time.time() + 2 * 86400)
    assert later.status == "candidate"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"train": "t.yaml"}, "missing required field 'model'"),
        ({"model": "churn", "train": "t.yaml", "trigger": {"alerts": ["cpu"]}}, "trigger.alerts"),
        ({"model": "churn", "train": "t.yaml", "trigger": {"alerts": []}}, "never retrains"),
        ({"model": "churn", "train": "t.yaml", "rollout": "blue-green"}, "rollout: 'blue-green'"),
        ({"model": "churn", "train": "t.yaml", "cron": "* * *"}, "unknown key"),
    ],
)
def test_bad_policies(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_policy(policy)
