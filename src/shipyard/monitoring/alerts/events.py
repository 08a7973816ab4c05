"""Alert events: what the evaluator says happened, and what every channel delivers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["AlertEvent", "EventState", "format_value", "iso_time"]

EventState = Literal["firing", "resolved"]


@dataclass(frozen=True)
class AlertEvent:
    """A rule started firing, or stopped.

    ``id`` is shared by an alert's firing and its resolved event, so a receiver can pair them
    (and drop a redelivered duplicate). ``value`` is the observation that caused the event: the
    breaking value for ``firing``, the first value back within bounds for ``resolved``. Times
    are seconds since the epoch: ``time`` of this event, ``since`` when the condition began.
    """

    id: str
    state: EventState
    rule: str
    figure: str
    value: float
    op: str
    threshold: float
    severity: str
    time: float
    since: float
    labels: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    description: str = ""

    @property
    def summary(self) -> str:
        """One line for a human: ``[CRITICAL] FIRING churn-drift: drift.share = 0.62 (>= 0.5)``."""
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        text = (
            f"[{self.severity.upper()}] {self.state.upper()} {self.rule}: {self.figure} = "
            f"{format_value(self.value)} ({self.op} {format_value(self.threshold)})"
        )
        return f"{text} [{labels}]" if labels else text

    def to_dict(self) -> dict[str, Any]:
        """The JSON form every structured channel sends (times as ISO 8601, UTC)."""
        return {
            "id": self.id,
            "state": self.state,
            "rule": self.rule,
            "figure": self.figure,
            "value": _finite(self.value),
            "op": self.op,
            "threshold": self.threshold,
            "severity": self.severity,
            "labels": dict(self.labels),
            "time": iso_time(self.time),
            "since": iso_time(self.since),
            "description": self.description,
            "summary": self.summary,
        }


def format_value(value: float) -> str:
    """A figure as people read it: up to 6 significant digits."""
    return f"{value:.6g}"


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC."""
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
