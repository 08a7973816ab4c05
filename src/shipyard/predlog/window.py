"""Reading logged predictions back: a time window per model (and version), as columns.

For drift, data-quality and performance checks: one numpy array per feature, the model's
predicted labels and class probabilities, the ground truth that has arrived for each row
(``actuals``, joined from ``feedback``), plus the rows' metadata, in time order.
:func:`read_window` returns a window whole; :func:`iter_window` returns it in chunks of bounded
size, for windows larger than memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa

from shipyard.errors import InvalidInputError
from shipyard.predlog.schema import feedback, predictions
from shipyard.predlog.store import PredictionStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Window", "iter_window", "read_window"]

Array = np.ndarray[Any, Any]
_META = ("request_id", "row_index", "time", "endpoint", "model", "version", "variant", "latency_ms")


@dataclass(frozen=True)
class Window:
    """Logged rows in time order: ``meta`` (request id, row index, time, endpoint, model,
    version, variant, latency), ``inputs`` (one column per feature), ``labels`` and
    ``probabilities`` (one column per class, or None when no row has them).

    ``labels`` are what the model **predicted**. The ground truth is ``actuals``: the true
    outcome sent as feedback for each row, aligned with the rows, NaN (numeric outcomes) or
    None where no label has arrived yet; ``feedback_time`` is when each row's latest label
    arrived (UTC, NaT where none). Both are None only in windows built by hand without them.
    """

    meta: pd.DataFrame
    inputs: pd.DataFrame
    labels: Array
    probabilities: pd.DataFrame | None
    actuals: Array | None = None
    feedback_time: pd.Series[Any] | None = None

    def __len__(self) -> int:
        return len(self.meta)

    def feature(self, name: str) -> Array:
        """One feature's values as a numpy array (missing values are None/NaN)."""
        return self.inputs[name].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """One flat table: metadata, ``inputs.NAME``, ``label`` (predicted),
        ``probabilities.CLASS``, then ``actual`` and ``feedback_time`` (the ground truth)."""
        import pandas as pd

        parts = [self.meta, self.inputs.add_prefix("inputs."), pd.DataFrame({"label": self.labels})]
        if self.probabilities is not None:
            parts.append(self.probabilities.add_prefix("probabilities."))
        if self.actuals is not None:
            parts.append(pd.DataFrame({"actual": self.actuals}))
        if self.feedback_time is not None:
            parts.append(pd.DataFrame({"feedback_time": self.feedback_time.reset_index(drop=True)}))
        return pd.concat(parts, axis=1)


def read_window(
    store: PredictionStore,
    model: str | None = None,
    *,
    version: int | None = None,
    start: datetime | float | None = None,
    end: datetime | float | None = None,
    limit: int | None = None,
) -> Window:
    """Rows with ``start <= time < end`` (datetimes or epoch seconds), optionally of one model
    and version, with the ground truth that has arrived for them; ``limit`` keeps the newest
    rows. The whole window is held in memory: see :func:`iter_window` for large ones."""
    query = _query(model, version, start, end)
    t = predictions.c
    if limit is not None:
        query = query.order_by(t.ts_us.desc(), t.id.desc()).limit(limit)
    else:
        query = query.order_by(t.ts_us, t.id)
    with store.read() as conn:
        rows = list(conn.execute(query).all())
    if limit is not None:
        rows.reverse()
    return _window(rows)


def iter_window(
    store: PredictionStore,
    model: str | None = None,
    *,
    version: int | None = None,
    start: datetime | float | None = None,
    end: datetime | float | None = None,
    chunk_rows: int = 100_000,
) -> Iterator[Window]:
    """The rows :func:`read_window` would return, as consecutive windows of at most
    ``chunk_rows`` rows, so memory stays bounded whatever the window's size.

    Each chunk is its own query, continuing after the last row of the previous one by its
    (time, id) key (keyset pagination: no OFFSET, so every chunk costs the same). Rows logged
    into the window while it is read appear once if after the current key, else not at all.
    A chunk's ``inputs`` hold the features present in that chunk."""
    if chunk_rows < 1:
        raise InvalidInputError(f"chunk_rows must be at least 1, got {chunk_rows}")
    t = predictions.c
    base = _query(model, version, start, end).order_by(t.ts_us, t.id).limit(chunk_rows)
    after: tuple[int, int] | None = None
    while True:
        query = base
        if after is not None:
            ts, row_id = after
            query = query.where(sa.or_(t.ts_us > ts, sa.and_(t.ts_us == ts, t.id > row_id)))
        with store.read() as conn:
            rows = list(conn.execute(query).all())
        if not rows:
            return
        yield _window(rows)
        if len(rows) < chunk_rows:
            return
        after = (rows[-1].ts_us, rows[-1].id)


def _query(
    model: str | None,
    version: int | None,
    start: datetime | float | None,
    end: datetime | float | None,
) -> sa.Select[Any]:
    t, f = predictions.c, feedback.c
    query = sa.select(
        t.request_id, t.row_index, t.ts_us, t.endpoint, t.model, t.version, t.variant,
        t.latency_ms, t.inputs, t.label, t.probabilities, t.id,
        f.value.label("actual"), f.ts_us.label("feedback_us"),
    ).select_from(
        predictions.outerjoin(
            feedback, sa.and_(f.request_id == t.request_id, f.row_index == t.row_index)
        )
    )  # fmt: skip
    if model is not None:
        query = query.where(t.model == model)
    if version is not None:
        query = query.where(t.version == version)
    if start is not None:
        query = query.where(t.ts_us >= _micros(start))
    if end is not None:
        query = query.where(t.ts_us < _micros(end))
    return query


def _window(rows: Sequence[Any]) -> Window:
    import pandas as pd

    meta = pd.DataFrame([r[:8] for r in rows], columns=list(_META)).astype(
        {"row_index": "int64", "version": "int64", "latency_ms": "float64"}
    )
    meta["time"] = pd.to_datetime(meta["time"].astype("int64"), unit="us", utc=True)
    inputs = pd.DataFrame.from_records([orjson.loads(r.inputs) for r in rows])
    labels = np.array([orjson.loads(r.label) for r in rows], dtype=object)
    probas = [None if r.probabilities is None else orjson.loads(r.probabilities) for r in rows]
    probabilities = None
    if any(p is not None for p in probas):
        probabilities = pd.DataFrame.from_records([p or {} for p in probas])
    actuals = np.array(
        [None if r.actual is None else orjson.loads(r.actual) for r in rows], dtype=object
    )
    feedback_time = pd.to_datetime(
        pd.Series([r.feedback_us for r in rows], dtype="Int64"), unit="us", utc=True
    )
    return Window(
        meta, inputs, _tighten(labels), probabilities, _tighten_actuals(actuals), feedback_time
    )


def _micros(when: datetime | float) -> int:
    seconds = when.timestamp() if isinstance(when, datetime) else float(when)
    return round(seconds * 1_000_000)


def _tighten(values: Array) -> Array:
    """Numeric labels as a numeric array; anything else stays object."""
    if len(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return values.astype(np.float64 if any(isinstance(v, float) for v in values) else np.int64)
    return values


def _tighten_actuals(values: Array) -> Array:
    """Numeric outcomes as float64 with NaN where none arrived yet (int64 when every row has an
    integer one); anything else stays object with None."""
    present = [v for v in values if v is not None]
    if not present:
        return np.full(len(values), np.nan)
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in present):
        return values
    if len(present) == len(values):
        return _tighten(values)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
