"""Alert rules: parsed from YAML or dicts, every malformed field named in the error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts import AlertRule, Window, load_alert_config, parse_alert_config
from shipyard.monitoring.alerts.rules import parse_duration

CONFIG = """
channels:
  ops: {type: webhook, url: "http://127.0.0.1:9/hook", secret_env: OPS_SECRET}
  log: {type: log}
rules:
  - name: churn-drift
    figure: drift.share
    op: ">="
    threshold: 0.5
    window: 24h
    for: 2
    cooldown: 6h
    severity: critical
    channels: [ops, log]
    labels: {model: churn, version: 3, endpoint: churn-api}
  - name: tenure
    figure: drift.feature.tenure_months.statistic
    op: gt
    threshold: 0.1
    window: 5000 rows
    for: {evaluations: 3, duration: 30m}
  - name: accuracy
    figure: performance.accuracy
    op: "<"
    threshold: 0.8
    for: 15m
"""


def rule(**changes: Any) -> dict[str, Any]:
    return {"name": "r", "figure": "drift.share", "op": ">=", "threshold": 0.5, **changes}


def test_a_config_file_gives_frozen_rules(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(CONFIG)
    config = load_alert_config(path)
    drift, tenure, accuracy = config.rules
    assert drift == AlertRule(
        name="churn-drift",
        figure="drift.share",
        op=">=",
        threshold=0.5,
        severity="critical",
        window=Window(seconds=86400),
        for_evaluations=2,
        cooldown=6 * 3600,
        channels=("ops", "log"),
        labels={"model": "churn", "version": "3", "endpoint": "churn-api"},
    )
    assert (tenure.op, tenure.window, tenure.for_evaluations, tenure.for_seconds) == (
        ">",
        Window(rows=5000),
        3,
        1800,
    )
    assert (accuracy.severity, accuracy.for_evaluations, accuracy.for_seconds) == (
        "warning",
        1,
        900,
    )
    assert set(config.channels) == {"ops", "log"}
    with pytest.raises(AttributeError):
        drift.threshold = 1.0  # type: ignore[misc]


def test_a_rule_round_trips_through_its_dict_form() -> None:
    config = parse_alert_config(__import__("yaml").safe_load(CONFIG))
    for r in config.rules:
        assert AlertRule.from_dict(r.to_dict()) == r


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "name must be"),
        ({"figure": "share"}, "figure must be a dotted figure name"),
        ({"figure": "latency.p99"}, "unknown family 'latency'"),
        ({"op": "bigger"}, "op must be one of"),
        ({"threshold": "high"}, "threshold must be a finite number"),
        ({"threshold": True}, "threshold must be a finite number"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"severity": "page"}, "severity must be one of info, warning, critical"),
        ({"window": "yesterday"}, "window must be a duration"),
        ({"window": "0 rows"}, "window must hold at least one row"),
        ({"for": 0}, "for must be a positive count"),
        ({"for": {"evaluations": 2, "minutes": 3}}, "for: unknown key(s) minutes"),
        ({"cooldown": "-5m"}, "cooldown must be a duration"),
        ({"channels": "Ops Team"}, "'Ops Team' is not a valid channel name"),
        ({"labels": {"Model": "x"}}, "label name 'Model'"),
        ({"labels": {"model": ["x"]}}, "labels.model must be a string"),
        ({"thresold": 1}, "unknown field(s) thresold"),
    ],
)
def test_a_malformed_field_is_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        AlertRule.from_dict(rule(**changes))
    assert message in str(info.value)
    if "name" not in changes:
        assert "rule 'r'" in str(info.value)


def test_a_missing_field_is_named() -> None:
    data = rule()
    del data["threshold"]
    with pytest.raises(ConfigError, match="rule 'r': field 'threshold' is required"):
        AlertRule.from_dict(data)


def test_the_config_checks_rule_names_channels_and_types() -> None:
    with pytest.raises(ConfigError, match="appears more than once"):
        parse_alert_config({"rules": [rule(), rule()]})
    with pytest.raises(ConfigError, match=r"names channel\(s\) pager .*defined: log"):
        parse_alert_config(
            {"channels": {"log": {"type": "log"}}, "rules": [rule(channels=["pager"])]}
        )
    with pytest.raises(
        ConfigError, match="unknown type 'sms'; known types are email, log, slack, webhook"
    ):
        parse_alert_config({"channels": {"x": {"type": "sms"}}})
    with pytest.raises(ConfigError, match=r"rules\[1\] 'q': figure"):
        parse_alert_config({"rules": [rule(), rule(name="q", figure="nope")]})


def test_a_broken_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("rules: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_alert_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_alert_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1.5h", 5400.0), ("7d", 604800.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds
