"""`run_monitor` end to end: a real registry (SQLite and PostgreSQL), a real prediction log,
drift / quality / performance, alert rules from a file and from the registry, delivery to a real
HTTP receiver, the cursor between runs, and the lease."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_alerts_delivery import HttpReceiver

from shipyard import datasets
from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.monitoring.alerts import AlertRule, build_channels, parse_alert_config
from shipyard.monitoring.run import lease_name, run_monitor
from shipyard.monitoring.store import MonitorStore
from shipyard.predlog import PredictionRecord, PredictionStore
from shipyard.predlog.record import to_row
from shipyard.registry.leases import try_acquire

T0 = 1_760_000_000.0
DRIFTED = ["monthly_charges", "tenure_months"]

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For a test whose registry work is read-only or already covered on PostgreSQL by the tests
here that keep both stores (the full pass with alerts, registry rules, the empty and failed
passes, leases): its whole monitor pass on PostgreSQL would repeat the same SQL."""


@pytest.fixture
def plog(tmp_path: Path) -> Iterator[PredictionStore]:
    store = PredictionStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    yield store
    store.dispose()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture
def bare_churn_version(registry: Any, churn: Any, churn_model: Any) -> Any:
    """churn v1 as registered: its first monitor pass computes its training importance."""
    return registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y,
        metrics={"auc": 0.99, "accuracy": 0.95},
    )  # fmt: skip


@pytest.fixture(scope="module")
def _importance() -> dict[str, Any]:
    return {}


@pytest.fixture
def churn_version(registry: Any, bare_churn_version: Any, _importance: dict[str, Any]) -> Any:
    """churn v1 with its training importance attached, as the server's background job leaves
    it. Every test registers the same model on the same reference (a sample drawn with a fixed
    seed), so the importance is computed once per module (a few seconds of SHAP) and attached
    again; the pass that computes it itself is the first test's."""
    from shipyard.explain.backfill import ensure_importance
    from shipyard.explain.importance import IMPORTANCE

    version = bare_churn_version
    if "data" not in _importance:
        _importance["data"] = ensure_importance(registry, version)
        assert _importance["data"] is not None
    else:
        registry.store.attach(
            version.model, version.version, IMPORTANCE, None, _importance["data"], "tester"
        )
    return version


def log_rows(
    store: PredictionStore,
    model: Any,
    frame: Any,
    *,
    prefix: str,
    at: float,
    version: int = 1,
    redactor: Any = None,
) -> list[str]:
    """Log ``frame``'s rows as answered by ``model`` (one request per row), at time ``at``."""
    labels = model.predict(frame)
    proba = model.predict_proba(frame)
    rows, ids = [], []
    for i, record in enumerate(frame.to_dict(orient="records")):
        inputs = {
            k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
        }
        rid = f"{prefix}-{i}"
        ids.append(rid)
        rec = PredictionRecord(
            rid, 0, "churn", "churn", version, inputs, int(labels[i]),
            {"0": float(proba[i, 0]), "1": float(proba[i, 1])}, time=at + i * 0.001,
        )  # fmt: skip
        rows.append(to_row(rec, inputs if redactor is None else redactor.apply("churn", inputs)))
    store.insert(rows)
    return ids


