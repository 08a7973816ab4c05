"""``GET /openapi.json`` and ``GET /docs``: a valid document covering every route, per-model
request schemas whose examples the server accepts, and a docs page with no external asset."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _v2_helpers import client, lifespan, wait_ready

from shipyard.registry.keys import KeyStore
from shipyard.serving.server import build_app

OIP_SCHEMA = Path(__file__).resolve().parents[2] / ".." / "shared" / "schemas" / "oip"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _fetch(registry: Any, *paths: str, headers: dict[str, str] | None = None) -> list[Any]:
    app = build_app(registry, ["churn@champion", "numeric@champion"])

    async def main() -> list[Any]:
        async with lifespan(app), client(app) as http:
            await wait_ready(http)
            return [await http.get(path, headers=headers) for path in paths]

    return asyncio.run(main())


def _document(registry: Any) -> dict[str, Any]:
    (response,) = _fetch(registry, "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def test_the_document_is_valid_openapi_and_covers_every_route(registry_with_models: Any) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = _document(registry_with_models)
    validator.validate(document)
    assert document["openapi"].startswith("3.1")
    app = build_app(registry_with_models, ["churn@champion", "numeric@champion"])
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    expected = {(path, m) for path, methods in app._routes.items() for m in methods}
    for name in app.hosts:
        for tables, prefix in ((app._model_routes, "/v2"), (app._v1_model_routes, "/v1")):
            for rest, methods in tables.items():
                for base in (
                    f"{prefix}/models/{name}",
                    f"{prefix}/models/{name}/versions/{{version}}",
                ):
                    path = base + "".join(p if p.startswith(":") else f"/{p}" for p in rest)
                    expected |= {(path, m) for m in methods}
    expected |= {(f"/api/v1/models/{name}/explain", "POST") for name in app.hosts}
    expected |= {(path, m) for path, m in _api_routes() if "{action}" not in path}
    expected |= {
        (path.replace("{action}", action), m)
        for path, m in _api_routes()
        if "{action}" in path
        for action in ("promote", "rollback", "pause", "resume")
    }
    assert expected - documented == set()
    assert documented - expected == set()


def _api_routes() -> set[tuple[str, str]]:
    """The ``/api/v1`` routes as the management API's own 404 message lists them, each with
    the methods its 405 answer allows: read from the server, not restated here."""
    from shipyard.serving.management import ApiError, Management

    management = Management.__new__(Management)  # handle() routes before it touches a store

    async def empty() -> bytes:
        return b""

    async def allowed(path: str) -> set[str]:
        try:
            await management.handle("TRACE", path, empty, None)
        except ApiError as exc:
            assert exc.status == 405, (path, str(exc))
            return set(dict(exc.headers)[b"allow"].decode().split(", "))
        raise AssertionError(f"TRACE {path} was answered")

    async def listed() -> set[tuple[str, str]]:
        try:
            await management.handle("GET", "/api/v1/no-such-route", empty, None)
        except ApiError as exc:
            message = str(exc)
        else:
            raise AssertionError("an unknown /api/v1 route was answered")
        listing = message.partition(";")[2]  # after "no route PATH;"
        paths = set(re.findall(r"/api/v1[a-z/{}|]*", listing))
        paths = {p.replace("{promote|rollback|pause|resume}", "{action}") for p in paths}
        routes = set()
        for path in paths:
            probe = path.replace("{name}", "churn").replace("{alias}", "champion")
            probe = probe.replace("{action}", "promote")
            routes |= {(path, m) for m in await allowed(probe)}
        return routes

    routes = asyncio.run(listed())
    assert ("/api/v1/feedback", "POST") in routes
    return routes


def test_security_error_shapes_and_open_health_routes(registry_with_models: Any) -> None:
    document = _document(registry_with_models)
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    assert document["security"] == [{"bearer": []}]
    responses = document["components"]["responses"]
    for status in (400, 401, 403, 404, 405, 413, 422, 503):
        assert f"Error{status}" in responses
    paths = document["paths"]
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        assert paths[path]["get"]["security"] == []
        assert "401" not in paths[path]["get"]["responses"]
    infer = paths["/v2/models/churn/infer"]["post"]
    assert {"200", "400", "401", "403", "413", "422", "503"} <= set(infer["responses"])
    invocations = paths["/invocations"]["post"]["responses"]
    assert invocations["415"] == {"$ref": "#/components/responses/MlflowError415"}
    assert "security" not in paths["/metrics"]["get"]  # the global bearer requirement applies


def test_request_schemas_come_from_each_models_signature(
    registry_with_models: Any, churn_data: Any
) -> None:
    document = _document(registry_with_models)
    body = document["paths"]["/v2/models/numeric/infer"]["post"]["requestBody"]
    per_feature = body["content"]["application/json"]["schema"]["anyOf"][0]
    tensors = per_feature["properties"]["inputs"]["prefixItems"]
    assert [t["properties"]["name"]["const"] for t in tensors] == list(churn_data.numeric)
    records = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    first = records["application/json"]["schema"]["anyOf"][0]["anyOf"][0]
    record = first["properties"]["dataframe_records"]["items"]
    assert set(record["required"]) == set(churn_data.X.columns)
    assert record["properties"]["contract"]["type"] == "string"
    assert record["properties"]["tenure_months"]["type"] == "integer"


def test_every_example_validates_and_the_server_accepts_it(registry_with_models: Any) -> None:
    document = _document(registry_with_models)
    app = build_app(registry_with_models, ["churn@champion", "numeric@champion"])
    examples = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type, media in content.items():
                values = [e["value"] for e in media.get("examples", {}).values()]
                values += [media["example"]] if "example" in media else []
                success = min(int(s) for s in operation["responses"] if s.startswith("2"))
                for value in values:
                    if media_type == "application/json":
                        schema = {**media["schema"], "components": document["components"]}
                        jsonschema.Draft202012Validator(schema).validate(value)
                    examples.append((method, path, media_type, value, success))
    assert len(examples) >= 12
    assert {p for _, p, *_ in examples} >= {
        "/api/v1/endpoints",
        "/api/v1/endpoints/{name}/rollout",
        "/api/v1/feedback",
        "/api/v1/models/churn/explain",
        "/api/v1/models/numeric/explain",
    }

    async def main() -> None:
        async with lifespan(app), client(app) as http:
            await wait_ready(http)
            for method, path, media_type, value, success in examples:
                if "{" in path:
                    path = path.replace("{name}", "churn").replace("{alias}", "champion")
                kwargs: dict[str, Any] = (
                    {"json": value}
                    if media_type == "application/json"
                    else {"content": value, "headers": {"content-type": media_type}}
                )
                response = await http.request(method.upper(), path, **kwargs)
                assert response.status_code == success, (path, media_type, response.text)

    asyncio.run(main())


def test_embedded_oip_schemas_keep_the_official_shapes(registry_with_models: Any) -> None:
    """Each OIP schema shipyard embeds requires what the official one requires, with the same
    property types (shipyard only widens tensor data to allow null)."""
    yaml = pytest.importorskip("yaml")
    official_file = OIP_SCHEMA / "open_inference_rest.yaml"
    if not official_file.exists():
        pytest.skip("the official OIP schemas are not beside the repository")
    official = yaml.safe_load(official_file.read_text())["components"]["schemas"]
    ours = _document(registry_with_models)["components"]["schemas"]
    for name in (
        "metadata_server_response",
        "metadata_model_response",
        "metadata_tensor",
        "inference_request",
        "request_input",
        "request_output",
        "response_output",
        "inference_response",
    ):
        theirs = official[name]
        mine = ours[name]
        # response_output's data is optional in shipyard: binary outputs carry none
        assert set(theirs.get("required", [])) - {"data"} <= set(mine["required"]), name
        for prop, spec in theirs.get("properties", {}).items():
            if "type" in spec and prop in mine["properties"]:
                assert mine["properties"][prop].get("type") == spec["type"], (name, prop)


def test_docs_page_is_html_with_no_external_url(registry_with_models: Any) -> None:
    docs, spec = _fetch(registry_with_models, "/docs", "/openapi.json")
    assert docs.status_code == 200
    assert docs.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    page = docs.text
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "openapi.json" in page
    assert re.search(r"https?:", page) is None, "the page references an external URL"
    assert re.search(r"""(src|href)\s*=\s*["'](?!#)""", page) is None, "the page loads an asset"
    # The document names no other host either (the page renders it).
    assert re.search(r"https?://", spec.text) is None


