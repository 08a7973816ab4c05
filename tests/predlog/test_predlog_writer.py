"""The group-commit writer: buffered and durable modes, backpressure, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
import pytest
import sqlalchemy as sa

from shipyard.errors import InvalidInputError
from shipyard.predlog import (
    LogClosedError,
    LogFullError,
    PredictionLog,
    PredictionLogError,
    PredictionRecord,
    PredictionStore,
    ServedRequest,
)
from shipyard.serving.frame import Frame
from shipyard.serving.predictor import Outputs


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionStore]:
    s = PredictionStore(database_url)
    yield s
    s.dispose()


def _record(i: int) -> PredictionRecord:
    return PredictionRecord(f"req-{i}", 0, "churn", "churn", 1, {"tenure": i}, i % 2)


def _wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_buffered_records_are_written_within_the_interval_without_a_flush(
    store: PredictionStore,
) -> None:
    log = PredictionLog(store, flush_interval=0.2, max_batch=1000)
    log.append(*[_record(i) for i in range(10)])
    assert log.pending == 10
    assert _wait_for(lambda: store.count() == 10)
    assert log.written == 10 and log.pending == 0 and log.failed == 0
    log.close()


def test_a_graceful_close_writes_everything(store: PredictionStore) -> None:
    log = PredictionLog(store, flush_interval=3600, max_batch=100_000)
    for i in range(2500):
        log.append(_record(i))
    log.close()
    assert store.count() == 2500
    with pytest.raises(LogClosedError):
        log.append(_record(9999))


def test_concurrent_durable_appends_share_commits(store: PredictionStore) -> None:
    log = PredictionLog(store, mode="durable", flush_interval=3600)

    async def main() -> None:
        await asyncio.gather(*(log.submit(_record(i)) for i in range(300)))
        assert log.written == 300  # every acknowledged record is committed

    asyncio.run(main())
    assert store.count() == 300
    assert log.batches < 300 and log.largest_batch > 1
    log.close()


def test_a_full_buffer_blocks_appends_and_drops_nothing(store: PredictionStore) -> None:
    log = PredictionLog(store, capacity=5, max_batch=5, flush_interval=0.01)
    with store.engine.connect() as blocker:
        blocker = blocker.execution_options(shipyard_write=True)
        blocker.begin()  # SQLite: BEGIN IMMEDIATE holds the write lock
        if store.dialect == "postgresql":
            blocker.execute(sa.text("LOCK TABLE predictions IN EXCLUSIVE MODE"))
        log.append(*[_record(i) for i in range(5)])
        assert _wait_for(lambda: log.pending == 5 and log._queued == 0)  # the batch is stuck
        with pytest.raises(LogFullError, match="buffer full"):
            log.append(_record(5), timeout=0.2)

        async def main() -> None:
            waiting = asyncio.ensure_future(log.append_async(_record(6), timeout=60))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # awaiting space, not dropped and not blocking the loop
            blocker.rollback()
            await waiting

        asyncio.run(main())
    log.close()
    with store.read() as conn:
        ids = set(conn.execute(sa.text("SELECT request_id FROM predictions")).scalars())
    assert ids == {f"req-{i}" for i in (0, 1, 2, 3, 4, 6)}  # req-5's caller got the error


class _FlakyStore(PredictionStore):
    """The real store, whose first ``failures`` commits fail as if the database were down."""

    failures = 3

    def insert_tuples(self, params: Sequence[tuple[Any, ...]]) -> None:
        if self.failures:
            self.failures -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))
        super().insert_tuples(params)


def test_failed_writes_are_counted_and_retried(database_url: str) -> None:
    store = _FlakyStore(database_url)
    log = PredictionLog(store, mode="durable", retry_initial=0.01)
    log.append_durable_sync(*[_record(i) for i in range(4)], timeout=30)
    assert store.count() == 4
    assert log.failed == 12 and log.written == 4 and log.last_error is None
    log.close()
    store.dispose()


def test_close_names_the_records_it_could_not_write(database_url: str) -> None:
    store = _FlakyStore(database_url)
    store.failures = 10**9
    log = PredictionLog(store, retry_initial=0.01, retry_max=0.05)
    log.append(*[_record(i) for i in range(3)])
    with pytest.raises(PredictionLogError, match="3 prediction records could not be written"):
        log.close(timeout=0.5)
    assert log.failed > 0 and "connection refused" in (log.last_error or "")
    store.dispose()


def _served(i: int, label: Any = None) -> ServedRequest:
    frame = Frame(None, 2, f"srv-{i}", matrix=np.array([[i, 1.0], [i, 2.0]]), names=("x", "y"))
    labels = np.array([i, i + 1]) if label is None else np.array([label, label], dtype=object)
    outputs = Outputs(labels, np.array([[0.25, 0.75], [0.5, 0.5]]), ("no", "yes"))
    return ServedRequest(f"srv-{i}", frame, outputs, "churn", "churn", 3)


def _rows(store: PredictionStore) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        query = "SELECT request_id, row_index, inputs, label, probabilities FROM predictions"
        return sorted(tuple(r) for r in conn.execute(sa.text(query)))


def test_served_requests_are_written_as_rows_by_the_writer(store: PredictionStore) -> None:
    """The server's path: a request offered whole (buffered) or submitted (durable) lands as
    one row per answered row, made by the writer thread."""
    log = PredictionLog(store, flush_interval=0.05)
    assert log.offer(_served(1))
    assert log.flush(timeout=30) and log.written == 2
    durable = PredictionLog(store, mode="durable")
    asyncio.run(durable.submit_served(_served(2)))
    assert durable.written == 2 and durable.pending == 0
    rows = _rows(store)
    assert [r[:2] for r in rows] == [("srv-1", 0), ("srv-1", 1), ("srv-2", 0), ("srv-2", 1)]
    assert orjson.loads(rows[1][2]) == {"x": 1.0, "y": 2.0} and orjson.loads(rows[1][3]) == 2
    assert orjson.loads(rows[0][4]) == {"no": 0.25, "yes": 0.75}
    log.configure_model("churn", {"shipyard.log.sample_rate": "0"})
    assert log.offer(_served(3)) and log.sampled_out == 2  # left out, and counted
    log.close()
    durable.close()
    assert len(_rows(store)) == 4


def test_a_served_request_whose_rows_cannot_be_made_fails_alone(
    store: PredictionStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A value the store cannot hold (the server validates first, so only a bug) fails that
    request's rows: counted, logged, its durable caller told; the rest of the batch is written
    and a flush still returns."""
    log = PredictionLog(store, mode="durable")

    async def main() -> None:
        results = await asyncio.gather(
            log.submit_served(_served(1)),
            log.submit_served(_served(2, label=object())),
            log.submit_served(_served(3)),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], InvalidInputError)

    asyncio.run(main())
    assert log.flush(timeout=30)
    assert log.failed == 2 and log.written == 4
    assert "srv-2 not logged" in caplog.text
    assert {r[0] for r in _rows(store)} == {"srv-1", "srv-3"}
    log.close()