def test_drift_run_flags_exactly_the_shifted_features_and_alerts_a_real_webhook(
    registry: Any, plog: PredictionStore, bare_churn_version: Any, churn_model: Any,
    receiver: HttpReceiver,
) -> None:  # fmt: skip
    normal = datasets.churn(600, seed=11).X
    shifted = datasets.inject_drift(datasets.churn(600, seed=12).X, columns=DRIFTED, strength=1.5)
    log_rows(plog, churn_model, normal, prefix="n", at=T0)
    config = parse_alert_config(
        {
            "channels": {"ops": {"type": "webhook", "url": receiver.url, "retries": 1}},
            "rules": [
                {"name": "tenure-drift", "figure": "drift.feature.tenure_months.drifted",
                 "op": ">=", "threshold": 1, "channels": ["ops"], "severity": "critical"},
            ],
        }
    )  # fmt: skip
    channels = build_channels(config.channels)
    first = run_monitor(
        registry, plog, "churn", until=T0 + 100, rules=config.rules, channels=channels
    )
    assert first.status == "ok" and first.rows == 600 and first.version == 1
    # (a distance test may trip on a feature by chance; none of the ones shifted below does)
    assert not set(first.drifted_features) & set(DRIFTED)
    assert first.alerts == [] and receiver.requests == []

    log_rows(plog, churn_model, shifted, prefix="s", at=T0 + 200)
    second = run_monitor(
        registry, plog, "churn", until=T0 + 300, rules=config.rules, channels=channels
    )
    # the cursor: the second run reads only the rows after the first run's window end
    assert second.rows == 600
    assert second.window_start is not None and second.window_start.timestamp() == T0 + 100
    assert set(second.drifted_features) >= set(DRIFTED)
    assert second.status == "alert"
    assert [a["state"] for a in second.alerts] == ["firing"]
    assert second.alerts[0]["delivered"] == ["ops"]
    sent = json.loads(receiver.bodies()[0])
    assert sent["rule"] == "tenure-drift" and sent["state"] == "firing"
    assert sent["labels"] == {"model": "churn", "version": "1"}
    # quality and performance are in the figures, no raw rows in the stored report
    assert second.figures["quality.out_of_range_share.monthly_charges"] > 0.0
    assert second.quality is not None and second.quality.schema_violations == 0
    monitors = MonitorStore(registry.db)
    runs = monitors.runs("churn")
    assert [r.status for r in runs] == ["ok", "alert"]
    report = runs[-1].report
    assert report["drift"]["n_drifted"] == len(second.drifted_features)
    assert set(report["histograms"]) >= set(DRIFTED)
    assert "inputs" not in json.dumps(report) and "s-0" not in json.dumps(report)
    events = monitors.events("churn")
    assert [(e.rule, e.state) for e in events] == [("tenure-drift", "firing")]
    assert events[0].data["delivered"] == ["ops"]

    # back to normal traffic: the alert resolves, and the receiver hears it
    log_rows(plog, churn_model, datasets.churn(600, seed=13).X, prefix="m", at=T0 + 400)
    third = run_monitor(
        registry, plog, "churn", until=T0 + 500, rules=config.rules, channels=channels
    )
    assert not set(third.drifted_features) & set(DRIFTED)
    assert [a["state"] for a in third.alerts] == ["resolved"]
    assert [json.loads(b)["state"] for b in receiver.bodies()] == ["firing", "resolved"]
    assert third.alerts[0]["id"] == second.alerts[0]["id"]


