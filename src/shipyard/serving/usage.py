"""Usage metering: what each served version used, for the cost figures (issue 9).

Per (endpoint, model, version), with the variant looked up when read:

- **predictions** (rows) and **requests**, counted per batch;
- **CPU-seconds**: ``time.thread_time()`` around each predict call, in the thread that runs it
  (the batcher's worker, or the event loop for a batch run inline). A batch holds one
  version's requests only, so its CPU time belongs to that version entirely, with no split.
  Thread CPU time rather than the batch's wall time: wall time also counts the moments the
  thread waited for the GIL while the event loop decoded the next requests, which is not the
  model's work. Caveat: work a library hands to threads of its own is not seen (onnxruntime
  runs with one intra-op thread here, so its work is; a native flavor using OpenMP or
  ``n_jobs`` is under-counted);
- **memory**: the version's load footprint, the growth of the process's resident set (RSS)
  across load and warm-up, measured in the loading thread with one load at a time
  (:func:`measure_load`), so numpy and onnxruntime allocations, which ``tracemalloc`` does not
  see, are counted. Caveats: RSS is process-wide, so requests answered by other versions while
  a load runs are counted too (little: they allocate and free per request); transient buffers
  of the load (the artifact's bytes) that the allocator keeps count as well (reads high); and
  memory freed earlier and reused by the allocator is not growth, so a reload can read low.
  When the delta is not positive, the version's artifact size stands in (a floor). One load
  at a time means a load waits for another endpoint's to finish;
- **resident seconds**: how long the version stayed loaded, until its predictor is garbage
  collected (a weak reference's finaliser);
- **requests granted**: the endpoint's CPU request (``cost_cpu_request`` vCPUs, default 1) and
  memory request (``cost_memory_request`` bytes; 0: the measured footprint), shared among the
  versions resident in an interval in proportion to the predictions they answered (evenly by
  resident time when none did).

The request path pays for one dict lookup and three additions per batch, on the event loop;
:meth:`UsageMeter.take` turns the counters into one :class:`UsageRow` per version and interval
for the registry, and :meth:`UsageMeter.render` writes the Prometheus series.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from shipyard.monitoring.cost import Prices, Usage, cost_of
from shipyard.monitoring.usage_store import UsageRow

__all__ = ["UsageMeter", "measure_load", "rss_bytes"]

Key = tuple[str, str, int]  # endpoint, model, version
_LOADING = threading.Lock()


def rss_bytes() -> int | None:
    """The process's resident set size in bytes now (None where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


@dataclass(slots=True)
class Footprint:
    """What :func:`measure_load` measured; ``bytes`` is set when the block ends."""

    bytes: int = 0


@contextlib.contextmanager
def measure_load() -> Iterator[Footprint]:
    """The RSS growth across the block, one block at a time in the process (so two loads do
    not count each other's memory). 0 when RSS cannot be read or did not grow."""
    found = Footprint()
    with _LOADING:
        before = rss_bytes()
        yield found
        after = rss_bytes()
    if before is not None and after is not None:
        found.bytes = max(0, after - before)


@dataclass(slots=True)
class _Resident:
    memory_bytes: int
    live: int = 0  # predictors of this version alive now
    since: float = 0.0  # start of the open stretch (load time, or the last take)
    accrued: float = 0.0  # closed stretches in the current interval


