"""The log channel: each alert as one record of Python's logging, at the alert's severity.

The record's message is the summary; ``record.alert`` holds :meth:`AlertEvent.to_dict`, for
structured handlers. Resolved alerts are logged at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from shipyard.monitoring.alerts.channels.base import Settings, check_keys, get_setting
from shipyard.monitoring.alerts.events import AlertEvent

__all__ = ["LogChannel"]

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class LogChannel:
    """Logs each alert to ``logger`` (default ``shipyard.alerts``)."""

    def __init__(self, logger: str = "shipyard.alerts") -> None:
        self.logger = logging.getLogger(logger)

    def __repr__(self) -> str:
        return f"LogChannel({self.logger.name!r})"

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> LogChannel:
        check_keys(settings, ("type", "logger"), "log channel")
        return cls(get_setting(settings, "logger", str, "log channel", "shipyard.alerts"))

    def send(self, alert: AlertEvent) -> None:
        level = (
            logging.INFO
            if alert.state == "resolved"
            else _LEVELS.get(alert.severity, logging.WARNING)
        )
        self.logger.log(level, "%s", alert.summary, extra={"alert": alert.to_dict()})