def test_registry_rule_fires_on_dataset_drift_to_the_log_channel(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monitors = MonitorStore(registry.db)
    rule = AlertRule.from_dict(
        {"name": "churn-dataset-drift", "figure": "drift.share", "op": ">=", "threshold": 0.3,
         "channels": ["log", "pager"]}
    )  # fmt: skip
    monitors.add_rule(rule, "tester", model="churn")
    assert [r.rule.name for r in monitors.list_rules("churn")] == ["churn-dataset-drift"]
    assert any(e.action == "alert_rule.add" for e in registry.audit_log())
    frame = datasets.inject_drift(
        datasets.churn(500, seed=21).X,
        columns=["monthly_charges", "tenure_months", "age", "contract"],
        strength=2.0,
    )
    log_rows(plog, churn_model, frame, prefix="d", at=T0)
    with caplog.at_level("WARNING", logger="shipyard.alerts"):
        result = run_monitor(registry, plog, "churn", until=T0 + 60)
    assert result.drift is not None and result.drift.share >= 0.3
    assert [a["rule"] for a in result.fired] == ["churn-dataset-drift"]
    assert result.fired[0]["delivered"] == ["log"]
    # a channel nobody configured is a recorded failure, not a crash
    (failure,) = result.fired[0]["failures"]
    assert failure["channel"] == "pager" and "no channel named 'pager'" in failure["error"]
    assert any("churn-dataset-drift" in r.getMessage() for r in caplog.records)
    monitors.remove_rule("churn-dataset-drift", "tester")
    assert monitors.list_rules() == []
    with pytest.raises(NotFoundError, match="no alert rule named"):
        monitors.remove_rule("churn-dataset-drift", "tester")


@SQLITE_ONLY
def test_performance_and_target_drift_once_labels_arrive(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any
) -> None:
    from sklearn import metrics as skm

    data = datasets.churn(400, seed=31)
    ids = log_rows(plog, churn_model, data.X, prefix="p", at=T0)
    before = run_monitor(registry, plog, "churn", until=T0 + 60, record=False)
    assert before.performance is not None and before.performance.n_labelled == 0
    assert before.performance.metrics == {} and before.target_drift is None
    # labels for the first 300 rows arrive later, through the prediction log's feedback
    truth = data.y.to_numpy()
    plog.add_feedback([(rid, 0, int(truth[i])) for i, rid in enumerate(ids[:300])])
    result = run_monitor(registry, plog, "churn", until=T0 + 60, record=False)
    perf = result.performance
    assert perf is not None and perf.task == "classification" and perf.n_labelled == 300
    predicted = churn_model.predict(data.X)[:300]
    proba = churn_model.predict_proba(data.X)[:300, 1]
    assert perf.metrics["accuracy"] == pytest.approx(skm.accuracy_score(truth[:300], predicted))
    assert perf.metrics["f1"] == pytest.approx(skm.f1_score(truth[:300], predicted))
    assert perf.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(truth[:300], proba))
    assert perf.registered == {"roc_auc": 0.99, "accuracy": 0.95}
    assert perf.delta["accuracy"] == pytest.approx(perf.metrics["accuracy"] - 0.95)
    assert result.figures["performance.accuracy"] == perf.metrics["accuracy"]
    # the labels come from the same distribution as the reference target: no target drift
    assert result.target_drift is not None and not result.target_drift.drifted
    assert result.target_drift.n_current == 300
    # prediction drift compares the logged outputs with the model on its reference sample
    assert result.prediction_drift is not None and not result.prediction_drift.drifted
    assert MonitorStore(registry.db).runs("churn") == []  # record=False writes nothing


def test_empty_window_is_recorded_and_bad_bounds_are_refused(
    registry: Any, plog: PredictionStore, churn_version: Any
) -> None:
    result = run_monitor(registry, plog, "churn", until=T0)
    assert result.status == "empty" and result.rows == 0 and result.run_id is not None
    with pytest.raises(InvalidInputError, match="not before its end"):
        run_monitor(registry, plog, "churn", since=T0 + 10, until=T0)
    with pytest.raises(NotFoundError):
        run_monitor(registry, plog, "nosuchmodel")


def test_scheduled_run_skips_while_another_replica_holds_the_lease(
    registry: Any, plog: PredictionStore, churn_version: Any
) -> None:
    assert try_acquire(registry.db, lease_name("churn"), "replica-a", 60.0)
    skipped = run_monitor(registry, plog, "churn", lease=True, holder="replica-b")
    assert skipped.status == "skipped" and "lease" in skipped.notes[0]
    assert MonitorStore(registry.db).runs("churn") == []
    ran = run_monitor(registry, plog, "churn", lease=True, holder="replica-a", until=time.time())
    assert ran.status == "empty" and ran.run_id is not None


