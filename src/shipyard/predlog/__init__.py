"""The prediction log: every answered row recorded off the hot path, with group commit.

::

    record.py   PredictionRecord, records_for(frame, outputs, ...): the rows of one request
    redact.py   Redactor: sensitive features hashed (salted sha256) or dropped, per model
    schema.py   the log's own tables (predictions, predlog_meta) — not the registry's migrations
    store.py    PredictionStore: its own SQLite file (WAL) or PostgreSQL; ON CONFLICT DO NOTHING
    writer.py   PredictionLog: bounded buffer, one writer thread, buffered and durable modes
    window.py   read_window(): a time window back as numpy/pandas columns, for drift
    export.py   export(): Parquet, CSV or JSON lines
"""

from __future__ import annotations

from shipyard.predlog.errors import LogClosedError, LogFullError, PredictionLogError
from shipyard.predlog.export import export
from shipyard.predlog.record import PredictionRecord, records_for
from shipyard.predlog.redact import Redactor
from shipyard.predlog.store import PredictionStore, default_url
from shipyard.predlog.window import Window, read_window
from shipyard.predlog.writer import Mode, PredictionLog

__all__ = [
    "LogClosedError",
    "LogFullError",
    "Mode",
    "PredictionLog",
    "PredictionLogError",
    "PredictionRecord",
    "PredictionStore",
    "Redactor",
    "Window",
    "default_url",
    "export",
    "read_window",
    "records_for",
]
