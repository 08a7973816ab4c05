"""The gates a training config declares (``gates:``), read strictly."""

from __future__ import annotations

import dataclasses
from typing import Any

from shipyard.errors import ConfigError
from shipyard.training._readers import bound, items, metric_name, positive, section

__all__ = [
    "ChampionGate",
    "GatesConfig",
    "LatencyGate",
    "LoadGate",
    "MemoryGate",
    "MetricGate",
    "SliceGate",
    "parse_gates",
]


@dataclasses.dataclass(frozen=True)
class MetricGate:
    """An absolute threshold on the holdout score."""

    metric: str
    min: float | None = None
    max: float | None = None


@dataclasses.dataclass(frozen=True)
class ChampionGate:
    """Beat the current champion on the same holdout, as MLflow's ``MetricThreshold``: the change
    in the better direction must reach ``min_absolute_change`` and ``min_relative_change``."""

    metric: str
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    alias: str = "champion"


@dataclasses.dataclass(frozen=True)
class SliceGate:
    """The metric on every segment of ``feature`` stays within ``min``/``max``. Numeric features
    with more than 20 distinct values are cut into ``bins`` quantile bins; segments with fewer than
    ``min_rows`` rows (or one class, for ranking metrics) are reported but not judged."""

    feature: str
    metric: str
    min: float | None = None
    max: float | None = None
    bins: int = 4
    min_rows: int = 30


@dataclasses.dataclass(frozen=True)
class LatencyGate:
    """p99 of in-process predictions on the loaded version, in milliseconds."""

    p99_single_ms: float | None = None
    p99_batch_ms: float | None = None
    batch_rows: int = 100
    repeats: int = 100


@dataclasses.dataclass(frozen=True)
class MemoryGate:
    max_artifact_mb: float | None = None
    max_predict_mb: float | None = None
    """Peak memory allocated while predicting the holdout (up to 10,000 rows), via tracemalloc."""


@dataclasses.dataclass(frozen=True)
class LoadGate:
    """A short load test against a local server serving the loaded version over HTTP on
    loopback: at most ``requests`` requests of ``batch_rows`` rows, from ``concurrency``
    clients, for at most ``seconds``. Requests per second and p99 are recorded; ``min_rps`` and
    ``max_p99_ms`` are the pass bounds (neither: the figures are recorded, nothing judged)."""

    min_rps: float | None = None
    max_p99_ms: float | None = None
    requests: int = 200
    seconds: float = 10.0
    concurrency: int = 4
    batch_rows: int = 1


@dataclasses.dataclass(frozen=True)
class GatesConfig:
    metrics: tuple[MetricGate, ...] = ()
    champion: ChampionGate | None = None
    slices: tuple[SliceGate, ...] = ()
    latency: LatencyGate | None = None
    memory: MemoryGate | None = None
    load: LoadGate | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.metrics or self.champion or self.slices or self.latency or self.memory or self.load
        )


def parse_gates(value: Any, task: str) -> GatesConfig:
    value = section(value, "gates", GatesConfig)
    metrics = []
    for i, item in enumerate(items(value, "metrics")):
        where = f"gates.metrics[{i}]"
        item = section(item, where, MetricGate)
        metric = metric_name(item.get("metric"), f"{where}.metric", task)
        low, high = bound(item, "min", where), bound(item, "max", where)
        if low is None and high is None:
            raise ConfigError(f"{where}: give min or max (for example min: 0.8)")
        metrics.append(MetricGate(metric, low, high))
    champion = None
    if value.get("champion") is not None:
        item = section(value["champion"], "gates.champion", ChampionGate)
        champion = ChampionGate(
            metric=metric_name(item.get("metric"), "gates.champion.metric", task),
            min_absolute_change=bound(item, "min_absolute_change", "gates.champion"),
            min_relative_change=bound(item, "min_relative_change", "gates.champion"),
            alias=str(item.get("alias", "champion")),
        )
    slices = []
    for i, item in enumerate(items(value, "slices")):
        where = f"gates.slices[{i}]"
        item = section(item, where, SliceGate)
        if not isinstance(item.get("feature"), str):
            raise ConfigError(f"{where}.feature: name the column whose segments are compared")
        low, high = bound(item, "min", where), bound(item, "max", where)
        if low is None and high is None:
            raise ConfigError(f"{where}: give min or max, the bound every segment must meet")
        slices.append(
            SliceGate(
                item["feature"],
                metric_name(item.get("metric"), f"{where}.metric", task),
                low,
                high,
                int(positive(item, "bins", where, 4, integer=True) or 4),
                int(positive(item, "min_rows", where, 30, integer=True) or 30),
            )
        )
    latency = memory = None
    if value.get("latency") is not None:
        item = section(value["latency"], "gates.latency", LatencyGate)
        latency = LatencyGate(
            positive(item, "p99_single_ms", "gates.latency", None),
            positive(item, "p99_batch_ms", "gates.latency", None),
            int(positive(item, "batch_rows", "gates.latency", 100, integer=True) or 100),
            int(positive(item, "repeats", "gates.latency", 100, integer=True) or 100),
        )
    if value.get("memory") is not None:
        item = section(value["memory"], "gates.memory", MemoryGate)
        memory = MemoryGate(
            positive(item, "max_artifact_mb", "gates.memory", None),
            positive(item, "max_predict_mb", "gates.memory", None),
        )
    load = None
    if value.get("load") is not None:
        load = parse_load(value["load"])
    return GatesConfig(tuple(metrics), champion, tuple(slices), latency, memory, load)


def parse_load(value: Any) -> LoadGate:
    """``gates.load`` (``{}`` or ``true`` take the defaults: figures recorded, nothing judged)."""
    item = section({} if value is True else value, "gates.load", LoadGate)
    where = "gates.load"
    return LoadGate(
        min_rps=positive(item, "min_rps", where, None),
        max_p99_ms=positive(item, "max_p99_ms", where, None),
        requests=int(positive(item, "requests", where, 200, integer=True) or 200),
        seconds=float(positive(item, "seconds", where, 10.0) or 10.0),
        concurrency=int(positive(item, "concurrency", where, 4, integer=True) or 4),
        batch_rows=int(positive(item, "batch_rows", where, 1, integer=True) or 1),
    )
