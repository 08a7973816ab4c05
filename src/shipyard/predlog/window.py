"""Reading logged predictions back: a time window per model (and version), as columns.

For drift and data-quality checks: one numpy array per feature, the labels and the class
probabilities, plus the rows' metadata, in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa

from shipyard.predlog.schema import predictions
from shipyard.predlog.store import PredictionStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Window", "read_window"]

Array = np.ndarray[Any, Any]
_META = ("request_id", "row_index", "time", "endpoint", "model", "version", "variant", "latency_ms")


@dataclass(frozen=True)
class Window:
    """Logged rows in time order: ``meta`` (request id, row index, time, endpoint, model,
    version, variant, latency), ``inputs`` (one column per feature), ``labels`` and
    ``probabilities`` (one column per class, or None when no row has them)."""

    meta: pd.DataFrame
    inputs: pd.DataFrame
    labels: Array
    probabilities: pd.DataFrame | None

    def __len__(self) -> int:
        return len(self.meta)

    def feature(self, name: str) -> Array:
        """One feature's values as a numpy array (missing values are None/NaN)."""
        return self.inputs[name].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """One flat table: metadata, ``inputs.NAME``, ``label``, ``probabilities.CLASS``."""
        import pandas as pd

        parts = [self.meta, self.inputs.add_prefix("inputs."), pd.DataFrame({"label": self.labels})]
        if self.probabilities is not None:
            parts.append(self.probabilities.add_prefix("probabilities."))
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
    and version; ``limit`` keeps the newest rows."""
    import pandas as pd

    t = predictions.c
    query = sa.select(
        t.request_id, t.row_index, t.ts_us, t.endpoint, t.model, t.version, t.variant,
        t.latency_ms, t.inputs, t.label, t.probabilities,
    )  # fmt: skip
    if model is not None:
        query = query.where(t.model == model)
    if version is not None:
        query = query.where(t.version == version)
    if start is not None:
        query = query.where(t.ts_us >= _micros(start))
    if end is not None:
        query = query.where(t.ts_us < _micros(end))
    if limit is not None:
        query = query.order_by(t.ts_us.desc(), t.id.desc()).limit(limit)
    else:
        query = query.order_by(t.ts_us, t.id)
    with store.read() as conn:
        rows = list(conn.execute(query).all())
    if limit is not None:
        rows.reverse()
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
    return Window(meta, inputs, _tighten(labels), probabilities)


def _micros(when: datetime | float) -> int:
    seconds = when.timestamp() if isinstance(when, datetime) else float(when)
    return round(seconds * 1_000_000)


def _tighten(values: Array) -> Array:
    """Numeric labels as a numeric array; anything else stays object."""
    if len(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return values.astype(np.float64 if any(isinstance(v, float) for v in values) else np.int64)
    return values
