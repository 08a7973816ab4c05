"""Retraining data from the prediction log: logged inputs joined with their feedback labels."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shipyard import datasets
from shipyard.errors import ConfigError, InvalidInputError
from shipyard.predlog import PredictionRecord, PredictionStore, default_url
from shipyard.predlog.record import to_row
from shipyard.registry.client import Registry
from shipyard.settings import Settings
from shipyard.training import load_config, train
from shipyard.training.config import PredictionsSource
from shipyard.training.data import read_predictions


def _log(settings: Settings, frame: Any, *, labelled: float, age: float = 0.0) -> int:
    """Log ``frame``'s rows as predictions of churn/1 (``age`` seconds ago) and send the true
    label for the first ``labelled`` share of them; returns how many were labelled."""
    store = PredictionStore(settings.predlog_url or default_url(settings))
    now = time.time() - age
    inputs = frame.drop(columns=["churned"]).to_dict(orient="records")
    tag = f"{age:g}-{len(frame)}"
    records = [
        PredictionRecord(f"r{tag}-{i}", 0, "churn", "churn", 1, row, 0, time=now + i * 1e-4)
        for i, row in enumerate(inputs)
    ]
    store.insert([to_row(r, r.inputs) for r in records])
    count = int(len(frame) * labelled)
    truth = frame["churned"].tolist()
    store.add_feedback([(f"r{tag}-{i}", 0, int(truth[i])) for i in range(count)])
    store.dispose()
    return count


@pytest.fixture
def logged_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", actor="retrainer")


def test_rows_without_a_label_and_old_rows_are_left_out(logged_settings: Settings) -> None:
    frame = datasets.churn(600, seed=5).frame
    labelled = _log(logged_settings, frame, labelled=0.75)
    _log(logged_settings, frame.iloc[:200], labelled=1.0, age=10 * 86400)  # before `since`
    source = PredictionsSource("churn", since=7 * 86400, min_rows=50)
    rows = read_predictions(source, "churned", logged_settings)
    assert len(rows) == labelled == 450
    assert rows["churned"].tolist() == frame["churned"].iloc[:labelled].tolist()
    assert set(frame.columns) == set(rows.columns)


def test_too_few_labelled_rows_names_the_counts(logged_settings: Settings) -> None:
    _log(logged_settings, datasets.churn(100, seed=5).frame, labelled=0.3)
    source = PredictionsSource("churn", since=86400, min_rows=100)
    with pytest.raises(InvalidInputError) as caught:
        read_predictions(source, "churned", logged_settings)
    message = str(caught.value)
    assert "30 of the 100 predictions 'churn' logged in the last 1d" in message
    assert "at least 100 (data.min_rows)" in message


def test_train_on_logged_predictions(logged_settings: Settings) -> None:
    _log(logged_settings, datasets.churn(1500, seed=6).frame, labelled=0.8)
    config = load_config(
        {
            "data": {"source": "predictions", "model": "churn", "since": "7d"},
            "target": "churned",
            "task": "classification",
            "model": "churn",
            "split": {"holdout": 0.25, "folds": 2},
            "families": ["linear"],
        }
    )
    registry = Registry(logged_settings)
    try:
        result = train(config, registry)
    finally:
        registry.close()
    assert result.gates.holdout_rows == 300  # 25% of the 1,200 labelled rows
    assert result.holdout > 0.6
    assert result.version.signature is not None
    assert "churned" not in [f["name"] for f in result.version.signature["inputs"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "kafka", "model": "churn", "since": "7d"}, "data.source: 'kafka'"),
        ({"source": "predictions", "since": "7d"}, "data.model: name the model"),
        ({"source": "predictions", "model": "churn"}, "data.since: say how far back"),
        ({"source": "predictions", "model": "churn", "since": "soon"}, "data.since must be"),
        ({"source": "predictions", "model": "churn", "since": "0s"}, "data.since: must be"),
        ({"source": "predictions", "model": "churn", "since": "1d", "min_rows": 0}, "min_rows"),
    ],
)
def test_bad_predictions_source(data: Any, message: str) -> None:
    config = {"data": data, "target": "churned", "task": "classification", "model": "churn"}
    with pytest.raises(ConfigError, match=message):
        load_config(config)
