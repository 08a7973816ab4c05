"""Adaptive micro-batching: coalescing, routing, the lone-request path and failures."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from shipyard.runtime.batcher import MicroBatcher
from shipyard.serving.frame import Frame
from shipyard.serving.predictor import Outputs


class Echo:
    """Labels are the input values; probabilities [v, -v]. Each call sleeps ``delay`` (in the
    worker thread) and is recorded; a value of -1 makes the whole call fail."""

    ref = "echo/1"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[list[int]] = []
        self.threads: set[str] = set()
        self.started = threading.Event()

    def predict_batch(self, frames: Sequence[Frame], *, proba: bool = True) -> Outputs:
        self.started.set()
        self.threads.add(threading.current_thread().name)
        values = np.concatenate([f.columns["x"] for f in frames])
        self.calls.append([f.n_rows for f in frames])
        time.sleep(self.delay)
        if (values == -1).any():
            raise RuntimeError("model failure")
        return Outputs(values.copy(), np.column_stack([values, -values]).astype(float), (0, 1))


def frame(*values: int) -> Frame:
    return Frame({"x": np.array(values, dtype=np.int64)}, len(values), f"r{values[0]}")


def test_a_lone_request_runs_at_once_in_the_models_thread() -> None:
    model = Echo()
    batcher = MicroBatcher("m", max_wait=5.0)  # a huge budget must not delay a lone request

    async def main() -> None:
        started = time.monotonic()
        out = await batcher.submit(model, frame(7))
        assert time.monotonic() - started < 2.0  # generous: timing belongs in the benchmark
        assert out.labels.tolist() == [7]
        assert out.probabilities is not None and out.probabilities.tolist() == [[7.0, -7.0]]

    asyncio.run(main())
    assert model.calls == [[1]] and batcher.last_batch_size == 1
    assert model.threads and all(name.startswith("shipyard-m") for name in model.threads)
    batcher.close()


def test_concurrent_requests_coalesce_and_get_their_own_rows() -> None:
    model = Echo(delay=0.05)
    sizes: list[int] = []
    depths: list[int] = []
    batcher = MicroBatcher(
        "m",
        max_batch_rows=64,
        on_batch=lambda m, size: sizes.append(size),
        on_queue_depth=depths.append,
    )

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit(model, frame(0)))
        while not model.started.is_set():  # the first batch is running in the worker
            await asyncio.sleep(0.001)
        rest = [batcher.submit(model, frame(i, 100 + i), proba=i % 2 == 0) for i in range(1, 11)]
        results = await asyncio.gather(first, *rest)
        assert results[0].labels.tolist() == [0]
        for i, out in enumerate(results[1:], start=1):
            assert out.labels.tolist() == [i, 100 + i]  # each request gets its own rows
            if i % 2 == 0:
                assert out.probabilities is not None
                assert out.probabilities.tolist() == [[i, -i], [100 + i, -100 - i]]
            else:  # it did not ask for probabilities
                assert out.probabilities is None

    asyncio.run(main())
    assert model.calls[0] == [1]
    assert max(len(call) for call in model.calls) > 1  # a batch coalesced several requests
    assert sum(sum(call) for call in model.calls) == 21
    assert sizes == [len(call) for call in model.calls]
    assert batcher.queue_depth == 0 and depths
    batcher.close()


def test_batches_respect_the_row_limit() -> None:
    model = Echo(delay=0.02)
    batcher = MicroBatcher("m", max_batch_rows=4)

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit(model, frame(0)))
        while not model.started.is_set():
            await asyncio.sleep(0.001)
        big = batcher.submit(model, frame(*range(1, 10)))  # over the limit: a batch of its own
        small = [batcher.submit(model, frame(i)) for i in range(20, 30)]
        results = await asyncio.gather(first, big, *small)
        assert results[1].labels.tolist() == list(range(1, 10))
        assert [r.labels.tolist() for r in results[2:]] == [[i] for i in range(20, 30)]

    asyncio.run(main())
    for call in model.calls:
        assert sum(call) <= 4 or call == [9]
    batcher.close()


def test_an_exception_fails_only_the_requests_of_its_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = Echo(delay=0.03)
    batcher = MicroBatcher("m")

    async def main() -> None:
        first = asyncio.ensure_future(batcher.submit(model, frame(1)))
        while not model.started.is_set():
            await asyncio.sleep(0.001)
        doomed = [batcher.submit(model, frame(v)) for v in (2, -1, 3)]  # one batch, one bad row
        results: list[Any] = await asyncio.gather(first, *doomed, return_exceptions=True)
        assert results[0].labels.tolist() == [1]  # the batch before is unaffected
        assert all(isinstance(r, RuntimeError) for r in results[1:])
        after = await batcher.submit(model, frame(4))  # and the next one works
        assert after.labels.tolist() == [4]

    asyncio.run(main())
    assert model.calls[1] == [1, 1, 1]
    failures = [r for r in caplog.records if "failed on a batch of 3" in r.getMessage()]
    assert failures and failures[0].exc_info is not None
    batcher.close()


def test_a_failing_metrics_hook_does_not_fail_predictions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(model: Any, size: int) -> None:
        raise ValueError("metrics down")

    batcher = MicroBatcher("m", on_batch=broken)
    out = asyncio.run(batcher.submit(Echo(), frame(5)))
    assert out.labels.tolist() == [5]
    assert any("hook failed" in r.getMessage() for r in caplog.records)
    batcher.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_rows"):
        MicroBatcher("m", max_batch_rows=0)
    with pytest.raises(ValueError, match="max_wait"):
        MicroBatcher("m", max_wait=-1)


def test_a_cheap_models_batches_run_inline_once_it_was_timed() -> None:
    """The first batch of a model runs in the thread and is timed; the next ones, being cheap,
    run inline on the event loop, lone, multi-row and concurrent alike."""
    model = Echo()
    batcher = MicroBatcher("m", inline_max_seconds=1.0)  # timing belongs in the benchmark

    async def main() -> None:
        for value in (1, 2, 3):
            out = await batcher.submit(model, frame(value))
            assert out.labels.tolist() == [value]
            assert out.probabilities is not None and out.probabilities.tolist() == [[value, -value]]
        assert batcher.inline_batches == 2
        assert model.threads == {"shipyard-m_0", threading.current_thread().name}
        model.threads.clear()
        two = await batcher.submit(model, frame(4, 5), proba=False)
        assert two.labels.tolist() == [4, 5] and two.probabilities is None
        together = await asyncio.gather(*(batcher.submit(model, frame(v)) for v in (6, 7, 8)))
        assert [o.labels.tolist() for o in together] == [[6], [7], [8]]
        assert batcher.last_batch_size == 3 and batcher.inline_batches == 4
        assert model.threads == {threading.current_thread().name}

    asyncio.run(main())
    batcher.close()


def test_a_batch_larger_than_the_timed_one_is_priced_by_its_rows() -> None:
    """One row took ~2 ms, so 64 rows are priced at ~128 ms, over the 100 ms budget: the
    thread; once 64 rows were timed (2 ms: the model's cost is per call), they run inline."""
    model = Echo(delay=0.002)
    batcher = MicroBatcher("m", inline_max_seconds=0.1)

    async def main() -> None:
        await batcher.submit(model, frame(1))  # timed in the thread
        await batcher.submit(model, frame(2))
        assert batcher.inline_batches == 1
        model.threads.clear()
        big = frame(*range(3, 67))
        assert (await batcher.submit(model, big)).labels.tolist() == list(range(3, 67))
        assert batcher.inline_batches == 1 and model.threads == {"shipyard-m_0"}
        await batcher.submit(model, frame(*range(3, 67)))
        assert batcher.inline_batches == 2

    asyncio.run(main())
    batcher.close()


def test_a_slow_model_never_runs_on_the_event_loop() -> None:
    model = Echo(delay=0.002)  # 2 ms: far over the inline budget

    batcher = MicroBatcher("m", inline_max_seconds=0.001)

    async def main() -> None:
        for value in range(4):
            assert (await batcher.submit(model, frame(value))).labels.tolist() == [value]

    asyncio.run(main())
    assert batcher.inline_batches == 0
    assert model.threads and all(name.startswith("shipyard-m") for name in model.threads)
    batcher.close()


def test_an_inline_failure_fails_only_its_request_and_sends_the_next_to_the_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = Echo()
    batcher = MicroBatcher("m", inline_max_seconds=1.0)  # timing belongs in the benchmark

    async def main() -> None:
        await batcher.submit(model, frame(1))  # timed in the thread
        with pytest.raises(RuntimeError, match="model failure"):
            await batcher.submit(model, frame(-1))  # inline, and failing
        assert batcher.inline_batches == 1
        model.threads.clear()
        assert (await batcher.submit(model, frame(2))).labels.tolist() == [2]
        assert model.threads == {"shipyard-m_0"}  # timed again, in the thread
        assert (await batcher.submit(model, frame(3))).labels.tolist() == [3]
        assert batcher.inline_batches == 2

    asyncio.run(main())
    assert "model failure" in caplog.text
    batcher.close()


def test_a_new_model_version_is_timed_before_it_runs_inline() -> None:
    old, new = Echo(), Echo()
    batcher = MicroBatcher("m", inline_max_seconds=1.0)  # timing belongs in the benchmark

    async def main() -> None:
        await batcher.submit(old, frame(1))
        await batcher.submit(old, frame(2))
        assert batcher.inline_batches == 1
        await batcher.submit(new, frame(3))  # a swap: the new version goes to the thread
        assert batcher.inline_batches == 1 and new.threads == {"shipyard-m_0"}
        await batcher.submit(new, frame(4))
        assert batcher.inline_batches == 2

    asyncio.run(main())
    batcher.close()
