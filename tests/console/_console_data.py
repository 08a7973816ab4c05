"""The console tests' registry content and keys (a module of its own: test modules must not
import ``conftest``, which names a different module in each test folder)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
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


_template: list[Path] = []


def populate_home(home: Path) -> None:
    """Make ``home`` (which must not exist yet) a SQLite registry holding what :func:`populate`
    writes. The first call in a process populates a template; later calls copy its files: the
    same database and artifacts byte for byte, without fitting and registering five models
    again (seconds for each console test module)."""
    from shipyard.registry.client import Registry
    from shipyard.settings import Settings

    if not _template:
        root = Path(tempfile.mkdtemp(prefix="shipyard-console-template-"))
        atexit.register(shutil.rmtree, root, True)
        registry = Registry(Settings(home=root / "home", actor="tester"))
        try:
            populate(registry)
        finally:
            registry.close()  # closes the SQLite file: nothing left in a write-ahead log
        _template.append(root / "home")
    shutil.copytree(_template[0], home)


def make_keys(registry: Any) -> Keys:
    from shipyard.registry.keys import KeyStore

    store = KeyStore(registry.db)
    _, read = store.create(["read"], name="reader", actor="tester")
    _, write = store.create(["read", "write"], name="operator-ann", actor="tester")
    _, other = store.create(["read"], models=["house"], name="house-only", actor="tester")
    return Keys(read, write, other)


SHIFTED = ("tenure_months", "monthly_charges")
"""The churn features :func:`monitor` shifts in its second window."""


def monitor(registry: Any, *, start: float | None = None) -> list[Any]:
    """Logged traffic for churn v2 (the champion) and three monitor passes, recorded as
    ``shipyard monitor run`` records them, over the prediction log beside the registry:

    1. 400 ordinary rows (no alert);
    2. 400 rows with :data:`SHIFTED` pushed up, 20% of ``data_usage_gb`` missing and 30 rows
       from a region the model never saw; labels for 300 of them fed back; the stored rule
       ``churn-tenure-drift`` fires;
    3. nothing new (an empty pass: the rule stays firing).

    Also an endpoint ``churn`` serving the champion and a canary rollout of house v2 on an
    endpoint ``house``. Returns the three passes' results."""
    import time

    import numpy as np

    from shipyard import datasets
    from shipyard.monitoring.alerts import AlertRule
    from shipyard.monitoring.run import run_monitor
    from shipyard.monitoring.store import MonitorStore
    from shipyard.predlog import PredictionRecord, PredictionStore
    from shipyard.predlog.record import to_row
    from shipyard.predlog.store import default_url
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.rollouts.controller import start_rollout

    t0 = time.time() - 3600 if start is None else start
    endpoints = EndpointStore(registry.db)
    endpoints.ensure("churn", "churn", "churn@champion", "tester")
    endpoints.ensure("house", "house", "house@champion", "tester")
    start_rollout(registry, "house", 2, share=10)
    MonitorStore(registry.db).add_rule(
        AlertRule.from_dict(
            {
                "name": "churn-tenure-drift",
                "figure": "drift.feature.tenure_months.drifted",
                "op": ">=",
                "threshold": 1,
                "severity": "critical",
                "channels": ["log"],
            },
            "test",
        ),
        "tester",
        model="churn",
    )
    model = registry.load("churn/2")
    settings = registry.settings
    store = PredictionStore(settings.predlog_url or default_url(settings))

    def log(frame: Any, prefix: str, at: float) -> list[str]:
        labels = model.predict(frame)
        proba = model.predict_proba(frame)
        rows, ids = [], []
        for i, record in enumerate(frame.to_dict(orient="records")):
            inputs = {
                k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
            }
            ids.append(f"{prefix}-{i}")
            rec = PredictionRecord(
                ids[-1], 0, "churn", "churn", 2, inputs, int(labels[i]),
                {"0": float(proba[i, 0]), "1": float(proba[i, 1])}, time=at + i * 0.001,
            )  # fmt: skip
            rows.append(to_row(rec, inputs))
        store.insert(rows)
        return ids

    try:
        log(datasets.churn(400, seed=21).X, "n", t0)
        results = [run_monitor(registry, store, "churn", until=t0 + 600)]
        fresh = datasets.churn(400, seed=22)
        shifted = datasets.inject_drift(fresh.X, columns=list(SHIFTED), strength=1.5)
        shifted.loc[shifted.index[:80], "data_usage_gb"] = np.nan
        shifted.loc[shifted.index[40:70], "region"] = "atlantis"
        ids = log(shifted, "s", t0 + 1200)
        store.add_feedback([(rid, 0, int(fresh.y[i])) for i, rid in enumerate(ids[:300])])
        results.append(run_monitor(registry, store, "churn", until=t0 + 1800))
        results.append(run_monitor(registry, store, "churn", until=t0 + 2400))
    finally:
        store.dispose()
    return results
