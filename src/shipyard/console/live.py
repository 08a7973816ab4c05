"""Live figures of a served endpoint, per variant, from the server's cumulative counters (pure).

:meth:`~shipyard.serving.metrics.Metrics.variant_totals` gives each variant's requests, 5xx
answers and duration-histogram bucket counts since the server started. :class:`LiveSeries`
snapshots them at most once per ``step`` and turns the difference between two snapshots into a
:class:`Point`: requests/s, error rate, and p50/p99 interpolated inside the histogram's buckets
(as Prometheus' ``histogram_quantile`` does), keeping the last few minutes for a chart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.serving.metrics import VariantTotals

__all__ = [
    "KEEP_SECONDS",
    "Figures",
    "LiveSeries",
    "Point",
    "quantile",
    "since_start",
    "window_figures",
]

KEEP_SECONDS = 300.0
"""How far back the live chart reaches."""


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile of a histogram with per-bucket ``counts`` (the last one past the last
    bound), interpolated linearly inside its bucket; None when it is empty. Past the last bound
    the answer is that bound (the histogram knows no more)."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i >= len(bounds):
                return float(bounds[-1])
            low = 0.0 if i == 0 else float(bounds[i - 1])
            return low + (float(bounds[i]) - low) * max(rank - seen, 0.0) / count
        seen += count
    return float(bounds[-1])


@dataclass(frozen=True)
class Figures:
    """One variant over one window: requests/s, error rate (None without requests), p50 and
    p99 in milliseconds (None without requests), the window's requests and the total so far."""

    rps: float
    error_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 3),
            "error_rate": None if self.error_rate is None else round(self.error_rate, 5),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 3),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 3),
            "requests": self.requests,
            "total": self.total,
        }


def window_figures(
    before: VariantTotals | None, after: VariantTotals, seconds: float, bounds: Sequence[float]
) -> Figures:
    """The figures of the requests counted between two snapshots ``seconds`` apart."""
    requests = after.requests - (before.requests if before else 0)
    errors = after.errors - (before.errors if before else 0)
    counts = [
        a - (b if before else 0)
        for a, b in zip(after.buckets, before.buckets if before else after.buckets, strict=True)
    ]
    p50, p99 = quantile(bounds, counts, 0.5), quantile(bounds, counts, 0.99)
    return Figures(
        rps=requests / seconds if seconds > 0 else 0.0,
        error_rate=errors / requests if requests > 0 else None,
        p50_ms=None if p50 is None else p50 * 1000.0,
        p99_ms=None if p99 is None else p99 * 1000.0,
        requests=requests,
        total=after.requests,
    )


@dataclass(frozen=True)
class Point:
    """The figures of every variant over the window ending at ``t`` (Unix seconds)."""

    t: float
    variants: dict[str, Figures]

    @property
    def id(self) -> int:
        """The point's time in whole milliseconds: its event id, where a stream resumes."""
        return int(self.t * 1000)

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 3),
            "variants": {k: f.to_dict() for k, f in self.variants.items()},
        }


class LiveSeries:
    """One endpoint's figures over the last ``keep`` seconds, one point per ``step`` seconds at
    most, from successive snapshots of its counters. Shared by every page watching the
    endpoint, so each sees the same points."""

    def __init__(
        self, bounds: Sequence[float], *, step: float = 0.9, keep: float = KEEP_SECONDS
    ) -> None:
        self.bounds = tuple(bounds)
        self.step = step
        self.keep = keep
        self.points: deque[Point] = deque()
        self._last: tuple[float, Mapping[str, VariantTotals]] | None = None

    def sample(self, totals: Mapping[str, VariantTotals], now: float) -> Point | None:
        """Take a snapshot at ``now``; the new point, or None when the last snapshot is too
        recent (or this is the first)."""
        last = self._last
        if last is not None and now - last[0] < self.step:
            return None
        self._last = (now, dict(totals))
        if last is None:
            return None
        then, before = last
        seconds = now - then
        point = Point(
            now,
            {
                name: window_figures(before.get(name), after, seconds, self.bounds)
                for name, after in sorted(totals.items())
            },
        )
        self.points.append(point)
        while self.points and self.points[0].t < now - self.keep:
            self.points.popleft()
        return point

    def after(self, ms: int) -> list[Point]:
        """The points newer than ``ms`` (a point's id: its time in whole milliseconds), oldest
        first."""
        return [p for p in self.points if p.id > ms]

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None


def since_start(totals: Mapping[str, VariantTotals], bounds: Sequence[float]) -> dict[str, Figures]:
    """Every variant's figures over everything its server counted (requests/s left at 0)."""
    return {name: window_figures(None, t, 0.0, bounds) for name, t in sorted(totals.items())}
