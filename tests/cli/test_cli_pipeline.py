"""``shipyard pipeline run``: one pass of the retraining loop, for cron and CI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from shipyard import datasets

Invoke = Callable[..., Result]

TRAIN = (
    "data: churn.csv\ntarget: churned\ntask: classification\nmodel: churn\n"
    "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
    "gates:\n  metrics: [{metric: roc_auc, min: MIN}]\n"
)


def _files(folder: Path, minimum: float, trigger: str) -> Path:
    datasets.churn(800, seed=4).frame.to_csv(folder / "churn.csv", index=False)
    (folder / "train.yaml").write_text(TRAIN.replace("MIN", str(minimum)))
    policy = folder / "policy.yaml"
    policy.write_text(f"model: churn\ntrain: train.yaml\ntrigger: {trigger}\nrollout: none\n")
    return policy


def test_pipeline_run_on_schedule_then_idle(cli: Invoke, tmp_path: Path) -> None:
    policy = _files(tmp_path, 0.6, "{alerts: [drift], every: 7d}")
    result = cli("pipeline", "run", "--policy", str(policy), "--json")
    payload = json.loads(result.stdout)
    assert payload["status"] == "candidate" and payload["version"] == "churn/1"
    assert payload["triggers"][0].startswith("schedule: every 604800 s")
    assert payload["steps"] == ["trigger", "train", "run"]

    again = cli("pipeline", "run", "--policy", str(policy))
    assert again.stdout.strip() == "pipeline churn: idle"


def test_pipeline_run_rejected_exits_one(cli: Invoke, tmp_path: Path) -> None:
    policy = _files(tmp_path, 0.9999, "{alerts: [], every: 1h}")
    result = cli("pipeline", "run", "--policy", str(policy), ok=False)
    assert result.exit_code == 1
    assert result.stdout.startswith("pipeline churn: rejected (churn/1)")
    assert "reason   holdout roc_auc" in result.stdout


def test_bad_policy_is_one_line(cli: Invoke, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("model: churn\ntrain: train.yaml\ntrigger: {alerts: [cpu]}\n")
    result = cli("pipeline", "run", "--policy", str(policy), ok=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {policy}: trigger.alerts:")
    missing = cli("pipeline", "run", "--policy", str(tmp_path / "nope.yaml"), ok=False)
    assert missing.exit_code == 2 and "cannot read retraining policy" in missing.stderr
