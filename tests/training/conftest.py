"""Training fixtures: a SQLite registry per module (training runs are the slow part, so tests in
one module share it), the churn and house-price frames, and a config builder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shipyard.settings import Settings


@pytest.fixture(scope="module")
def train_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from shipyard.registry.client import Registry

    home = tmp_path_factory.mktemp("training-home")
    reg = Registry(Settings(home=home, actor="trainer"))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def churn_frame() -> Any:
    from shipyard import datasets

    return datasets.churn(3000, seed=3).frame


@pytest.fixture
def churn_config() -> Callable[..., dict[str, Any]]:
    """A small, fast classification config; keyword arguments replace its top-level keys."""

    def make(**changes: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "data": "unused.csv",
            "target": "churned",
            "task": "classification",
            "model": "churn",
            "metric": "roc_auc",
            "seed": 7,
            "split": {"holdout": 0.25, "folds": 2},
            "families": ["linear"],
        }
        config.update(changes)
        return config

    return make