def test_docs_and_document_follow_the_auth_rules(registry_with_models: Any) -> None:
    keys = KeyStore(registry_with_models.db)
    _, read = keys.create(["read"], actor="tester")
    _, predict = keys.create(["predict"], actor="tester")
    paths = ("/openapi.json", "/docs")
    for response in _fetch(registry_with_models, *paths):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    for response in _fetch(
        registry_with_models, *paths, headers={"authorization": f"Bearer {predict}"}
    ):
        assert response.status_code == 403
    for response in _fetch(
        registry_with_models, *paths, headers={"authorization": f"Bearer {read}"}
    ):
        assert response.status_code == 200


def test_a_model_not_loaded_yet_gets_the_generic_shapes(registry_with_models: Any) -> None:
    from shipyard.serving import openapi

    app = build_app(registry_with_models, ["churn@champion"])  # no lifespan: nothing loaded
    document = openapi.build_document(
        app.hosts, server_version="0", auth=False, open_paths=(), management=False
    )
    body = document["paths"]["/v2/models/churn/infer"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/inference_request"
    }
    assert "security" not in document
    # Without the management API only the explanations (answered by the model routes) remain.
    assert [p for p in document["paths"] if p.startswith("/api/v1")] == [
        "/api/v1/models/churn/explain"
    ]
    explain = document["paths"]["/api/v1/models/churn/explain"]["post"]["requestBody"]
    generic = explain["content"]["application/json"]["schema"]["oneOf"][0]
    assert generic["properties"]["dataframe_records"]["items"]["type"] == "object"


