"""Delivering events to their rules' channels, one failing channel never stopping the others.

:meth:`AlertDispatcher.dispatch` returns one record per event, JSON-ready, for the registry's
alert history (one row per record: ``id`` and ``state`` together are unique)::

    {
      "id": "3f0c...",               # the alert: shared by its firing and resolved records
      "state": "firing",             # or "resolved"
      "rule": "churn-drift", "figure": "drift.share", "value": 0.62,
      "op": ">=", "threshold": 0.5, "severity": "critical",
      "labels": {"model": "churn", "version": "3"},
      "time": "2025-01-01T00:00:00+00:00",        # of the observation
      "since": "2024-12-31T23:00:00+00:00",       # the condition has held since
      "dispatched_at": "2025-01-01T00:00:01+00:00",
      "channels": ["ops", "log"],    # asked for by the rule
      "delivered": ["log"],
      "failures": [{"channel": "ops", "error": "webhook http://...: delivery failed ..."}]
    }
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

from shipyard.monitoring.alerts.channels import AlertChannel, ChannelError, build_channels
from shipyard.monitoring.alerts.events import AlertEvent, iso_time

__all__ = ["AlertDispatcher", "AlertRecord", "DeliveryFailure"]

log = logging.getLogger("shipyard.alerts")


class DeliveryFailure(TypedDict):
    channel: str
    error: str


class AlertRecord(TypedDict):
    id: str
    state: str
    rule: str
    figure: str
    value: float | None
    op: str
    threshold: float
    severity: str
    labels: dict[str, str]
    time: str
    since: str
    dispatched_at: str
    channels: list[str]
    delivered: list[str]
    failures: list[DeliveryFailure]


class AlertDispatcher:
    """Sends each event to the channels its rule names, side by side, and records the outcome."""

    def __init__(
        self,
        channels: Mapping[str, AlertChannel],
        *,
        clock: Callable[[], float] = time.time,
        max_workers: int = 8,
    ) -> None:
        self.channels = dict(channels)
        self._clock = clock
        self._max_workers = max_workers

    @classmethod
    def from_config(
        cls, configs: Mapping[str, Mapping[str, Any]], *, environ: Mapping[str, str] | None = None
    ) -> AlertDispatcher:
        """A dispatcher over a config file's ``channels`` section."""
        return cls(build_channels(configs, environ=environ))

    def dispatch(self, events: Iterable[AlertEvent]) -> list[AlertRecord]:
        """Deliver every event; never raises for a channel's failure, records it instead."""
        events = list(events)
        jobs = [(i, name) for i, event in enumerate(events) for name in event.channels]
        outcomes: list[str | None] = []
        if len(jobs) == 1:
            outcomes = [self._deliver(events[jobs[0][0]], jobs[0][1])]
        elif jobs:
            # A channel retrying against a dead receiver must not hold the others back.
            with ThreadPoolExecutor(min(self._max_workers, len(jobs))) as pool:
                outcomes = list(pool.map(lambda job: self._deliver(events[job[0]], job[1]), jobs))
        dispatched_at = iso_time(self._clock())
        records = [_record(event, dispatched_at) for event in events]
        for (i, name), error in zip(jobs, outcomes, strict=True):
            if error is None:
                records[i]["delivered"].append(name)
            else:
                records[i]["failures"].append({"channel": name, "error": error})
        return records

    def _deliver(self, event: AlertEvent, name: str) -> str | None:
        """None when delivered, else the reason it was not."""
        channel = self.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "none"
            error = f"no channel named {name!r} is configured (configured: {known})"
            log.error("alert %s (%s) not sent: %s", event.rule, event.state, error)
            return error
        try:
            channel.send(event)
        except ChannelError as exc:
            log.error("alert %s (%s) not sent to %s: %s", event.rule, event.state, name, exc)
            return str(exc)
        except Exception as exc:  # a bug in one channel must not cost the others their alert
            log.exception("alert %s (%s): channel %s crashed", event.rule, event.state, name)
            return f"channel crashed: {type(exc).__name__}: {exc}"
        return None


def _record(event: AlertEvent, dispatched_at: str) -> AlertRecord:
    data = event.to_dict()
    return {
        "id": event.id,
        "state": event.state,
        "rule": event.rule,
        "figure": event.figure,
        "value": data["value"],
        "op": event.op,
        "threshold": event.threshold,
        "severity": event.severity,
        "labels": dict(event.labels),
        "time": data["time"],
        "since": data["since"],
        "dispatched_at": dispatched_at,
        "channels": list(event.channels),
        "delivered": [],
        "failures": [],
    }
