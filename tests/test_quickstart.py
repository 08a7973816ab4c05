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

    registry = Registry(settings)
    version = registry.get_version("churn@champion")
    assert version.version == 1 and version.tags == {"source": "quickstart"}
    assert registry.reference_profile("churn/1")["n_rows"] == 3750
    assert registry.verify_audit() >= 4
    actions = {e.action for e in registry.audit_log()}
    assert {"model.create", "version.register", "alias.set"} <= actions
    assert (tmp_path / "home" / "registry.db").exists()
    registry.close()
