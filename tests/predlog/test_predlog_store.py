"""The prediction log's store: exactly-once rows, redaction, reading windows back, export."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.predlog import (
    PredictionLog,
    PredictionRecord,
    PredictionStore,
    default_url,
    export,
    read_window,
    records_for,
)
from shipyard.serving.frame import Frame
from shipyard.serving.predictor import Outputs
from shipyard.settings import Settings


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionStore]:
    s = PredictionStore(database_url)
    yield s
    s.dispose()


def _record(
    i: int, *, model: str = "churn", version: int = 1, when: float = 0.0
) -> PredictionRecord:
    return PredictionRecord(
        f"req-{i}", 0, "churn", model, version, {"tenure": float(i), "plan": "pro"}, i % 2,
        {"0": 0.25, "1": 0.75}, time=when or time.time(),
    )  # fmt: skip


def test_a_retried_request_is_recorded_once(store: PredictionStore) -> None:
    records = [_record(i) for i in range(5)]
    with PredictionLog(store) as log:
        log.append(*records)
        log.flush(timeout=30)
        log.append(*records)  # the client retried the whole request
        log.append(records[2], records[2])  # and a duplicate inside one batch
    assert store.count() == 5
    assert log.written == 12 and log.pending == 0


def test_a_large_batch_is_stored_whole_and_once(store: PredictionStore) -> None:
    """A batch larger than the writer's; rows stored already are skipped (a retried batch
    overlapping the first), and every value arrives."""
    from shipyard.predlog.record import to_row

    rows = [to_row(r, r.inputs) for r in (_record(i) for i in range(1_234))]
    store.insert(rows)
    store.insert(rows[1_000:] + rows[:3])  # retried: nothing twice
    assert store.count() == 1_234
    window = read_window(store, "churn")
    assert sorted(window.feature("tenure").tolist()) == [float(i) for i in range(1_234)]
    assert sorted(window.meta["request_id"]) == sorted(f"req-{i}" for i in range(1_234))


def test_records_for_a_served_multi_row_request(store: PredictionStore) -> None:
    frame = Frame(
        {"tenure": np.array([1.0, np.nan]), "plan": np.array(["a", "b"], dtype=object)}, 2
    )
    outputs = Outputs(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), (0, 1))
    records = records_for("r1", frame, outputs, endpoint="churn", model="churn", version=3)
    assert [r.row_index for r in records] == [0, 1]
    assert records[1].inputs == {"tenure": None, "plan": "b"}
    assert records[1].probabilities == {"0": 0.2, "1": 0.8}
    with PredictionLog(store) as log:
        log.append(*records)
    window = read_window(store, "churn", version=3)
    assert window.meta["request_id"].tolist() == ["r1", "r1"]
    assert np.isnan(window.feature("tenure")[1])
    assert window.labels.tolist() == [0, 1]
    assert window.probabilities is not None
    assert window.probabilities["1"].tolist() == [0.1, 0.8]


def test_sensitive_features_are_hashed_or_dropped(store: PredictionStore, tmp_path: Path) -> None:
    rules = {"churn": {"email": "hash", "ssn": "drop"}}
    rows = [
        PredictionRecord(f"r{i}", 0, "churn", "churn", 1, {"email": e, "ssn": "123", "x": 1}, 0)
        for i, e in enumerate(["a@x.io", "a@x.io", "b@x.io", None])
    ]
    with PredictionLog(store, sensitive=rules) as log:
        log.append(*rows)
    window = read_window(store, "churn")
    assert list(window.inputs.columns) == ["email", "x"]
    emails = window.inputs["email"].tolist()
    assert emails[0] == emails[1] != emails[2]  # equal values still compare equal
    assert all(e.startswith("sha256:") and "a@x.io" not in e for e in emails[:3])
    assert pd.isna(emails[3])  # a missing value stays missing
    other = PredictionStore(f"sqlite:///{tmp_path}/other.db")
    assert store.salt != other.salt  # the salt is per store
    other.dispose()


def test_time_window_per_model_and_version(store: PredictionStore) -> None:
    t0 = 1_700_000_000.0
    with PredictionLog(store) as log:
        log.append(*[_record(i, when=t0 + i) for i in range(10)])
        log.append(*[_record(100 + i, version=2, when=t0 + i) for i in range(10)])
        log.append(*[_record(200 + i, model="other", when=t0 + i) for i in range(10)])
    window = read_window(store, "churn", version=1, start=t0 + 2, end=t0 + 5)
    assert window.meta["request_id"].tolist() == ["req-2", "req-3", "req-4"]
    assert window.feature("tenure").tolist() == [2.0, 3.0, 4.0]
    assert str(window.meta["time"].dt.tz) == "UTC"
    assert len(read_window(store, "churn")) == 20
    newest = read_window(store, "churn", version=2, limit=3)
    assert newest.meta["request_id"].tolist() == ["req-107", "req-108", "req-109"]
    assert len(read_window(store, "missing")) == 0


def test_export_parquet(store: PredictionStore, tmp_path: Path) -> None:
    with PredictionLog(store) as log:
        log.append(*[_record(i) for i in range(7)])
    path = tmp_path / "out" / "log.parquet"
    assert export(store, path, format="parquet", model="churn") == 7
    frame = pd.read_parquet(path)
    assert len(frame) == 7
    assert {
        "request_id",
        "time",
        "inputs.tenure",
        "inputs.plan",
        "label",
        "probabilities.1",
    } <= set(frame.columns)
    assert export(store, tmp_path / "log.csv", format="csv") == 7


def test_default_url_sits_beside_the_registry(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert default_url(settings) == f"sqlite:///{(tmp_path / 'home' / 'predictions.db').resolve()}"
    elsewhere = Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path}/db/reg.db")
    assert default_url(elsewhere).endswith("/db/predictions.db")
