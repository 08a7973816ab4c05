"""The management API under /api/v1: models and versions to read, aliases to move (audited with
the key's name), errors as {"error": ...} with the server's statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from _v2_helpers import client, lifespan, wait_ready

from shipyard.registry.keys import KeyStore
from shipyard.serving.server import build_app

Test = Callable[[Any], Awaitable[None]]


def serve(registry: Any, test: Test) -> None:
    app = build_app(registry, ["churn@champion"])

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            await test(http)

    asyncio.run(main())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_read_models_and_versions(registry_with_models: Any) -> None:
    _, read = KeyStore(registry_with_models.db).create(["read"], actor="tester")
    auth = bearer(read)

    async def test(http: Any) -> None:
        listed = await http.get("/api/v1/models", headers=auth)
        assert listed.status_code == 200
        assert listed.headers["content-type"] == "application/json"
        assert [m["name"] for m in listed.json()["models"]] == ["churn", "numeric"]
        model = (await http.get("/api/v1/models/churn", headers=auth)).json()
        assert model["name"] == "churn" and model["aliases"] == {"champion": 1}
        assert model["latest_version"] == 2
        versions = (await http.get("/api/v1/models/churn/versions/", headers=auth)).json()
        assert [v["ref"] for v in versions["versions"]] == ["churn/1", "churn/2"]
        assert versions["versions"][0]["aliases"] == ["champion"]

        missing = await http.get("/api/v1/models/fraud", headers=auth)
        assert missing.status_code == 404 and "no model named 'fraud'" in missing.json()["error"]
        assert (await http.get("/api/v1/models/Bad!", headers=auth)).status_code == 400
        nowhere = await http.get("/api/v1/things", headers=auth)
        assert nowhere.status_code == 404 and "/api/v1/models" in nowhere.json()["error"]
        wrong = await http.post("/api/v1/models", headers=auth)
        assert wrong.status_code == 403  # a POST under /api needs write, checked first

    serve(registry_with_models, test)


def test_move_an_alias_with_write_scope(registry_with_models: Any, churn_data: Any) -> None:
    keys = KeyStore(registry_with_models.db)
    _, writer = keys.create(["write", "read"], name="deploy-bot", actor="tester")
    _, reader = keys.create(["read"], actor="tester")
    path = "/api/v1/models/churn/aliases/champion"

    async def test(http: Any) -> None:
        denied = await http.put(path, json={"version": 2}, headers=bearer(reader))
        assert denied.status_code == 403 and "'write' scope" in denied.json()["error"]
        assert (await http.put(path, json={"version": 2})).status_code == 401
        moved = await http.put(path, json={"version": 2}, headers=bearer(writer))
        assert moved.status_code == 200, moved.text
        body = moved.json()
        assert (body["model"], body["alias"], body["from_version"], body["to_version"]) == (
            "churn",
            "champion",
            1,
            2,
        )
        assert body["actor"] == "deploy-bot"
        created = await http.put(
            "/api/v1/models/churn/aliases/canary", json={"version": 1}, headers=bearer(writer)
        )
        assert created.json()["from_version"] is None

        cases = [
            (b"{", 400, "not valid JSON"),
            (b"[]", 400, "positive integer version"),
            (b'{"version": "2"}', 400, "positive integer version"),
            (b'{"version": true}', 400, "positive integer version"),
            (b'{"version": 0}', 400, "positive integer version"),
            (b'{"version": 9}', 404, "has no version 9"),
        ]
        for content, status, message in cases:
            answer = await http.put(path, content=content, headers=bearer(writer))
            assert answer.status_code == status, (content, answer.text)
            assert message in answer.json()["error"]
        missing = await http.put(
            "/api/v1/models/fraud/aliases/champion", json={"version": 1}, headers=bearer(writer)
        )
        assert missing.status_code == 404
        bad_alias = await http.put(
            "/api/v1/models/churn/aliases/Bad!", json={"version": 1}, headers=bearer(writer)
        )
        assert bad_alias.status_code == 400
        get_alias = await http.get(path, headers=bearer(writer))
        assert get_alias.status_code == 405 and get_alias.headers["allow"] == "PUT"
        put_model = await http.put("/api/v1/models/churn", headers=bearer(writer))
        assert put_model.status_code == 405 and put_model.headers["allow"] == "GET"

    serve(registry_with_models, test)
    entries = registry_with_models.audit_log(subject="churn@champion")
    assert (entries[-1].action, entries[-1].actor) == ("alias.set", "deploy-bot")
    assert entries[-1].after == {"version": 2}
    assert registry_with_models.get_version("churn@champion").version == 2


def test_restricted_keys_see_only_their_models(registry_with_models: Any) -> None:
    _, token = KeyStore(registry_with_models.db).create(
        ["read", "write"], models=["numeric"], actor="tester"
    )
    auth = bearer(token)

    async def test(http: Any) -> None:
        listed = (await http.get("/api/v1/models", headers=auth)).json()["models"]
        assert [m["name"] for m in listed] == ["numeric"]
        assert (await http.get("/api/v1/models/numeric/versions", headers=auth)).is_success
        assert (await http.get("/api/v1/models/churn", headers=auth)).status_code == 403
        move = await http.put(
            "/api/v1/models/churn/aliases/champion", json={"version": 2}, headers=auth
        )
        assert move.status_code == 403

    serve(registry_with_models, test)


def test_without_keys_the_api_is_open_on_loopback(registry_with_models: Any) -> None:
    async def test(http: Any) -> None:
        moved = await http.put("/api/v1/models/numeric/aliases/canary", json={"version": 1})
        assert moved.status_code == 200
        assert moved.json()["actor"] == registry_with_models.actor  # the server's operator

    serve(registry_with_models, test)
