"""Shared fixtures: an isolated SHIPYARD_HOME for every test, the metadata store on SQLite and
on the real PostgreSQL server that `make test` starts, and small trained models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _pg import fresh_postgres_database
from shipyard.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SHIPYARD_") and name != "SHIPYARD_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "default-home"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The metadata store URL: each registry test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'registry.db'}"
    else:
        yield from fresh_postgres_database()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, actor="tester")


@pytest.fixture
def registry(settings: Settings) -> Iterator[Any]:
    from shipyard.registry.client import Registry

    reg = Registry(settings)
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def churn() -> Any:
    from shipyard import datasets

    return datasets.churn(1500, seed=1)


@pytest.fixture(scope="session")
def churn_model(churn: Any) -> Any:
    """A fitted scikit-learn pipeline (one-hot + random forest) on the churn set."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), churn.numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), churn.categorical),
        ]
    )
    model = Pipeline(
        [("pre", pre), ("rf", RandomForestClassifier(n_estimators=20, random_state=0))]
    )
    return model.fit(churn.X, churn.y)
