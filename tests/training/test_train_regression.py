"""Regression on the house-price set, LightGBM/XGBoost as composites, and ``train``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shipyard import datasets
from shipyard.cli._errors import ShipyardGroup
from shipyard.cli.train import train as train_command
from shipyard.training import train

Make = Callable[..., dict[str, Any]]


def test_regression_on_house_prices(train_registry: Any) -> None:
    frame = datasets.house_prices(1500, seed=2).frame
    config = {
        "data": "unused.csv",
        "target": "price",
        "task": "regression",
        "model": "houses",
        "metric": "rmse",
        "split": {"holdout": 0.2, "folds": 2},
        "families": ["linear", "hist_gradient_boosting"],
        "automl": {"trials": 3, "seconds": 300},
        "gates": {"metrics": [{"metric": "r2", "min": 0.5}]},
    }
    result = train(config, train_registry, frame=frame)
    assert result.passed, result.gates.reasons
    assert result.version.metrics["rmse"] == pytest.approx(result.holdout)
    assert result.cv_mean > 0 and result.holdout < float(frame.price.std())
    loaded = train_registry.load(result.version.ref)
    predicted = loaded.predict(frame.drop(columns=["price"]).head(3))
    assert predicted.shape == (3,)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_boosters_register_as_composite_without_pickle(
    train_registry: Any, churn_frame: Any, churn_config: Make, family: str
) -> None:
    config = churn_config(
        model=f"churn-{family}",
        families=[family],
        gates={"metrics": [{"metric": "roc_auc", "min": 0.6}]},
    )
    result = train(config, train_registry, frame=churn_frame)
    assert result.passed, result.gates.reasons
    assert result.family == family
    assert result.version.flavor == "composite"
    assert not train_registry.settings.allow_pickle
    loaded = train_registry.load(result.version.ref)
    rows = churn_frame.drop(columns=["churned"]).head(5)
    assert set(loaded.predict(rows).tolist()) <= {0, 1}
    assert loaded.predict_proba(rows).shape == (5, 2)


def _app() -> typer.Typer:
    app = typer.Typer(cls=ShipyardGroup)
    app.callback()(lambda: None)
    app.command("train")(train_command)
    return app


def test_train_command(tmp_path: Path, churn_frame: Any) -> None:
    churn_frame.iloc[:1200].to_csv(tmp_path / "churn.csv", index=False)
    good = tmp_path / "train.yaml"
    good.write_text(
        "data: churn.csv\ntarget: churned\ntask: classification\nmodel: churn-cli\n"
        "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
        "gates:\n  metrics: [{metric: roc_auc, min: 0.6}]\n"
    )
    runner = CliRunner()
    result = runner.invoke(_app(), ["train", str(good)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith("registered churn-cli/1 (sklearn, sha256 ")
    assert "cv       roc_auc" in result.stdout and "gate     pass  metric:" in result.stdout

    strict = tmp_path / "strict.yaml"
    strict.write_text(good.read_text().replace("min: 0.6", "min: 0.999"))
    result = runner.invoke(_app(), ["train", str(strict), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["passed"] is False and payload["version"]["status"] == "rejected"
    assert payload["gates"]["reasons"][0].endswith("fails >= 0.999")

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(good.read_text().replace("task: classification", "task: clasification"))
    result = runner.invoke(_app(), ["train", str(wrong)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {wrong}: task: 'clasification' is not a task; use classification or regression"
    ]
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(good.read_text() + "features: [age, shoe_size]\n")
    result = runner.invoke(_app(), ["train", str(unknown)])
    assert result.exit_code == 2 and "features: no column(s) 'shoe_size'" in result.stderr
