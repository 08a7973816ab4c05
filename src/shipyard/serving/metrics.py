"""Prometheus metrics, kept in plain dicts and rendered only when scraped.

The request path pays for one dict lookup keyed by a tuple of labels, a ``bisect`` into the
duration buckets and three additions; the text exposition format (version 0.0.4) is written only
when ``GET /metrics`` asks for it. No client library: the format is a few lines of text.

Series (labels ``endpoint``, ``model``, ``version``, ``variant``; requests add ``status``):

- ``shipyard_requests_total`` (counter) and ``shipyard_request_duration_seconds`` (histogram),
  one observation per answered request. ``variant`` is ``main`` for a routed request and empty
  for one that named its version (``/versions/{v}``) or no model at all (health, ``/metrics``).
- ``shipyard_requests_in_flight`` (gauge; ``endpoint`` and ``model`` only: the version is not
  known until the handler took its predictor).
- ``shipyard_batch_size`` (histogram) and ``shipyard_queue_depth`` (gauge), fed by the batcher
  through :meth:`Metrics.observe_batch` and :meth:`Metrics.set_queue_depth`. A batch is labelled
  with the variant its version serves as (empty for a version only addressed directly); the
  queue, shared by the endpoint's versions, has empty version and ``main`` variant labels.
- ``shipyard_model_load_seconds`` (gauge): how long loading and warming a version took, fed by
  the hosts through :meth:`Metrics.observe_model_load`, labelled with the variant the version
  was loaded for (empty when a request addressed it directly).
- ``shipyard_predlog_written_total`` (counter), ``shipyard_predlog_pending`` (gauge),
  ``shipyard_predlog_failed_total`` (counter: rows in failed commit attempts, each retry counted)
  and ``shipyard_predlog_dropped_total`` (counter: rows not logged because the buffer stayed
  full, in buffered mode), no labels: the prediction log's counters, read when scraped and
  rendered only while the server logs predictions (:class:`PredlogCounts`).
- ``shipyard_shadow_requests_total`` (counter; ``endpoint`` and ``outcome``: ``sent``,
  ``dropped`` when the shadow runner was saturated, ``failed``), read from the hosts' shadow
  runners when scraped.

Request series are touched only on the event loop, so they need no lock. The batcher and the
hosts may call from worker threads, so their series sit behind one lock (taken per batch or per
load, not per request).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "BATCH_BUCKETS",
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "Metrics",
    "PredlogCounts",
    "VariantTotals",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# From half a millisecond (a fast single-row request) to ten seconds (a large batch on a forest).
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0)

_VERSION_LABELS = ("endpoint", "model", "version", "variant")
_REQUEST_LABELS = (*_VERSION_LABELS, "status")
_FLIGHT_LABELS = ("endpoint", "model")

Labels = tuple[str, ...]


class PredlogCounts(NamedTuple):
    """The prediction log's counters at scrape time."""

    written: int
    pending: int
    failed: int
    dropped: int
    sampled_out: int = 0


class VariantTotals(NamedTuple):
    """One variant's request counters since the server started, across versions and statuses:
    requests, those answered 5xx, per-bucket (not cumulative) duration counts (the last one for
    +Inf) and the sum of durations in seconds."""

    requests: int
    errors: int
    buckets: tuple[int, ...]
    seconds: float


class _Histogram:
    """Per-bucket (not cumulative) counts, the last one for +Inf; cumulated when rendered."""

    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.sum = 0.0


