"""Appends durable prediction records and prints each id once its commit is acknowledged.

    python _predlog_worker.py URL COUNT CONCURRENCY

The test SIGKILLs this process mid-stream: every id printed must be in the store.
"""

from __future__ import annotations

import asyncio
import sys

from shipyard.predlog import PredictionLog, PredictionRecord, PredictionStore


async def _main(url: str, count: int, concurrency: int) -> None:
    log = PredictionLog(PredictionStore(url), mode="durable", capacity=64, max_batch=32)
    ids = iter(range(count))

    async def client() -> None:
        for i in ids:
            record = PredictionRecord(
                f"req-{i}", 0, "churn", "churn", 1, {"tenure": i, "plan": "pro"}, i % 2
            )
            await log.submit(record)
            sys.stdout.write(f"{record.request_id}\n")
            sys.stdout.flush()

    print("ready", flush=True)
    await asyncio.gather(*(client() for _ in range(concurrency)))
    await log.aclose()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
