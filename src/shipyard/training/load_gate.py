"""The ``load`` gate: a short load test of the candidate behind a real HTTP server.

The version is served in this process by the same app ``shipyard serve`` runs, on a free
loopback port (:class:`~shipyard.serving.background.BackgroundServer`), through a throw-away
endpoint that is never written to the registry, so nothing that serves traffic changes and no
prediction is logged. ``concurrency`` httpx clients send holdout rows to ``/invocations`` until
``requests`` requests are done or ``seconds`` have passed; requests per second, p50/p99 latency
and errors are recorded, and judged against ``min_rps`` and ``max_p99_ms``.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.training.gates import GateResult

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion
    from shipyard.training.gate_config import LoadGate

__all__ = ["run_load_gate"]


def run_load_gate(
    gate: LoadGate, registry: Registry, version: ModelVersion, X: pd.DataFrame
) -> GateResult:
    """Serve ``version`` on loopback, load-test it with rows of ``X``, judge the figures."""
    from shipyard.registry.endpoints import MAIN, Endpoint, Variant
    from shipyard.serving.app import ServingApp
    from shipyard.serving.background import BackgroundServer
    from shipyard.serving.hosts import ModelHost

    now = datetime.now(UTC)
    name = f"{version.model}-load-gate-{uuid.uuid4().hex[:8]}"  # not in the store: not served
    endpoint = Endpoint(name, version.model, (Variant(MAIN, version.ref),), now, "gate", now)
    app = ServingApp({name: ModelHost(registry, endpoint, poll_interval=3600.0)})
    bodies = _bodies(X, gate.batch_rows)
    with BackgroundServer(app) as url:
        figures = _run(_hammer(f"{url}/invocations", bodies, gate))
    figures.update(
        {
            "batch_rows": gate.batch_rows,
            "concurrency": gate.concurrency,
            "min_rps": gate.min_rps,
            "max_p99_ms": gate.max_p99_ms,
        }
    )
    return _judge(gate, figures)


def _run(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """``asyncio.run``, in a thread of its own when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def _bodies(X: pd.DataFrame, batch_rows: int) -> list[bytes]:
    """Up to 50 request bodies of ``batch_rows`` holdout rows (missing values as null)."""
    import orjson

    rows = X.astype(object).where(X.notna(), None)
    records = rows.to_dict(orient="records")
    count = max(1, min(50, len(records) // batch_rows))
    return [
        orjson.dumps(
            {"dataframe_records": records[i * batch_rows : (i + 1) * batch_rows] or records[:1]},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        for i in range(count)
    ]


async def _hammer(url: str, bodies: list[bytes], gate: LoadGate) -> dict[str, Any]:
    import httpx
    import numpy as np

    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.monotonic() + gate.seconds
    headers = {"content-type": "application/json"}

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < gate.requests and time.monotonic() < deadline:
            body = bodies[issued % len(bodies)]
            issued += 1
            start = time.perf_counter()
            try:
                reply = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append((time.perf_counter() - start) * 1000.0)
            if reply.status_code != 200:
                errors.append(f"HTTP {reply.status_code}: {reply.text[:200]}")

    limits = httpx.Limits(max_connections=gate.concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        await http.post(url, content=bodies[0], headers=headers)  # warm-up, not counted
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(gate.concurrency)))
        elapsed = time.perf_counter() - started
    ok = len(latencies) - sum(e.startswith("HTTP") for e in errors)
    return {
        "requests": issued,
        "ok": ok,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": elapsed,
        "rps": ok / elapsed if elapsed > 0 else 0.0,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else math.nan,
        "p99_ms": float(np.percentile(latencies, 99)) if latencies else math.nan,
    }


def _judge(gate: LoadGate, figures: dict[str, Any]) -> GateResult:
    rps, p99 = figures["rps"], figures["p99_ms"]
    summary = f"{rps:.1f} requests/s, p99 {p99:.1f} ms over {figures['requests']} requests"
    failures = []
    if figures["errors"]:
        failures.append(f"{figures['errors']} request(s) failed (first: {figures['first_error']})")
    if gate.min_rps is not None and rps < gate.min_rps:
        failures.append(f"{rps:.1f} requests/s < {gate.min_rps:g}")
    if gate.max_p99_ms is not None and not p99 <= gate.max_p99_ms:
        failures.append(f"p99 {p99:.1f} ms > {gate.max_p99_ms:g} ms")
    if math.isnan(p99):
        figures["p50_ms"] = figures["p99_ms"] = None  # stored as JSON
    if failures:
        return GateResult("load", False, f"load test: {'; '.join(failures)}", figures)
    return GateResult("load", True, f"load test: {summary}", figures)
