"""The closed loop end to end through the real server, up to promotion (``shipyard pipeline
demo``): drift fires an alert, the loop retrains on the logged predictions and their feedback,
the candidate passes its gates, and the server's rollout controller promotes its canary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.errors import ConfigError
from shipyard.monitoring.store import MonitorStore
from shipyard.registry.client import Registry
from shipyard.rollouts.store import RolloutStore
from shipyard.settings import Settings
from shipyard.training.demo import run_loop_demo
from shipyard.training.loop import load_policy

TIMEOUT = 300.0  # generous: the canary is usually decided in seconds, but the machine is shared


def test_drift_alert_retrain_gates_canary_promotion(settings: Settings) -> None:
    lines: list[str] = []
    demo = run_loop_demo(settings, lines.append, timeout=TIMEOUT)
    assert demo.promoted, "\n".join(lines)
    assert demo.champion == 1 and demo.candidate == "churn/2" and demo.new_champion == 2

    registry = Registry(settings)
    try:
        # the monitor's drift rule fired and the event is recorded
        events = MonitorStore(registry.db).events("churn")
        firing = [e for e in events if e.state == "firing" and e.rule == "churn-drift"]
        assert firing and firing[0].data["figure"] == "drift.share"
        assert demo.loop["triggers"] == ["alert churn-drift (drift.share) firing"]

        # the candidate was trained on the logged traffic and passed every gate
        candidate = registry.get_version("churn/2")
        assert candidate.status.value != "rejected"
        reports = [
            a.data for a in registry.store.attachments("churn", 2) if a.kind == "gate_report"
        ]
        assert len(reports) == 1 and reports[0]["passed"] is True
        assert {g["gate"] for g in reports[0]["gates"]} == {"metric", "champion"}
        assert all(g["passed"] for g in reports[0]["gates"])

        # the canary ran through the server and the controller promoted it
        rollout = RolloutStore(registry.db).get(demo.rollout_id or 0)
        assert (rollout.status, rollout.candidate_version, rollout.endpoint) == (
            "promoted",
            2,
            "churn",
        )
        assert registry.get_model("churn").aliases["champion"] == 2
        moves = [(m.from_version, m.to_version) for m in registry.alias_history("churn")]
        assert moves[-1] == (1, 2)

        # every step is audited
        pipeline = [e.action for e in registry.store.audit_entries("pipeline:churn")]
        assert pipeline == [
            "pipeline.trigger",
            "pipeline.train",
            "pipeline.rollout",
            "pipeline.run",
        ]
        rollout_actions = [e.action for e in registry.store.audit_entries("rollout:churn")]
        assert rollout_actions[0] == "rollout.start" and rollout_actions[-1] == "rollout.promote"
    finally:
        registry.close()

    printed = "\n".join(lines)
    assert "the monitor's drift rule fired: churn-drift" in printed
    assert "gate champion passed" in printed
    assert "churn@champion is now version 2" in printed


def test_pipeline_demo_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["pipeline", "demo", "--home", str(tmp_path), "--timeout", str(TIMEOUT), "--json"]
    )
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    payload = json.loads(result.stdout)  # the steps went to stderr
    assert payload["promoted"] is True and payload["new_champion"] == 2
    assert payload["loop"]["status"] == "rolling_out"
    assert "4. one loop pass (trigger -> train -> rollout -> run)" in result.stderr
    assert (tmp_path / "pipeline-demo" / "train.yaml").is_file()

    again = CliRunner().invoke(app, ["pipeline", "demo", "--home", str(tmp_path)])
    assert again.exit_code != 0
    assert "already holds a model 'churn'" in again.stderr
    assert "empty directory" in again.stderr


def test_a_policy_carries_the_canary_plan() -> None:
    policy = load_policy(
        {"model": "churn", "train": "train.yaml", "plan": {"steps": [50, 100], "min_bake": 1}}
    )
    assert policy.to_dict()["plan"] == {"steps": [50, 100], "min_bake": 1}
    with pytest.raises(ConfigError, match=r"plan\.steps\[0\]"):
        load_policy({"model": "churn", "train": "train.yaml", "plan": {"steps": ["half", 100]}})
    with pytest.raises(ConfigError, match=r"plan\.bake.*unknown field"):
        load_policy({"model": "churn", "train": "train.yaml", "plan": {"bake": 1}})
