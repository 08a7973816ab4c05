"""AutoML on the churn set: a small search registers a loadable version with its gate report
and search history; the same config and seed give the same metrics; workers share a study."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shipyard.registry.entities import VersionStatus
from shipyard.training import train

Make = Callable[..., dict[str, Any]]

ALL_GATES = {
    "metrics": [{"metric": "roc_auc", "min": 0.7}, {"metric": "accuracy", "min": 0.6}],
    "champion": {"metric": "roc_auc", "min_absolute_change": 0.0},
    "slices": [{"feature": "contract", "metric": "accuracy", "min": 0.5}],
    "latency": {"p99_single_ms": 10_000, "p99_batch_ms": 10_000, "repeats": 20},
    "memory": {"max_artifact_mb": 100, "max_predict_mb": 1_000},
}


def test_automl_registers_a_validated_version(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    config = churn_config(
        families=["linear", "random_forest", "hist_gradient_boosting"],
        automl={"trials": 6, "seconds": 300},
        gates=ALL_GATES,
        tags={"team": "growth"},
    )
    result = train(config, train_registry, frame=churn_frame)

    assert result.passed, result.gates.reasons
    version = train_registry.get_version(result.version.ref)
    assert version.status == VersionStatus.CANDIDATE
    assert version.flavor == "sklearn"
    assert version.metrics["roc_auc"] == pytest.approx(result.holdout)
    assert version.metrics["cv_roc_auc"] == pytest.approx(result.cv_mean)
    assert version.metrics["cv_roc_auc_std"] == pytest.approx(result.cv_std)
    assert version.params["family"] == result.family and version.params["seed"] == 7
    assert version.tags["team"] == "growth" and version.tags["shipyard.family"] == result.family
    assert version.signature is not None and version.profile_digest is not None

    search = result.search
    assert search is not None
    assert search.n_trials == 6 and search.n_complete + search.n_pruned == 6
    assert search.history[0]["score"] == pytest.approx(result.cv_mean)
    assert len(result.cv_scores) == 2

    attachments = {
        a.kind: a.data for a in train_registry.store.attachments("churn", version.version)
    }
    report = attachments["gate_report"]
    assert report["passed"] is True and report["reasons"] == []
    kinds = [g["gate"] for g in report["gates"]]
    assert kinds == ["metric", "metric", "champion", "slice", "latency", "memory"]
    latency = report["gates"][4]["figures"]
    assert latency["p99_single_ms"] > 0 and latency["p99_batch_ms"] > 0
    memory = report["gates"][5]["figures"]
    assert memory["artifact_mb"] > 0 and memory["predict_peak_mb"] >= 0
    training = attachments["training"]
    assert training["config"]["seed"] == 7 and training["search"]["n_trials"] == 6

    loaded = train_registry.load(version.ref)  # skops with the trusted list, trees checked
    proba = loaded.predict_proba(churn_frame.drop(columns=["churned"]).head(5))
    assert proba.shape == (5, 2)


def test_same_config_and_seed_give_the_same_metrics(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    config = churn_config(
        model="churn-repeat",
        families=["linear", "hist_gradient_boosting"],
        automl={"trials": 4, "seconds": 300},
    )
    first = train(config, train_registry, frame=churn_frame.iloc[:1500])
    second = train(config, train_registry, frame=churn_frame.iloc[:1500])
    assert first.version.version + 1 == second.version.version
    assert first.version.metrics == second.version.metrics
    assert first.params == second.params
    assert first.search is not None and second.search is not None
    assert first.search.history == second.search.history


def test_workers_share_one_study_in_the_registry_database(
    registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    """On SQLite and PostgreSQL: Optuna's tables live beside the registry's."""
    import optuna

    config = churn_config(
        model="churn-workers",
        families=["linear"],
        automl={"trials": 4, "seconds": 300, "workers": 2},
    )
    result = train(config, registry, frame=churn_frame.iloc[:1000])
    assert result.search is not None and result.search.storage != "memory"
    url = registry.settings.resolved_database_url
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.load_study(study_name=result.search.study_name, storage=storage)
        trials = study.trials
    finally:
        storage.remove_session()
        storage.engine.dispose()
    finished = [t for t in trials if t.state.is_finished()]
    # Each worker stops once the study holds the budget; one may finish a trial it had started.
    assert 4 <= len(finished) <= 5
    assert result.search.n_trials == len(trials)
    assert registry.get_version(result.version.ref).status == "candidate"  # registry unharmed
