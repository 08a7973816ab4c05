"""Prediction log throughput: records/s in buffered and durable mode, and the batch sizes the
group commit achieved.

    .venv/bin/python bench/bench_predlog.py [--records 50000] [--clients 64]

SQLite in a fresh temporary folder; PostgreSQL too when SHIPYARD_BENCH_POSTGRES_URL (or
SHIPYARD_TEST_POSTGRES_URL) is set (a scratch database is created and dropped). Buffered: one
thread appends single records as fast as it can, timed until close() has written them all.
Durable: CLIENTS asyncio tasks each await append_durable of one record at a time, as concurrent
requests of a server would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid

from _scratch import scratch_database

from shipyard.predlog import PredictionLog, PredictionRecord, PredictionStore


def _record(i: int) -> PredictionRecord:
    inputs = {f"f{j}": float(i + j) for j in range(20)} | {"plan": "pro", "region": "eu"}
    return PredictionRecord(f"req-{uuid.uuid4().hex}", 0, "churn", "churn", 1, inputs, i % 2,
                            {"0": 0.3, "1": 0.7}, latency_ms=1.5)  # fmt: skip


def _report(name: str, log: PredictionLog, n: int, seconds: float) -> None:
    mean = log.written / max(log.batches, 1)
    print(
        f"  {name:9s} {n / seconds:10,.0f} records/s  {log.batches:6d} batches  "
        f"mean batch {mean:7.1f}  largest {log.largest_batch}"
    )


def buffered(url: str, n: int) -> None:
    records = [_record(i) for i in range(n)]
    log = PredictionLog(PredictionStore(url), capacity=20_000, max_batch=2_000)
    start = time.perf_counter()
    for record in records:
        log.append(record, timeout=60)
    log.close()
    _report("buffered", log, n, time.perf_counter() - start)
    log.store.dispose()


def durable(url: str, n: int, clients: int) -> None:
    records = [_record(i) for i in range(n)]
    log = PredictionLog(PredictionStore(url), mode="durable", capacity=20_000, max_batch=2_000)

    async def main() -> None:
        it = iter(records)

        async def client() -> None:
            for record in it:
                await log.append_durable(record)

        await asyncio.gather(*(client() for _ in range(clients)))

    start = time.perf_counter()
    asyncio.run(main())
    seconds = time.perf_counter() - start
    log.close()
    _report(f"durable/{clients}", log, n, seconds)
    log.store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite (WAL, synchronous=FULL), {n} records of 22 features")
        buffered(f"sqlite:///{tmp}/b.db", n)
        durable(f"sqlite:///{tmp}/d1.db", n // 10, 1)
        durable(f"sqlite:///{tmp}/d.db", n, args.clients)
    pg = os.environ.get("SHIPYARD_BENCH_POSTGRES_URL") or os.environ.get(
        "SHIPYARD_TEST_POSTGRES_URL"
    )
    if pg:
        print(f"PostgreSQL, {n} records")
        with scratch_database(pg) as url:
            buffered(url, n)
        with scratch_database(pg) as url:
            durable(url, n // 10, 1)
        with scratch_database(pg) as url:
            durable(url, n, args.clients)


if __name__ == "__main__":
    main()
