"""Deploy-target fixtures: a registry (in the test's SHIPYARD_HOME) with two versions of
``churn`` (champion -> 2, which carries an ONNX attachment) and its endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shipyard.cli import app


@pytest.fixture
def deploy_registry(churn: Any, churn_model: Any) -> Iterator[Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import EndpointStore

    registry = Registry()
    numeric = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    numeric.fit(churn.X[churn.numeric].fillna(0), churn.y)
    registry.register(
        numeric,
        "other",
        reference=churn.X[churn.numeric].fillna(0),
        target=churn.y,
        convert_onnx=False,
    )
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False)
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 2)
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", registry.actor)
    yield registry
    registry.close()


@pytest.fixture
def shipyard_cli() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke
