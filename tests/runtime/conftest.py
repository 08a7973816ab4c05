"""Runtime fixtures: a SQLite registry and small models; the serving tests' helpers
(``_v2_helpers``: lifespan, httpx client over ASGITransport, request bodies) are reused."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[Any]:
    from shipyard.registry.client import Registry

    reg = Registry(Settings(home=tmp_path / "home", actor="tester"))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def churn_set() -> Any:
    from shipyard import datasets

    return datasets.churn(600, seed=3)


@pytest.fixture(scope="session")
def numeric_set() -> tuple[Any, Any]:
    """20 numeric features and a binary target, as in the serving benchmark."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 20))
    y = (X[:, 0] + X[:, 1] ** 2 - X[:, 2] * X[:, 3] + rng.normal(size=len(X)) > 1).astype(int)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]), y
