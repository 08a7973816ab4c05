"""The ASGI app over real registered models, driven through httpx: every route, every status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
import pytest
from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.serving.server import build_app

Test = Callable[[Any], Awaitable[None]]


def serve(registry: Any, test: Test, *, start: bool = True, **options: Any) -> None:
    """Run ``test(http)`` against a fresh app serving churn@champion and numeric@champion."""
    app = build_app(registry, ["churn@champion", "numeric@champion"], **options)

    async def main() -> None:
        async with client(app) as http:
            if not start:
                await test(http)
                return
            async with lifespan(app):
                await wait_ready(http)
                await test(http)

    asyncio.run(main())


def test_every_route_answers_with_oip_bodies(registry_with_models: Any, oip: Any) -> None:
    async def test(http: Any) -> None:
        server = await http.get("/v2")
        assert server.status_code == 200
        oip("metadata_server_response", server.json())
        assert server.json()["name"] == "shipyard"
        assert (await http.get("/v2/health/live")).status_code == 200
        assert (await http.get("/v2/health/ready")).status_code == 200
        for path in ("/v2/models/churn", "/v2/models/churn/versions/2"):
            meta = (await http.get(path)).json()
            oip("metadata_model_response", meta)
            assert meta["name"] == "churn" and meta["platform"] == "shipyard-sklearn"
            assert meta["inputs"][0] == {
                "name": "tenure_months",
                "datatype": "INT64",
                "shape": [-1],
            }
            assert {"name": "contract", "datatype": "BYTES", "shape": [-1]} in meta["inputs"]
            assert meta["outputs"] == [
                {"name": "label", "datatype": "INT64", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
            ]
            assert meta["parameters"]["classes"] == [0, 1]
        assert (await http.get("/v2/models/churn")).json()["versions"] == ["1"]
        assert (await http.get("/v2/models/churn/versions/2")).json()["versions"] == ["2"]
        for path in ("/v2/models/churn/ready", "/v2/models/churn/versions/2/ready"):
            assert (await http.get(path)).status_code == 200

    serve(registry_with_models, test)


def test_predictions_equal_the_sdk(registry_with_models: Any, churn_data: Any, oip: Any) -> None:
    X = rows(churn_data, 7)
    champion = registry_with_models.load("churn@champion")
    forest = registry_with_models.load("churn/2")

    async def test(http: Any) -> None:
        request = per_feature(X, id="req-7")
        oip("inference_request", request)
        for path, model in (
            ("/v2/models/churn/infer", champion),
            ("/v2/models/churn/versions/2/infer", forest),
        ):
            response = await http.post(path, json=request)
            assert response.status_code == 200, response.text
            body = response.json()
            oip("inference_response", body)
            assert body["model_name"] == "churn" and body["id"] == "req-7"
            assert body["model_version"] == str(model.version.version)
            assert response.headers["x-shipyard-model-version"] == model.ref
            label, proba = body["outputs"]
            assert label["name"] == "label" and label["shape"] == [7]
            assert label["data"] == model.predict(X).tolist()
            assert proba["shape"] == [7, 2]
            expected = model.predict_proba(X)
            np.testing.assert_allclose(np.reshape(proba["data"], (7, 2)), expected, rtol=1e-12)

    serve(registry_with_models, test)


def test_one_2d_tensor_in_signature_order(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 4)[churn_data.numeric]
    model = registry_with_models.load("numeric@champion")

    async def test(http: Any) -> None:
        for data in (X.to_numpy().ravel().tolist(), X.to_numpy().tolist()):  # flat and nested
            tensor = {"name": "input-0", "datatype": "FP64", "shape": [4, 6], "data": data}
            response = await http.post("/v2/models/numeric/infer", json={"inputs": [tensor]})
            assert response.status_code == 200, response.text
            label, proba = response.json()["outputs"]
            assert label["data"] == model.predict(X).tolist()
            np.testing.assert_allclose(proba["data"], model.predict_proba(X).ravel(), rtol=1e-12)

    serve(registry_with_models, test)


def test_outputs_selection(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 2)

    async def test(http: Any) -> None:
        for wanted in (["label"], ["probabilities"], ["probabilities", "label"]):
            request = per_feature(X, outputs=[{"name": n} for n in wanted])
            body = (await http.post("/v2/models/churn/infer", json=request)).json()
            assert [o["name"] for o in body["outputs"]] == wanted
        request = per_feature(X, outputs=[{"name": "score"}])
        response = await http.post("/v2/models/churn/infer", json=request)
        assert response.status_code == 400
        assert "unknown output 'score'" in response.json()["error"]

    serve(registry_with_models, test)


def test_error_statuses(registry_with_models: Any, churn_data: Any, oip: Any) -> None:
    X = rows(churn_data, 2)
    good = per_feature(X)

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        missing = per_feature(X.drop(columns=["region"]))
        wrong_type = per_feature(X)
        wrong_type["inputs"][0] = {
            "name": "tenure_months",
            "datatype": "BYTES",
            "shape": [2],
            "data": ["a", "b"],
        }
        extra = per_feature(X.assign(colour=["red", "blue"]))
        bad_shape = per_feature(X)
        bad_shape["inputs"][0]["shape"] = [3]
        cases: list[tuple[str, str, Any, int, str]] = [
            ("POST", infer, b"{nope", 400, "not valid JSON"),
            ("POST", infer, orjson.dumps(bad_shape), 400, "holds 3 elements"),
            ("POST", infer, orjson.dumps(missing), 422, "missing feature 'region'"),
            ("POST", infer, orjson.dumps(wrong_type), 422, "'tenure_months' expects numbers"),
            ("POST", infer, orjson.dumps(extra), 422, "unknown input 'colour'"),
            ("POST", "/v2/models/fraud/infer", orjson.dumps(good), 404, "no model named 'fraud'"),
            ("POST", "/v2/models/churn/versions/9/infer", orjson.dumps(good), 404, "no version 9"),
            ("GET", "/v2/models/churn/versions/x", None, 404, "positive integers"),
            ("GET", "/v2/models/churn/explain", None, 404, "no route"),
            ("GET", "/v3/models", None, 404, "no route"),
            ("GET", infer, None, 405, "use POST"),
            ("POST", "/v2/health/live", b"", 405, "use GET"),
        ]
        for method, path, content, status, message in cases:
            response = await http.request(method, path, content=content)
            assert response.status_code == status, (path, response.text)
            oip("inference_error_response", response.json())
            assert message in response.json()["error"]
            assert response.headers["x-request-id"]
        response = await http.get(infer)
        assert response.headers["allow"] == "POST"
        ok = await http.post(infer, json=good)  # still serving after all of that
        assert ok.status_code == 200

    serve(registry_with_models, test)


def test_bodies_over_the_limit_get_413(registry_with_models: Any, churn_data: Any) -> None:
    body = orjson.dumps(per_feature(rows(churn_data, 50)))
    assert len(body) > 2000

    async def test(http: Any) -> None:
        declared = await http.post("/v2/models/churn/infer", content=body)
        assert declared.status_code == 413 and "limit of 2000 bytes" in declared.json()["error"]

        async def chunks() -> Any:  # no Content-Length: the bytes are counted as they arrive
            for i in range(0, len(body), 500):
                yield body[i : i + 500]

        streamed = await http.post("/v2/models/churn/infer", content=chunks())
        assert streamed.status_code == 413
        small = per_feature(rows(churn_data, 1))
        assert (await http.post("/v2/models/churn/infer", json=small)).status_code == 200

    serve(registry_with_models, test, max_body_bytes=2000)


def test_503_until_ready(registry_with_models: Any, churn_data: Any) -> None:
    async def test(http: Any) -> None:  # the lifespan has not started: nothing is loaded
        assert (await http.get("/v2/health/live")).status_code == 200
        ready = await http.get("/v2/health/ready")
        assert ready.status_code == 503 and "churn" in ready.json()["error"]
        for path in ("/v2/models/churn", "/v2/models/churn/ready"):
            assert (await http.get(path)).status_code == 503
        response = await http.post("/v2/models/churn/infer", json=per_feature(rows(churn_data, 1)))
        assert response.status_code == 503 and "not ready" in response.json()["error"]

    serve(registry_with_models, test, start=False)


def test_request_ids(registry_with_models: Any, churn_data: Any) -> None:
    request = per_feature(rows(churn_data, 1))

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        by_header = await http.post(infer, json=request, headers={"x-request-id": "client-1"})
        assert by_header.headers["x-request-id"] == "client-1"
        by_body = await http.post(infer, json={**request, "id": "body-2"})
        assert by_body.headers["x-request-id"] == "body-2" and by_body.json()["id"] == "body-2"
        both = await http.post(infer, json={**request, "id": "b"}, headers={"x-request-id": "h"})
        assert both.headers["x-request-id"] == "h" and both.json()["id"] == "b"
        made = [(await http.post(infer, json=request)).headers["x-request-id"] for _ in range(20)]
        assert len(set(made)) == 20 and all(len(i) == 32 for i in made)
        stamps = [i[:12] for i in made]  # milliseconds first: ordered by time
        assert stamps == sorted(stamps)
        unsafe = await http.post(infer, json={**request, "id": "a\r\nset-cookie: x"})
        assert unsafe.json()["id"] == "a\r\nset-cookie: x"  # echoed in the body only
        assert len(unsafe.headers["x-request-id"]) == 32 and "set-cookie" not in unsafe.headers
        for path in ("/v2", "/nowhere"):
            assert len((await http.get(path)).headers["x-request-id"]) == 32

    serve(registry_with_models, test)


def test_unexpected_errors_are_500_without_a_trace(
    registry_with_models: Any,
    churn_data: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shipyard.serving.predictor import Predictor

    def broken(self: Any, frame: Any, *, proba: bool = True) -> Any:
        raise RuntimeError("secret internals")

    async def test(http: Any) -> None:
        monkeypatch.setattr(Predictor, "predict", broken)
        response = await http.post(
            "/v2/models/churn/infer",
            json=per_feature(rows(churn_data, 1)),
            headers={"x-request-id": "r-500"},
        )
        assert response.status_code == 500
        assert response.json() == {"error": "internal error"}
        assert response.headers["x-request-id"] == "r-500"
        assert "secret" not in response.text

    with caplog.at_level(logging.ERROR, logger="shipyard.serving"):
        serve(registry_with_models, test)
    logged = [r for r in caplog.records if "r-500" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
