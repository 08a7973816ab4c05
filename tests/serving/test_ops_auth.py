"""API keys on the server: 401 without a valid key, 403 without the scope or the model, health
probes open, revocation honoured within the cache time, and the rule for when auth applies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.errors import InvalidInputError
from shipyard.registry.client import Registry
from shipyard.registry.keys import KeyStore
from shipyard.serving.server import build_app, check_bind

Test = Callable[[Any], Awaitable[None]]


def serve(registry: Any, test: Test, **options: Any) -> None:
    app = build_app(registry, ["churn@champion", "numeric@champion"], **options)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)  # readiness is open, whatever the keys
            await test(http)

    asyncio.run(main())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_every_route_but_health_needs_a_valid_key(
    registry_with_models: Any, churn_data: Any
) -> None:
    request = per_feature(rows(churn_data, 2))
    _, token = KeyStore(registry_with_models.db).create(["admin"], actor="tester")

    async def test(http: Any) -> None:
        for path in ("/v2/health/live", "/v2/health/ready"):
            assert (await http.get(path)).status_code == 200
        for path in ("/ping", "/health"):  # MLflow's probes: open, whether served yet or not
            assert (await http.get(path)).status_code != 401
        missing = await http.post("/v2/models/churn/infer", json=request)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="shipyard"'
        assert "Authorization: Bearer" in missing.json()["error"]
        assert missing.headers["x-request-id"]
        for path in ("/v2", "/v2/models/churn", "/metrics", "/v2/models/nope", "/nowhere"):
            assert (await http.get(path)).status_code == 401, path  # 401 before 404
        basic = await http.get("/v2", headers={"authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401 and "invalid_request" in basic.headers["www-authenticate"]
        for wrong in ("shp_0123456789ab_nope", token[:-2], token + "x", ""):
            answer = await http.get("/v2", headers=bearer(wrong))
            assert answer.status_code == 401, wrong
        bogus = await http.get("/v2", headers=bearer("made-up"))
        assert 'error="invalid_token"' in bogus.headers["www-authenticate"]
        assert "not valid" in bogus.json()["error"]
        ok = await http.post("/v2/models/churn/infer", json=request, headers=bearer(token))
        assert ok.status_code == 200
        lower = {"authorization": f"bearer {token}"}  # the scheme is case-insensitive
        assert (await http.get("/metrics", headers=lower)).status_code == 200

    serve(registry_with_models, test)


def test_scopes_and_model_restrictions(registry_with_models: Any, churn_data: Any) -> None:
    keys = KeyStore(registry_with_models.db)
    _, predict = keys.create(["predict"], actor="tester")
    _, read = keys.create(["read"], actor="tester")
    _, numeric_only = keys.create(["predict", "read"], models=["numeric"], actor="tester")
    churn_request = per_feature(rows(churn_data, 2))
    numeric_request = per_feature(rows(churn_data, 2)[churn_data.numeric])

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        assert (await http.post(infer, json=churn_request, headers=bearer(predict))).is_success
        for path in ("/v2/models/churn", "/metrics", "/v2"):
            denied = await http.get(path, headers=bearer(predict))
            assert denied.status_code == 403, path
            assert "lacks the 'read' scope (it has: predict)" in denied.json()["error"]
            assert 'error="insufficient_scope", scope="read"' in denied.headers["www-authenticate"]
        no_predict = await http.post(infer, json=churn_request, headers=bearer(read))
        assert no_predict.status_code == 403 and "'predict' scope" in no_predict.json()["error"]
        for path in ("/v2/models/churn", "/metrics", "/v2"):
            assert (await http.get(path, headers=bearer(read))).status_code == 200, path

        numeric = await http.post(
            "/v2/models/numeric/infer", json=numeric_request, headers=bearer(numeric_only)
        )
        assert numeric.status_code == 200
        churn = await http.post(infer, json=churn_request, headers=bearer(numeric_only))
        assert churn.status_code == 403
        assert "may not use 'churn': it is restricted to numeric" in churn.json()["error"]
        assert (
            await http.get("/v2/models/churn/ready", headers=bearer(numeric_only))
        ).status_code == 403
        assert (await http.get("/metrics", headers=bearer(numeric_only))).status_code == 200

    serve(registry_with_models, test)


def test_metrics_can_be_open(registry_with_models: Any) -> None:
    KeyStore(registry_with_models.db).create(["predict"], actor="tester")

    async def test(http: Any) -> None:
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/v2/models/churn")).status_code == 401

    serve(registry_with_models, test, metrics_open=True)


def test_required_auth_without_keys_admits_nobody(registry_with_models: Any) -> None:
    async def test(http: Any) -> None:
        assert (await http.get("/v2/health/ready")).status_code == 200
        assert (await http.get("/v2/models/churn")).status_code == 401

    serve(registry_with_models, test, require_auth=True)


def test_revocation_applies_within_the_cache_time(
    registry_with_models: Any, churn_data: Any
) -> None:
    key, token = KeyStore(registry_with_models.db).create(["predict"], actor="tester")
    request = per_feature(rows(churn_data, 1))

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        assert (await http.post(infer, json=request, headers=bearer(token))).status_code == 200
        other = Registry(registry_with_models.settings)  # revoked from another process's view
        try:
            await asyncio.to_thread(KeyStore(other.db).revoke, key.key_id, "admin")
        finally:
            other.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            answer = await http.post(infer, json=request, headers=bearer(token))
            if answer.status_code == 401:
                break
            assert answer.status_code == 200, answer.text
            assert loop.time() < deadline, "the revoked key was still accepted after 60 s"
            await asyncio.sleep(0.05)

    serve(registry_with_models, test, auth_ttl=0.3)


def test_a_key_created_while_serving_turns_auth_on(
    registry_with_models: Any, churn_data: Any
) -> None:
    request = per_feature(rows(churn_data, 1))

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        assert (await http.post(infer, json=request)).status_code == 200  # no key exists: open
        _, token = await asyncio.to_thread(
            KeyStore(registry_with_models.db).create, ["predict"], actor="tester"
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while (await http.post(infer, json=request)).status_code != 401:
            assert loop.time() < deadline, "auth never turned on"
            await asyncio.sleep(0.05)
        assert (await http.post(infer, json=request, headers=bearer(token))).status_code == 200

    serve(registry_with_models, test, auth_ttl=0.3)


def test_binding_beyond_loopback_needs_a_key_or_insecure() -> None:
    check_bind("127.0.0.1", insecure=False)
    check_bind("0.0.0.0", insecure=False, have_keys=True)
    check_bind("0.0.0.0", insecure=True)
    with pytest.raises(InvalidInputError, match=r"no API keys exist.*keys create.*--insecure"):
        check_bind("10.1.2.3", insecure=False)
