"""The usage meter: counters per version, residency, the shares of the requests, /metrics, the
batcher's CPU-time hook and the load footprint."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from shipyard.monitoring.cost import GIB, Prices, cost_of
from shipyard.runtime.batcher import MicroBatcher
from shipyard.serving.frame import Frame
from shipyard.serving.predictor import Outputs
from shipyard.serving.usage import UsageMeter, measure_load, rss_bytes

MIB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loaded:
    """Stands for a predictor: the meter only holds a weak reference to it."""


def test_intervals_count_residency_and_share_the_requests() -> None:
    clock = Clock()
    meter = UsageMeter(cpu_request=2.0, memory_request_bytes=int(GIB), replica="r1", clock=clock)
    meter.variant_of = lambda endpoint, version: "main" if version == 1 else "canary"
    one, two = Loaded(), Loaded()
    meter.loaded("churn", one, "churn", 1, 100 * MIB)
    clock.now += 10
    meter.loaded("churn", two, "churn", 2, 50 * MIB)
    meter.record("churn", "churn", 1, 3, 30, 0.3)
    meter.record("churn", "churn", 2, 1, 10, 0.1)
    meter.record("churn", "churn", 1, 1, 0, 0.0)
    clock.now += 50
    first = {row.version: row for row in meter.take()}
    assert set(first) == {1, 2}
    v1, v2 = first[1], first[2]
    assert (v1.requests, v1.predictions, v1.cpu_seconds) == (4, 30, pytest.approx(0.3))
    assert (v1.resident_seconds, v2.resident_seconds) == (60.0, 50.0)
    assert (v1.memory_bytes, v2.memory_bytes) == (100 * MIB, 50 * MIB)
    # the endpoint's 2 vCPUs and 1 GiB are shared by predictions answered: 30 to 10
    assert (v1.cpu_request, v2.cpu_request) == (1.5, 0.5)
    assert (v1.memory_request_bytes, v2.memory_request_bytes) == (int(0.75 * GIB), GIB // 4)
    assert (v1.variant, v2.variant, v1.replica) == ("main", "canary", "r1")
    assert v1.start == datetime.fromtimestamp(1000.0, UTC)
    assert v1.end == v2.end == datetime.fromtimestamp(1060.0, UTC)
    assert meter.memory() == {("churn", "churn", 1): 100 * MIB, ("churn", "churn", 2): 50 * MIB}

    clock.now += 30
    del one
    gc.collect()  # version 1 is unloaded: resident for 30 more seconds only
    assert meter.memory() == {("churn", "churn", 2): 50 * MIB}
    clock.now += 30
    second = {row.version: row for row in meter.take()}
    assert second[1].resident_seconds == 30.0 and second[2].resident_seconds == 60.0
    assert second[1].predictions == 0 and second[1].start == v1.end
    # nobody answered anything: shared by resident time, 30 to 60
    assert second[1].cpu_request == pytest.approx(2.0 / 3)
    assert second[2].cpu_request == pytest.approx(4.0 / 3)
    clock.now += 60
    assert [row.version for row in meter.take()] == [2]  # version 1 is gone for good
    del two  # (held until here: a loaded version stays resident)


def test_render_reports_cpu_memory_and_cost_per_1k() -> None:
    clock = Clock()
    prices = Prices(vcpu_hour=0.036, gib_hour=0.0036)
    meter = UsageMeter(prices=prices, clock=clock)
    meter.variant_of = lambda endpoint, version: "main"
    loaded = Loaded()
    meter.loaded("churn", loaded, "churn", 3, 64 * MIB)
    meter.record("churn", "churn", 3, 10, 500, 0.25)
    clock.now += 30
    meter.take()
    meter.record("churn", "churn", 3, 10, 500, 0.25)
    clock.now += 30
    text = meter.render()
    assert text.endswith("\n")
    labels = 'endpoint="churn",model="churn",version="3",variant="main"'
    samples = dict(re.findall(r"^(\S+) (\S+)$", text, re.M))
    assert float(samples[f"shipyard_inference_cpu_seconds_total{{{labels}}}"]) == 0.5
    assert float(samples[f"shipyard_predictions_total{{{labels}}}"]) == 1000
    assert float(samples[f"shipyard_model_memory_bytes{{{labels}}}"]) == 64 * MIB
    total = meter.totals()[("churn", "churn", 3)]
    assert total.resident_seconds == 60.0 and total.predictions == 1000
    expected = cost_of(total, prices)
    # by hand: 0.5 CPU-s x 1e-5 + (64 MiB x 60 s) x 1e-6 per GiB-s, per 1,000 predictions
    assert expected.per_1k_usage == pytest.approx(0.5e-5 + 60 * 0.0625e-6)
    name = "shipyard_cost_per_1k_predictions_dollars"
    usage = float(samples[f'{name}{{{labels},basis="usage"}}'])
    allocation = float(samples[f'{name}{{{labels},basis="allocation"}}'])
    assert usage == pytest.approx(expected.per_1k_usage)
    assert allocation == pytest.approx(expected.per_1k_allocation)
    assert allocation > usage  # 1 vCPU granted for 60 s, 0.5 CPU-s used
    assert "# TYPE shipyard_inference_cpu_seconds_total counter" in text
    del loaded  # (held until here: the memory gauge shows loaded versions only)


class _Busy:
    """A model whose predict call burns about 5 ms of CPU per call."""

    ref = "busy/1"

    def predict_batch(self, frames: Sequence[Frame], *, proba: bool = True) -> Outputs:
        started = time.thread_time()
        while time.thread_time() - started < 0.005:
            pass
        rows = sum(f.n_rows for f in frames)
        return Outputs(np.zeros(rows))


def test_the_batcher_reports_thread_cpu_time_per_batch() -> None:
    seen: list[tuple[object, int, int, float]] = []
    model = _Busy()

    async def main() -> None:
        batcher = MicroBatcher("busy")
        batcher.on_usage = lambda m, requests, rows, cpu: seen.append((m, requests, rows, cpu))
        frames = [Frame({"x": np.zeros(n)}, n, f"r{n}") for n in (1, 2, 3)]
        try:
            await asyncio.gather(*(batcher.submit(model, f) for f in frames))
            await batcher.submit(model, Frame({"x": np.zeros(4)}, 4, "r4"))
        finally:
            batcher.close()

    asyncio.run(main())
    assert all(m is model for m, *_ in seen)
    assert sum(requests for _, requests, _, _ in seen) == 4
    assert sum(rows for _, _, rows, _ in seen) == 10
    assert all(cpu >= 0.005 for *_, cpu in seen)  # the thread's CPU time, at least the burn


def test_a_hook_that_fails_does_not_fail_the_prediction() -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("meter down")

    async def main() -> Outputs:
        batcher = MicroBatcher("busy")
        batcher.on_usage = broken
        try:
            return await batcher.submit(_Busy(), Frame({"x": np.zeros(2)}, 2, "r"))
        finally:
            batcher.close()

    assert len(asyncio.run(main()).labels) == 2


def test_measure_load_sees_numpy_memory() -> None:
    if rss_bytes() is None:
        pytest.skip("no way to read the resident set size here")
    with measure_load() as footprint:
        block = np.ones(64 * MIB // 8)  # written, so its pages are resident
    assert footprint.bytes >= 48 * MIB
    assert block.nbytes == 64 * MIB
