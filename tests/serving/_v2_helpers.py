"""Helpers for the serving tests: the ASGI lifespan, an httpx client, request bodies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's ASGI lifespan around the block, as uvicorn does."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


def client(app: Any) -> Any:
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipyard")


async def wait_ready(http: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await http.get("/v2/health/ready")).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, "the server never became ready"
        await asyncio.sleep(0.02)


def rows(data: Any, n: int = 5, start: int = 0) -> Any:
    """The first ``n`` rows of the churn features, without missing values (JSON has no NaN)."""
    X = data.X.iloc[start : start + 200].dropna()
    return X.iloc[:n].reset_index(drop=True)


def per_feature(X: Any, **extra: Any) -> dict[str, Any]:
    """An infer request with one input per feature."""
    inputs = []
    for name in X.columns:
        column = X[name]
        if column.dtype.kind == "f":
            datatype, data = "FP64", [float(v) for v in column]
        elif column.dtype.kind in "iu":
            datatype, data = "INT64", [int(v) for v in column]
        else:
            datatype, data = "BYTES", [str(v) for v in column]
        inputs.append({"name": name, "datatype": datatype, "shape": [len(X)], "data": data})
    return {"inputs": inputs, **extra}
