"""`shipyard quickstart` runs end to end on the embedded default store."""

from __future__ import annotations

from pathlib import Path

from shipyard.quickstart import run
from shipyard.registry.client import Registry
from shipyard.settings import Settings


def test_quickstart_registers_promotes_loads_and_predicts(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    lines: list[str] = []
    result = run(settings, echo=lines.append)
    assert result["version"].ref == "churn/1"
    assert result["metrics"]["auc"] > 0.75
    assert len(result["predictions"]) == 3
    served = result["served"]
    assert served["status"] == [200, 200]
    assert served["v2"] == served["mlflow"] == [int(p) for p in result["predictions"][:2]]
    assert any("churn@champion" in line for line in lines)
    assert any(line.strip() == "shipyard audit verify" for line in lines)

    canary = result["canary"]  # a retrained churn/2, promoted by the server's canary
    assert canary["version"] == 2 and canary["promoted"] and canary["champion"] == 2

    registry = Registry(settings)
    assert registry.get_version("churn@champion").version == 2
    moves = registry.alias_history("churn", "champion")
    assert [m.to_version for m in moves] == [1, 2]
    assert any(e.action.startswith("rollout.") for e in registry.audit_log())
    version = registry.get_version("churn/1")
    assert version.tags == {"source": "quickstart"}
    assert registry.reference_profile("churn/1")["n_rows"] == 3750
    assert registry.verify_audit() >= 4
    actions = {e.action for e in registry.audit_log()}
    assert {"model.create", "version.register", "alias.set"} <= actions
    assert (tmp_path / "home" / "registry.db").exists()
    registry.close()


def test_quickstart_monitor_flags_exactly_the_shifted_features_and_alerts_the_webhook(
    tmp_path: Path,
) -> None:
    from shipyard.monitoring.store import MonitorStore
    from shipyard.quickstart import DRIFTED

    settings = Settings(home=tmp_path / "home")
    lines: list[str] = []
    monitor = run(settings, echo=lines.append)["monitor"]
    normal, drifted = monitor["normal"], monitor["drifted"]
    # every served row was logged and monitored, each batch in its own window
    assert normal.rows == drifted.rows == 600
    assert normal.drifted_features == [] and normal.status == "ok" and normal.alerts == []
    assert sorted(drifted.drifted_features) == sorted(DRIFTED)
    assert drifted.status == "alert"
    # the alert reached the webhook receiver the demo started
    (received,) = monitor["received"]
    assert received["rule"] == "churn-drift" and received["state"] == "firing"
    assert received["labels"] == {"model": "churn", "version": "1"}
    assert drifted.alerts[0]["delivered"] == ["ops-webhook"]
    assert monitor["labelled"] == 1200  # every label matched a logged prediction
    for result in (normal, drifted):
        assert result.performance is not None and result.performance.n_labelled == 600
        assert 0.6 < (result.performance.metrics["accuracy"] or 0) <= 1.0
        assert "accuracy" in result.performance.delta
    assert any("exactly the shifted features were flagged" in line for line in lines)

    registry = Registry(settings)
    runs = MonitorStore(registry.db).runs("churn")
    assert [r.status for r in runs] == ["ok", "alert"]
    assert [e.rule for e in MonitorStore(registry.db).events("churn")] == ["churn-drift"]
    registry.close()
