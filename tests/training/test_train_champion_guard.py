"""A version rejected by its gates cannot become the champion without force, which is audited,
and `shipyard versions show` prints its gate report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard.errors import ConflictError
from shipyard.registry.client import Registry
from shipyard.settings import Settings
from shipyard.training.run import train


@pytest.fixture
def rejected(tmp_path: Path) -> Registry:
    from shipyard import datasets

    registry = Registry(Settings(home=tmp_path / "home", actor="tester"))
    config: dict[str, Any] = {
        "data": "unused.csv",  # the rows come from frame=
        "target": "churned",
        "task": "classification",
        "model": "churn",
        "metric": "roc_auc",
        "seed": 0,
        "split": {"holdout": 0.25, "folds": 2},
        "families": ["linear"],
        "gates": {"metrics": [{"metric": "roc_auc", "min": 0.999}]},
    }
    result = train(config, registry, frame=datasets.churn(1500, seed=3).frame)
    assert not result.passed
    return registry


def test_rejected_version_cannot_be_champion_without_force(rejected: Registry) -> None:
    assert rejected.get_version("churn/1").status == "rejected"
    with pytest.raises(ConflictError, match=r"churn/1 was rejected \(.*roc_auc.*\)"):
        rejected.set_alias("churn", "champion", 1)
    rejected.set_alias("churn", "challenger", 1)  # other aliases are not guarded
    rejected.set_alias("churn", "champion", 1, force=True)
    assert rejected.get_version("churn@champion").version == 1
    forced = [e for e in rejected.audit_log() if e.action == "alias.forced"]
    assert len(forced) == 1 and forced[0].after["version"] == 1
    assert rejected.verify_audit() > 0


def test_versions_show_prints_the_gate_report(
    rejected: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.cli import app

    monkeypatch.setenv("SHIPYARD_HOME", str(rejected.settings.home))
    monkeypatch.setenv("SHIPYARD_ACTOR", "tester")
    result = CliRunner().invoke(app, ["versions", "show", "churn/1"])
    assert result.exit_code == 0, result.output
    assert "gates: FAILED" in result.output and "FAIL" in result.output
    assert "gate_report" in result.output
    refused = CliRunner().invoke(app, ["alias", "set", "churn", "champion", "1"])
    assert refused.exit_code == 4 and "--force" in refused.output
    forced = CliRunner().invoke(app, ["alias", "set", "churn", "champion", "1", "--force"])
    assert forced.exit_code == 0, forced.output
