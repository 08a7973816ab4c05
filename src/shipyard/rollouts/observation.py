"""What the server reports about each variant at one evaluation of a rollout."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shipyard.errors import InvalidInputError
from shipyard.rollouts.stats.summary import BinomialSummary, MeanSummary

__all__ = ["Observation", "VariantSnapshot"]


@dataclass(frozen=True)
class VariantSnapshot:
    """One variant's counters since the rollout started (cumulative, never reset per step).

    ``metric`` holds the sufficient statistics of the online metric from feedback: a
    :class:`BinomialSummary` for a binary metric, a :class:`MeanSummary` for a continuous one.
    ``drift`` is the monitoring's verdict on the variant's inputs or outputs.
    """

    requests: int
    errors: int = 0
    latency_p99_ms: float | None = None
    metric: BinomialSummary | MeanSummary | None = None
    drift: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.requests:
            raise InvalidInputError(
                f"a variant snapshot needs 0 <= errors <= requests, "
                f"got {self.errors} errors of {self.requests}"
            )
        if self.latency_p99_ms is not None and not (
            math.isfinite(self.latency_p99_ms) and self.latency_p99_ms >= 0
        ):
            raise InvalidInputError(f"latency_p99_ms must be >= 0, got {self.latency_p99_ms}")

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Observation:
    """Both variants' snapshots, and how long the rollout has been in its current step."""

    baseline: VariantSnapshot
    candidate: VariantSnapshot
    elapsed_seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.elapsed_seconds) and self.elapsed_seconds >= 0):
            raise InvalidInputError(f"elapsed_seconds must be >= 0, got {self.elapsed_seconds}")