class Metrics:
    """The server's metrics registry: one per :class:`~shipyard.serving.app.ServingApp`."""

    def __init__(
        self,
        *,
        duration_buckets: Sequence[float] = DURATION_BUCKETS,
        batch_buckets: Sequence[float] = BATCH_BUCKETS,
    ) -> None:
        self.duration_buckets = tuple(float(b) for b in duration_buckets)
        self.batch_buckets = tuple(float(b) for b in batch_buckets)
        self._requests: dict[Labels, _Histogram] = {}
        self._in_flight: dict[Labels, int] = {}
        self._lock = threading.Lock()
        self._batches: dict[Labels, _Histogram] = {}
        self._queue_depth: dict[Labels, int] = {}
        self._load_seconds: dict[Labels, float] = {}

    # -- the request path (event loop only) ---------------------------------------------------

    def enter(self, endpoint: str, model: str) -> Labels:
        """A request started; give the returned labels to :meth:`leave` when it ends."""
        labels = (endpoint, model)
        self._in_flight[labels] = self._in_flight.get(labels, 0) + 1
        return labels

    def leave(self, labels: Labels) -> None:
        self._in_flight[labels] -= 1

    def observe_request(
        self, endpoint: str, model: str, version: str, variant: str, status: int, seconds: float
    ) -> None:
        labels = (endpoint, model, version, variant, str(status))
        series = self._requests.get(labels)
        if series is None:
            series = self._requests[labels] = _Histogram(len(self.duration_buckets))
        series.counts[bisect_left(self.duration_buckets, seconds)] += 1
        series.sum += seconds

    # -- hooks for the batcher and the hosts (any thread) -------------------------------------

    def observe_batch(
        self, endpoint: str, model: str, version: str, variant: str, size: int
    ) -> None:
        """One predict call ran a batch of ``size`` coalesced requests."""
        labels = (endpoint, model, version, variant)
        with self._lock:
            series = self._batches.get(labels)
            if series is None:
                series = self._batches[labels] = _Histogram(len(self.batch_buckets))
            series.counts[bisect_left(self.batch_buckets, size)] += 1
            series.sum += size

    def set_queue_depth(
        self, endpoint: str, model: str, version: str, variant: str, depth: int
    ) -> None:
        """How many requests wait for a batch now."""
        with self._lock:
            self._queue_depth[(endpoint, model, version, variant)] = depth

    def observe_model_load(
        self, endpoint: str, model: str, version: str, variant: str, seconds: float
    ) -> None:
        """Loading and warming ``version`` took ``seconds``."""
        with self._lock:
            self._load_seconds[(endpoint, model, version, variant)] = seconds

    def variant_totals(self, endpoint: str) -> dict[str, VariantTotals]:
        """Per variant of ``endpoint``, its requests so far (on the event loop, as the request
        path); requests that named their version (no variant) are left out."""
        totals: dict[str, tuple[int, int, list[int], float]] = {}
        for (name, _, _, variant, status), series in self._requests.items():
            if name != endpoint or not variant:
                continue
            count = sum(series.counts)
            requests, errors, buckets, seconds = totals.get(
                variant, (0, 0, [0] * len(series.counts), 0.0)
            )
            failed = count if status.isdigit() and int(status) >= 500 else 0
            merged = [a + b for a, b in zip(buckets, series.counts, strict=True)]
            totals[variant] = (requests + count, errors + failed, merged, seconds + series.sum)
        return {v: VariantTotals(r, e, tuple(b), s) for v, (r, e, b, s) in totals.items()}

    # -- the scrape ---------------------------------------------------------------------------

    def render(
        self,
        predlog: PredlogCounts | None = None,
        shadows: Sequence[tuple[str, int, int, int]] = (),
    ) -> bytes:
        """Every series in the Prometheus text exposition format, version 0.0.4; the prediction
        log's series when ``predlog`` is given; ``shadows`` as (endpoint, sent, dropped,
        failed)."""
        out: list[str] = []
        requests = sorted(self._requests.items())
        _family(
            out,
            "shipyard_requests_total",
            "counter",
            "Requests answered, by endpoint, model, version, variant and status.",
        )
        for labels, series in requests:
            out.append(
                _sample("shipyard_requests_total", _REQUEST_LABELS, labels, sum(series.counts))
            )
        _histogram(
            out,
            "shipyard_request_duration_seconds",
            "Time from the request's arrival to its answer, in seconds.",
            _REQUEST_LABELS,
            self.duration_buckets,
            requests,
        )
        _family(
            out, "shipyard_requests_in_flight", "gauge", "Requests being handled now, by endpoint."
        )
        for labels, count in sorted(self._in_flight.items()):
            out.append(_sample("shipyard_requests_in_flight", _FLIGHT_LABELS, labels, count))
        with self._lock:
            batches = sorted(self._batches.items())
            batch_copy = [(labels, list(s.counts), s.sum) for labels, s in batches]
            depth = sorted(self._queue_depth.items())
            loads = sorted(self._load_seconds.items())
        _histogram_values(
            out,
            "shipyard_batch_size",
            "Requests coalesced into one predict call.",
            _VERSION_LABELS,
            self.batch_buckets,
            batch_copy,
        )
        _family(out, "shipyard_queue_depth", "gauge", "Requests waiting for a batch.")
        for labels, value in depth:
            out.append(_sample("shipyard_queue_depth", _VERSION_LABELS, labels, value))
        _family(
            out,
            "shipyard_model_load_seconds",
            "gauge",
            "Seconds it took to load and warm the version.",
        )
        for labels, seconds in loads:
            out.append(_sample("shipyard_model_load_seconds", _VERSION_LABELS, labels, seconds))
        if predlog is not None:
            _predlog(out, predlog)
        if shadows:
            _family(
                out,
                "shipyard_shadow_requests_total",
                "counter",
                "Requests mirrored to a shadow variant: sent, dropped (saturated) or failed.",
            )
            for endpoint, *counts in shadows:
                for outcome, value in zip(("sent", "dropped", "failed"), counts, strict=True):
                    out.append(
                        _sample(
                            "shipyard_shadow_requests_total",
                            ("endpoint", "outcome"),
                            (endpoint, outcome),
                            value,
                        )
                    )
        out.append("")
        return "\n".join(out).encode()


