"""``POST /api/v1/feedback`` as a coroutine: single and batch bodies, unknown ids, and a 400
naming the field for every kind of bad body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from shipyard.predlog import PredictionRecord, PredictionStore, read_window
from shipyard.predlog.record import to_row
from shipyard.serving.feedback_api import MAX_ITEMS, post_feedback


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionStore]:
    s = PredictionStore(database_url)
    rows = [
        PredictionRecord(rid, i, "churn", "churn", 1, {"x": i}, 0)
        for rid, n in (("one", 1), ("three", 3))
        for i in range(n)
    ]
    s.insert([to_row(r, r.inputs) for r in rows])
    yield s
    s.dispose()


def _post(store: PredictionStore, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    status, answer = asyncio.run(post_feedback(store, raw))
    return status, json.loads(answer)


def test_a_single_label(store: PredictionStore) -> None:
    status, answer = _post(store, {"request_id": "one", "value": 1})
    assert status == 200 and answer == {"accepted": 1, "unknown": []}
    assert read_window(store, "churn").actuals.tolist()[0] == 1


def test_a_batch_with_unknown_ids(store: PredictionStore) -> None:
    body = {
        "items": [
            {"request_id": "three", "row_index": 2, "value": "yes"},
            {"request_id": "three", "row_index": 0, "value": "no"},
            {"request_id": "missing", "row_index": 0, "value": "no"},
            {"request_id": "gone", "value": 1},
        ]
    }
    status, answer = _post(store, body)
    assert status == 200
    assert answer == {
        "accepted": 2,
        "unknown": [
            {"request_id": "missing", "row_index": 0},
            {"request_id": "gone", "row_index": None},
        ],
    }
    assert store.feedback_count() == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({"row_index": 0, "value": 1}, "request_id is missing"),
        ({"request_id": "one"}, "value is missing"),
        ({"request_id": "one", "value": [1]}, "value must be a JSON scalar"),
        ({"request_id": "one", "value": None}, "value must be a JSON scalar"),
        ({"request_id": "one", "row_index": -1, "value": 1}, "row_index must be a non-negative"),
        ({"request_id": "one", "row_index": "0", "value": 1}, "row_index must be a non-negative"),
        ({"request_id": 5, "value": 1}, "request_id must be"),
        ({"request_id": "one", "value": 1, "label": 2}, "label is not a feedback field"),
        ({"items": {"request_id": "one"}}, "items must be a list"),
        ({"items": [], "extra": 1}, "remove extra"),
        ({"items": [{"request_id": "one", "value": 1}, 7]}, "items[1] must be a JSON object"),
        ({"items": [{"request_id": "one", "value": 1}, {"value": 1}]}, "items[1].request_id"),
        ({"request_id": "three", "value": 1}, "'three' (3 rows)"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(store: PredictionStore, body: Any, named: str) -> None:
    status, answer = _post(store, body)
    assert status == 400
    assert named in answer["error"]
    assert store.feedback_count() == 0


def test_too_many_items_is_400(store: PredictionStore) -> None:
    item = {"request_id": "one", "value": 1}
    status, answer = _post(store, {"items": [item] * (MAX_ITEMS + 1)})
    assert status == 400
    assert f"more than the {MAX_ITEMS}" in answer["error"] and "batches" in answer["error"]
