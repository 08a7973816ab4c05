"""Ground truth: the true outcome of a logged prediction, attached by (request id, row index).

Labels arrive any time after the prediction (days later, in bulk). Each one names the request id
the server answered with and the row of that request; ``row_index`` may be left out only for a
one-row request. A later label for the same row replaces the earlier one, with its arrival time.
A label that matches no logged prediction is reported back to the sender, never stored: the
prediction may have been sampled out, purged, or the id mistyped, and only the sender can tell.

:func:`check_item` is pure validation; :func:`store_feedback` is the SQL, run by
:meth:`PredictionStore.add_feedback <shipyard.predlog.store.PredictionStore.add_feedback>` inside
its write transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import orjson
import sqlalchemy as sa

from shipyard.errors import InvalidInputError
from shipyard.predlog.record import MAX_ID
from shipyard.predlog.schema import feedback, predictions

__all__ = ["FeedbackItem", "FeedbackResult", "check_item", "store_feedback"]

_CHUNK = 10_000  # labels per upsert statement (and ids per PostgreSQL lookup)
_SQLITE_LOOKUP_CHUNK = 900  # request ids per IN (...): under SQLite's oldest parameter limit
_SQLITE_LOOKUP = (
    f"SELECT request_id, row_index FROM {predictions.name} WHERE request_id IN ({{marks}})"
)
_PG_LOOKUP = f"SELECT request_id, row_index FROM {predictions.name} WHERE request_id = ANY(%s)"
_SET = (  # a later label of a row replaces the earlier one, with its arrival time
    "ON CONFLICT (request_id, row_index) "
    "DO UPDATE SET value = excluded.value, ts_us = excluded.ts_us"
)
_SQLITE_UPSERT = (
    f"INSERT INTO {feedback.name} (request_id, row_index, value, ts_us) VALUES (?, ?, ?, ?) {_SET}"
)
_PG_UPSERT = (
    f"INSERT INTO {feedback.name} (request_id, row_index, value, ts_us) "
    f"SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::bigint[]) {_SET}"
)
_SHOWN = 5  # ambiguous request ids named in an error
_T = TypeVar("_T")


class FeedbackItem(NamedTuple):
    """One label: the served request's id, its row (None: the request's only row), the value."""

    request_id: str
    row_index: int | None
    value: Any


@dataclass(frozen=True)
class FeedbackResult:
    """``accepted``: labels stored (or replacing an earlier label of their row); ``unknown``:
    the (request id, row index) pairs that match no logged prediction, which were not stored."""

    accepted: int
    unknown: list[tuple[str, int | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "unknown": [{"request_id": r, "row_index": i} for r, i in self.unknown],
        }


def check_item(request_id: Any, row_index: Any, value: Any, where: str = "") -> FeedbackItem:
    """A validated :class:`FeedbackItem`, or :class:`InvalidInputError` naming the field (after
    ``where``, for example ``items[3].``) and the accepted form."""
    if type(request_id) is not str or not request_id or len(request_id) > MAX_ID:
        raise InvalidInputError(
            f"{where}request_id must be the request id the server answered with (a non-empty "
            f"string of at most {MAX_ID} characters), got {_show(request_id)}"
        )
    if row_index is not None and type(row_index) is not int and hasattr(row_index, "item"):
        row_index = row_index.item()  # a numpy integer
    if row_index is not None and (type(row_index) is not int or row_index < 0):
        raise InvalidInputError(
            f"{where}row_index must be a non-negative integer (the row of the request, from 0) "
            f"or left out for a one-row request, got {_show(row_index)}"
        )
    kind = type(value)
    if kind is int or kind is str or kind is bool:  # the common cases first: this runs per label
        return FeedbackItem(request_id, row_index, value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # a numpy scalar from a CSV or Parquet column
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where}value must be a finite number, got {value!r}")
    if value is None or not isinstance(value, str | int | float | bool):
        raise InvalidInputError(
            f"{where}value must be a JSON scalar, the true outcome (a number, string or boolean, "
            f'as in 1, 0.75 or "churned"), got {_show(value)}'
        )
    return FeedbackItem(request_id, row_index, value)


def store_feedback(
    conn: sa.Connection, dialect: str, items: Sequence[FeedbackItem], ts_us: int
) -> FeedbackResult:
    """Upsert the labels that match logged rows and report the others (in ``conn``'s open
    transaction). Raises :class:`InvalidInputError`, before writing anything, when a label
    without ``row_index`` names a request of several rows."""
    rows_of = _logged_rows(conn, dialect, {item.request_id for item in items})
    latest: dict[tuple[str, int], Any] = {}  # a row labelled twice in one call: the last wins
    unknown: list[tuple[str, int | None]] = []
    ambiguous: dict[str, int] = {}
    accepted = 0
    for item in items:
        rows = rows_of.get(item.request_id, ())
        row = item.row_index
        if row is None:
            if len(rows) > 1:
                ambiguous[item.request_id] = len(rows)
                continue
            row = next(iter(rows), None)
        if row is None or row not in rows:
            unknown.append((item.request_id, item.row_index))
            continue
        latest[(item.request_id, row)] = item.value
        accepted += 1
    if ambiguous:
        named = ", ".join(f"{r!r} ({n} rows)" for r, n in list(ambiguous.items())[:_SHOWN])
        more = f" and {len(ambiguous) - _SHOWN} more" if len(ambiguous) > _SHOWN else ""
        raise InvalidInputError(
            f"feedback without row_index names requests of several rows: {named}{more}; give "
            "row_index (the row of the request, from 0) for each of their labels"
        )
    values = [(r, i, orjson.dumps(v).decode(), ts_us) for (r, i), v in latest.items()]
    for chunk in _chunks(values, _CHUNK):
        if dialect == "postgresql":  # one statement over four arrays, not a row at a time
            conn.exec_driver_sql(_PG_UPSERT, tuple(list(c) for c in zip(*chunk, strict=True)))
        else:  # SQLite runs in-process: executemany of one prepared statement is the fast way
            conn.exec_driver_sql(_SQLITE_UPSERT, list(chunk))
    return FeedbackResult(accepted, unknown)


def _logged_rows(
    conn: sa.Connection, dialect: str, request_ids: Iterable[str]
) -> dict[str, set[int]]:
    """The logged row indexes of each of these requests (absent: nothing logged).

    Plain driver SQL, like the writer's inserts: for a 100,000-label upload, SQLAlchemy's
    per-query compilation and per-row processing cost more than the lookups themselves."""
    found: dict[str, set[int]] = {}
    ids = sorted(request_ids)
    batches: list[tuple[str, tuple[Any, ...]]]
    if dialect == "postgresql":  # one array parameter per chunk
        batches = [(_PG_LOOKUP, (list(chunk),)) for chunk in _chunks(ids, _CHUNK)]
    else:  # one bound parameter per id, under SQLite's oldest limit of 999
        batches = [
            (_SQLITE_LOOKUP.format(marks=", ".join("?" * len(chunk))), tuple(chunk))
            for chunk in _chunks(ids, _SQLITE_LOOKUP_CHUNK)
        ]
    for query, params in batches:
        for request_id, row_index in conn.exec_driver_sql(query, params).fetchall():
            found.setdefault(request_id, set()).add(row_index)
    return found


def _chunks(items: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