class UsageMeter:
    """One server's usage counters (one per :class:`~shipyard.serving.app.ServingApp`)."""

    def __init__(
        self,
        *,
        prices: Prices | None = None,
        cpu_request: float = 1.0,
        memory_request_bytes: int = 0,
        replica: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not cpu_request >= 0:
            raise ValueError(f"cpu_request must be zero or more vCPUs, got {cpu_request!r}")
        if memory_request_bytes < 0:
            raise ValueError("memory_request_bytes must be zero or more")
        self.prices = prices or Prices()
        self.cpu_request = cpu_request
        self.memory_request_bytes = memory_request_bytes
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.clock = clock
        self.variant_of: Callable[[str, int], str] = lambda endpoint, version: ""
        """The variant a version of an endpoint serves as now ("" for none): set by the app."""
        self._counts: dict[Key, list[float]] = {}  # requests, predictions, cpu (event loop)
        self._taken: dict[Key, tuple[float, float, float]] = {}  # the counts at the last take
        # Loads and finalisers come from other threads. Re-entrant: the garbage collector may
        # run a predictor's finaliser (which takes the lock) in a thread that holds it already.
        self._lock = threading.RLock()
        self._resident: dict[Key, _Resident] = {}
        self._totals: dict[Key, Usage] = {}  # taken intervals, for /metrics
        self._start = clock()

    # -- the request path (event loop) ---------------------------------------------------------

    def record(
        self, endpoint: str, model: str, version: int, requests: int, rows: int, cpu: float
    ) -> None:
        """One predict call answered ``requests`` requests (``rows`` rows) of ``version`` in
        ``cpu`` thread CPU-seconds."""
        key = (endpoint, model, version)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0.0, 0.0, 0.0]
        counts[0] += requests
        counts[1] += rows
        counts[2] += cpu

    # -- loads (any thread) ---------------------------------------------------------------------

    def loaded(
        self, endpoint: str, predictor: object, model: str, version: int, memory: int
    ) -> None:
        """A predictor of ``version`` was loaded with a footprint of ``memory`` bytes; it
        counts as resident until it is garbage collected."""
        key = (endpoint, model, version)
        now = self.clock()
        with self._lock:
            resident = self._resident.get(key)
            if resident is None:
                resident = self._resident[key] = _Resident(memory)
            resident.memory_bytes = memory
            if resident.live == 0:
                resident.since = now
            resident.live += 1
        with contextlib.suppress(TypeError):  # no weak references: resident until the end
            weakref.finalize(predictor, self._released, key)

    def _released(self, key: Key) -> None:
        now = self.clock()
        with self._lock:
            resident = self._resident.get(key)
            if resident is None or resident.live == 0:
                return
            resident.live -= 1
            if resident.live == 0:
                resident.accrued += max(0.0, now - resident.since)

    def memory(self) -> dict[Key, int]:
        """The footprint of each version loaded now."""
        with self._lock:
            return {k: r.memory_bytes for k, r in self._resident.items() if r.live}

    # -- intervals ------------------------------------------------------------------------------

    def take(self, now: float | None = None) -> list[UsageRow]:
        """The interval since the last take, one row per version that was resident or
        answered in it; the counters move on (call on the event loop)."""
        return self._interval(self.clock() if now is None else now, commit=True)

    def _interval(self, now: float, *, commit: bool) -> list[UsageRow]:
        start = self._start
        with self._lock:
            seconds: dict[Key, float] = {}
            memory: dict[Key, int] = {}
            for key, r in list(self._resident.items()):
                stretch = r.accrued + (max(0.0, now - r.since) if r.live else 0.0)
                seconds[key], memory[key] = stretch, r.memory_bytes
                if commit:
                    r.accrued, r.since = 0.0, now
                    if not r.live:
                        del self._resident[key]
        deltas: dict[Key, tuple[float, float, float]] = {}
        for key, counts in self._counts.items():
            before = self._taken.get(key, (0.0, 0.0, 0.0))
            delta = (counts[0] - before[0], counts[1] - before[1], counts[2] - before[2])
            if any(delta):
                deltas[key] = delta
            if commit:
                self._taken[key] = (counts[0], counts[1], counts[2])
        keys = sorted(set(seconds) | set(deltas))
        shares = self._shares(keys, seconds, deltas)
        begun = datetime.fromtimestamp(start, UTC)
        ended = datetime.fromtimestamp(now, UTC)
        rows = []
        for key in keys:
            requests, predictions, cpu = deltas.get(key, (0.0, 0.0, 0.0))
            footprint = memory.get(key, 0)
            endpoint, model, version = key
            share = shares[key]
            rows.append(
                UsageRow(
                    replica=self.replica,
                    endpoint=endpoint,
                    model=model,
                    version=version,
                    variant=self.variant_of(endpoint, version),
                    start=begun,
                    end=ended,
                    requests=int(requests),
                    predictions=int(predictions),
                    cpu_seconds=cpu,
                    memory_bytes=footprint,
                    resident_seconds=seconds.get(key, 0.0),
                    cpu_request=self.cpu_request * share,
                    memory_request_bytes=int(self.memory_request_bytes * share),
                )
            )
        if commit:
            self._start = now
            for row in rows:
                key = (row.endpoint, row.model, row.version)
                self._totals[key] = self._totals.get(key, Usage()) + row.usage
        return rows

    @staticmethod
    def _shares(
        keys: list[Key], seconds: dict[Key, float], deltas: dict[Key, tuple[float, float, float]]
    ) -> dict[Key, float]:
        """Each version's share of its endpoint's requested resources in the interval: by
        predictions answered, or by resident time when the endpoint answered none."""
        by_endpoint: dict[str, list[Key]] = {}
        for key in keys:
            by_endpoint.setdefault(key[0], []).append(key)
        shares: dict[Key, float] = {}
        for group in by_endpoint.values():
            predictions = {k: deltas.get(k, (0.0, 0.0, 0.0))[1] for k in group}
            weights = (
                predictions
                if sum(predictions.values()) > 0
                else {k: seconds.get(k, 0.0) for k in group}
            )
            total = sum(weights.values())
            for k in group:
                shares[k] = weights[k] / total if total > 0 else 0.0
        return shares

    def totals(self, now: float | None = None) -> dict[Key, Usage]:
        """Each version's use since the server started (the taken intervals and the open
        one), without moving the counters on."""
        current = self._interval(self.clock() if now is None else now, commit=False)
        totals = dict(self._totals)
        for row in current:
            key = (row.endpoint, row.model, row.version)
            totals[key] = totals.get(key, Usage()) + row.usage
        return totals

    # -- /metrics -------------------------------------------------------------------------------

    def render(self) -> str:
        """The usage series in the Prometheus text format (labels ``endpoint``, ``model``,
        ``version``, ``variant``), each line ending in a newline."""
        totals = sorted(self.totals().items())
        memory = sorted(self.memory().items())
        out: list[str] = []

        def labels(key: Key) -> str:
            endpoint, model, version = key
            variant = self.variant_of(endpoint, version)
            return (
                f'endpoint="{_escape(endpoint)}",model="{_escape(model)}",'
                f'version="{version}",variant="{_escape(variant)}"'
            )

        name = "shipyard_inference_cpu_seconds_total"
        _family(out, name, "counter", "Thread CPU-seconds spent in the version's predict calls.")
        out.extend(f"{name}{{{labels(k)}}} {u.cpu_seconds!r}" for k, u in totals)
        name = "shipyard_predictions_total"
        _family(out, name, "counter", "Rows predicted by the version.")
        out.extend(f"{name}{{{labels(k)}}} {u.predictions}" for k, u in totals)
        name = "shipyard_model_memory_bytes"
        _family(out, name, "gauge", "The loaded version's measured footprint (RSS growth).")
        out.extend(f"{name}{{{labels(k)}}} {b}" for k, b in memory)
        name = "shipyard_cost_per_1k_predictions_dollars"
        _family(
            out,
            name,
            "gauge",
            "Dollars per 1,000 predictions since the server started, on the usage or the "
            "allocation basis (OpenCost).",
        )
        for key, usage in totals:
            cost = cost_of(usage, self.prices)
            for basis, value in (
                ("allocation", cost.per_1k_allocation),
                ("usage", cost.per_1k_usage),
            ):
                if value is not None:
                    out.append(f'{name}{{{labels(key)},basis="{basis}"}} {value!r}')
        return "".join(line + "\n" for line in out)


def _family(out: list[str], name: str, kind: str, help: str) -> None:
    out.append(f"# HELP {name} {help}")
    out.append(f"# TYPE {name} {kind}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
