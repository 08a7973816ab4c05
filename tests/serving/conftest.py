"""Serving fixtures: a SQLite registry with small churn models, and the official Open Inference
Protocol schemas. Helpers that are not fixtures live in ``_v2_helpers.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard.settings import Settings

OIP_SCHEMA = Path(__file__).resolve().parents[2] / ".." / "shared" / "schemas" / "oip"


@pytest.fixture
def serving_registry(tmp_path: Path) -> Iterator[Any]:
    """An empty registry on SQLite (serving tests need no PostgreSQL run)."""
    from shipyard.registry.client import Registry

    reg = Registry(Settings(home=tmp_path / "home", actor="tester"))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def churn_data() -> Any:
    from shipyard import datasets

    return datasets.churn(600, seed=3)


def _logit(numeric: list[str], categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    steps = [("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric)]
    if categorical:
        steps.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    return Pipeline([("pre", ColumnTransformer(steps)), ("lr", LogisticRegression(max_iter=500))])


@pytest.fixture(scope="session")
def churn_models(churn_data: Any) -> dict[str, Any]:
    """Fitted models: two mixed-feature churn classifiers and a numeric-only one."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    d = churn_data
    forest = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(), d.numeric),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), d.categorical),
                    ]
                ),
            ),
            ("rf", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)),
        ]
    )
    return {
        "logit": _logit(d.numeric, d.categorical).fit(d.X, d.y),
        "forest": forest.fit(d.X, d.y),
        "numeric": _logit(d.numeric, []).fit(d.X[d.numeric], d.y),
    }


@pytest.fixture
def registry_with_models(serving_registry: Any, churn_data: Any, churn_models: Any) -> Any:
    """``churn`` (mixed features; 1 logistic, 2 forest; champion -> 1) and ``numeric``
    (numeric features only; champion -> 1)."""
    reg, d = serving_registry, churn_data
    reg.register(churn_models["logit"], "churn", reference=d.X, target=d.y)
    reg.register(churn_models["forest"], "churn", reference=d.X, target=d.y)
    reg.set_alias("churn", "champion", 1)
    reg.register(churn_models["numeric"], "numeric", reference=d.X[d.numeric], target=d.y)
    reg.set_alias("numeric", "champion", 1)
    return reg


@pytest.fixture(scope="session")
def oip() -> Callable[[str, Any], None]:
    """``oip("inference_request", body)`` validates a body against the official OIP schema."""
    import jsonschema
    import yaml

    spec = yaml.safe_load((OIP_SCHEMA / "open_inference_rest.yaml").read_text())
    components = spec["components"]

    def check(name: str, body: Any) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        jsonschema.validate(body, schema)

    return check
