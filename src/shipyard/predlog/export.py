"""``shipyard logs export``: logged predictions to a Parquet, CSV or JSON-lines file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from shipyard.errors import InvalidInputError
from shipyard.predlog.store import PredictionStore
from shipyard.predlog.window import read_window

__all__ = ["export"]

Format = Literal["parquet", "csv", "jsonl"]


def export(
    store: PredictionStore,
    path: str | Path,
    format: Format = "parquet",
    *,
    model: str | None = None,
    version: int | None = None,
    start: datetime | float | None = None,
    end: datetime | float | None = None,
) -> int:
    """Write the window's rows as one flat table (see :meth:`Window.to_frame`); returns the
    number of rows written. The file is written beside its final name and renamed into place."""
    if format not in ("parquet", "csv", "jsonl"):
        raise InvalidInputError(f"unknown export format {format!r}; use parquet, csv or jsonl")
    frame = read_window(store, model, version=version, start=start, end=end).to_frame()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    if format == "parquet":
        frame.to_parquet(partial, index=False)
    elif format == "csv":
        frame.to_csv(partial, index=False)
    else:
        frame.to_json(partial, orient="records", lines=True, date_format="iso")
    partial.replace(target)
    return len(frame)
