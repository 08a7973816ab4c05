"""The load gate: figures recorded from a real loopback server; an impossible budget fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shipyard.cli._errors import ShipyardGroup
from shipyard.cli.train import train as train_command
from shipyard.errors import ConfigError
from shipyard.registry.endpoints import EndpointStore
from shipyard.training import load_config, train

Make = Callable[..., dict[str, Any]]


def test_load_figures_are_recorded_and_an_impossible_budget_fails(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    budget = {"min_rps": 1e9, "max_p99_ms": 1e-6, "requests": 40, "seconds": 30}
    config = churn_config(model="churn-load", gates={"load": budget})
    result = train(config, train_registry, frame=churn_frame)

    gate = next(r for r in result.gates.results if r.gate == "load")
    figures = gate.figures
    assert figures["requests"] == 40 and figures["ok"] == 40 and figures["errors"] == 0
    assert figures["rps"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert not gate.passed and not result.passed
    assert "requests/s < 1e+09" in gate.reason and "p99" in gate.reason
    assert result.version.status == "rejected"
    stored = train_registry.attachments(result.version.ref)
    report = next(a for a in stored if a.kind == "gate_report").data
    assert any(g["gate"] == "load" and g["figures"]["rps"] > 0 for g in report["gates"])
    # the throw-away endpoint never reached the store
    assert all("load-gate" not in e.name for e in EndpointStore(train_registry.db).list())


def test_load_gate_without_bounds_records_and_passes(
    train_registry: Any, churn_frame: Any, churn_config: Make
) -> None:
    config = churn_config(model="churn-load-free", gates={"load": {"requests": 20}})
    result = train(config, train_registry, frame=churn_frame)
    gate = next(r for r in result.gates.results if r.gate == "load")
    assert gate.passed and gate.figures["ok"] == 20
    assert gate.reason.startswith("load test:") and "requests/s" in gate.reason


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ({"min_rps": -1}, "gates.load.min_rps: must be a positive number"),
        ({"requests": 2.5}, "gates.load.requests: must be a positive integer"),
        ({"rps": 5}, "gates.load: unknown key(s) rps"),
    ],
)
def test_bad_load_gate_config(churn_config: Make, load: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(churn_config(gates={"load": load}))


def test_train_load_flag(tmp_path: Path, churn_frame: Any) -> None:
    churn_frame.iloc[:800].to_csv(tmp_path / "churn.csv", index=False)
    path = tmp_path / "train.yaml"
    path.write_text(
        "data: churn.csv\ntarget: churned\ntask: classification\nmodel: churn-flag\n"
        "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
    )
    app = typer.Typer(cls=ShipyardGroup)
    app.callback()(lambda: None)
    app.command("train")(train_command)
    result = CliRunner().invoke(app, ["train", str(path), "--load"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "gate     pass  load: load test:" in result.stdout
