"""``/api/v1/endpoints`` and the rollout routes: list, create, show, start, status and the
operator actions, with the read/write scopes, JSON errors naming the field, and the server
routing by the change it made (the canary's variant is in ``x-shipyard-variant``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.registry.keys import KeyStore
from shipyard.serving.server import build_app

Test = Callable[[Any], Awaitable[None]]


def serve(registry: Any, test: Test) -> None:
    app = build_app(registry, ["churn@champion"], poll_interval=0.05, rollout_interval=None)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            await test(http)

    asyncio.run(main())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_endpoints_and_a_canary_over_the_api(registry_with_models: Any, churn_data: Any) -> None:
    keys = KeyStore(registry_with_models.db)
    _, read = keys.create(["read", "predict"], actor="tester", name="reader")
    _, write = keys.create(["write", "read", "predict"], actor="tester", name="deployer")
    request = per_feature(rows(churn_data, 1))

    async def test(http: Any) -> None:
        listed = (await http.get("/api/v1/endpoints", headers=bearer(read))).json()
        assert [e["name"] for e in listed["endpoints"]] == ["churn"]
        made = await http.post(
            "/api/v1/endpoints", json={"name": "other", "model": "numeric"}, headers=bearer(write)
        )
        assert made.status_code == 201 and made.json()["variants"][0]["ref"] == "numeric@champion"
        denied = await http.post(
            "/api/v1/endpoints/churn/rollout", json={"version": 2}, headers=bearer(read)
        )
        assert denied.status_code == 403
        started = await http.post(
            "/api/v1/endpoints/churn/rollout",
            json={"version": 2, "mode": "canary", "share": 50, "plan": {"min_bake": "1h"}},
            headers=bearer(write),
        )
        assert started.status_code == 201, started.text
        assert started.json()["weight"] == 50 and started.json()["created_by"] == "deployer"
        shown = (await http.get("/api/v1/endpoints/churn", headers=bearer(read))).json()
        assert shown["policy"] == "canary" and shown["rollout"]["candidate_version"] == 2
        # the running app routes by it within its next polls
        seen: set[str] = set()
        for _ in range(2000):
            reply = await http.post("/v2/models/churn/infer", json=request, headers=bearer(read))
            assert reply.status_code == 200
            seen.add(
                f"{reply.headers['x-shipyard-variant']} {reply.headers['x-shipyard-model-version']}"
            )
            if len(seen) == 2:
                break
            await asyncio.sleep(0.01)
        assert seen == {"main churn/1", "candidate churn/2"}
        status = (await http.get("/api/v1/endpoints/churn/rollout", headers=bearer(read))).json()
        assert status["status"] == "running"
        paused = await http.post("/api/v1/endpoints/churn/rollout/pause", headers=bearer(write))
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        back = await http.post("/api/v1/endpoints/churn/rollout/rollback", headers=bearer(write))
        assert back.json()["status"] == "rolled_back"
        again = await http.post("/api/v1/endpoints/churn/rollout/promote", headers=bearer(write))
        assert again.status_code == 409 and "no active rollout" in again.json()["error"]

    serve(registry_with_models, test)


def test_bad_requests_are_4xx_naming_the_field(registry_with_models: Any) -> None:
    async def test(http: Any) -> None:
        cases = [
            ("POST", "/api/v1/endpoints", b"[]", 400, "JSON object"),
            ("POST", "/api/v1/endpoints", b"{", 400, "not valid JSON"),
            ("POST", "/api/v1/endpoints", b'{"name": "x"}', 400, '"model"'),
            ("POST", "/api/v1/endpoints", b'{"name": "churn", "model": "churn"}', 409, "exists"),
            (
                "POST", "/api/v1/endpoints",
                b'{"name": "ghost", "model": "churn", "ref": "churn/99999"}', 404, "99999",
            ),
            ("GET", "/api/v1/endpoints/nope", b"", 404, "no endpoint named 'nope'"),
            ("POST", "/api/v1/endpoints/churn/rollout", b'{"version": 0}', 400, '"version"'),
            ("POST", "/api/v1/endpoints/churn/rollout", b'{"version": 9}', 404, "no version 9"),
            (
                "POST", "/api/v1/endpoints/churn/rollout", b'{"version": 2, "mode": "x"}', 400,
                '"mode"',
            ),
            (
                "POST", "/api/v1/endpoints/churn/rollout",
                b'{"version": 2, "plan": {"steps": [50]}}', 400, "plan.steps",
            ),
            (
                "POST", "/api/v1/endpoints/churn/rollout",
                b'{"version": 2, "mode": "ab", "key": "nope"}', 400, "invalid A/B key",
            ),
            ("GET", "/api/v1/endpoints/churn/rollout", b"", 404, "has no rollout yet"),
            ("PUT", "/api/v1/endpoints/churn/rollout", b"", 405, "GET, POST"),
            ("GET", "/api/v1/endpoints/churn/rollout/promote", b"", 405, "POST"),
            ("POST", "/api/v1/endpoints/churn/rollout/explode", b"", 404, "no route"),
        ]  # fmt: skip
        for method, path, body, status, message in cases:
            reply = await http.request(method, path, content=body)
            assert reply.status_code == status, (method, path, reply.text)
            assert message in reply.json()["error"], (path, reply.text)

    serve(registry_with_models, test)


def test_feedback_is_404_while_the_log_is_off(registry_with_models: Any) -> None:
    from dataclasses import replace

    from shipyard.registry.client import Registry

    registry = Registry(replace(registry_with_models.settings, predlog_mode="off"))

    async def test(http: Any) -> None:
        reply = await http.post("/api/v1/feedback", json={"request_id": "x", "value": 1})
        assert reply.status_code == 404 and "prediction log is off" in reply.json()["error"]

    try:
        serve(registry, test)
    finally:
        registry.close()
