"""An alias moved from another process's registry is picked up by a running server."""

from __future__ import annotations

import asyncio
from typing import Any

from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.registry.client import Registry
from shipyard.serving.server import build_app


def test_alias_move_is_followed(registry_with_models: Any, churn_data: Any) -> None:
    app = build_app(registry_with_models, ["churn@champion"], poll_interval=0.05)
    request = per_feature(rows(churn_data, 3))
    forest = registry_with_models.load("churn/2")

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            before = await http.post("/v2/models/churn/infer", json=request)
            assert before.headers["x-shipyard-model-version"] == "churn/1"
            other = Registry(registry_with_models.settings)  # as another process would
            try:
                await asyncio.to_thread(other.set_alias, "churn", "champion", 2)
            finally:
                other.close()
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                response = await http.post("/v2/models/churn/infer", json=request)
                assert response.status_code == 200, response.text
                if response.headers["x-shipyard-model-version"] == "churn/2":
                    break
                assert asyncio.get_running_loop().time() < deadline, "the swap never happened"
                await asyncio.sleep(0.02)
            body = response.json()
            assert body["model_version"] == "2"
            assert body["outputs"][0]["data"] == forest.predict(rows(churn_data, 3)).tolist()
            assert (await http.get("/v2/models/churn")).json()["versions"] == ["2"]

    asyncio.run(main())
