"""`shipyard monitor run|report|rules` against the real registry and prediction log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _cli_types import Invoke

from shipyard import datasets
from shipyard.cli.monitor import ALERTS_FIRED
from shipyard.predlog import PredictionRecord, PredictionStore, default_url
from shipyard.predlog.record import to_row
from shipyard.registry.client import Registry
from shipyard.settings import Settings

SHIFTED = ["monthly_charges", "tenure_months"]


def log_traffic(frame: Any, *, prefix: str, at: float) -> None:
    """Log ``frame`` as churn/1 answered it, into the default prediction log."""
    settings = Settings.load()
    registry = Registry(settings)
    model = registry.load("churn/1")
    labels = model.predict(frame)
    registry.close()
    store = PredictionStore(default_url(settings))
    rows = []
    for i, record in enumerate(frame.to_dict(orient="records")):
        inputs = {
            k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
        }
        rec = PredictionRecord(
            f"{prefix}-{i}", 0, "churn", "churn", 1, inputs, int(labels[i]), time=at + i * 1e-6
        )
        rows.append(to_row(rec, inputs))
    store.insert(rows)
    store.dispose()


def features(n: int, seed: int) -> Any:
    data = datasets.churn(n, seed=seed)
    return data.frame[data.numeric]  # the numeric model of the CLI fixtures


@pytest.mark.usefixtures("registered")
def test_run_then_drift_fires_a_registry_rule_with_the_documented_exit_code(
    cli: Invoke, tmp_path: Path
) -> None:
    now = time.time()
    log_traffic(features(400, 5), prefix="n", at=now - 60)
    cli("monitor", "rules", "add", "churn-drift", "--figure", "drift.feature.tenure_months.drifted",
        "--threshold", "1", "--model", "churn", "--severity", "critical")  # fmt: skip
    listed = json.loads(cli("monitor", "rules", "list", "--json").stdout)
    assert [(r["name"], r["model"], r["channels"]) for r in listed] == [
        ("churn-drift", "churn", ["log"])
    ]
    first = cli("monitor", "run", "churn", "--settle", "0")
    assert first.exit_code == 0
    assert "churn: " in first.stdout and "400 rows" in first.stdout

    shifted = datasets.inject_drift(features(400, 6), columns=SHIFTED, strength=2.0)
    log_traffic(shifted, prefix="s", at=time.time())
    time.sleep(0.05)  # the rows are logged at times before the run's window end
    second = cli("monitor", "run", "churn", "--settle", "0", "--json", ok=False)
    assert second.exit_code == ALERTS_FIRED, second.stderr
    (run,) = json.loads(second.stdout)
    assert run["rows"] == 400 and run["status"] == "alert"
    assert set(SHIFTED) <= {f["name"] for f in run["drift"]["features"] if f["drifted"]}
    assert [(a["rule"], a["state"], a["delivered"]) for a in run["alerts"]] == [
        ("churn-drift", "firing", ["log"])
    ]

    text = cli("monitor", "report", "churn", "--since", "1h").stdout
    assert "runs recorded since" in text and "FIRING churn-drift" in text
    out = tmp_path / "report.html"
    cli("monitor", "report", "churn", "--since", "1h", "--format", "html", "--out", str(out))
    page = out.read_text()
    assert out.stat().st_size < 300_000 and "<svg" in page and "<script" not in page
    doc = json.loads(cli("monitor", "report", "churn", "--format", "json").stdout)
    assert doc["report"]["rows"] == 800 and [r["status"] for r in doc["runs"]] == ["ok", "alert"]
    assert doc["events"][0]["rule"] == "churn-drift"

    cli("monitor", "rules", "remove", "churn-drift")
    actions = [e["action"] for e in json.loads(cli("audit", "log", "--json").stdout)]
    assert "alert_rule.add" in actions and "alert_rule.remove" in actions


@pytest.mark.usefixtures("registered")
def test_rules_file_adds_its_rules_and_channels_are_used_by_run(
    cli: Invoke, tmp_path: Path
) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(
        "channels:\n  quiet: {type: log, logger: shipyard.test}\n"
        "rules:\n  - {name: many-rows, figure: quality.rows, op: '>=', threshold: 10,"
        " channels: [quiet]}\n"
    )
    log_traffic(features(50, 7), prefix="q", at=time.time() - 5)
    result = cli("monitor", "run", "churn", "--rules", str(config), "--settle", "0", ok=False)
    assert result.exit_code == ALERTS_FIRED
    assert "alert firing: many-rows" in result.stdout and "delivered to quiet" in result.stdout
    cli("monitor", "rules", "add", "--file", str(config))
    assert "many-rows" in cli("monitor", "rules", "list").stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("monitor", "run", "churn", "--since", "yesterday"), "--since must be a duration", 2),
        (("monitor", "report", "churn", "--format", "pdf"), "--format must be text, json or html", 2),
        (("monitor", "run", "nosuch"), "nosuch", 3),
        (("monitor", "rules", "add", "x", "--figure", "bogus", "--threshold", "1"),
         "figure must be a dotted figure name", 2),
        (("monitor", "rules", "add", "x", "--figure", "drift.share"), "needs NAME, --figure and --threshold", 2),
        (("monitor", "rules", "remove", "nope"), "no alert rule named 'nope'", 3),
        (("monitor", "run", "churn", "--rules", "/nonexistent.yaml"), "cannot read alert config", 2),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("registered")
def test_bad_arguments_give_one_clear_line_and_a_non_zero_exit(
    cli: Invoke, args: tuple[str, ...], message: str, code: int
) -> None:
    result = cli(*args, ok=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr
