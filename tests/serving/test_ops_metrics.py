"""``GET /metrics``: the Prometheus text format (0.0.4) parses, and the values move."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.serving.metrics import Metrics
from shipyard.serving.server import build_app

FAMILIES = {
    "shipyard_requests_total": "counter",
    "shipyard_request_duration_seconds": "histogram",
    "shipyard_requests_in_flight": "gauge",
    "shipyard_batch_size": "histogram",
    "shipyard_queue_depth": "gauge",
    "shipyard_model_load_seconds": "gauge",
}
USAGE_FAMILIES = {  # serving/usage.py: the cost figures, rendered by the app after these
    "shipyard_inference_cpu_seconds_total": "counter",
    "shipyard_predictions_total": "counter",
    "shipyard_model_memory_bytes": "gauge",
    "shipyard_cost_per_1k_predictions_dollars": "gauge",
}
PREDLOG_FAMILIES = {  # only while the server records predictions (build_app's default)
    "shipyard_predlog_written_total": "counter",
    "shipyard_predlog_pending": "gauge",
    "shipyard_predlog_failed_total": "counter",
    "shipyard_predlog_dropped_total": "counter",
    "shipyard_predlog_sampled_out_total": "counter",
}
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"({_NAME})(?:\{{(.*)\}})? (\S+)")
_LABEL = re.compile(rf'({_NAME})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> tuple[dict[str, str], dict[Key, float]]:
    """A strict reader of the text exposition format: every sample belongs to a family declared
    by a TYPE line before it, labels are quoted and escaped, histogram buckets are cumulative and
    end with +Inf equal to the count. Returns the families' types and every sample's value."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: dict[Key, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"HELP twice for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
            continue
        assert line and not line.startswith("#"), f"unexpected line {line!r}"
        match = _SAMPLE.fullmatch(line)
        assert match, f"not a sample: {line!r}"
        name, body, value = match.groups()
        labels: dict[str, str] = {}
        rest = body or ""
        while rest:
            label = _LABEL.match(rest)
            assert label, f"bad labels in {line!r}"
            raw = label.group(2)
            labels[label.group(1)] = (
                raw.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            )
            rest = rest[label.end() :]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if types.get(family) != "histogram":
            family = name
        assert family in types, f"{name} has no TYPE line before it"
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"sample twice: {line!r}"
        samples[key] = float(value)
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
        for (sample, labels), value in samples.items():
            if sample == f"{name}_bucket":
                le = dict(labels)["le"]
                rest = frozenset((k, v) for k, v in labels if k != "le")
                series.setdefault(rest, []).append((float(le), value))
        for labels, buckets in series.items():
            buckets.sort()
            counts = [count for _, count in buckets]
            assert counts == sorted(counts), f"{name} buckets are not cumulative"
            assert buckets[-1][0] == float("inf")
            assert buckets[-1][1] == samples[(f"{name}_count", labels)]
            assert (f"{name}_sum", labels) in samples
    return types, samples


