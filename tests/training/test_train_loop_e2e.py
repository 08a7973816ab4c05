"""The closed loop end to end through the real server, without a person: traffic and feedback
over HTTP, the monitor's drift rule fires, one loop pass retrains on the logged predictions,
validates and registers the candidate and starts its canary, and the server routes to it.
The chain on to promotion (``shipyard pipeline demo``) is in ``test_train_loop_demo.py``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from shipyard import datasets
from shipyard.monitoring.alerts.rules import AlertRule
from shipyard.monitoring.run import run_monitor
from shipyard.predlog import PredictionStore, default_url
from shipyard.registry.client import Registry
from shipyard.rollouts.store import RolloutStore
from shipyard.serving.background import BackgroundServer
from shipyard.serving.server import build_app
from shipyard.settings import Settings
from shipyard.training import load_policy, run_loop_once, train

ROWS_PER_REQUEST = 50


@contextmanager
def _served(registry: Registry) -> Iterator[httpx.Client]:
    """The real server on loopback (``churn`` following ``churn@champion``), and a client."""
    app = build_app(registry, ["churn@champion"])
    with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def _records(frame: Any) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None)
    return list(rows.to_dict(orient="records"))


def test_drift_to_canary_through_the_server(tmp_path: Path) -> None:
    # durable: a prediction is answered once logged, so its feedback can follow at once
    settings = Settings(home=tmp_path / "home", actor="loop-e2e", predlog_mode="durable")
    registry = Registry(settings)
    try:
        base = {
            "data": "unused.csv",
            "target": "churned",
            "task": "classification",
            "model": "churn",
            "split": {"holdout": 0.25, "folds": 2},
            "families": ["linear"],
        }
        first = train(base, registry, frame=datasets.churn(1500, seed=1).frame)
        registry.set_alias("churn", "champion", first.version.version)

        later = datasets.churn(1200, seed=2)
        drifted = datasets.inject_drift(
            later.X, columns=["monthly_charges", "tenure_months"], strength=1.5, seed=2
        )
        with _served(registry) as http:
            for start in range(0, len(drifted), ROWS_PER_REQUEST):
                chunk = drifted.iloc[start : start + ROWS_PER_REQUEST]
                rid = f"r{start // ROWS_PER_REQUEST}"
                reply = http.post(
                    "/invocations",
                    json={"dataframe_records": _records(chunk)},
                    headers={"x-request-id": rid},
                )
                assert reply.status_code == 200, reply.text
                truth = later.y.iloc[start : start + ROWS_PER_REQUEST].tolist()
                labels = [
                    {"request_id": rid, "row_index": i, "value": int(v)}
                    for i, v in enumerate(truth)
                ]
                sent = http.post("/api/v1/feedback", json={"items": labels})
                assert sent.status_code in (200, 202), sent.text

        store = PredictionStore(settings.predlog_url or default_url(settings))
        try:
            assert store.feedback_count() == len(drifted)
            rule = AlertRule.from_dict(
                {"name": "churn-drift", "figure": "drift.share", "op": ">=", "threshold": 0.1}
            )
            monitored = run_monitor(registry, store, "churn", rules=[rule])
        finally:
            store.dispose()
        assert monitored.drifted_features, "the injected drift was not detected"

        (tmp_path / "train.yaml").write_text(
            "data: {source: predictions, model: churn, since: 1d}\n"
            "target: churned\ntask: classification\nmodel: churn\n"
            "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
            "gates:\n  metrics: [{metric: roc_auc, min: 0.6}]\n"
        )
        (tmp_path / "policy.yaml").write_text(
            "model: churn\ntrain: train.yaml\ntrigger: {alerts: [drift]}\n"
        )
        result = run_loop_once(registry, load_policy(tmp_path / "policy.yaml"))
        assert result.status == "rolling_out", result.reasons
        assert result.triggers == ("alert churn-drift (drift.share) firing",)
        rollout = RolloutStore(registry.db).active("churn")
        assert rollout is not None and rollout.candidate_version == 2

        seen = set()
        with _served(registry) as http:
            body = {"dataframe_records": _records(later.X.iloc[:1])}
            for _ in range(300):
                reply = http.post("/invocations", json=body)
                assert reply.status_code == 200, reply.text
                seen.add(reply.headers["x-shipyard-model-version"])
        assert seen == {"churn/1", "churn/2"}  # the canary answers part of the traffic
    finally:
        registry.close()
