"""Bad configs and bad data: each fails with one clear error naming the field and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard import datasets
from shipyard.errors import ConfigError, InvalidInputError
from shipyard.training.config import SqlSource, load_config
from shipyard.training.data import load_data

Make = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "unknown key(s) colour"),
        ({"task": "clustering"}, "task: 'clustering' is not a task"),
        ({"metric": "rmse"}, "metric: 'rmse' is not a classification metric (rmse is a metric"),
        ({"model": "Churn Model"}, "model:"),
        ({"families": ["svm"]}, "families[0]: unknown family 'svm'"),
        ({"families": []}, "families: give a non-empty list"),
        ({"seed": -1}, "seed: must be a non-negative integer"),
        ({"threads": 0}, "threads: must be a positive integer, got 0"),
        ({"split": {"holdout": 1.5}}, "split.holdout: must be a share between 0 and 1"),
        ({"split": {"folds": 1}}, "split.folds: must be an integer from 2 to 20"),
        ({"split": {"shuffle": True}}, "split: unknown key(s) shuffle"),
        ({"automl": {"trials": 0}}, "automl.trials: must be a positive integer"),
        ({"automl": {"trials": None, "seconds": None}}, "automl: give trials, seconds or both"),
        ({"data": "train.xlsx"}, "data: 'train.xlsx' must be a .csv or .parquet file"),
        ({"data": {"sql": "SELECT 1"}}, "data: a query needs both sql"),
        ({"features": "age"}, "features: give a non-empty list"),
        ({"gates": {"metrics": [{"metric": "roc_auc"}]}}, "gates.metrics[0]: give min or max"),
        ({"gates": {"metrics": [{"metric": "r2", "min": 0.5}]}}, "gates.metrics[0].metric: 'r2'"),
        ({"gates": {"slices": [{"metric": "f1", "min": 0.5}]}}, "gates.slices[0].feature"),
        ({"gates": {"latency": {"p99_ms": 5}}}, "gates.latency: unknown key(s) p99_ms"),
        ({"gates": {"memory": {"max_artifact_mb": -1}}}, "gates.memory.max_artifact_mb: must be"),
        (
            {"gates": {"champion": {"metric": "accuracy", "min_absolute_change": "a lot"}}},
            "must be a number",
        ),
        ({"gates": {"smoke": {}}}, "gates: unknown key(s) smoke"),
    ],
)
def test_bad_config_names_the_field(
    churn_config: Make, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(churn_config(**changes))
    assert message in str(info.value)


def test_missing_required_field(churn_config: Make) -> None:
    config = churn_config()
    del config["target"]
    with pytest.raises(ConfigError, match="missing required field 'target'"):
        load_config(config)


def test_yaml_file_relative_data_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("data: data/churn.parquet\ntarget: churned\ntask: regression\nmodel: m\n")
    config = load_config(path)
    assert config.data == tmp_path / "data" / "churn.parquet"
    assert config.metric == "rmse" and config.automl is None and config.gates.empty
    # the scikit-learn families, then the boosters whose extra is installed (both are, here)
    assert config.families == (
        "linear",
        "random_forest",
        "hist_gradient_boosting",
        "lightgbm",
        "xgboost",
    )


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read training config"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="a training config is a mapping"):
        load_config(bad)
    bad.write_text("data: x.csv\ntarget: y\ntask: regression\nmodel: m\nsplit: {k: 3}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: split: unknown key\(s\) k"):
        load_config(bad)


def test_data_errors(tmp_path: Path, churn_config: Make) -> None:
    frame = datasets.churn(200).frame
    with pytest.raises(InvalidInputError, match="does not exist; fix the path"):
        load_data(load_config(churn_config(data=str(tmp_path / "missing.csv"))))
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInputError, match="data: cannot read"):
        load_data(load_config(churn_config(data=str(garbage))))
    config = load_config(churn_config())
    with pytest.raises(InvalidInputError, match="the table has no rows"):
        load_data(config, frame.iloc[:0])
    with pytest.raises(InvalidInputError, match="target: no column 'churned'"):
        load_data(config, frame.drop(columns=["churned"]))
    with pytest.raises(InvalidInputError, match="features: no column\\(s\\) 'shoe_size'"):
        load_data(load_config(churn_config(features=["age", "shoe_size"])), frame)
    prices = datasets.house_prices(200).frame
    with pytest.raises(InvalidInputError, match="use task: regression for a continuous target"):
        load_data(
            load_config(churn_config(target="price")), prices.assign(price=prices.price + 0.5)
        )
    regression = churn_config(task="regression", metric="rmse", target="contract")
    with pytest.raises(InvalidInputError, match="target 'contract' is not numeric"):
        load_data(load_config(regression), frame)


def test_csv_and_sql_sources(tmp_path: Path, churn_config: Make) -> None:
    import sqlalchemy as sa

    frame = datasets.churn(300).frame
    frame.to_csv(tmp_path / "churn.csv", index=False)
    data = load_data(load_config(churn_config(data=str(tmp_path / "churn.csv"))))
    assert len(data.X) == 300 and "contract" in data.categorical and "age" in data.numeric

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    frame.to_sql("customers", engine, index=False)
    engine.dispose()
    source = {"sql": "SELECT * FROM customers WHERE age > 30", "url": url}
    config = load_config(churn_config(data=source))
    assert isinstance(config.data, SqlSource)
    assert len(load_data(config).X) == int((frame.age > 30).sum())
    broken = load_config(churn_config(data={"sql": "SELECT * FROM nowhere", "url": url}))
    with pytest.raises(InvalidInputError, match=r"data\.sql: the query failed"):
        load_data(broken)
