"""Errors of the prediction log, under the one tree (``shipyard.errors``)::

StoreError
└── PredictionLogError                 the prediction log could not take or write records
    ├── LogFullError (TimeoutError)    the buffer stayed full past the append timeout
    └── LogClosedError                 an append after close()
"""

from __future__ import annotations

from shipyard.errors import StoreError

__all__ = ["LogClosedError", "LogFullError", "PredictionLogError"]


class PredictionLogError(StoreError):
    """The prediction log could not take or write records."""


class LogFullError(PredictionLogError, TimeoutError):
    """The buffer stayed full for the whole append timeout: the store is slower than traffic."""


class LogClosedError(PredictionLogError):
    """A record was appended after the log was closed."""
