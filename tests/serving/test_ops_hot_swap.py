"""Hot swap under load: a real uvicorn server on loopback follows 20 alias moves made through
another Registry while clients keep sending requests, and not one request fails."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from _v2_helpers import per_feature, rows

from shipyard.registry.client import Registry
from shipyard.serving.background import BackgroundServer
from shipyard.serving.server import build_app

FLIPS = 20
CLIENTS = 4
SWITCH_TIMEOUT = 60.0  # generous: the switch time itself is measured by bench/bench_hot_swap.py


@pytest.mark.slow
def test_twenty_alias_flips_under_load_fail_no_request(
    registry_with_models: Any, churn_data: Any
) -> None:
    app = build_app(registry_with_models, ["churn@champion"], poll_interval=0.05)
    request = per_feature(rows(churn_data, 1))
    failures: list[str] = []
    answered: dict[str, int] = {}

    async def send(http: httpx.AsyncClient) -> str:
        """One request; returns the version that answered, records anything but a clean 200."""
        try:
            response = await http.post("/v2/models/churn/infer", json=request)
        except httpx.HTTPError as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            return ""
        if response.status_code != 200:
            failures.append(f"{response.status_code}: {response.text}")
            return ""
        ref = response.headers["x-shipyard-model-version"]
        if response.json()["model_version"] != ref.rpartition("/")[2]:
            failures.append(f"header {ref} but body {response.json()['model_version']}")
        answered[ref] = answered.get(ref, 0) + 1
        return ref

    async def load(http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await send(http)

    async def flip(http: httpx.AsyncClient) -> None:
        other = Registry(registry_with_models.settings)  # another writer, as the CLI would be
        loop = asyncio.get_running_loop()
        try:
            current = 1
            for _ in range(FLIPS):
                target = 2 if current == 1 else 1
                await asyncio.to_thread(other.set_alias, "churn", "champion", target)
                # The host served `current` until now, so a request started after the move
                # that answers with `target` shows the switch happened.
                deadline = loop.time() + SWITCH_TIMEOUT
                while await send(http) != f"churn/{target}":
                    assert loop.time() < deadline, f"no switch to churn/{target} in time"
                    await asyncio.sleep(0.01)
                current = target
        finally:
            other.close()

    async def main(base: str) -> None:
        limits = httpx.Limits(max_connections=CLIENTS + 1)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            assert await send(http) == "churn/1"
            stop = asyncio.Event()
            clients = [asyncio.create_task(load(http, stop)) for _ in range(CLIENTS)]
            try:
                await flip(http)
            finally:
                stop.set()
                await asyncio.gather(*clients)

    with BackgroundServer(app, loop="uvloop", ready_timeout=120) as base:
        asyncio.run(main(base))
    assert failures == []
    assert answered.get("churn/1", 0) > 0 and answered.get("churn/2", 0) > 0, answered
    assert sum(answered.values()) > 2 * FLIPS  # the clients kept sending throughout
    moves = registry_with_models.alias_history("churn", "champion")
    assert len(moves) == 1 + FLIPS
