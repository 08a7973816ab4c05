"""``POST /api/v1/feedback``: ground-truth labels for logged predictions.

The body is one label or a batch of up to :data:`MAX_ITEMS`::

    {"request_id": "4f1c...", "row_index": 0, "value": 1}
    {"items": [{"request_id": "4f1c...", "value": 1}, {"request_id": "9a0b...", "row_index": 2,
               "value": 0}]}

``row_index`` may be left out for a one-row request. The answer is 200 with
``{"accepted": n, "unknown": [{"request_id": ..., "row_index": ...}, ...]}``: labels that match
no logged prediction are listed there and not stored. A malformed body is a 400 whose message
names the field and the form it takes. The store call is blocking SQL, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.errors import InvalidInputError
from shipyard.predlog.feedback import FeedbackItem, check_item

if TYPE_CHECKING:
    from shipyard.predlog import PredictionStore

__all__ = ["MAX_ITEMS", "parse_feedback", "post_feedback"]

MAX_ITEMS = 100_000
_EXAMPLE = '{"request_id": "4f1c...", "row_index": 0, "value": 1} or {"items": [...]}'
_FIELDS = frozenset({"request_id", "row_index", "value"})


async def post_feedback(plog_store: PredictionStore, body: bytes) -> tuple[int, bytes]:
    """Store the labels of one request body; returns the HTTP status and the JSON answer."""
    try:
        items = parse_feedback(body)
        result = await asyncio.to_thread(plog_store.add_feedback, items)
    except InvalidInputError as exc:
        return 400, orjson.dumps({"error": str(exc)})
    return 200, orjson.dumps(result.to_dict())


def parse_feedback(body: bytes) -> list[FeedbackItem]:
    """The labels of a body, or :class:`InvalidInputError` naming what is wrong (pure)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON ({exc}); send {_EXAMPLE}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"the body must be a JSON object: {_EXAMPLE}")
    if "items" not in data:
        return [_item(data, "")]
    items = data["items"]
    if set(data) != {"items"}:
        extra = ", ".join(sorted(set(data) - {"items"}))
        raise InvalidInputError(f"a batch body has only the field items; remove {extra}")
    if not isinstance(items, list):
        raise InvalidInputError(f"items must be a list of labels, as in {_EXAMPLE}")
    if len(items) > MAX_ITEMS:
        raise InvalidInputError(
            f"items has {len(items)} labels, more than the {MAX_ITEMS} a request may carry; "
            "split the upload into batches (shipyard feedback upload does this)"
        )
    return [_item(item, f"items[{n}].") for n, item in enumerate(items)]


def _item(data: Any, where: str) -> FeedbackItem:
    if not isinstance(data, dict):
        place = where.rstrip(".") or "the body"
        raise InvalidInputError(f"{place} must be a JSON object with request_id and value")
    unknown = set(data) - _FIELDS
    if unknown:
        raise InvalidInputError(
            f"{where}{sorted(unknown)[0]} is not a feedback field; use request_id, row_index "
            "(optional for a one-row request) and value"
        )
    if "request_id" not in data:
        raise InvalidInputError(f"{where}request_id is missing: {_EXAMPLE}")
    if "value" not in data:
        raise InvalidInputError(f"{where}value is missing: give the true outcome, as in 1")
    return check_item(data["request_id"], data.get("row_index"), data["value"], where)