def value(samples: dict[Key, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_parse_and_move(registry_with_models: Any, churn_data: Any) -> None:
    app = build_app(registry_with_models, ["churn@champion", "numeric@champion"])
    request = per_feature(rows(churn_data, 2))
    routed = {"endpoint": "churn", "model": "churn", "variant": "main"}

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            first = await http.get("/metrics")
            assert first.status_code == 200
            assert first.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
            types, before = parse(first.text)
            assert types == FAMILIES | PREDLOG_FAMILIES | USAGE_FAMILIES
            for _ in range(3):
                ok = await http.post("/v2/models/churn/infer", json=request)
                assert ok.status_code == 200
            assert (await http.post("/v2/models/churn/infer", content=b"{")).status_code == 400
            pinned = await http.post("/v2/models/churn/versions/2/infer", json=request)
            assert pinned.status_code == 200
            assert (await http.get("/v2/models/nope")).status_code == 404
            _, after = parse((await http.get("/metrics")).text)

            total = "shipyard_requests_total"
            ok_labels = {**routed, "version": "1", "status": "200"}
            assert value(after, total, **ok_labels) - value(before, total, **ok_labels) == 3
            # A request that failed before a version answered has no version label.
            bad = {**routed, "version": "", "status": "400"}
            assert value(after, total, **bad) - value(before, total, **bad) == 1
            direct = {**routed, "variant": "", "version": "2", "status": "200"}
            assert value(after, total, **direct) == 1
            unrouted = {"endpoint": "", "model": "", "version": "", "variant": ""}
            assert value(after, total, **unrouted, status="404") == 1
            assert value(after, total, **unrouted, status="200") >= 2  # readiness, /metrics

            duration = "shipyard_request_duration_seconds"
            assert value(after, f"{duration}_count", **ok_labels) == value(
                after, total, **ok_labels
            )
            assert value(after, f"{duration}_sum", **ok_labels) > 0
            assert value(after, f"{duration}_bucket", **ok_labels, le="+Inf") == value(
                after, total, **ok_labels
            )
            flight = "shipyard_requests_in_flight"
            assert value(after, flight, endpoint="churn", model="churn") == 0
            assert value(after, flight, endpoint="", model="") == 1  # this scrape
            # One request at a time: each was a batch of one, counted per answering version.
            batch = "shipyard_batch_size"
            one = {**routed, "version": "1"}
            assert (
                value(after, f"{batch}_count", **one) - value(before, f"{batch}_count", **one) == 3
            )
            assert value(after, f"{batch}_sum", **one) == value(after, f"{batch}_count", **one)
            # The version asked for directly serves as no variant: its batch and load say so.
            direct_version = {**routed, "version": "2", "variant": ""}
            assert value(after, f"{batch}_count", **direct_version) == 1
            assert value(after, "shipyard_queue_depth", **{**routed, "version": ""}) == 0
            # Each served version reports how long its load and warm-up took.
            load = "shipyard_model_load_seconds"
            assert value(after, load, **{**routed, "version": "1"}) > 0
            assert value(after, load, **direct_version) > 0

    asyncio.run(main())


def test_hooks_for_the_batcher_and_hosts_render() -> None:
    metrics = Metrics()
    version = ("churn", "churn", "3", "main")
    for size in (1, 3, 3, 16, 5000):
        metrics.observe_batch(*version, size)
    metrics.set_queue_depth(*version, 7)
    metrics.observe_model_load(*version, 0.25)
    odd = 'a"b\\c\nd'
    metrics.observe_request(odd, "m", "1", "main", 200, 0.003)
    labels = metrics.enter("churn", "churn")
    metrics.leave(labels)
    types, samples = parse(metrics.render().decode())
    assert types == FAMILIES
    named = dict(zip(("endpoint", "model", "version", "variant"), version, strict=True))
    assert value(samples, "shipyard_batch_size_count", **named) == 5
    assert value(samples, "shipyard_batch_size_sum", **named) == 5023
    assert value(samples, "shipyard_batch_size_bucket", **named, le="1.0") == 1
    assert value(samples, "shipyard_batch_size_bucket", **named, le="4.0") == 3
    assert value(samples, "shipyard_batch_size_bucket", **named, le="1024.0") == 4
    assert value(samples, "shipyard_queue_depth", **named) == 7
    assert value(samples, "shipyard_model_load_seconds", **named) == 0.25
    escaped = {"endpoint": odd, "model": "m", "version": "1", "variant": "main", "status": "200"}
    assert value(samples, "shipyard_requests_total", **escaped) == 1
    assert value(samples, "shipyard_request_duration_seconds_bucket", **escaped, le="0.0025") == 0
    assert value(samples, "shipyard_request_duration_seconds_bucket", **escaped, le="0.005") == 1
    assert value(samples, "shipyard_requests_in_flight", endpoint="churn", model="churn") == 0
