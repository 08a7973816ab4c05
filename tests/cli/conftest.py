"""CLI fixtures: a runner over the real app and registry (SHIPYARD_HOME is per test, from the
root conftest), a small skops model file and its reference data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _cli_types import Invoke
from typer.testing import CliRunner, Result

from shipyard.cli import app


@pytest.fixture
def cli() -> Invoke:
    """``cli("models", "list")``: run the app in-process; ``ok=True`` (default) asserts exit 0."""
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


@pytest.fixture
def cli_json(cli: Invoke) -> Callable[..., Any]:
    """Run a command with ``--json`` and parse its stdout (which must hold nothing else)."""

    def invoke(*args: str) -> Any:
        return json.loads(cli(*args, "--json").stdout)

    return invoke


@pytest.fixture
def run_shipyard() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m shipyard ARGS`` in a child process: the real exit code and stderr."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipyard", *args],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def churn_numeric() -> Any:
    """The churn set's numeric features and its target, as one frame."""
    from shipyard import datasets

    data = datasets.churn(400, seed=3)
    return data.frame[[*data.numeric, data.target]]


@pytest.fixture(scope="session")
def model_bytes(churn_numeric: Any) -> bytes:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    X = churn_numeric.drop(columns=["churned"])
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    model.fit(X, churn_numeric["churned"])
    data: bytes = sio.dumps(model)
    return data


@pytest.fixture
def model_file(tmp_path: Path, model_bytes: bytes) -> Path:
    path = tmp_path / "model.skops"
    path.write_bytes(model_bytes)
    return path


@pytest.fixture
def reference_csv(tmp_path: Path, churn_numeric: Any) -> Path:
    path = tmp_path / "reference.csv"
    churn_numeric.to_csv(path, index=False)
    return path


@pytest.fixture
def registered(cli: Invoke, model_file: Path, reference_csv: Path) -> None:
    """``churn/1`` (with reference data, auc 0.81) and ``churn/2`` (auc 0.86); champion is 1."""
    base = ("register", str(model_file), "--name", "churn")
    cli(
        *base,
        "--reference",
        str(reference_csv),
        "--target",
        "churned",
        "--metric",
        "auc=0.81",
        "--tag",
        "team=growth",
        "--param",
        "n_estimators=5",
    )
    cli(*base, "--metric", "auc=0.86", "--description", "more trees")
    cli("alias", "set", "churn", "champion", "1")
