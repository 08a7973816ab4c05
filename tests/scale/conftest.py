"""Fixtures for the many-replica tests: a fresh database on the real PostgreSQL server (these
tests are about PostgreSQL's behaviour between processes, so they do not run on SQLite), and a
registry on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _pg import fresh_postgres_database
from shipyard.settings import Settings


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_postgres_database()


@pytest.fixture
def pg_registry(tmp_path: Path, pg_url: str) -> Iterator[Any]:
    """A registry on PostgreSQL with ``churn`` versions 1 and 2 of a tiny regression (no ONNX,
    to keep it fast) and ``churn@champion`` on version 1."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    from shipyard.registry.client import Registry

    reg = Registry(
        Settings(home=tmp_path / "home", database_url=pg_url, actor="tester", convert_onnx=False)
    )
    X = np.arange(20, dtype=float).reshape(10, 2)
    for slope in (1.0, 2.0):
        reg.register(LinearRegression().fit(X, slope * X[:, 0]), "churn", reference=X)
    reg.set_alias("churn", "champion", 1)
    yield reg
    reg.close()
