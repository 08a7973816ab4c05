"""Gates: a candidate that cannot meet a threshold, or beat the champion, is registered as
rejected with the reason; slice figures name every segment; the gates are pure functions of a
model and the holdout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shipyard import datasets
from shipyard.registry.entities import VersionStatus
from shipyard.training import train
from shipyard.training.gate_config import GatesConfig, LatencyGate, MemoryGate, SliceGate
from shipyard.training.gates import evaluate_gates

Make = Callable[..., dict[str, Any]]


def _gate_report(registry: Any, ref: str) -> dict[str, Any]:
    version = registry.get_version(ref)
    reports = [
        a.data
        for a in registry.store.attachments(version.model, version.version)
        if a.kind == "gate_report"
    ]
    assert len(reports) == 1
    return reports[0]


def test_unreachable_threshold_rejects_the_version(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    config = churn_config(
        model="churn-strict", gates={"metrics": [{"metric": "roc_auc", "min": 0.99}]}
    )
    result = train(config, train_registry, frame=churn_frame)

    assert not result.passed
    assert result.version.status == VersionStatus.REJECTED
    assert train_registry.get_version(result.version.ref).status == VersionStatus.REJECTED
    report = _gate_report(train_registry, result.version.ref)
    assert report["passed"] is False
    assert report["reasons"] == [f"holdout roc_auc {result.holdout:.4f} fails >= 0.99"]
    figures = report["gates"][0]["figures"]
    assert figures == {"metric": "roc_auc", "value": result.holdout, "min": 0.99, "max": None}
    actions = [e.action for e in train_registry.audit_log(result.version.ref)]
    assert actions[-2:] == ["version.attach", "version.status"]


def test_a_worse_candidate_than_the_champion_is_rejected(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    gates = {"champion": {"metric": "roc_auc", "min_absolute_change": 0.0}}
    good = train(churn_config(model="churn-duel", gates=gates), train_registry, frame=churn_frame)
    assert good.passed and good.gates.results[0].figures["champion"] is None
    train_registry.set_alias("churn-duel", "champion", good.version.version)

    weak = churn_config(model="churn-duel", features=["age", "region"], gates=gates)
    result = train(weak, train_registry, frame=churn_frame)

    assert result.version.status == VersionStatus.REJECTED
    gate = result.gates.results[0]
    assert not gate.passed and gate.figures["champion"] == good.version.ref
    assert gate.figures["champion_value"] == pytest.approx(good.holdout)  # same holdout rows
    assert gate.figures["absolute_change"] < 0
    assert gate.reason.startswith(f"roc_auc {result.holdout:.4f} vs {good.version.ref}")
    assert "needs +0" in gate.reason


def test_relative_change_against_the_champion(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    gates = {"champion": {"metric": "log_loss", "min_relative_change": 0.5}}
    base = churn_config(model="churn-relative", metric="log_loss", gates=gates)
    first = train(base, train_registry, frame=churn_frame)
    train_registry.set_alias("churn-relative", "champion", first.version.version)
    second = train(base, train_registry, frame=churn_frame)
    gate = second.gates.results[0]
    # The same model again: no change, so a 50% improvement in log loss is not met.
    assert gate.figures["absolute_change"] == pytest.approx(0.0, abs=1e-12)
    assert not gate.passed and "needs +50.00%" in gate.reason


def test_slice_gate_reports_every_segment(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    gates = {
        "slices": [
            {"feature": "region", "metric": "accuracy", "min": 0.99},
            {"feature": "tenure_months", "metric": "roc_auc", "min": 0.0, "bins": 3},
            {"feature": "contract", "metric": "roc_auc", "min": 0.0, "min_rows": 10_000},
        ]
    }
    result = train(
        churn_config(model="churn-slices", gates=gates), train_registry, frame=churn_frame
    )

    by_region, by_tenure, by_contract = result.gates.results
    segments = by_region.figures["segments"]
    assert {s["segment"] for s in segments} == set(churn_frame.region.unique())
    assert sum(s["rows"] for s in segments) == result.gates.holdout_rows
    assert not by_region.passed and all(not s["passed"] for s in segments)
    assert by_region.reason.startswith("accuracy by region: ")
    assert len(by_tenure.figures["segments"]) == 3 and by_tenure.passed
    assert by_contract.passed and not any(s["judged"] for s in by_contract.figures["segments"])
    assert result.version.status == VersionStatus.REJECTED


def test_latency_and_memory_gates_on_a_plain_model() -> None:
    from sklearn.linear_model import LinearRegression

    data = datasets.house_prices(300)
    X = data.X[data.numeric]
    model = LinearRegression().fit(X, data.y)
    gates = GatesConfig(
        latency=LatencyGate(p99_single_ms=1e-9, p99_batch_ms=None, repeats=5),
        memory=MemoryGate(max_artifact_mb=0.001, max_predict_mb=None),
        slices=(SliceGate("rooms", "r2", min=-1e9, min_rows=2),),
    )
    report = evaluate_gates(gates, model, X, data.y, artifact_size=2 * 1024 * 1024)
    slices, latency, memory = report.results
    assert slices.passed
    assert not latency.passed and latency.reason.startswith("p99 single-row")
    assert latency.figures["budget_batch_ms"] is None
    assert not memory.passed and memory.figures["artifact_mb"] == pytest.approx(2.0)
    assert report.to_dict()["reasons"] == [latency.reason, memory.reason]
