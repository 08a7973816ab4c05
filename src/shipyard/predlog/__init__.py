"""The prediction log: every answered row recorded off the hot path, with group commit.

::

    record.py   PredictionRecord, records_for(frame, outputs, ...): the rows of one request;
                ServedRequest, row_tuples(): the same, made by the writer thread
    redact.py   Redactor: sensitive features hashed (salted sha256) or dropped, per model
    policy.py   per-model sampling rate and sensitive features, from the model's tags
    schema.py   the log's own tables (predictions, feedback, predlog_meta) and their upgrades
    store.py    PredictionStore: its own SQLite file (WAL) or PostgreSQL; inserts, feedback, purge
    feedback.py ground truth: labels joined to logged rows by (request id, row index)
    writer.py   PredictionLog: bounded buffer, one writer thread, buffered and durable modes
    window.py   read_window(), iter_window(): a time window back as columns, with the actuals
    export.py   export(): Parquet, CSV or JSON lines
"""

from __future__ import annotations

from shipyard.predlog.errors import LogClosedError, LogFullError, PredictionLogError
from shipyard.predlog.export import export
from shipyard.predlog.feedback import FeedbackItem, FeedbackResult
from shipyard.predlog.policy import LogPolicy, policy_from_tags
from shipyard.predlog.record import PredictionRecord, ServedRequest, records_for, row_tuples
from shipyard.predlog.redact import Redactor
from shipyard.predlog.store import PredictionStore, PurgeResult, default_url
from shipyard.predlog.window import Window, iter_window, read_window
from shipyard.predlog.writer import Mode, PredictionLog

__all__ = [
    "FeedbackItem",
    "FeedbackResult",
    "LogClosedError",
    "LogFullError",
    "LogPolicy",
    "Mode",
    "PredictionLog",
    "PredictionLogError",
    "PredictionRecord",
    "PredictionStore",
    "PurgeResult",
    "Redactor",
    "ServedRequest",
    "Window",
    "default_url",
    "export",
    "iter_window",
    "policy_from_tags",
    "read_window",
    "records_for",
    "row_tuples",
]
