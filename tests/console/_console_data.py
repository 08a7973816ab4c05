"""The console tests' registry content and keys (a module of its own: test modules must not
import ``conftest``, which names a different module in each test folder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Keys:
    read: str
    write: str
    other: str
    """A read key restricted to the ``house`` model."""


def populate(registry: Any) -> None:
    """churn v1..v3 (champion v2; v3 rejected by a gate report) and house v1..v2."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from shipyard import datasets

    churn = datasets.churn(400, seed=5)
    X = churn.X
    for i, (auc, acc) in enumerate([(0.71, 0.80), (0.78, 0.83), (0.69, 0.79)], start=1):
        pre = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), churn.numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), churn.categorical),
            ]
        )
        model = Pipeline([("pre", pre), ("lr", LogisticRegression(C=0.5 * i, max_iter=300))])
        model.fit(X, churn.y)
        registry.register(
            model,
            "churn",
            reference=X,
            target=churn.y,
            metrics={"auc": auc, "accuracy": acc},
            tags={"team": "growth"},
            convert_onnx=(i == 2),
        )
    registry.set_alias("churn", "champion", 2)
    registry.store.attach(
        "churn",
        3,
        "gate_report",
        None,
        {
            "passed": False,
            "holdout_rows": 80,
            "reasons": ["auc 0.69 is below the floor 0.70"],
            "gates": [
                {"gate": "metric", "passed": False, "reason": "auc 0.69 is below the floor 0.70"},
                {"gate": "latency", "passed": True, "reason": "p99 1.2 ms <= 50 ms"},
            ],
        },
        "tester",
    )
    registry.set_status("churn/3", "rejected")

    house = datasets.house_prices(300, seed=2)
    HX = house.X[house.numeric].fillna(0.0)
    for rmse in (41000.0, 38500.0):
        registry.register(
            LinearRegression().fit(HX, house.y),
            "house",
            reference=HX,
            target=house.y,
            metrics={"rmse": rmse},
            convert_onnx=False,
        )
    registry.set_alias("house", "champion", 1)


def make_keys(registry: Any) -> Keys:
    from shipyard.registry.keys import KeyStore

    store = KeyStore(registry.db)
    _, read = store.create(["read"], name="reader", actor="tester")
    _, write = store.create(["read", "write"], name="operator-ann", actor="tester")
    _, other = store.create(["read"], models=["house"], name="house-only", actor="tester")
    return Keys(read, write, other)