def _predlog(out: list[str], counts: PredlogCounts) -> None:
    series = (
        ("written_total", "counter", "Prediction records committed to the log.", counts.written),
        ("pending", "gauge", "Prediction records appended, not yet committed.", counts.pending),
        (
            "failed_total",
            "counter",
            "Prediction records in failed commit attempts (each retry counts again).",
            counts.failed,
        ),
        (
            "dropped_total",
            "counter",
            "Prediction records not logged because the log's buffer stayed full.",
            counts.dropped,
        ),
        (
            "sampled_out_total",
            "counter",
            "Prediction records left out by a model's sampling rate.",
            counts.sampled_out,
        ),
    )
    for suffix, kind, help, value in series:
        name = f"shipyard_predlog_{suffix}"
        _family(out, name, kind, help)
        out.append(f"{name} {_number(value)}")


def _family(out: list[str], name: str, kind: str, help: str) -> None:
    out.append(f"# HELP {name} {help}")
    out.append(f"# TYPE {name} {kind}")


def _histogram(
    out: list[str],
    name: str,
    help: str,
    names: Sequence[str],
    buckets: Sequence[float],
    series: Iterable[tuple[Labels, _Histogram]],
) -> None:
    _histogram_values(
        out, name, help, names, buckets, [(labels, s.counts, s.sum) for labels, s in series]
    )


def _histogram_values(
    out: list[str],
    name: str,
    help: str,
    names: Sequence[str],
    buckets: Sequence[float],
    series: Iterable[tuple[Labels, list[int], float]],
) -> None:
    _family(out, name, "histogram", help)
    bounds = [*(_number(b) for b in buckets), "+Inf"]
    for labels, counts, total in series:
        base = _labels(names, labels)
        cumulative = 0
        for bound, count in zip(bounds, counts, strict=True):
            cumulative += count
            out.append(f'{name}_bucket{{{base},le="{bound}"}} {cumulative}')
        out.append(f"{name}_sum{{{base}}} {_number(total)}")
        out.append(f"{name}_count{{{base}}} {cumulative}")


def _sample(name: str, names: Sequence[str], labels: Labels, value: float) -> str:
    return f"{name}{{{_labels(names, labels)}}} {_number(value)}"


def _labels(names: Sequence[str], values: Labels) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)
