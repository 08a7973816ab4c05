"""Choosing the variant that answers a request, and counting what each variant did.

A :class:`Route` is an endpoint's routing table, immutable and swapped whole when the endpoint
changes (one assignment, as versions are):

- ``canary``: a request goes to a serving variant at random, in proportion to the weights;
- ``ab``: the variant is a pure function of a hash of the request key (a header, or a
  request-level field), so a user always sees the same variant while the weights hold; a
  request without the key is assigned at random, by the weights, and counted as ``unkeyed``;
- ``shadow``: ``main`` answers; a share of requests (the shadow variant's weight) is also sent
  to the shadow variant by :class:`ShadowRunner`, fire-and-forget, its answer only logged.

A ``single`` endpoint has no Route at all: the server's fast path stays as it was.

:class:`VariantStats` are the server's own per-variant counters (requests, errors, a window of
latencies for p50/p99, and for shadows agreement with the primary answer), read by the rollout
controller. They are touched on the event loop only, so they need no lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np

from shipyard.registry.endpoints import Endpoint, parse_key

__all__ = ["Route", "ShadowRunner", "VariantStats", "hash_share"]

log = logging.getLogger("shipyard.serving")

LATENCY_WINDOW = 4096  # latencies kept per variant for p50/p99 (the newest ones)


def hash_share(endpoint: str, key: str) -> float:
    """Where ``key`` falls in [0, 1) for ``endpoint``: uniform over keys, fixed per key."""
    digest = hashlib.blake2b(f"{endpoint}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Route:
    """An endpoint's routing table: which variant answers, and whether to mirror to a shadow."""

    endpoint: str
    policy: str
    names: tuple[str, ...]  # the serving variants, in order
    bounds: tuple[float, ...]  # cumulative weights, normalised to end at 1
    key_kind: str | None = None  # "header" or "field" for ab
    key_name: str | None = None
    shadow: str | None = None
    shadow_share: float = 0.0

    @classmethod
    def of(cls, endpoint: Endpoint) -> Route | None:
        """The route of ``endpoint``, or None for a single-variant endpoint (the fast path)."""
        if endpoint.policy == "single":
            return None
        serving = endpoint.serving
        total = sum(v.weight for v in serving) or 1.0
        bounds = tuple(b / total for b in accumulate(v.weight for v in serving))
        kind, name = parse_key(endpoint.key) if endpoint.key else (None, None)
        shadow = endpoint.shadow
        return cls(
            endpoint=endpoint.name,
            policy=endpoint.policy,
            names=tuple(v.name for v in serving),
            bounds=bounds,
            key_kind=kind,
            key_name=name,
            shadow=None if shadow is None else shadow.name,
            shadow_share=0.0 if shadow is None else shadow.weight,
        )

    @property
    def variants(self) -> tuple[str, ...]:
        """Every variant the route needs loaded (shadow included)."""
        return self.names if self.shadow is None else (*self.names, self.shadow)

    def pick(self, key: str | None = None, draw: Callable[[], float] = random.random) -> str:
        """The serving variant for a request with A/B key ``key`` (ignored unless ``ab``)."""
        if len(self.names) == 1:
            return self.names[0]
        point = hash_share(self.endpoint, key) if key is not None else draw()
        index = bisect_right(self.bounds, point)
        return self.names[min(index, len(self.names) - 1)]

    def mirrors(self, draw: Callable[[], float] = random.random) -> bool:
        """Whether this request is also sent to the shadow variant."""
        return self.shadow is not None and draw() < self.shadow_share


@dataclass
class VariantStats:
    """One variant's counters since the server started (the controller takes differences)."""

    requests: int = 0
    errors: int = 0
    unkeyed: int = 0  # ab requests that had no key (assigned at random)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    compared: int = 0  # shadow answers compared with the primary's
    agreed: int = 0  # of those, rows with the same label...
    rows: int = 0  # ...out of this many rows
    abs_difference: float = 0.0  # sum of |shadow - primary| over numeric labels

    def record(self, status: int, seconds: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.latencies.append(seconds * 1000.0)

    def quantiles(self) -> tuple[float | None, float | None]:
        """p50 and p99 latency (ms) over the newest requests; None before any."""
        if not self.latencies:
            return None, None
        p50, p99 = np.percentile(np.fromiter(self.latencies, float), [50, 99])
        return float(p50), float(p99)

    def compare(self, primary: Any, shadow: Any) -> None:
        """Count agreement between the primary's and the shadow's labels for one request."""
        self.compared += 1
        a, b = np.asarray(primary), np.asarray(shadow)
        if a.shape != b.shape:
            return
        self.rows += int(a.size)
        self.agreed += int(np.sum(a == b))
        if a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
            self.abs_difference += float(np.sum(np.abs(a.astype(float) - b.astype(float))))


class ShadowRunner:
    """Fire-and-forget shadow calls with bounded concurrency: past ``max_in_flight`` a call is
    dropped and counted, never queued, so shadow traffic cannot slow the answers."""

    def __init__(self, max_in_flight: int = 8) -> None:
        self.max_in_flight = max_in_flight
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, make: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Start ``make()`` in the background; False (and counted) when saturated."""
        if len(self._tasks) >= self.max_in_flight:
            self.dropped += 1
            return False
        self.sent += 1
        task = asyncio.get_running_loop().create_task(self._guard(make()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing shadow must never surface
            self.failed += 1
            log.debug("shadow call failed: %s: %s", type(exc).__name__, exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the calls in flight (at shutdown), then cancel what is left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