def test_out_of_range_versions_are_404_not_500(registry_with_models: Any) -> None:
    """Found by schemathesis: a version past SQLite's INTEGER range, a non-ASCII digit or a
    number too long for int() answered 500."""
    paths = [
        f"{prefix}/models/churn/versions/{version}"
        for prefix in ("/v2", "/v1")
        for version in ("99999999999999999999", "9223372036854775808", "\u00b2", "9" * 5000)
    ]
    for response in _fetch(registry_with_models, *paths):
        assert response.status_code == 404, response.text


def test_explain_row_limit_is_the_servers(registry_with_models: Any) -> None:
    """The documented ``maxItems`` of an explanation request is the number of rows the server
    explains: that many are answered, one more is a 400 naming the limit."""
    document = _document(registry_with_models)
    operation = document["paths"]["/api/v1/models/churn/explain"]["post"]
    arms = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    limits = {arm["properties"][key]["maxItems"] for arm in arms for key in arm["properties"]}
    (limit,) = limits
    row = operation["requestBody"]["content"]["application/json"]["examples"]["records"]
    record = row["value"]["dataframe_records"][0]
    app = build_app(registry_with_models, ["churn@champion"])

    async def main() -> list[Any]:
        async with lifespan(app), client(app) as http:
            await wait_ready(http)
            path = "/api/v1/models/churn/explain"
            return [
                await http.post(path, json={"instances": [record] * rows})
                for rows in (limit, limit + 1)
            ]

    at_limit, over = asyncio.run(main())
    assert at_limit.status_code == 200, at_limit.text
    assert len(at_limit.json()["explanations"]) == limit
    # Who answered, as on every inference response.
    assert at_limit.headers["x-shipyard-model-version"] == at_limit.json()["model"]
    assert over.status_code == 400
    assert str(limit) in over.json()["error"]