def test_monitor_loop_on_two_replicas_runs_each_interval_once(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any
) -> None:
    import asyncio

    from shipyard.monitoring.schedule import monitor_loop

    log_rows(plog, churn_model, datasets.churn(200, seed=51).X, prefix="l", at=time.time() - 30)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    rejected_so_far = [7]  # the server's running count of rejected requests

    async def main() -> None:
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(
                monitor_loop(
                    registry,
                    plog,
                    interval=0.2,
                    holder=f"replica-{name}",
                    settle=0.0,
                    stop=stop,
                    on_result=lambda r, n=name: seen[n].append(r.status),
                    rejected_total=lambda model: rejected_so_far[0],
                )
            )
            for name in ("a", "b")
        ]
        for _ in range(600):  # generous: up to a minute on a loaded machine
            await asyncio.sleep(0.1)
            if sum(s != "skipped" for v in seen.values() for s in v) >= 3:
                break
        stop.set()
        await asyncio.gather(*loops)

    asyncio.run(main())
    ran = {name: [s for s in statuses if s != "skipped"] for name, statuses in seen.items()}
    # one replica holds the lease and runs every pass; the other only ever skips
    assert sorted(len(v) > 0 for v in ran.values()) == [False, True]
    runs = MonitorStore(registry.db).runs("churn")
    assert runs[0].rows == 200 and all(r.rows == 0 for r in runs[1:])
    assert len(runs) == sum(len(v) for v in ran.values())
    # the first pass gets the 7 rejected so far; later passes only the increase (none)
    assert runs[0].report["quality"]["rejected"] == 7


@SQLITE_ONLY
def test_features_redacted_in_the_log_are_left_out_and_said_so(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any
) -> None:
    from shipyard.predlog import Redactor

    redactor = Redactor(plog.salt, {"churn": {"region": "hash", "age": "drop"}})
    log_rows(
        plog, churn_model, datasets.churn(300, seed=61).X, prefix="r", at=T0, redactor=redactor
    )
    result = run_monitor(registry, plog, "churn", until=T0 + 60, record=False)
    assert result.drift is not None and result.quality is not None
    compared = {f.name for f in result.drift.features}
    assert "region" not in compared and "age" not in compared and "contract" in compared
    assert result.quality.schema_violations == 0
    assert any("dropped as sensitive" in n and "age" in n for n in result.notes)
    assert any("hashed in the log" in n and "region" in n for n in result.notes)
    # the model's outputs are still compared with its predictions on the full reference sample
    assert result.prediction_drift is not None


def test_a_failed_pass_is_recorded_and_does_not_move_the_cursor(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any
) -> None:
    frame = datasets.churn(50, seed=71).X
    log_rows(plog, churn_model, frame, prefix="x", at=T0, version=7)  # no such version
    with pytest.raises(NotFoundError):
        run_monitor(registry, plog, "churn", until=T0 + 60)
    monitors = MonitorStore(registry.db)
    (failed,) = monitors.runs("churn")
    assert failed.status == "error" and "7" in failed.report["error"]
    assert monitors.last_run("churn") is None
    log_rows(plog, churn_model, frame, prefix="y", at=T0 + 10)
    result = run_monitor(registry, plog, "churn", version=1, until=T0 + 60)
    assert result.window_start is None and result.rows == 50


@SQLITE_ONLY
def test_a_rule_with_its_own_window_sees_the_rows_of_that_window(
    registry: Any, plog: PredictionStore, churn_version: Any, churn_model: Any
) -> None:
    rules = [
        AlertRule.from_dict(
            {"name": "busy", "figure": "quality.rows", "op": ">=", "threshold": 70,
             "window": "100 rows", "channels": ["log"]}
        ),
        AlertRule.from_dict(
            {"name": "busy-hour", "figure": "quality.rows", "op": ">=", "threshold": 110,
             "window": "1h", "channels": ["log"]}
        ),
        AlertRule.from_dict(
            {"name": "busy-pass", "figure": "quality.rows", "op": ">=", "threshold": 70}
        ),
    ]  # fmt: skip
    log_rows(plog, churn_model, datasets.churn(60, seed=81).X, prefix="w1", at=T0)
    first = run_monitor(registry, plog, "churn", until=T0 + 60, rules=rules)
    assert first.fired == []
    log_rows(plog, churn_model, datasets.churn(60, seed=82).X, prefix="w2", at=T0 + 100)
    second = run_monitor(registry, plog, "churn", until=T0 + 160, rules=rules)
    # the pass saw 60 new rows; "busy" looks at the last 100 rows and "busy-hour" at the last
    # hour (all 120), so both fire while the rule on the pass's own window does not
    assert second.rows == 60 and second.figures["quality.rows"] == 60.0
    fired = {a["rule"]: a["value"] for a in second.fired}
    assert fired == {"busy": 100.0, "busy-hour": 120.0}
