"""Ground truth in the prediction log: feedback upserts, unknown ids, the actuals of a window,
chunked reads, export round trips, purges and the v1 -> v2 schema upgrade."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from shipyard.errors import InvalidInputError
from shipyard.predlog import (
    FeedbackItem,
    PredictionRecord,
    PredictionStore,
    export,
    iter_window,
    read_window,
)
from shipyard.predlog.record import to_row
from shipyard.predlog.schema import SCHEMA_VERSION, feedback, meta

T0 = 1_700_000_000.0


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionStore]:
    s = PredictionStore(database_url)
    yield s
    s.dispose()


def _log(
    store: PredictionStore,
    request_id: str,
    rows: int = 1,
    *,
    when: float = T0,
    model: str = "churn",
    version: int = 1,
) -> None:
    records = [
        PredictionRecord(
            request_id, i, "churn", model, version, {"x": float(i)}, i % 2, time=when + i * 1e-3
        )
        for i in range(rows)
    ]
    store.insert([to_row(r, r.inputs) for r in records])


def test_feedback_is_stored_and_unknown_ids_are_reported_not_stored(
    store: PredictionStore,
) -> None:
    _log(store, "a")
    _log(store, "b", rows=3)
    result = store.add_feedback(
        [
            FeedbackItem("a", None, 1),  # the only row of a one-row request
            ("b", 2, "churned"),  # a plain tuple works too
            ("nobody", 0, 1),
            ("nobody-either", None, 0),
            ("b", 7, 1),  # a row the request does not have
        ]
    )
    assert result.accepted == 2
    assert result.unknown == [("nobody", 0), ("nobody-either", None), ("b", 7)]
    assert store.feedback_count() == 2
    assert result.to_dict()["unknown"][0] == {"request_id": "nobody", "row_index": 0}


def test_a_later_label_replaces_the_earlier_one_with_its_time(store: PredictionStore) -> None:
    _log(store, "a")
    store.add_feedback([("a", 0, 0)], time=T0 + 10)
    store.add_feedback([("a", 0, 1)], time=T0 + 20)
    # Within one call too: the last label of a row wins.
    store.add_feedback([("a", None, 5), ("a", 0, 7)], time=T0 + 30)
    assert store.feedback_count() == 1
    window = read_window(store, "churn")
    assert window.actuals is not None and window.feedback_time is not None
    assert window.actuals.tolist() == [7]
    assert window.feedback_time[0] == pd.Timestamp(T0 + 30, unit="s", tz="UTC")


def test_a_multi_row_request_without_row_index_is_a_clear_error(store: PredictionStore) -> None:
    _log(store, "one")
    _log(store, "multi-row-req", rows=3)
    with pytest.raises(InvalidInputError) as caught:
        store.add_feedback([("one", None, 1), ("multi-row-req", None, 1)])
    message = str(caught.value)
    assert "'multi-row-req' (3 rows)" in message and "row_index" in message
    assert store.feedback_count() == 0  # the whole call is refused, nothing half-stored


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (("", 0, 1), "request_id"),
        ((7, 0, 1), "request_id"),
        (("a", -1, 1), "row_index"),
        (("a", 1.5, 1), "row_index"),
        (("a", True, 1), "row_index"),
        (("a", 0, None), "value"),
        (("a", 0, [1, 2]), "value"),
        (("a", 0, {"y": 1}), "value"),
        (("a", 0, math.nan), "value"),
    ],
)
def test_bad_items_name_their_field(
    store: PredictionStore, item: tuple[Any, Any, Any], field: str
) -> None:
    _log(store, "a")
    with pytest.raises(InvalidInputError, match=f"item 0: {field}"):
        store.add_feedback([item])


def test_a_large_upload_goes_in_chunks_in_one_call(store: PredictionStore) -> None:
    n = 12_000  # several lookup and upsert chunks
    store.insert(
        [
            to_row(PredictionRecord(f"r{i}", 0, "churn", "churn", 1, {"x": i}, 0, time=T0), {})
            for i in range(n)
        ]
    )
    items = [(f"r{i}", 0, float(i % 3)) for i in range(n)] + [("ghost", 0, 1.0)]
    result = store.add_feedback(items)
    assert result.accepted == n and result.unknown == [("ghost", 0)]
    window = read_window(store, "churn")
    by_id = dict(zip(window.meta["request_id"], window.actuals, strict=True))
    assert by_id["r5"] == 2.0 and by_id["r11999"] == float(11999 % 3)


def test_window_actuals_are_aligned_with_nan_where_no_label_yet(store: PredictionStore) -> None:
    for i in range(4):
        _log(store, f"q{i}", when=T0 + i)
    store.add_feedback([("q1", 0, 1), ("q3", 0, 0.5)], time=T0 + 100)
    window = read_window(store, "churn")
    assert window.meta["request_id"].tolist() == ["q0", "q1", "q2", "q3"]
    assert window.actuals is not None and window.actuals.dtype == np.float64
    assert np.isnan(window.actuals[[0, 2]]).all()
    assert window.actuals[[1, 3]].tolist() == [1.0, 0.5]
    assert window.feedback_time is not None
    assert window.feedback_time.isna().tolist() == [True, False, True, False]
    # The model's predicted labels are untouched by the ground truth.
    assert window.labels.tolist() == [0, 0, 0, 0]

    store.add_feedback([("q0", 0, "yes"), ("q2", 0, "no")])
    text = read_window(store, "churn").actuals
    assert text is not None and text.dtype == object
    assert text.tolist() == ["yes", 1, "no", 0.5]

    empty = read_window(store, "nothing-logged")
    assert empty.actuals is not None and len(empty.actuals) == 0


def test_iter_window_chunks_concatenate_to_read_window(store: PredictionStore) -> None:
    for i in range(23):
        # Several rows share a timestamp so the (time, id) key is what orders them.
        _log(store, f"k{i}", rows=1 + i % 3, when=T0 + i // 4)
    _log(store, "other-model", model="other")
    _log(store, "late", when=T0 + 1000)
    store.add_feedback([(f"k{i}", 0, i) for i in range(0, 23, 2)])
    start, end = T0, T0 + 100
    whole = read_window(store, "churn", start=start, end=end).to_frame()
    chunks = list(iter_window(store, "churn", start=start, end=end, chunk_rows=4))
    assert len(chunks) == math.ceil(len(whole) / 4)
    assert all(len(c) == 4 for c in chunks[:-1])
    joined = pd.concat([c.to_frame() for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)
    assert joined["request_id"].tolist() == whole["request_id"].tolist()
    assert list(iter_window(store, "missing")) == []
    with pytest.raises(InvalidInputError, match="chunk_rows"):
        next(iter_window(store, "churn", chunk_rows=0))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_round_trips_the_actuals(store: PredictionStore, tmp_path: Path, fmt: str) -> None:
    for i in range(5):
        _log(store, f"e{i}", when=T0 + i)
    store.add_feedback([("e0", 0, 1), ("e3", 0, 0)])
    path = tmp_path / f"log.{fmt}"
    assert export(store, path, format=fmt, model="churn") == 5
    if fmt == "parquet":
        frame = pd.read_parquet(path)
    elif fmt == "csv":
        frame = pd.read_csv(path)
    else:
        frame = pd.read_json(path, lines=True)
    assert frame["request_id"].tolist() == [f"e{i}" for i in range(5)]
    actual = frame["actual"].tolist()
    assert actual[0] == 1 and actual[3] == 0
    assert all(pd.isna(actual[i]) for i in (1, 2, 4))
    assert frame["feedback_time"].notna().tolist() == [True, False, False, True, False]


def test_purge_deletes_only_old_rows_and_their_labels(store: PredictionStore) -> None:
    for i in range(6):
        _log(store, f"old{i}", when=T0 - 1000 + i)
    for i in range(4):
        _log(store, f"new{i}", when=T0 + i)
    # A label that arrived recently for an old prediction goes with its prediction; a label of
    # a kept prediction stays.
    store.add_feedback([("old0", 0, 1), ("old1", 0, 0), ("new0", 0, 1)], time=T0 + 50)
    assert store.count_before(T0) == (6, 2)
    result = store.purge(T0)
    assert (result.predictions, result.feedback) == (6, 2)
    window = read_window(store)
    assert window.meta["request_id"].tolist() == [f"new{i}" for i in range(4)]
    assert window.actuals is not None and window.actuals[0] == 1
    assert store.feedback_count() == 1
    assert store.purge(T0).predictions == 0  # rerunning finds nothing more


def test_purge_deletes_old_labels_of_kept_predictions_in_chunks(
    store: PredictionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shipyard.predlog.store as store_module

    monkeypatch.setattr(store_module, "_PURGE_CHUNK", 3)  # many small transactions
    for i in range(10):
        _log(store, f"p{i}", when=T0 - 500 + i)
    _log(store, "kept", when=T0 + 5)
    store.add_feedback([("kept", 0, 1)], time=T0 - 10)  # an old label of a kept prediction
    result = store.purge(T0)
    assert (result.predictions, result.feedback) == (10, 1)
    assert store.count() == 1 and store.feedback_count() == 0


def test_a_v1_store_is_upgraded_to_the_feedback_schema(database_url: str) -> None:
    first = PredictionStore(database_url)
    _log(first, "before-upgrade")
    salt = first.salt
    with first.engine.begin() as conn:  # make it what shipyard 1 left: no feedback table, v1
        feedback.drop(conn)
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value="1"))
    assert not sa.inspect(first.engine).has_table("feedback")
    first.dispose()

    upgraded = PredictionStore(database_url)
    try:
        assert sa.inspect(upgraded.engine).has_table("feedback")
        with upgraded.read() as conn:
            version = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "schema_version")
            ).scalar_one()
        assert int(version) == SCHEMA_VERSION == 2
        assert upgraded.salt == salt  # hashed features still compare equal after the upgrade
        assert upgraded.add_feedback([("before-upgrade", 0, 1)]).accepted == 1
    finally:
        upgraded.dispose()
